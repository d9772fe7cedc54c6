"""The outbox: small writes wait for the end of trio's turn and go out together, one write per
socket and in order; what a socket does not take then is finished later, within the send
timeout, and a write that cannot wait goes after what is queued for its socket."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Callable

import pytest
import trio
from trio.testing import MockClock

from pushproxy.http.connection import HttpConnection
from pushproxy.http.deadlines import Deadlines
from pushproxy.http.outbox import QUEUED_MAX, Outbox
from pushproxy.http.transport import Limits


def _pair(sndbuf: int | None = None) -> tuple[trio.socket.SocketType, socket.socket]:
    ours, theirs = socket.socketpair()
    if sndbuf is not None:
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    theirs.setblocking(False)
    return trio.socket.from_stdlib_socket(ours), theirs


def _read_all(peer: socket.socket) -> bytes:
    """What the peer can read now, without waiting."""
    out = b""
    while True:
        try:
            data = peer.recv(1 << 20)
        except BlockingIOError:
            return out
        if not data:
            return out
        out += data


@pytest.fixture
async def outbox() -> AsyncIterator[Outbox]:
    box = Outbox()
    async with trio.open_nursery() as nursery:
        await nursery.start(box.run)  # running: it queues from now on
        yield box
        nursery.cancel_scope.cancel()


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The descriptors of the process's `os.write` calls, in order."""
    seen: list[int] = []
    real: Callable[[int, bytes], int] = os.write

    def counted(fd: int, data: bytes) -> int:
        seen.append(fd)
        return real(fd, data)

    monkeypatch.setattr(os, "write", counted)
    return seen


async def test_a_turns_writes_go_out_at_its_end_one_write_per_socket(
    outbox: Outbox, writes: list[int]
) -> None:
    first, first_peer = _pair()
    second, second_peer = _pair()
    assert outbox.queue(first, b"HTTP/1.1 200 OK\r\n\r\none", 60)
    assert outbox.queue(second, b"other", 60)
    assert outbox.queue(first, b"two", 60)
    assert _read_all(first_peer) == b""  # nothing written during the turn
    await trio.lowlevel.checkpoint()
    assert _read_all(first_peer) == b"HTTP/1.1 200 OK\r\n\r\nonetwo"
    assert _read_all(second_peer) == b"other"
    assert writes == [first.fileno(), second.fileno()]
    for sock in (first, second, first_peer, second_peer):
        sock.close()


async def test_large_writes_and_a_stopped_outbox_queue_nothing() -> None:
    box = Outbox()
    sock, peer = _pair()
    assert not box.queue(sock, b"x", 60)  # not running
    async with trio.open_nursery() as nursery:
        await nursery.start(box.run)
        assert not box.queue(sock, b"x" * (QUEUED_MAX + 1), 60)
        assert box.queue(sock, b"x", 60)
        nursery.cancel_scope.cancel()
    assert _read_all(peer) == b"x"  # what was queued went out as it stopped
    sock.close()
    peer.close()


async def test_what_a_socket_does_not_take_follows_and_later_writes_wait_for_it(
    outbox: Outbox,
) -> None:
    sock, peer = _pair(sndbuf=4096)
    data = bytes(range(256)) * 60  # 15 KiB: more than the socket takes at once
    assert outbox.queue(sock, data, 60)
    await trio.lowlevel.checkpoint()
    assert sock in outbox.stalled
    assert not outbox.queue(sock, b"later", 60)  # stalled: the caller drains, then writes
    received = b""

    async def read_slowly() -> None:
        nonlocal received
        while len(received) < len(data) + 5:
            await trio.lowlevel.wait_readable(peer)
            received += _read_all(peer)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(read_slowly)
        with trio.fail_after(10):
            await outbox.drain(sock)
            assert sock not in outbox.stalled
            await sock.send(b"later")
    assert received == data + b"later"
    sock.close()
    peer.close()


async def test_a_peer_that_never_reads_is_shut_down_at_the_send_timeout(
    autojump_clock: MockClock, outbox: Outbox
) -> None:
    sock, peer = _pair(sndbuf=4096)
    data = b"y" * QUEUED_MAX
    start = trio.current_time()
    assert outbox.queue(sock, data, 7)
    await outbox.drain(sock)  # returns when the rest went, or was given up
    assert trio.current_time() - start == pytest.approx(7)
    received = _read_all(peer)
    assert 0 < len(received) < len(data)
    assert peer.recv(10) == b""  # shut down: the connection ends
    sock.close()
    peer.close()


async def test_a_direct_write_of_a_connection_goes_after_its_queued_head(outbox: Outbox) -> None:
    sock, peer = _pair()
    conn = HttpConnection(trio.SocketStream(sock), Limits(), Deadlines(), outbox=outbox)
    await conn.send_raw(b"HTTP/1.1 200 OK\r\n\r\n")  # queued for the turn's end
    assert sock in outbox.queued
    left, alive = conn.write_now(b"message")  # a publish's fan-out, in the same turn
    assert (left, alive) == (b"", True)
    assert _read_all(peer) == b"HTTP/1.1 200 OK\r\n\r\nmessage"
    await conn.close()
    peer.close()


async def test_a_connection_closes_after_its_queued_answer_went(outbox: Outbox) -> None:
    sock, peer = _pair()
    conn = HttpConnection(trio.SocketStream(sock), Limits(), Deadlines(), outbox=outbox)
    await conn.send_raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    await conn.close()
    assert _read_all(peer) == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    peer.close()


async def test_then_runs_before_waiting_for_a_stalled_socket(
    autojump_clock: MockClock, outbox: Outbox
) -> None:
    """A publisher's deliveries (`then`) are never delayed by its socket's earlier bytes."""
    sock, peer = _pair(sndbuf=4096)
    assert outbox.queue(sock, b"z" * QUEUED_MAX, 7)  # an earlier answer, never read
    await trio.lowlevel.checkpoint()
    assert sock in outbox.stalled
    ran_at: list[float] = []
    start = trio.current_time()
    with pytest.raises(BrokenPipeError):  # shut down at the send timeout: this write fails
        await outbox.send(
            trio.SocketStream(sock), b"answer", 7, lambda: ran_at.append(trio.current_time())
        )
    assert ran_at == [start]
    assert trio.current_time() - start == pytest.approx(7)
    sock.close()
    peer.close()


async def test_a_socket_closed_while_its_rest_waits_ends_only_that_write(outbox: Outbox) -> None:
    sock, peer = _pair(sndbuf=4096)
    assert outbox.queue(sock, b"w" * QUEUED_MAX, 60)
    outbox.flush()  # as at the turn's end: the rest is left to a task of the outbox's,
    assert sock in outbox.stalled
    sock.close()  # and its owner goes away before that task runs (a stop, a timeout)
    with trio.fail_after(5):
        await outbox.drain(sock)
    assert sock not in outbox.stalled
    other, other_peer = _pair()
    assert outbox.queue(other, b"still running", 60)
    await trio.lowlevel.checkpoint()
    assert _read_all(other_peer) == b"still running"
    for each in (peer, other, other_peer):
        each.close()
