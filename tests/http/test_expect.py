"""`Expect: 100-continue` answered where nginx answers it: whenever a handler reads the request
body or drops it before an answer of its own (ngx_http_test_expect()), even when the body came
with the head or there is none; never before an error page, never to HTTP/1.0. Checked side by
side with Debian's nginx, and for the push locations against the module's handlers (the
publisher reads the body; subscribers never do)."""

from __future__ import annotations

import re
from pathlib import Path

import trio
from conftest import ServeFactory
from helpers import exchange_raw
from proxy.nginx import needs_nginx, side_by_side

# The statuses of the responses on a connection, interim ones included, in order.
_STATUS = re.compile(rb"(?:^|\r\n\r\n|\n)HTTP/1\.1 ([0-9]{3}) ")

# Locations both servers run; the proxy goes back to the same server's `return`.
LOCATIONS = """
    location /ret { return 200 "ok\\n"; }
    location /nf { return 404; }
    location /moved { return 302 /ret; }
    location /up/ { proxy_pass http://127.0.0.1:$server_port/ret; }
"""

EXPECT = "Expect: 100-continue\r\n"
CASES = {
    "proxy, no body": f"POST /up/ HTTP/1.1\r\nHost: x\r\n{EXPECT}Content-Length: 0\r\n",
    "proxy, body with the head": f"POST /up/ HTTP/1.1\r\nHost: x\r\n{EXPECT}"
    "Content-Length: 5\r\n\r\nhello",
    "proxy, other case": "POST /up/ HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\n"
    "Content-Length: 0\r\n",
    "proxy, HTTP/1.0": f"POST /up/ HTTP/1.0\r\nHost: x\r\n{EXPECT}Content-Length: 0\r\n",
    "proxy, other expectation": "POST /up/ HTTP/1.1\r\nHost: x\r\nExpect: later\r\n"
    "Content-Length: 0\r\n",
    "return text, body with the head": f"POST /ret HTTP/1.1\r\nHost: x\r\n{EXPECT}"
    "Content-Length: 5\r\n\r\nhello",
    "return text, no body": f"GET /ret HTTP/1.1\r\nHost: x\r\n{EXPECT}",
    "return redirect": f"GET /moved HTTP/1.1\r\nHost: x\r\n{EXPECT}",
    "return error": f"GET /nf HTTP/1.1\r\nHost: x\r\n{EXPECT}",
    "no such location": f"GET /none HTTP/1.1\r\nHost: x\r\n{EXPECT}",
}


def _wire(case: str) -> bytes:
    head, _, body = CASES[case].partition("\r\n\r\n")
    head = head.removesuffix("\r\n")
    return f"{head}\r\nConnection: close\r\n\r\n{body}".encode()


def statuses(wire: bytes) -> list[int]:
    return [int(code) for code in _STATUS.findall(wire)]


async def _answers(port: int) -> dict[str, list[int]]:
    return {case: statuses(await exchange_raw(port, _wire(case))) for case in CASES}


@needs_nginx
async def test_as_nginx_answers_it(serve: ServeFactory, tmp_path: Path) -> None:
    expected, answered = await side_by_side(serve, tmp_path, LOCATIONS, _answers)
    assert answered == expected
    # What nginx 1.22 does, so that the comparison above cannot pass by both saying nothing.
    assert expected["proxy, body with the head"] == [100, 200]
    assert expected["return error"] == [404]
    assert expected["proxy, HTTP/1.0"] == [200]


PUSH = """
events {}
http {
    push_stream_shared_memory_size 8m;
    server {
        listen 127.0.0.1:0;
        location /pub { push_stream_publisher; push_stream_channels_path $arg_id; }
        location ~ /sub/(.*) { push_stream_subscriber; push_stream_channels_path $1; }
    }
}
"""


async def test_push_locations(serve: ServeFactory) -> None:
    async with serve(PUSH) as server:
        port = server.port()
        publish = (
            f"POST /pub?id=c HTTP/1.1\r\nHost: x\r\n{EXPECT}Content-Length: 2\r\n"
            "Connection: close\r\n\r\nhi"
        )
        assert statuses(await exchange_raw(port, publish.encode())) == [100, 200]
        info = f"GET /pub?id=c HTTP/1.1\r\nHost: x\r\n{EXPECT}Connection: close\r\n\r\n"
        assert statuses(await exchange_raw(port, info.encode())) == [200]
        # A subscriber never reads the body: its stream starts with its own head.
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(f"GET /sub/c HTTP/1.1\r\nHost: x\r\n{EXPECT}\r\n".encode())
            with trio.fail_after(5):
                first = await stream.receive_some(65536)
        assert first.startswith(b"HTTP/1.1 200 OK\r\n")


async def test_one_interim_answer_before_a_body_that_waits(serve: ServeFactory) -> None:
    """The usual client: it sends the head, waits for `100 Continue`, then the body."""
    async with serve(PUSH) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port())
        async with stream:
            head = f"POST /pub?id=c HTTP/1.1\r\nHost: x\r\n{EXPECT}Content-Length: 2\r\n\r\n"
            await stream.send_all(head.encode())
            with trio.fail_after(5):
                interim = await stream.receive_some(65536)
                assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
                await stream.send_all(b"hi")
                answer = await stream.receive_some(65536)
        assert statuses(answer) == [200]
        assert b'"published_messages": 1' in answer


async def _after_an_error_page(port: int, rest: bytes) -> tuple[list[int], bytes]:
    """An error page to `Expect: 100-continue` and a body announced, then `rest` sent: the
    statuses of everything answered, and the error page's `Connection`."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(
            f"POST /nf HTTP/1.1\r\nHost: x\r\n{EXPECT}Content-Length: 5\r\n\r\n".encode()
        )
        received = b""
        with trio.fail_after(5):
            while not received.endswith(b"</html>\r\n"):
                received += await stream.receive_some(65536)
            await stream.send_all(rest)
            while chunk := await stream.receive_some(65536):
                received += chunk
    connection = re.search(rb"\r\nConnection: ([a-z-]+)\r\n", received)
    assert connection is not None
    return statuses(received), connection.group(1)


async def _kept_alive(port: int) -> dict[str, tuple[list[int], bytes]]:
    after = b"GET /ret HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    return {
        "the body comes": await _after_an_error_page(port, b"hello" + after),
        "no body comes": await _after_an_error_page(port, after),
    }


@needs_nginx
async def test_an_error_page_keeps_the_connection_and_drops_the_body_after(
    serve: ServeFactory, tmp_path: Path
) -> None:
    """nginx answers the error without `100 Continue`, keeps the connection and drops the
    announced body from what comes next: the next request, when no body comes first."""
    expected, answered = await side_by_side(serve, tmp_path, LOCATIONS, _kept_alive)
    assert answered == expected
    assert expected["the body comes"] == ([404, 200], b"keep-alive")
    assert expected["no body comes"] == ([404, 400], b"keep-alive")
