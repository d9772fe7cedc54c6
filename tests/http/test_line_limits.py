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


def _with_host(host: bytes, before: bytes = b"", after: bytes = b"", target: bytes = b"/") -> bytes:
    return (
        b"GET " + target + b" HTTP/1.1\r\n" + before + b"Host: " + host + b"\r\n" + after
        + b"Connection: close\r\n\r\n"
    )  # fmt: skip


LONG = b"X-Long: " + b"b" * 3000 + b"\r\n"
SERVERS = """
    large_client_header_buffers 4 1k;
    location / { return 200 "default"; }
}
server {
    listen 127.0.0.1:PORT;
    server_name big;
    large_client_header_buffers 4 16k;
    location / { return 200 "big"; }
"""
HOST_CASES = {
    "big, long line after Host": _with_host(b"big", after=LONG),
    "big, long line before Host": _with_host(b"big", before=LONG),
    "big, 10k of headers after Host": _with_host(b"big", after=LONG * 3),
    "default, long line after Host": _with_host(b"other", after=LONG),
    "big, long request line": _with_host(b"big", target=b"/" + b"a" * 3000),
    "big:80 (port, upper case)": _with_host(b"BIG:80", after=LONG),
}


async def _host_statuses(port: int) -> dict[str, bytes]:
    return {
        name: (await exchange_raw(port, wire)).split(b"\r\n", 1)[0]
        for name, wire in HOST_CASES.items()
    }


@needs_nginx
async def test_a_servers_own_buffers_hold_for_the_lines_after_its_host(
    serve: ServeFactory, tmp_path: Path
) -> None:
    """`large_client_header_buffers` in a server block: the default server's for the request
    line and the headers up to `Host`, then those of the server `Host` names."""
    expected, answered = await side_by_side(serve, tmp_path, SERVERS, _host_statuses)
    assert answered == expected
    assert expected["big, long line after Host"] == b"HTTP/1.1 200 OK"
    assert expected["big, long line before Host"] == b"HTTP/1.1 400 Bad Request"
    assert expected["default, long line after Host"] == b"HTTP/1.1 400 Bad Request"
    assert expected["big, long request line"] == b"HTTP/1.1 414 Request-URI Too Large"


@needs_nginx
async def test_the_default_servers_buffers_are_the_connections(
    serve: ServeFactory, tmp_path: Path
) -> None:
    locations = "large_client_header_buffers 4 1k; " + LOCATIONS
    expected, answered = await side_by_side(serve, tmp_path, locations, _statuses)
    assert answered == expected
    assert expected["request line 1023 + CRLF"] == b"HTTP/1.1 414 Request-URI Too Large"


async def _underscored(port: int) -> bytes:
    wire = b"GET / HTTP/1.1\r\nHost: x\r\nX_Seen: yes\r\nConnection: close\r\n\r\n"
    return (await exchange_raw(port, wire)).rsplit(b"\r\n\r\n", 1)[1]


@needs_nginx
async def test_the_default_servers_header_rules_are_the_connections(
    serve: ServeFactory, tmp_path: Path
) -> None:
    """`underscores_in_headers` in the server block: its heads keep `X_Seen`."""
    locations = 'underscores_in_headers on; location / { return 200 "[$http_x_seen]"; }'
    expected, answered = await side_by_side(serve, tmp_path, locations, _underscored)
    assert (answered, expected) == (b"[yes]", b"[yes]")
