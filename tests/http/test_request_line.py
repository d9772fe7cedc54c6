"""`$request` and `$server_protocol` are the request line as it came, spaces and digits as
the client wrote them, as nginx has them (checked side by side with nginx 1.22)."""

from __future__ import annotations

from pathlib import Path

from conftest import ServeFactory
from helpers import exchange_raw
from proxy.nginx import needs_nginx, side_by_side

LOCATIONS = """
    location /r { return 200 "[$request] [$server_protocol] [$request_method $request_uri]"; }
    location /gone { error_page 404 = /page; }
    location = /page { return 200 "[$request] [$request_method]"; }
"""
LINES = [
    b"GET  /r  HTTP/1.1",
    b"GET /r HTTP/1.2",
    b"GET /r HTTP/1.01",
    b"GET /r HTTP/1.10",
    b"GET /r HTTP/1.1  ",
    b"GET /r?a  HTTP/1.0",
    b"POST /gone HTTP/1.1",
]


async def _bodies(port: int) -> list[bytes]:
    answers = []
    for line in LINES:
        head = line + b"\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        answers.append((await exchange_raw(port, head)).rsplit(b"\r\n\r\n", 1)[-1])
    http09 = await exchange_raw(port, b"GET /r\r\n")  # the body alone, no head
    return [*answers, http09]


@needs_nginx
async def test_request_and_server_protocol_as_the_line_came(
    serve: ServeFactory, tmp_path: Path
) -> None:
    expected, answered = await side_by_side(serve, tmp_path, LOCATIONS, _bodies)
    assert answered == expected
    # What nginx 1.22 answers, so that the comparison cannot pass by both being wrong alike.
    assert expected[0] == b"[GET  /r  HTTP/1.1] [HTTP/1.1] [GET /r]"
    assert expected[4] == b"[GET /r HTTP/1.1  ] [HTTP/1.1  ] [GET /r]"
    assert expected[6] == b"[POST /gone HTTP/1.1] [GET]"
