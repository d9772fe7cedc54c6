"""HTTP/0.9 requests (a request line without a version) answered as nginx 1.22 answers them,
checked side by side with Debian's nginx: GET gets the body alone, with no status line and no
header, then the connection closes; any other method gets the 400 page the same way."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import ServeFactory
from helpers import exchange_raw
from proxy.nginx import needs_nginx, side_by_side

LOCATIONS = """
    location /ret { return 200 "ok\\n"; }
    location /nf { return 404; }
    location /up/ { proxy_pass http://127.0.0.1:$server_port/ret; }
"""
LINES = (
    b"GET /ret\r\n",
    b"GET /ret\n",
    b"GET /ret?a=1 \r\n",
    b"GET /nf\r\n",
    b"GET /none\r\n",
    b"GET /up/\r\n",
    b"POST /ret\r\n",
    b"HEAD /ret\r\n",
    b"TRACE /ret\r\n",
)
# The one difference on the wire: the server's name at the foot of a page.
_FOOT = re.compile(rb"<hr><center>[^<]*</center>")


async def _answers(port: int) -> dict[bytes, bytes]:
    return {line: _FOOT.sub(b"", await exchange_raw(port, line)) for line in LINES}


@needs_nginx
async def test_as_nginx_answers_it(serve: ServeFactory, tmp_path: Path) -> None:
    expected, answered = await side_by_side(serve, tmp_path, LOCATIONS, _answers)
    assert answered == expected
    assert expected[b"GET /ret\r\n"] == b"ok\n"  # so that nothing passes by both failing
    assert expected[b"POST /ret\r\n"].startswith(b"<html>\r\n<head><title>400 Bad Request")


async def test_logged_request_line(serve: ServeFactory, tmp_path: Path) -> None:
    """`$request` is the line as sent, without a version; `$server_protocol` is not found
    (`-` in the log, as nginx writes it)."""
    log = tmp_path / "access.log"
    conf = f"""
events {{}}
http {{
    log_format line '[$request] [$server_protocol] $status';
    server {{
        listen 127.0.0.1:0;
        access_log {log} line;
        {LOCATIONS}
    }}
}}
"""
    async with serve(conf) as server:
        assert await exchange_raw(server.port(), b"GET /ret?a=1\r\n") == b"ok\n"
        await exchange_raw(server.port(), b"GET /ret HTTP/1.0\r\n\r\n")
    lines = log.read_text().splitlines()
    assert lines == ["[GET /ret?a=1] [-] 200", "[GET /ret HTTP/1.0] [HTTP/1.0] 200"]


async def test_after_a_chunked_gzip_answer_on_the_same_connection(serve: ServeFactory) -> None:
    """A 0.9 line pipelined after a compressed, chunked HTTP/1.1 answer gets its body alone,
    neither compressed nor framed as the answer before it was."""
    conf = f"""
events {{}}
http {{
    gzip on;
    gzip_min_length 1;
    gzip_types text/plain;
    server {{
        listen 127.0.0.1:0;
        {LOCATIONS}
    }}
}}
"""
    async with serve(conf) as server:
        first = b"GET /ret HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n"
        received = await exchange_raw(server.port(), first + b"GET /ret\r\n")
    assert b"Content-Encoding: gzip" in received
    assert received.endswith(b"0\r\n\r\nok\n")


async def test_a_line_without_a_target_is_no_http09_request(serve: ServeFactory) -> None:
    """`GET HTTP/1.1` names no target: nginx answers it as a bad HTTP/1.x request, with its
    status line and headers (as it answers `OPTIONS *` and `GET x:y`)."""
    conf = f"events {{}}\nhttp {{ server {{ listen 127.0.0.1:0; {LOCATIONS} }} }}"
    async with serve(conf) as server:
        for line in (b"GET HTTP/1.1", b"GET  HTTP/1.1", b"OPTIONS * HTTP/1.1"):
            answer = await exchange_raw(server.port(), line + b"\r\nHost: x\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"), line
