"""The store's memory accounting, as the module's shared memory zone does it.

`MemoryBudget` holds the bytes charged against `push_stream_shared_memory_size`, the
`*_OVERHEAD` sizes are what each structure is charged besides its bytes, and `MessageTrash`
keeps a trashed message's bytes charged until `TRASH_TTL` seconds have passed. The store
decides what to charge and when to free; this is the bookkeeping.
"""

from __future__ import annotations

from collections import deque

TRASH_TTL = 10
"""Seconds a trashed message or channel stays allocated, as workers may still be writing it."""

# What the module's structures take in its slab allocator, so the budget fills at about the
# same rate as `push_stream_shared_memory_size` does in nginx.
MESSAGE_OVERHEAD = 160
CHANNEL_OVERHEAD = 256
SUBSCRIPTION_OVERHEAD = 64


class MemoryBudget:
    """Bytes accounted against `push_stream_shared_memory_size`; the store refuses, not grows."""

    __slots__ = ("limit", "used")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, size: int) -> bool:
        if self.used + size > self.limit:
            return False
        self.used += size
        return True

    def release(self, size: int) -> None:
        self.used = max(self.used - size, 0)


class MessageTrash:
    """The memory of trashed messages, by the second it comes back (`TRASH_TTL` after).

    Only sizes and counts are kept, one entry per second: nothing reads a trashed message
    again, so the store lets go of it at once (a subscriber still writing it keeps its own
    reference) and the garbage collector has no crowd of long-lived messages to walk; the
    budget stays charged until the second passes, as in the module.
    """

    __slots__ = ("_seconds", "count")

    def __init__(self) -> None:
        self._seconds: deque[list[int]] = deque()  # [frees_after, bytes, messages], in order
        self.count = 0

    def add(self, size: int, frees_after: int) -> None:
        seconds = self._seconds
        if seconds and seconds[-1][0] == frees_after:
            last = seconds[-1]
            last[1] += size
            last[2] += 1
        else:
            seconds.append([frees_after, size, 1])
        self.count += 1

    def free(self, now: int) -> int:
        """Forget the messages whose second has passed; the bytes they held."""
        freed = 0
        seconds = self._seconds
        while seconds and now > seconds[0][0]:
            _, size, count = seconds.popleft()
            freed += size
            self.count -= count
        return freed
