"""`ClientWatch`: client sockets in one epoll set, watched by one task."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import trio

from pushproxy.http.clientwatch import ClientWatch


class Seen:
    def __init__(self) -> None:
        self.events = 0

    def client_event(self) -> None:
        self.events += 1


async def until(condition: Callable[[], bool]) -> None:
    with trio.fail_after(5):
        while not condition():  # noqa: ASYNC110 (the watch calls back; nothing to await on)
            await trio.sleep(0.001)


async def settled(watch: ClientWatch) -> None:
    """Return once the watch has looked at everything that happened before the call: a
    sentinel socket made ready now is reported by the same poll as any earlier event, or a
    later one. (A fixed sleep would make "no event" checks pass for a slow watch too.)"""
    ours, theirs = socket.socketpair()
    sentinel = Seen()
    with ours, theirs:
        assert watch.add(ours.fileno(), sentinel)
        theirs.shutdown(socket.SHUT_WR)  # what every watch reports
        await until(lambda: sentinel.events == 1)
        watch.remove(ours.fileno())


Watched = tuple[ClientWatch, socket.socket, socket.socket, Seen]


@asynccontextmanager
async def watching(*, readable: bool) -> AsyncIterator[Watched]:
    """A running watch with one socket pair (`ours` watched, `theirs` the client's end)."""
    watch = ClientWatch(readable=readable)
    ours, theirs = socket.socketpair()
    seen = Seen()
    with ours, theirs:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch.run)
            assert watch.add(ours.fileno(), seen)
            yield watch, ours, theirs, seen
            nursery.cancel_scope.cancel()


async def test_events_are_one_shot_until_rearmed() -> None:
    async with watching(readable=True) as (watch, ours, theirs, seen):
        theirs.send(b"bytes")
        await until(lambda: seen.events == 1)
        theirs.send(b"more")
        await settled(watch)
        assert seen.events == 1  # not again before the watcher has read and re-armed
        assert ours.recv(100) == b"bytesmore"
        watch.rearm(ours.fileno())
        await settled(watch)
        assert seen.events == 1  # nothing new to read
        theirs.shutdown(socket.SHUT_WR)  # the client is done
        await until(lambda: seen.events == 2)
        watch.remove(ours.fileno())


async def test_a_removed_or_closed_socket_is_not_watched() -> None:
    async with watching(readable=True) as (watch, ours, theirs, seen):
        watch.remove(ours.fileno())
        theirs.send(b"bytes")
        await settled(watch)
        assert seen.events == 0
    assert not watch.add(ours.fileno(), seen)  # the socket closed, the watch ended


async def test_a_close_only_watch_ignores_bytes() -> None:
    async with watching(readable=False) as (watch, ours, theirs, seen):
        theirs.send(b"GET /next HTTP/1.1\r\n\r\n")  # a pipelined request is not a close
        await settled(watch)
        assert seen.events == 0
        theirs.shutdown(socket.SHUT_WR)
        await until(lambda: seen.events == 1)
        watch.remove(ours.fileno())
