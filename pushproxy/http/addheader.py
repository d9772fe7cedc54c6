"""`add_header` and `expires` (ngx_http_headers_filter_module): response headers from the
configuration (`expires` itself: see `expires`).

As nginx adds them: the location's `add_header` directives (inherited whole from the nearest
level that has any), to responses with status 200, 201, 204, 206, 301, 302, 303, 304, 307 or
308, or to every response for those marked `always`; a value (which may hold variables) that
evaluates to nothing adds no header. They apply to whatever answers the request: push
handlers, the proxy, `return`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pushproxy.config.complex import ComplexValue, ComplexValueError, Lookup, compile_value
from pushproxy.config.model import Level
from pushproxy.http.expires import Expires

_ADDED_FOR = frozenset({200, 201, 204, 206, 301, 302, 303, 304, 307, 308})


@dataclass(frozen=True, slots=True)
class AddedHeader:
    name: bytes
    value: ComplexValue
    always: bool


@dataclass(frozen=True, slots=True)
class AddedHeaders:
    """A location's `add_header` directives and `expires`, compiled once at load."""

    headers: tuple[AddedHeader, ...]
    expires: Expires | None = None

    @classmethod
    def of(cls, level: Level) -> AddedHeaders | None:
        headers = []
        for directive in level.all("add_header"):
            args = directive.args
            if len(args) not in (2, 3) or (len(args) == 3 and args[2] != "always"):
                continue  # `check` reports it; nginx would not start
            try:
                value = compile_value(args[1])
            except ComplexValueError:
                continue
            headers.append(AddedHeader(args[0].encode(), value, len(args) == 3))
        expires = Expires.of(level)
        return cls(tuple(headers), expires) if headers or expires else None

    def with_expires(
        self, status: int, headers: list[tuple[bytes, bytes]], modified: bytes | None
    ) -> list[tuple[bytes, bytes]]:
        """A response's headers once `expires` set its `Expires` and `Cache-Control`."""
        if self.expires is None or status not in _ADDED_FOR:
            return headers
        return self.expires.apply(headers, time.time(), modified)

    def for_response(self, status: int, lookup: Lookup) -> list[tuple[bytes, bytes]]:
        """The headers a response with `status` gets (values evaluated for this request)."""
        out = []
        usual = status in _ADDED_FOR
        for header in self.headers:
            if usual or header.always:
                value = header.value.evaluate(lookup).encode("utf-8", "surrogateescape")
                if value and b"\r" not in value and b"\n" not in value:
                    out.append((header.name, value))
        return out
