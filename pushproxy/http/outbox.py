"""Small writes made together, at the end of a turn of trio's run loop.

A write to a peer that sleeps wakes it, and on this kind of machine the wake-up costs the
writer far more than the copy (a 110-byte write: about 5 µs to a busy reader, 21 µs to a
sleeping one; docs/performance.md). A server that answers each request as soon as it is
ready spreads its writes over the whole turn, and wakes its peer for each one; one that makes
the turn's writes in a burst, just before trio waits for I/O, wakes it once. So an answer that
needs no wait (most of them) is queued here, with the socket's other queued bytes, and the
`Outbox` (a trio instrument) writes everything queued in `before_io_wait`: the same turn,
nothing reordered on a socket, no task switch.

What a socket does not take then is finished by a task of the outbox's own (`_finish`), within
the write's send timeout; past it the socket is shut down, so that its owner's next read ends
the connection. A write that cannot wait for the turn's end goes through `drain` first: what
is queued or left over for its socket goes out before it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

import trio

from pushproxy.http.transport import send_soon

# A write larger than this goes out at once (the turn's burst is for small answers).
QUEUED_MAX = 16384
# Queued bytes per socket past which its writes go out at once (bounded memory per client).
_SOCKET_MAX = 65536


class Outbox(trio.abc.Instrument):
    """The writes of one turn (`queue`) and the task that finishes short ones (`run`)."""

    def __init__(self) -> None:
        # What each socket is to be sent at the turn's end, and within how many seconds.
        self.queued: dict[trio.socket.SocketType, tuple[bytes, float]] = {}
        # Sockets whose queued bytes did not all go: later writes wait for the event.
        self.stalled: dict[trio.socket.SocketType, trio.Event] = {}
        self._nursery: trio.Nursery | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Flush at each turn's end while this runs (in the server's nursery)."""
        trio.lowlevel.add_instrument(self)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                await trio.sleep_forever()
        finally:
            self._nursery = None
            trio.lowlevel.remove_instrument(self)
            self.flush()

    def queue(self, sock: trio.socket.SocketType, data: bytes, within: float) -> bool:
        """Queue `data` for the turn's end; False when it must go at once instead (the
        outbox is not running, the write is large, the socket has enough queued or is
        stalled): the caller then `drain`s the socket and writes."""
        if self._nursery is None or len(data) > QUEUED_MAX or sock in self.stalled:
            return False
        queued = self.queued.get(sock)
        if queued is None:
            self.queued[sock] = (data, within)
            return True
        if len(queued[0]) + len(data) > _SOCKET_MAX:
            return False
        self.queued[sock] = (queued[0] + data, within)
        return True

    async def send(
        self,
        stream: trio.SocketStream,
        data: bytes,
        within: float,
        then: Callable[[], None] | None = None,
    ) -> None:
        """`data` queued for the turn's end or, when it cannot be (see `queue`) or is followed
        by `then`, written as `send_soon` writes, after what the socket has queued or left
        over. `then` runs right after the write, before any wait (as in `send_soon`): a
        publisher's answer goes before its message's deliveries, which no wait may delay."""
        sock = stream.socket
        if then is None and self.queue(sock, data, within):
            return
        self._write_queued(sock)
        done = self.stalled.get(sock)
        if done is not None:  # (`drain`, inline: a publisher's answer comes this way)
            if then is not None:
                then()  # the deliveries wait for no bytes this socket still owes
                then = None
            await done.wait()
        await send_soon(stream, data, within, then)

    def before_io_wait(self, timeout: float) -> None:
        if self.queued:
            self.flush()

    def flush(self) -> None:
        """Write everything queued; what a socket does not take is left to `_finish`."""
        queued, self.queued = self.queued, {}
        for sock, (data, within) in queued.items():
            self._write(sock, data, within)

    def _write_queued(self, sock: trio.socket.SocketType) -> None:
        queued = self.queued.pop(sock, None)
        if queued is not None:
            self._write(sock, *queued)

    def _write(self, sock: trio.socket.SocketType, data: bytes, within: float) -> None:
        sent = _sent(sock, data)
        if sent is not None and sent < len(data):
            self._stall(sock, data[sent:], within)

    def _stall(self, sock: trio.socket.SocketType, rest: bytes, within: float) -> None:
        done = self.stalled[sock] = trio.Event()
        if self._nursery is None:  # stopping: nobody will finish it
            self._give_up(sock, done)
        else:
            self._nursery.start_soon(self._finish, sock, rest, within, done)

    async def drain(self, sock: trio.socket.SocketType) -> None:
        """What is queued or left over for `sock` goes out now: before a write that does not
        wait for the turn's end, an upgrade, a close. Bounded by the queued writes' own send
        timeouts."""
        self._write_queued(sock)
        done = self.stalled.get(sock)
        if done is not None:
            await done.wait()

    async def _finish(
        self, sock: trio.socket.SocketType, rest: bytes, within: float, done: trio.Event
    ) -> None:
        left = memoryview(rest)
        try:
            with trio.move_on_after(within):
                while left:
                    await trio.lowlevel.wait_writable(sock)
                    sent = _sent(sock, left)
                    if sent is None:
                        return
                    left = left[sent:]
            if left:  # too slow: as after a send timeout, the connection ends
                sock.shutdown(socket.SHUT_RDWR)
        except (OSError, ValueError, trio.ClosedResourceError, trio.BusyResourceError):
            pass  # gone (closed: a descriptor of -1), or its owner writes: its owner finds out
        finally:
            self._give_up(sock, done)

    def _give_up(self, sock: trio.socket.SocketType, done: trio.Event) -> None:
        del self.stalled[sock]
        done.set()


def _sent(sock: trio.socket.SocketType, data: bytes | memoryview) -> int | None:
    """What one non-blocking write took; None when the socket broke (its owner's next read
    or write finds out)."""
    try:  # a closed socket's fileno() is -1: EBADF, never someone else's descriptor
        return os.write(sock.fileno(), data)
    except BlockingIOError:
        return 0
    except OSError:
        return None
