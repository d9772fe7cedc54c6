"""A request cut short by a timeout is logged as nginx logs it: a 408 with the request line as
far as it came, no answer sent. An idle connection that times out is not a request and is not
logged. Timed with trio's MockClock; the expected lines are what nginx 1.22 wrote for the same
bytes (`client_header_timeout 1s; client_body_timeout 1s;`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from conftest import ServeFactory
from trio.testing import MockClock

CONF = """
events {{}}
http {{
    push_stream_shared_memory_size 8m;
    log_format t '$status "$request" $body_bytes_sent $request_length';
    access_log {log} t;
    client_header_timeout 1s;
    client_body_timeout 1s;
    keepalive_timeout 3s;
    server {{
        listen 127.0.0.1:0;
        location /r {{ return 200 "x"; }}
        location /pub {{ push_stream_publisher; push_stream_channels_path $arg_id; }}
    }}
}}
"""


@pytest.fixture
def autojump_clock() -> MockClock:
    return MockClock(autojump_threshold=0)


async def _sent_then_left(port: int, data: bytes) -> bytes:
    """What the server answers to `data` before it closes the connection."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(data)
        answer = b""
        with trio.fail_after(30):
            while chunk := await stream.receive_some(65536):
                answer += chunk
    return answer


@pytest.mark.parametrize(
    ("sent", "answered", "logged"),
    [
        (b"GET /r HT", b"", ['408 "GET /r HT" 0 0']),
        (b"GET /r HTTP/1.1\r", b"", ['408 "GET /r HTTP/1.1" 0 0']),
        (b"GET /r HTTP/1.1\r\nHost: x\r\n", b"", ['408 "GET /r HTTP/1.1" 0 26']),
        (
            b"GET /r HTTP/1.1\r\nHost: x\r\n\r\nGET /r HTTP/1.1\r\nHo",
            b"x",
            ['200 "GET /r HTTP/1.1" 1 28', '408 "GET /r HTTP/1.1" 0 17'],
        ),
        (
            b"POST /pub?id=a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
            b"",
            ['408 "POST /pub?id=a HTTP/1.1" 0 59'],
        ),
        (b"", b"", []),  # nothing sent: no request, no line
    ],
)
async def test_a_timed_out_request_is_logged_as_nginx_logs_it(
    serve: ServeFactory,
    autojump_clock: MockClock,
    tmp_path: Path,
    sent: bytes,
    answered: bytes,
    logged: list[str],
) -> None:
    log = tmp_path / "access.log"
    async with serve(CONF.format(log=log)) as server:
        answer = await _sent_then_left(server.port(), sent)
    assert answer.endswith(answered)
    assert answer.count(b"HTTP/1.1") == (1 if answered else 0)
    assert (log.read_text().splitlines() if log.exists() else []) == logged
