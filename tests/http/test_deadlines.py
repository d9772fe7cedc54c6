"""Connection deadlines that move without a cancel scope deadline per move: each fires at its
last time, never at a time it was moved away from. Timed with trio's MockClock."""

from __future__ import annotations

import math

import trio
from trio.testing import MockClock

from pushproxy.http.deadlines import Deadlines


class _Scoped:
    """A deadline that cancels a scope of its own, as a connection's does."""

    def __init__(self, deadlines: Deadlines) -> None:
        self.scope = trio.CancelScope()
        self.deadline = deadlines.deadline(self.scope.cancel)

    def move_to(self, at: float) -> None:
        self.deadline.move_to(at)

    def clear(self) -> None:
        self.deadline.clear()

    @property
    def at(self) -> float:
        return self.deadline.at


async def _cancelled_at(deadline: _Scoped, limit: float = 1000) -> float:
    """The trio time the deadline cancels its scope at (fails past `limit` seconds)."""
    with trio.fail_after(limit), deadline.scope:
        await trio.sleep_forever()
    assert deadline.scope.cancelled_caught
    return trio.current_time()


async def test_a_deadline_moved_later_fires_at_its_last_time(autojump_clock: MockClock) -> None:
    deadlines = Deadlines()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(deadlines.run)
        deadline = _Scoped(deadlines)
        start = trio.current_time()
        deadline.move_to(start + 5)

        async def keep_moving() -> None:
            for _ in range(10):  # every 4 s, 5 s ahead: the first time passed long ago
                await trio.sleep(4)
                deadline.move_to(trio.current_time() + 5)

        nursery.start_soon(keep_moving)
        assert await _cancelled_at(deadline) - start == 45
        assert deadline.at == math.inf
        nursery.cancel_scope.cancel()


async def test_a_deadline_moved_earlier_fires_at_the_earlier_time(
    autojump_clock: MockClock,
) -> None:
    deadlines = Deadlines()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(deadlines.run)
        far = _Scoped(deadlines)
        far.move_to(trio.current_time() + 100)  # the task sleeps until 100 ...
        await trio.sleep(1)
        near = _Scoped(deadlines)
        start = trio.current_time()
        near.move_to(start + 75)
        near.move_to(start + 3)  # ... and wakes for this one
        assert await _cancelled_at(near) - start == 3
        assert not far.scope.cancel_called
        nursery.cancel_scope.cancel()


async def test_a_cleared_deadline_never_fires(autojump_clock: MockClock) -> None:
    deadlines = Deadlines()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(deadlines.run)
        deadline = _Scoped(deadlines)
        deadline.move_to(trio.current_time() + 5)
        deadline.clear()
        await trio.sleep(3600)
        assert not deadline.scope.cancel_called
        assert len(deadlines) == 0  # its entry came due and found nothing to do
        deadline.move_to(trio.current_time() + 2)  # and it can be set again
        start = trio.current_time()
        assert await _cancelled_at(deadline) - start == 2
        nursery.cancel_scope.cancel()


def test_the_queue_drops_entries_of_cleared_deadlines() -> None:
    """Many short connections each queue an entry and clear it: the queue stays small."""
    deadlines = Deadlines()
    live = [_Scoped(deadlines) for _ in range(10)]
    for number, deadline in enumerate(live):
        deadline.move_to(100.0 + number)
    for number in range(20_000):
        gone = _Scoped(deadlines)
        gone.move_to(50.0 + number / 1000)
        gone.clear()
    assert len(deadlines) < 3000
    deadlines.expire(200.0)
    assert all(deadline.scope.cancel_called for deadline in live)


async def test_the_action_set_when_a_deadline_comes_due_is_the_one_that_runs(
    autojump_clock: MockClock,
) -> None:
    """One deadline serves a connection's requests in turn (a proxied request's timeout):
    each sets its own action; only a deadline that really passes runs one."""
    ran: list[str] = []
    deadlines = Deadlines()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(deadlines.run)
        deadline = deadlines.deadline(lambda: ran.append("nobody"))
        deadline.action = lambda: ran.append("first")
        deadline.move_to(trio.current_time() + 5)
        await trio.sleep(1)
        deadline.clear()  # the first request was answered in time
        deadline.action = lambda: ran.append("second")
        deadline.move_to(trio.current_time() + 10)
        await trio.sleep(60)
        nursery.cancel_scope.cancel()
    assert ran == ["second"]
