"""`error_page` (ngx_http_core_module): what answers instead of nginx's own error page.

`error_page CODE ... [=[RESPONSE]] URI;` applies where nginx would send one of its error pages
for CODE (a handler's error, the proxy's 502/504, the access and limit phases' refusals, a
`return CODE;` without text); the push stream module's own answers are not error pages. As
ngx_http_send_error_page() does it:
- `/uri[?args]`: an internal redirect there (the arguments are the page's own), through the
  server's rewrite phase and a new location search; a request other than HEAD becomes a GET;
- `@name`: the named location serves the request as it is;
- anything else: a redirect to it, 302 (or the RESPONSE given, when it is 301, 303, 307, 308).
The answer keeps the error's CODE as its status, unless `=RESPONSE` names another or a bare
`=` lets the page's own status through. An error while serving an error page gets nginx's
page (`recursive_error_pages off`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pushproxy.config.complex import ComplexValue, ComplexValueError, Lookup, compile_value
from pushproxy.config.model import Level

_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True, slots=True)
class ErrorPage:
    """One error's page: `status`: the answer's status (None: the page's own); `redirect`:
    the status of an external redirect, else 0."""

    uri: str
    status: int | None
    redirect: int = 0

    @property
    def named(self) -> bool:
        return self.uri.startswith("@")

    def target(self) -> tuple[str, str]:
        """An internal page's URI and arguments."""
        uri, _, args = self.uri.partition("?")
        return uri, args


@dataclass(frozen=True, slots=True)
class ErrorPages:
    """A level's `error_page`s: for each code, the overwrite (-1: none, 0: a bare `=`) and
    the page's URI."""

    pages: dict[int, tuple[int, ComplexValue]]

    @classmethod
    def of(cls, level: Level) -> ErrorPages | None:
        pages: dict[int, tuple[int, ComplexValue]] = {}
        for directive in level.all("error_page"):
            args = list(directive.args)
            if len(args) < 2:
                continue
            overwrite = -1
            if args[-2].startswith("="):
                word = args.pop(-2)[1:]
                overwrite = int(word) if word.isdigit() else 0
            try:
                uri = compile_value(args[-1])
            except ComplexValueError:
                continue
            for code in args[:-1]:
                if code.isdigit():
                    pages.setdefault(int(code), (overwrite, uri))
        return cls(pages) if pages else None

    def page(self, status: int, lookup: Lookup) -> ErrorPage | None:
        """The page for an error of `status`, if there is one."""
        found = self.pages.get(status)
        if found is None:
            return None
        overwrite, value = found
        uri = value.evaluate(lookup)
        if not uri.startswith(("/", "@")):
            return ErrorPage(uri, None, overwrite if overwrite in _REDIRECTS else 302)
        return ErrorPage(uri, status if overwrite < 0 else (overwrite or None))


class ErrorCatcher:
    """A request's `error_hook` (see `HttpConnection.error`): it takes over the first error
    its pages name, and keeps its status for the dispatcher."""

    __slots__ = ("pages", "status")

    def __init__(self, pages: ErrorPages) -> None:
        self.pages = pages
        self.status = 0

    def __call__(self, status: int) -> bool:
        if self.status or status not in self.pages.pages:
            return False
        self.status = status
        return True
