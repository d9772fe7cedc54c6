"""Deadlines that move for the price of an attribute write.

A keep-alive connection moves its timeout on every request: `keepalive_timeout` while it
waits for one, `client_header_timeout` while the head arrives, none while the request is
answered. As a cancel scope's deadline, each move costs a context manager and a heap push in
trio's run loop, and the stale entries are popped later: measured in the server, the two
moves of a small request cost 8 to 15 µs of its CPU (docs/performance.md).

Here `Deadline.move_to` writes the time, and queues an entry only when the new time is
earlier than the one already queued for it. One task (`Deadlines.run`) sleeps until the
earliest queued time. An entry that comes due for a deadline moved later since is queued
again at its new time; one that is really due runs its owner's action: a connection's
cancels its scope, as the cancel scope's own deadline would have; a proxied request's
interrupts its wait on the upstream. Times are trio's, so MockClock tests see no difference.

`Deadlines.now` reads trio's clock directly: `trio.current_time()` costs two more calls and a
thread-local lookup, and a proxied request reads the time about ten times.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable

import trio

_PRUNE_MIN = 1000  # entries; the queue is pruned when it doubles past this


def no_action() -> None:
    """The action of a deadline nobody waits on."""


class Deadline:
    """When `action` is to run: `at`, in trio time (math.inf: never). It runs in the task of
    `Deadlines.run`, so it must not block (cancelling a scope, say)."""

    __slots__ = ("_deadlines", "action", "at", "queued")

    def __init__(self, deadlines: Deadlines, action: Callable[[], object]) -> None:
        self._deadlines = deadlines
        self.action = action
        self.at = math.inf
        self.queued = math.inf  # the earliest time an entry for this deadline is queued at

    def move_after(self, seconds: float) -> None:
        self.move_to(self._deadlines.now() + seconds)

    def move_to(self, at: float) -> None:
        self.at = at
        if at < self.queued:
            self.queued = at
            self._deadlines.queue(self, at)

    def clear(self) -> None:
        """No deadline (its queued entry finds nothing to do)."""
        self.at = math.inf


class Deadlines:
    """The queue of `Deadline`s and the task that expires them (`run`, in the server's
    nursery)."""

    def __init__(self) -> None:
        # trio's time; once `run` runs, read from the run's clock directly (see above).
        self.now: Callable[[], float] = trio.current_time
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()  # ties: Deadlines do not compare
        self._sleep = trio.CancelScope()  # its deadline: the earliest queued time
        self._prune_above = _PRUNE_MIN

    def deadline(self, action: Callable[[], object]) -> Deadline:
        return Deadline(self, action)

    def queue(self, deadline: Deadline, at: float) -> None:
        heapq.heappush(self._heap, (at, next(self._order), deadline))
        if at < self._sleep.deadline:
            self._sleep.deadline = at
        if len(self._heap) > self._prune_above:
            self._prune()

    def _prune(self) -> None:
        """Drop the entries with nothing left to do (connections that closed or are being
        answered), so that many short connections do not fill the queue."""
        kept = []
        for entry in self._heap:
            at, _, deadline = entry
            if at != deadline.queued:
                continue
            if deadline.at == math.inf:
                deadline.queued = math.inf
                continue
            kept.append(entry)
        heapq.heapify(kept)
        self._heap = kept
        self._prune_above = 2 * len(kept) + _PRUNE_MIN

    def __len__(self) -> int:
        return len(self._heap)

    async def run(self) -> None:
        self.now = trio.lowlevel.current_clock().current_time
        while True:
            self._sleep = trio.CancelScope(deadline=self._heap[0][0] if self._heap else math.inf)
            with self._sleep:
                await trio.sleep_forever()
            self.expire(self.now())

    def expire(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            at, _, deadline = heapq.heappop(heap)
            if at != deadline.queued:
                continue  # an earlier entry for it was queued (and handled) since
            deadline.queued = math.inf
            if deadline.at <= now:
                deadline.at = math.inf
                deadline.action()
            elif deadline.at < math.inf:
                deadline.queued = deadline.at
                heapq.heappush(heap, (deadline.at, next(self._order), deadline))
