"""gzip compression of responses, as nginx's gzip filter decides and does it.

Compressed when the location has `gzip on`, the client accepts gzip, the HTTP version is at
least `gzip_http_version`, the status is 200, 403 or 404, the content type is in
`gzip_types` (text/html always), the length (when known) is at least `gzip_min_length`, and —
for requests that came through a proxy (a `Via` header) — `gzip_proxied` allows it. A streamed
response is flushed piece by piece (Z_SYNC_FLUSH), so a subscriber still gets each message as it
is published.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from pushproxy.config.model import Level

_STATUSES = frozenset({200, 403, 404})
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around the deflate stream


@dataclass(frozen=True, slots=True, kw_only=True)
class GzipPolicy:
    """A location's gzip settings, read once at load."""

    types: frozenset[bytes]
    any_type: bool
    min_length: int
    level: int
    http_version: bytes
    proxied: frozenset[str]
    vary: bool

    @classmethod
    def of(cls, level: Level) -> GzipPolicy | None:
        if level.values.get("gzip") is not True:
            return None
        types = {b"text/html"}
        for directive in level.all("gzip_types"):
            types.update(arg.lower().encode() for arg in directive.args)
        length = level.values.get("gzip_min_length", 20)
        comp = level.arg("gzip_comp_level", "1") or "1"
        proxied = {a for d in level.all("gzip_proxied") for a in d.args} or {"off"}
        return cls(
            types=frozenset(types),
            any_type=b"*" in types,
            min_length=length if isinstance(length, int) else 20,
            level=int(comp) if comp.isdigit() else 1,
            http_version=(level.arg("gzip_http_version", "1.1") or "1.1").encode(),
            proxied=frozenset(proxied),
            vary=level.values.get("gzip_vary") is True,
        )

    def accepts(self, headers: Sequence[tuple[bytes, bytes]], http_version: bytes) -> bool:
        """Whether the request allows compression (Accept-Encoding, version, proxies)."""
        if http_version < self.http_version:
            return False
        accept = b",".join(v for k, v in headers if k == b"accept-encoding").lower()
        if b"gzip" not in accept:
            return False
        if any(k == b"via" for k, _ in headers):
            return "any" in self.proxied  # the finer gzip_proxied conditions need the response
        return True

    def compresses(self, status: int, headers: Sequence[tuple[bytes, bytes]]) -> bool:
        """Whether this response is compressed (decided on its head)."""
        if status not in _STATUSES:
            return False
        content_type = b""
        for name, value in headers:
            lowered = name.lower()
            if lowered == b"content-encoding":
                return False
            if lowered == b"content-type":
                content_type = value.split(b";", 1)[0].strip().lower()
            elif lowered == b"content-length" and value.isdigit() and int(value) < self.min_length:
                return False
        return self.any_type or content_type in self.types

    def compressor(self) -> zlib._Compress:
        return zlib.compressobj(self.level, zlib.DEFLATED, _GZIP_WBITS)
