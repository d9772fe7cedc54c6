"""nginx's auth_request module: `auth_request URI` asks a subrequest to URI (a GET with the
client's headers; the location there usually proxies to an authorization service) whether the
request may go on, and `auth_request_set $name VALUE` keeps values from that subrequest (its
`$upstream_http_*`, say) for the request.

As in ngx_http_auth_request_handler(): a 2xx answer lets the request in; a 401 is the answer,
with the subrequest's (first) `WWW-Authenticate`; a 403 is the answer; anything else is a 500
(`auth request unexpected status: N`). It is the last check of the access phase: with
`satisfy any`, an `allow` or good `auth_basic` credentials let the request in without it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pushproxy.config.complex import ComplexValue, ComplexValueError, Lookup, compile_value
from pushproxy.config.model import Level
from pushproxy.http.basic_auth import Verdict

log = logging.getLogger("pushproxy")
Headers = Sequence[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """A location's `auth_request` URI (and arguments) and its `auth_request_set`s."""

    uri: str
    args: str
    sets: tuple[tuple[str, ComplexValue], ...] = ()

    @classmethod
    def of(cls, level: Level) -> AuthRequest | None:
        """None without `auth_request`, or with `auth_request off`."""
        target = level.arg("auth_request")
        if target is None or target == "off":
            return None
        sets = []
        for directive in level.all("auth_request_set"):
            if len(directive.args) == 2 and directive.args[0].startswith("$"):
                try:
                    sets.append((directive.args[0][1:].lower(), compile_value(directive.args[1])))
                except ComplexValueError:
                    continue  # `check` reports it
        uri, _, args = target.partition("?")
        return cls(uri=uri, args=args, sets=tuple(sets))

    def keep(self, sub_lookup: Lookup, keep: Callable[[str, str], None]) -> None:
        """`auth_request_set`: each value worked out with the subrequest's variables."""
        for name, value in self.sets:
            keep(name, value.evaluate(sub_lookup))


def verdict(status: int, headers: Headers, context: str) -> Verdict:
    """The access phase's verdict on the subrequest's answer (status 0: the request goes on);
    a 401 carries the subrequest's `WWW-Authenticate` headers."""
    if 200 <= status < 300:
        return Verdict(0)
    if status == 401:  # nginx 1.22 keeps the first challenge (1.23 keeps them all)
        challenges = [h for h in headers if h[0].lower() == b"www-authenticate"][:1]
        return Verdict(401, challenges=tuple(challenges))
    if status == 403:
        return Verdict(403)
    log.error("auth request unexpected status: %d, %s", status, context)
    return Verdict(500)
