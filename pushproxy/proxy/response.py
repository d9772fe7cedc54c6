"""The response head nginx sends back for an upstream's (ngx_http_upstream_process_headers()).

Pure. nginx drops the upstream's hop-by-hop headers and the ones it hides (by default
`Date`, `Server`, `X-Pad`, `X-Accel-*`; `proxy_hide_header` adds, `proxy_pass_header` takes
away), sends its own `Server` and `Date` unless the upstream's are passed, rewrites `Location`
and `Refresh` with `proxy_redirect` and makes a rewritten relative `Location` absolute
(`absolute_redirect`). The headers keep the upstream's order; the connection writes nginx's
fixed ones (type, length, that `Location`, `Connection`) first (`HttpConnection._head`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pushproxy.config import pcre
from pushproxy.config.complex import ComplexValue, Lookup, compile_value, with_captures
from pushproxy.config.model import Level
from pushproxy.config.tree import Directive
from pushproxy.proxy.cookies import NO_COOKIE_RULES, CookieRules

if TYPE_CHECKING:
    from pushproxy.proxy.settings import ProxySettings

Headers = Sequence[tuple[bytes, bytes]]

DEFAULT_HIDDEN = frozenset(
    {
        b"date", b"server", b"x-pad", b"x-accel-expires", b"x-accel-redirect",
        b"x-accel-limit-rate", b"x-accel-buffering", b"x-accel-charset",
    }
)  # fmt: skip
# Never copied: the connection to the client has its own framing and persistence.
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"transfer-encoding"})


def hidden_headers(hide: Iterable[str], passed: Iterable[str]) -> frozenset[bytes]:
    """`proxy_hide_header` and `proxy_pass_header` applied to nginx's defaults."""
    names = set(DEFAULT_HIDDEN) | {h.lower().encode() for h in hide}
    names -= {p.lower().encode() for p in passed}
    return frozenset(names)


@dataclass(frozen=True, slots=True, kw_only=True)
class Redirect:
    """One `proxy_redirect`: a prefix (complex value) or a regex, and its replacement."""

    prefix: ComplexValue | None = None
    regex: re.Pattern[str] | None = None
    replacement: ComplexValue

    def apply(self, value: str, lookup: Lookup) -> str | None:
        """The rewritten value, or None when this rule does not match."""
        if self.regex is not None:
            match = self.regex.match(value)
            if match is None:
                return None
            captured = with_captures(match, lookup)
            return self.replacement.evaluate(captured) + value[match.end() :]
        assert self.prefix is not None
        prefix = self.prefix.evaluate(lookup)
        if not value.startswith(prefix):  # nginx compares case-sensitively
            return None
        return self.replacement.evaluate(lookup) + value[len(prefix) :]


def default_redirect(url: str, uri_part: str | None, location_name: str) -> Redirect:
    """`proxy_redirect default`: the `proxy_pass` URL becomes the location's name."""
    if uri_part is not None:
        return Redirect(prefix=compile_value(url), replacement=compile_value(location_name))
    return Redirect(prefix=compile_value(url + "/"), replacement=compile_value("/"))


def redirect_rules(
    directives: Sequence[Directive], default: Redirect | None
) -> tuple[Redirect, ...]:
    """The `proxy_redirect` list in effect; `default` is the location's default rule (None
    when `proxy_pass` has variables, where nginx has none)."""
    if not directives:
        return (default,) if default is not None else ()
    rules: list[Redirect] = []
    for directive in directives:
        args = directive.args
        if args == ("off",):
            rules.clear()
        elif args == ("default",):
            if default is not None:
                rules.append(default)
        elif len(args) == 2:
            rules.append(_rule(args[0], args[1]))
    return tuple(rules)


def _rule(source: str, replacement: str) -> Redirect:
    value = compile_value(replacement)
    if source.startswith("~*"):
        return Redirect(regex=_regex(source[2:], caseless=True), replacement=value)
    if source.startswith("~"):
        return Redirect(regex=_regex(source[1:], caseless=False), replacement=value)
    return Redirect(prefix=compile_value(source), replacement=value)


def _regex(pattern: str, *, caseless: bool) -> re.Pattern[str]:
    return re.compile(pcre.translate(pattern)[0], pcre.regex_flags(caseless))


