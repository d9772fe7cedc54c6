"""Reading request heads from a socket: at once when they are there, after a wait when not,
and the end of the connection either way."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
import trio
from trio.testing import wait_all_tasks_blocked

from pushproxy.http import request_reader
from pushproxy.http.deadlines import Deadlines
from pushproxy.http.request_reader import RequestReader
from pushproxy.http.transport import Limits

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
        await wait_all_tasks_blocked()  # the reader waits on its socket first
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


def _count_waits(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The sockets trio is asked to wait on, from here on."""
    waits: list[object] = []
    wait: Callable[..., object] = trio.lowlevel.wait_readable

    async def counting(sock: object) -> None:
        waits.append(sock)
        await wait(sock)  # type: ignore[misc]

    monkeypatch.setattr(trio.lowlevel, "wait_readable", counting)
    return waits


async def test_a_head_there_long_after_the_last_answer_needs_no_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reader, client = _reader()
    client.sendall(HEAD)
    waits = _count_waits(monkeypatch)
    await _expect_request(reader)
    assert waits == []
    client.close()
    await reader.stream.aclose()


async def test_right_after_an_answer_the_next_head_is_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Too soon for the client to have sent again: no read that would find nothing."""
    monkeypatch.setattr(request_reader, "_LIKELY_ARRIVED", 60.0)  # "soon", however slow
    reader, client = _reader()
    await reader.send_raw(b"an answer")
    client.sendall(HEAD)
    waits = _count_waits(monkeypatch)
    await _expect_request(reader)
    assert len(waits) == 1
    client.close()
    await reader.stream.aclose()


CHUNKED = b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    "first",
    [b"5\r", b"5", b"5\r\nhel", b"5\r\nhello\r", b"5\r\nhello\r\n0\r", b"0000000000000005\r"],
)
async def test_a_chunked_body_cut_inside_its_framing_is_waited_for(first: bytes) -> None:
    """The rest of a chunk's size line (or of its data's CRLF) comes in a later read: the
    reader waits for it rather than going round without a wait (which froze the server).
    Sizes may have any number of leading zeros, as nginx reads them."""
    reader, client = _reader()
    whole = b"5\r\nhello\r\n0\r\n\r\n"
    if first.startswith(b"0000"):
        whole = first + whole[2:]
    client.sendall(CHUNKED + first)

    async def send_the_rest() -> None:
        await wait_all_tasks_blocked()  # the reader waits on its socket first
        client.sendall(whole[len(first) :])

    with trio.fail_after(5):
        request = await reader.next_request()
        assert request is not None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(send_the_rest)
            assert await reader.read_body() == b"hello"
    client.close()
    await reader.stream.aclose()
