"""`large_client_header_buffers`: a line must fit one buffer with its line end (CRLF or LF),
else the request line is 414 and a header line 400. Checked side by side with nginx."""

from __future__ import annotations

from pathlib import Path

from conftest import ServeFactory
from helpers import exchange_raw
from proxy.nginx import needs_nginx, side_by_side

LOCATIONS = 'location / { return 200 "ok"; }'
HTTP = "large_client_header_buffers 4 1k;"


def _request_line(length: int, end: bytes) -> bytes:
    target = b"/" + b"a" * (length - len(b"GET / HTTP/1.1"))
    line = b"GET " + target + b" HTTP/1.1"
    assert len(line) == length
    return line + end + b"Host: x" + end + b"Connection: close" + end + end


def _header_line(length: int) -> bytes:
    line = b"X-Long: " + b"b" * (length - len(b"X-Long: "))
    return b"GET / HTTP/1.1\r\nHost: x\r\n" + line + b"\r\nConnection: close\r\n\r\n"


CASES = {
    **{f"request line {n} + CRLF": _request_line(n, b"\r\n") for n in (1021, 1022, 1023, 1024)},
    **{f"request line {n} + LF": _request_line(n, b"\n") for n in (1022, 1023, 1024)},
    **{f"header line {n} + CRLF": _header_line(n) for n in (1021, 1022, 1023, 1024)},
}


async def _statuses(port: int) -> dict[str, bytes]:
    return {
        name: (await exchange_raw(port, wire)).split(b"\r\n", 1)[0]
        for name, wire in CASES.items()
    }


@needs_nginx
async def test_as_nginx_counts_them(serve: ServeFactory, tmp_path: Path) -> None:
    expected, answered = await side_by_side(serve, tmp_path, LOCATIONS, _statuses, http=HTTP)
    assert answered == expected
    # What nginx 1.22 does, so that the comparison cannot pass by both being lenient.
    assert expected["request line 1022 + CRLF"] == b"HTTP/1.1 200 OK"
    assert expected["request line 1023 + CRLF"] == b"HTTP/1.1 414 Request-URI Too Large"
    assert expected["request line 1023 + LF"] == b"HTTP/1.1 200 OK"
    assert expected["header line 1023 + CRLF"] == b"HTTP/1.1 400 Bad Request"
