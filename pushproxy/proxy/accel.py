"""`X-Accel-Redirect`: an upstream's answer that hands the request back to the server, as nginx
takes it (ngx_http_upstream_process_headers()): the upstream's body is dropped, a few of its
headers stay for the answer to come, and the request goes on to the URI (an internal
redirect, a GET unless it was a HEAD) or the named location the header names.
`proxy_ignore_headers X-Accel-Redirect` turns this off. Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pushproxy.http.exchange import Jump
from pushproxy.http.target import as_text

Headers = Sequence[tuple[bytes, bytes]]

# The upstream's headers nginx keeps for the answer to come (the `redirect` flag of
# ngx_http_upstream_headers_in): its type wins over the file's, and its cookies, disposition
# and caching headers go along.
KEPT = frozenset(
    {b"content-type", b"set-cookie", b"content-disposition", b"cache-control", b"expires"}
)
_PERCENT = re.compile(rb"%([0-9A-Fa-f]{2})")


def accel_target(headers: Headers) -> bytes | None:
    """The upstream's `X-Accel-Redirect`, if it sent one (not empty)."""
    for name, value in headers:
        if name.lower() == b"x-accel-redirect" and value:
            return value
    return None


def accel_limit_rate(headers: Headers) -> int | None:
    """The upstream's `X-Accel-Limit-Rate` in bytes per second (0: no limit), if it sent
    one that ngx_atoi() reads (digits only; of several, the last such)."""
    rate = None
    for name, value in headers:
        if name.lower() == b"x-accel-limit-rate" and value.isdigit():
            rate = int(value)
    return rate


def _unsafe(path: bytes) -> bool:
    """A `..` segment, or a NUL: what ngx_http_parse_unsafe_uri() refuses."""
    if not path or b"\x00" in path:
        return True
    return any(segment == b".." for segment in path.split(b"/"))


def accel_jump(value: bytes) -> Jump | None:
    """Where an `X-Accel-Redirect` sends the request; None for an unsafe URI (nginx: 404,
    `unsafe URI "..." was detected`). A URI's `%XX` escapes are decoded; its `?args` become
    the request's arguments."""
    if value.startswith(b"@"):
        return Jump(as_text(value))
    path, mark, args = value.partition(b"?")
    if value.startswith(b"?") or b"\x00" in args:
        return None
    if b"%" in path:
        path = _PERCENT.sub(lambda found: bytes([int(found[1], 16)]), path)
    if _unsafe(path):
        return None
    return Jump(as_text(path), as_text(args) if mark else "")


def kept_headers(client_headers: Headers) -> list[tuple[bytes, bytes]]:
    """Of the headers the client would have got, those the redirected answer keeps."""
    return [(name, value) for name, value in client_headers if name.lower() in KEPT]
