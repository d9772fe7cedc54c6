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

# What the module's own structures take in its slab allocator (their size classes), so the
# budget fills at about the same rate as `push_stream_shared_memory_size` does in nginx.
MESSAGE_OVERHEAD = 128  # ngx_http_push_stream_msg_t: 128 bytes on 64 bits, a size class of its own
CHANNEL_OVERHEAD = 256  # ngx_http_push_stream_channel_t
SUBSCRIPTION_OVERHEAD = 64
STR_SIZE = 16  # an ngx_str_t: a length and a pointer
_PAGE = 4096
# nginx's slab size classes up to half a page: the next power of two, 8 bytes at least.
_SMALL = tuple(8 if size <= 8 else 1 << (size - 1).bit_length() for size in range(_PAGE // 2 + 1))


MIN_ZONE = 32 * _PAGE  # the least `push_stream_shared_memory_size` the module takes


def zone_size(size: int) -> int:
    """The zone the module makes for a `push_stream_shared_memory_size`: whole pages, 32 at
    least (with its warning at load for less)."""
    return max(-(-size // _PAGE) * _PAGE, MIN_ZONE)


# The module's own data in each zone, made at start: its counters, and queues and counts for
# each of NGX_MAX_PROCESSES (1024) workers, about 58 KiB in whole pages.
ZONE_DATA = 15 * _PAGE
_PAGE_ENTRY = 24  # the slab allocator's ngx_slab_page_t for each page


def usable_memory(zone: int) -> int:
    """What a zone of `zone` bytes leaves for channels, messages and subscriptions: its pages
    once the slab allocator's page table (and the first page's alignment) is taken, less the
    module's own data. So a small zone fills after as many messages as the module's does."""
    pages = zone // (_PAGE + _PAGE_ENTRY) - 1
    return max(pages * _PAGE - ZONE_DATA, 0)


def slab(size: int) -> int:
    """What nginx's slab allocator takes for `size` bytes: its size class up to half a page,
    whole pages above. So a message a byte longer (an id with one more digit) most often
    takes what the last one took, as in nginx."""
    return _SMALL[size] if size <= _PAGE // 2 else -(-size // _PAGE) * _PAGE


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
