"""`send_soon`: one non-blocking write, a bounded wait only for what the socket did not take,
and `then` right after the first write, before any wait, whatever came of the write."""

from __future__ import annotations

import socket

import pytest
import trio

from pushproxy.http.transport import send_soon


def _pair() -> tuple[trio.SocketStream, socket.socket]:
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    return trio.SocketStream(trio.socket.from_stdlib_socket(ours)), theirs


async def test_then_runs_once_the_bytes_are_written() -> None:
    stream, peer = _pair()
    seen: list[bytes] = []
    await send_soon(stream, b"answer", 5, lambda: seen.append(peer.recv(100)))
    assert seen == [b"answer"]
    await stream.aclose()
    peer.close()


async def test_then_runs_when_the_write_fails() -> None:
    stream, peer = _pair()
    peer.close()
    called: list[bool] = []
    with pytest.raises(BrokenPipeError):
        await send_soon(stream, b"answer", 5, lambda: called.append(True))
    assert called == [True]
    await stream.aclose()


async def test_then_runs_before_waiting_for_a_full_socket() -> None:
    stream, peer = _pair()
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    data = b"x" * 1_000_000  # far more than the socket takes at once
    called = trio.Event()
    received = 0

    async def read_once_called() -> None:
        nonlocal received
        await called.wait()  # `then` ran while send_soon still had bytes to send
        while received < len(data):
            await trio.lowlevel.wait_readable(peer)
            received += len(peer.recv(65536))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(read_once_called)
        with trio.fail_after(10):
            await send_soon(stream, data, 5, called.set)
    assert received == len(data)
    await stream.aclose()
    peer.close()
