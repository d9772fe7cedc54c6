"""Client sockets watched all at once: one epoll set, one task.

Two kinds of waits need to hear from a client while their task waits on something else: an idle
streaming subscriber (its client may leave, or send bytes it has no use for) and a proxied
request waiting on its upstream (its client may leave: nginx's check for a broken connection,
`proxy_ignore_client_abort off`). A wait of their own on the socket would cost each a task or
its registration; instead their sockets sit in one epoll set of the watch's own, which the
server's loop watches with one task. As in nginx, a close is epoll's EPOLLRDHUP; a watch that
is not `readable` ignores bytes, so a pipelined request is not taken for a client that left.
Events are one-shot: the watcher reacts, then re-arms its socket or removes it. A removed
socket stays in the set, disarmed or armed for nobody, until it closes (the kernel drops a
closed socket from the set): a keep-alive connection's next wait re-arms it with one
`epoll_ctl`, where an unregister and a register cost two.
"""

from __future__ import annotations

import select
from contextlib import suppress
from typing import Protocol

import trio


class Watcher(Protocol):
    def client_event(self) -> None:
        """The client's socket closed, broke or (for a `readable` watch) has bytes; must not
        block."""


class ClientWatch:
    """`add` a client socket with who to tell; `rearm` after an event; `remove` when done."""

    __slots__ = ("_epoll", "_events", "_watchers")

    def __init__(self, *, readable: bool) -> None:
        self._events = select.EPOLLRDHUP | select.EPOLLONESHOT
        if readable:
            self._events |= select.EPOLLIN
        self._epoll = select.epoll()
        self._watchers: dict[int, Watcher] = {}

    def add(self, fd: int, watcher: Watcher) -> bool:
        """False when the socket cannot be watched (closed, or the watch has ended)."""
        try:
            try:
                self._epoll.modify(fd, self._events)  # still in the set from an earlier wait
            except FileNotFoundError:
                self._epoll.register(fd, self._events)
        except (OSError, ValueError):
            return False
        self._watchers[fd] = watcher
        return True

    def rearm(self, fd: int) -> None:
        with suppress(OSError, ValueError):
            self._epoll.modify(fd, self._events)

    def remove(self, fd: int) -> None:
        """Nobody is told of the socket's events any more (it stays in the set: see above)."""
        self._watchers.pop(fd, None)

    def close(self) -> None:
        """For a watch that never ran (`run` closes its own set)."""
        self._epoll.close()

    async def run(self) -> None:
        try:
            while True:
                await trio.lowlevel.wait_readable(self._epoll.fileno())
                for fd, _ in self._epoll.poll(0):
                    watcher = self._watchers.get(fd)
                    if watcher is not None:
                        watcher.client_event()
        finally:
            self._watchers.clear()
            self._epoll.close()
