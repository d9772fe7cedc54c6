"""Idle upstream connections kept for reuse (`keepalive N` in an `upstream` block).

Pure bookkeeping, as ngx_http_upstream_keepalive_module keeps its cache: at most N idle
connections per upstream, the least recently used one closed to make room, one taken back
only for the peer it was opened to, none kept past `keepalive_timeout` idle, past
`keepalive_requests` requests or past `keepalive_time` of age. Closing is the caller's: every
method returns the connections it let go.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class KeepaliveSettings:
    """`keepalive` (0: no pool), `keepalive_timeout`, `keepalive_requests`, `keepalive_time`."""

    connections: int = 0
    timeout: float = 60.0
    requests: int = 1000
    max_age: float = 3600.0

    def may_keep(self, *, requests: int, opened: float, now: float) -> bool:
        """Whether a connection that served `requests` since `opened` may go back idle."""
        return self.connections > 0 and requests < self.requests and now - opened < self.max_age


class _Idle(NamedTuple, Generic[T]):  # (built per request: a named tuple is quick to make)
    key: Hashable
    item: T
    since: float


class IdlePool(Generic[T]):
    """Idle connections of one upstream, most recently used last."""

    __slots__ = ("_entries", "_serial", "settings")

    def __init__(self, settings: KeepaliveSettings) -> None:
        self.settings = settings
        self._entries: OrderedDict[int, _Idle[T]] = OrderedDict()
        self._serial = 0

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: Hashable, item: T, now: float) -> list[T]:
        """Keep `item` idle for the peer `key`; the connections evicted to make room (the
        least recently used first, so any that expired go first; `take` and `expire` drop
        the others)."""
        if self.settings.connections <= 0:
            return [item]
        evicted: list[T] = []
        while len(self._entries) >= self.settings.connections:
            evicted.append(self._entries.popitem(last=False)[1].item)
        self._serial += 1
        self._entries[self._serial] = _Idle(key, item, now)
        return evicted

    def take(self, key: Hashable, now: float) -> tuple[T | None, list[T]]:
        """The most recently used idle connection to `key`, and the ones that expired."""
        expired = self.expire(now)
        for serial in reversed(self._entries):
            if self._entries[serial].key == key:
                return self._entries.pop(serial).item, expired
        return None, expired

    def expire(self, now: float) -> list[T]:
        """Drop the connections idle for longer than `keepalive_timeout`."""
        gone: list[T] = []
        limit, entries = self.settings.timeout, self._entries
        while entries:
            serial, entry = next(iter(entries.items()))  # the oldest (no copy of them all)
            if now - entry.since < limit:
                break  # entries are in the order they went idle
            del entries[serial]
            gone.append(entry.item)
        return gone

    def drain(self) -> list[T]:
        """Everything, for closing at shutdown."""
        gone = [entry.item for entry in self._entries.values()]
        self._entries.clear()
        return gone
