"""gzip compression of responses, as nginx's gzip filter decides and does it.

Compressed when the location has `gzip on`, the client accepts gzip (its first Accept-Encoding,
read as nginx reads it: `gzip;q=0` refuses), the HTTP version is at
least `gzip_http_version`, the status is 200, 403 or 404, the content type is in
`gzip_types` (text/html always), the length (when known) is at least `gzip_min_length`, and —
for requests that came through a proxy (a `Via` header) — `gzip_proxied` allows it. A streamed
response is flushed piece by piece (Z_SYNC_FLUSH), so a subscriber still gets each message as it
is published.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from pushproxy.config.model import Level
from pushproxy.config.units import atoi
from pushproxy.http.static_rules import changed_body_headers

_STATUSES = frozenset({200, 403, 404})
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around the deflate stream
# "q=" and its value in `gzip;q=...`: 0 or 1, then optionally "." and digits, up to "," or " ".
_QUANTITY = re.compile(rb"[qQ]=([01])(?:\.([0-9]*))?(?:[, ]|\Z)")


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
        http_version, proxied = request_rules(level)
        return cls(
            types=frozenset(types),
            any_type=b"*" in types,
            min_length=length if isinstance(length, int) else 20,
            level=int(comp) if comp.isdigit() else 1,
            http_version=http_version,
            proxied=proxied,
            vary=level.values.get("gzip_vary") is True,
        )

    def accepts(self, headers: Sequence[tuple[bytes, bytes]], http_version: bytes) -> bool:
        """Whether the request allows compression (Accept-Encoding, version, proxies)."""
        return gzip_ok(headers, http_version, self.http_version, self.proxied)

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
            elif lowered == b"content-length":
                length = atoi(value)
                if length is not None and length < self.min_length:
                    return False
        return self.any_type or content_type in self.types

    def compressor(self) -> zlib._Compress:
        return zlib.compressobj(self.level, zlib.DEFLATED, _GZIP_WBITS)


def gzip_ok(
    headers: Sequence[tuple[bytes, bytes]],
    http_version: bytes,
    least_version: bytes,
    proxied: frozenset[str],
) -> bool:
    """ngx_http_gzip_ok(): whether a request takes a gzipped answer, by its HTTP version
    (`gzip_http_version`), its first Accept-Encoding and, through a proxy (a `Via`),
    `gzip_proxied`."""
    if http_version < least_version:
        return False
    # nginx reads the first Accept-Encoding header only.
    accept = next((v for k, v in headers if k == b"accept-encoding"), b"")
    if not accepts_gzip(accept):
        return False
    if any(k == b"via" for k, _ in headers):
        return "any" in proxied  # the finer gzip_proxied conditions need the response
    return True


def request_rules(level: Level) -> tuple[bytes, frozenset[str]]:
    """`gzip_http_version` and `gzip_proxied`: what `gzip_ok` asks of a request."""
    proxied = {a for d in level.all("gzip_proxied") for a in d.args} or {"off"}
    return (level.arg("gzip_http_version", "1.1") or "1.1").encode(), frozenset(proxied)


def accepts_gzip(accept: bytes) -> bool:
    """Whether an Accept-Encoding value allows gzip, as nginx's ngx_http_gzip_ok() and
    ngx_http_gzip_accept_encoding() decide: the first `gzip` that starts the value or follows
    a comma or a space, then the end, a comma, or `;q=` with a quantity above zero (at most 1,
    at most three decimals; `gzip;q=0` and `gzip; q=0.000` refuse it). Anything else after it
    refuses gzip; later `gzip`s are not looked at."""
    if accept.startswith(b"gzip,"):
        return True
    lowered = accept.lower()
    start = 0
    while True:
        at = lowered.find(b"gzip", start)
        if at < 0:
            return False
        if at == start or lowered[at - 1] in b", ":
            break
        start = at + 4  # (nginx's search goes on from here: a `gzip` right here counts)
    rest = accept[at + 4 :].lstrip(b" ")
    if not rest or rest[0] == 0x2C:  # ","
        return True
    if rest[0] != 0x3B:  # ";"
        return False
    parameter = rest[1:].lstrip(b" ")
    if not parameter:
        return True
    quantity = _QUANTITY.match(parameter)
    if quantity is None:
        return False
    whole, decimals = quantity.groups()
    if decimals is None:
        return whole == b"1"
    # nginx adds the decimal digits up (0.5 and 0.05 alike are above zero).
    value = int(whole) * 100 + sum(digit - 0x30 for digit in decimals)
    return 0 < value <= 100 and len(decimals) <= 3


def gzipped_upstream_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """An upstream's headers once nginx's gzip filter compresses the body: no `Accept-Ranges`
    (ngx_http_clear_accept_ranges()), and the `ETag` made weak, or dropped when it is not a
    quoted one (ngx_http_weak_etag())."""
    return changed_body_headers(headers, (b"accept-ranges",))
