"""Reading request heads from a socket: at once when they are there, after a wait when not,
and the end of the connection either way."""

from __future__ import annotations

import socket

import trio

from pushproxy.http.deadlines import Deadlines
from pushproxy.http.request_reader import Limits, RequestReader

HEAD = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"


def _reader() -> tuple[RequestReader, socket.socket]:
    ours, theirs = socket.socketpair()
    stream = trio.SocketStream(trio.socket.from_stdlib_socket(ours))
    return RequestReader(stream, Limits(), Deadlines()), theirs


async def _expect_request(reader: RequestReader) -> None:
    with trio.fail_after(5):
        request = await reader.next_request()
    assert request is not None
    assert request.target == b"/a"


async def test_a_head_already_there_is_read() -> None:
    reader, client = _reader()
    client.sendall(HEAD)
    await _expect_request(reader)
    client.close()
    await reader.stream.aclose()


async def test_a_head_that_comes_later_is_waited_for() -> None:
    reader, client = _reader()

    async def send_later() -> None:
        await trio.sleep(0.05)
        client.sendall(HEAD)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(send_later)
        await _expect_request(reader)
    client.close()
    await reader.stream.aclose()


async def test_a_connection_closed_before_the_read_ends() -> None:
    reader, client = _reader()
    client.close()
    with trio.fail_after(5):
        assert await reader.next_request() is None
    await reader.stream.aclose()


async def test_a_connection_closed_during_the_wait_ends() -> None:
    reader, client = _reader()

    async def close_later() -> None:
        await trio.sleep(0.05)
        client.close()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(close_later)
        with trio.fail_after(5):
            assert await reader.next_request() is None
    await reader.stream.aclose()
