"""Clients that close while the upstream works: nginx's check for a broken client connection
(`proxy_ignore_client_abort off`), for every proxied request at once.

nginx learns it from epoll's EPOLLRDHUP on the client connection. Here too: the client sockets
of requests waiting on an upstream sit in one epoll set of their own, which the server's loop
watches with one task. A task per request to watch its client would cost more than the
request. Bytes a client sends meanwhile (a pipelined request) do not count as closing.
"""

from __future__ import annotations

import select
from collections.abc import Callable
from contextlib import suppress

import trio

_EVENTS = select.EPOLLRDHUP | select.EPOLLONESHOT


class AbortWatch:
    """`add` a client socket with what to do when it closes; `remove` it when done."""

    __slots__ = ("_callbacks", "_epoll")

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._callbacks: dict[int, Callable[[], None]] = {}

    def add(self, fd: int, on_close: Callable[[], None]) -> bool:
        """False when the socket cannot be watched (already closed, say)."""
        try:
            self._epoll.register(fd, _EVENTS)
        except (OSError, ValueError):
            return False
        self._callbacks[fd] = on_close
        return True

    def remove(self, fd: int) -> None:
        if self._callbacks.pop(fd, None) is not None:
            with suppress(OSError, ValueError):
                self._epoll.unregister(fd)

    async def run(self) -> None:
        try:
            while True:
                await trio.lowlevel.wait_readable(self._epoll.fileno())
                for fd, _ in self._epoll.poll(0):
                    callback = self._callbacks.pop(fd, None)
                    with suppress(OSError, ValueError):
                        self._epoll.unregister(fd)
                    if callback is not None:
                        callback()
        finally:
            self._callbacks.clear()
            self._epoll.close()