@dataclass(frozen=True, slots=True, kw_only=True)
class RedirectBase:
    """`absolute_redirect`: what a rewritten relative `Location` is made absolute with."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, lookup: Lookup, *, server_name: bool, port: bool) -> RedirectBase:
        """From the request: its `Host` (`$server_name` with `server_name_in_redirect`), the
        server's address for a request without one, and the server's port unless
        `port_in_redirect off`."""
        number = lookup("server_port") or "0"
        if server_name:
            host = lookup("server_name")
        else:
            host = lookup("host") if lookup("http_host") else lookup("server_addr")
        return cls(
            scheme=lookup("scheme") or "http",
            host=host or "",
            port=int(number) if port and number.isdigit() else 0,
        )

    @classmethod
    def configured(cls, level: Level, lookup: Lookup) -> RedirectBase | None:
        """`of`, as the configuration at `level` says (`server_name_in_redirect`,
        `port_in_redirect`); None with `absolute_redirect off`."""

        def flag(name: str, default: bool) -> bool:
            value = level.values.get(name)
            return value if isinstance(value, bool) else default

        if not flag("absolute_redirect", True):
            return None
        return cls.of(
            lookup,
            server_name=flag("server_name_in_redirect", False),
            port=flag("port_in_redirect", True),
        )

    def absolute(self, location: str) -> str:
        default_port = 443 if self.scheme == "https" else 80
        port = "" if self.port in (0, default_port) else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}{location}"


def _rewrite(value: str, rules: Sequence[Redirect], lookup: Lookup) -> str | None:
    for rule in rules:
        rewritten = rule.apply(value, lookup)
        if rewritten is not None:
            return rewritten
    return None


def _text(value: bytes) -> str:
    return value.decode("utf-8", "surrogateescape")


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def client_headers(
    upstream: Headers,
    *,
    hidden: frozenset[bytes],
    redirects: Sequence[Redirect] = (),
    lookup: Lookup = lambda _: None,
    base: Callable[[], RedirectBase | None] = lambda: None,
    switching: bool = False,
    cookies: CookieRules = NO_COOKIE_RULES,
) -> tuple[list[tuple[bytes, bytes]], bytes | None]:
    """The upstream's headers the client gets with its response head (`upstream`: names as
    the upstream wrote them), in the upstream's order (the connection puts nginx's fixed ones
    first: `HttpConnection._head`), and the `Location` nginx's header filter makes absolute and
    writes among those, if any: one that `proxy_redirect` made a path, with
    `absolute_redirect on` (`base` gives what it is made absolute with, if anything; it is
    asked only then). Any other `Location` stays with the rest, as sent or as rewritten.
    Hop-by-hop and hidden headers are left out. `Server` and `Date` only if passed (see
    `own_headers`). `switching`: a 101, which says `Connection: upgrade` first (its head is
    written by the tunnel). `cookies`: the `proxy_cookie_domain` and `proxy_cookie_path`
    rules each `Set-Cookie` goes through."""
    out: list[tuple[bytes, bytes]] = [(b"Connection", b"upgrade")] if switching else []
    fixed: bytes | None = None
    rewriting = bool(redirects)
    for name, value in upstream:
        key = name.lower()
        if key in HOP_BY_HOP or key in hidden:
            continue
        if key == b"location" and rewriting:
            rewriting = False  # `proxy_redirect` rewrites the first Location
            rewritten = _rewrite(_text(value), redirects, lookup)
            if rewritten is not None:
                absolute = base() if rewritten.startswith("/") else None
                if absolute is not None:
                    fixed = _bytes(absolute.absolute(rewritten))
                    continue
                value = _bytes(rewritten)
        elif key == b"refresh" and redirects:
            value = _refresh(value, redirects, lookup)
        elif key == b"set-cookie" and cookies:
            value = cookies.rewrite(value, lookup)
        out.append((name, value))
    return out, fixed


def _refresh(value: bytes, rules: Sequence[Redirect], lookup: Lookup) -> bytes:
    """`Refresh: 5; url=...`: the URL after `url=` goes through `proxy_redirect`."""
    at = value.lower().find(b"url=")
    if at < 0:
        return value
    start = at + 4
    rewritten = _rewrite(_text(value[start:]), rules, lookup)
    return value if rewritten is None else value[:start] + _bytes(rewritten)


def answer_headers(
    upstream: Headers, settings: ProxySettings, lookup: Lookup, *, switching: bool = False
) -> tuple[list[tuple[bytes, bytes]], bytes | None]:
    """`client_headers` as the location's proxy settings have them: hidden headers,
    `proxy_redirect` (a path it makes made absolute as `absolute_redirect` and the like say),
    `proxy_cookie_domain` and `proxy_cookie_path`."""

    def base() -> RedirectBase | None:
        if not settings.absolute_redirect:
            return None
        return RedirectBase.of(
            lookup, server_name=settings.server_name_in_redirect, port=settings.port_in_redirect
        )

    return client_headers(
        upstream,
        hidden=settings.hidden,
        redirects=settings.redirects,
        lookup=lookup,
        base=base,
        switching=switching,
        cookies=settings.cookies,
    )
