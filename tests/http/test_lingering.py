"""nginx's lingering close: a connection that ends while its client may still be sending a body
nobody read stops writing, then reads and drops what arrives until the client is quiet for
`lingering_timeout` or `lingering_time` has passed; only then is it closed (a close with
unread bytes would reset the connection and could destroy the answer before the client reads
it). Timed with trio's MockClock."""

from __future__ import annotations

import pytest
import trio
from conftest import ServeFactory
from trio.testing import MockClock

CONF = """
events {{}}
http {{
    client_max_body_size 10;
    {extra}
    server {{
        listen 127.0.0.1:0;
        location / {{ return 200 "ok"; }}
    }}
}}
"""
HEAD = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"


@pytest.fixture
def autojump_clock() -> MockClock:
    return MockClock(autojump_threshold=0)


async def _refused(port: int) -> trio.SocketStream:
    """A connection whose too large body got its 413, read up to the server's end of writing."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(HEAD + b"x" * 1000)
    answer = b""
    while chunk := await stream.receive_some(65536):
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 413 ")
    return stream


async def _reset(stream: trio.SocketStream) -> bool:
    """Whether the server has closed: more bytes to it come back as a reset."""
    try:
        for _ in range(3):
            await stream.send_all(b"x" * 1000)
            await trio.sleep(0.01)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return True
    return False


async def test_the_server_reads_on_until_the_client_is_quiet(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF.format(extra="lingering_timeout 5s;")) as server:
        stream = await _refused(server.port())
        async with stream:
            for _ in range(3):  # a client still sending keeps it reading
                await trio.sleep(4)
                await stream.send_all(b"x" * 10000)
            assert not await _reset(stream)
            await trio.sleep(6)  # quiet past lingering_timeout: closed
            assert await _reset(stream)


async def test_lingering_time_bounds_it(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF.format(extra="lingering_time 10s; lingering_timeout 5s;")) as server:
        stream = await _refused(server.port())
        async with stream:
            start = trio.current_time()
            while not await _reset(stream):
                await trio.sleep(2)
                assert trio.current_time() - start < 15
            assert trio.current_time() - start >= 10


async def test_off_closes_at_once(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF.format(extra="lingering_close off;")) as server:
        stream = await _refused(server.port())
        async with stream:
            assert await _reset(stream)


async def test_requests_pipelined_past_the_last_answered_are_lingered_over(
    serve: ServeFactory,
) -> None:
    """`keepalive_requests 2` and more requests in one write than the server reads at once:
    the two answers come, then the end of the stream, not a reset that could destroy them
    (nginx lingers when the client sent more than was read)."""
    async with serve(CONF.format(extra="keepalive_requests 2;")) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port())
        async with stream:
            await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 5000)
            answers = b""
            with trio.fail_after(10):
                while chunk := await stream.receive_some(65536):
                    answers += chunk
    assert answers.count(b"HTTP/1.1 200 OK") == 2
    assert b"Connection: close" in answers


async def test_a_body_left_after_the_answer_is_waited_for_lingering_timeout(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    """nginx drops a body the answer did not read as it comes, each read within
    `lingering_timeout` (not `client_body_timeout`): a body that never comes ends the
    connection then."""
    extra = "lingering_timeout 3s; client_body_timeout 60s;"
    async with serve(CONF.format(extra=extra)) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port())
        async with stream:
            await stream.send_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
            start = trio.current_time()
            answer = b""
            while chunk := await stream.receive_some(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 OK")
        assert 3 <= trio.current_time() - start < 4
