"""`limit_rate`: an answer written no faster than a rate, as nginx's write filter paces it.

nginx counts every byte of the connection's answer (head included) against the rate, from the
request's start in whole seconds: by second `n` of the request (counting from 0), at most
`rate * (n + 1)` bytes past the first `limit_rate_after` may have gone. So the first second's
share goes at once, and after each write the next waits as long as its bytes take at the rate.
The rate is the location's `limit_rate` (a size, variables allowed), or what `set $limit_rate`
or an upstream's `X-Accel-Limit-Rate` made it; 0 means no limit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import trio

from pushproxy.config.complex import ComplexValue, Lookup, compile_value
from pushproxy.config.model import Level
from pushproxy.config.units import InvalidValue, parse_size
from pushproxy.http.transport import send_soon

log = logging.getLogger("pushproxy")


def size_of(text: str) -> int | None:
    """A size as ngx_http_complex_value_size() reads it; None (logged) when it is none."""
    try:
        return parse_size(text)
    except InvalidValue:
        log.error('invalid size "%s"', text)
        return None


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A location's `limit_rate` and `limit_rate_after`, compiled at load."""

    rate: ComplexValue | None
    after: ComplexValue | None

    @classmethod
    def of(cls, level: Level) -> RateLimit | None:
        rate, after = level.arg("limit_rate"), level.arg("limit_rate_after")
        if rate is None and after is None:
            return None
        return cls(
            rate=None if rate is None else compile_value(rate),
            after=None if after is None else compile_value(after),
        )

    def pacing(self, lookup: Lookup, assigned: str | None) -> Pacing | None:
        """The pacing of one answer; `assigned`: what `set $limit_rate` made the rate."""
        if assigned is not None:
            rate = size_of(assigned)
        else:
            rate = 0 if self.rate is None else size_of(self.rate.evaluate(lookup))
        if not rate:
            return None
        after = 0 if self.after is None else size_of(self.after.evaluate(lookup))
        return Pacing(rate, after or 0, int(trio.current_time()))


NO_RATE_LIMIT = RateLimit(rate=None, after=None)


def answer_pacing(
    rate_limit: RateLimit | None, lookup: Lookup, assigned: str | None
) -> Pacing | None:
    """An answer's pacing: by the location's `limit_rate`, or what `set $limit_rate` made
    the rate (`assigned`), which takes its place."""
    rates = rate_limit or (NO_RATE_LIMIT if assigned is not None else None)
    return None if rates is None else rates.pacing(lookup, assigned)


class Pacing:
    """How much of one answer went out, and when its next write may go."""

    __slots__ = ("after", "rate", "ready_at", "sent", "start")

    def __init__(self, rate: int, after: int, start: int) -> None:
        self.rate = rate
        self.after = after
        self.start = start  # the request's start, in whole seconds of trio's clock
        self.sent = 0
        self.ready_at = 0.0  # no write before this time (the last one's bytes at the rate)

    def allowed(self, now: float) -> int:
        """Bytes that may go at `now` (ngx_http_write_filter()'s limit)."""
        return self.rate * (int(now) - self.start + 1) - (self.sent - self.after)

    async def send(
        self,
        stream: trio.SocketStream,
        data: bytes,
        within: float,
        then: Callable[[], None] | None = None,
    ) -> None:
        """Write `data` in the pieces the rate allows, each within `within` seconds."""
        while data:
            now = trio.current_time()
            if now < self.ready_at:
                await trio.sleep(self.ready_at - now)
                continue
            limit = self.allowed(now)
            if limit <= 0:
                await trio.sleep(-limit / self.rate + 0.001)
                continue
            piece, data = data[:limit], data[limit:]
            counted = max(self.sent - self.after, 0)
            await send_soon(stream, piece, within, then)
            then = None
            self.sent += len(piece)
            paced = max(self.sent - self.after, 0) - counted  # bytes past limit_rate_after
            self.ready_at = trio.current_time() + paced / self.rate


def paced_at(rate: int, pacing: Pacing | None) -> Pacing | None:
    """The answer's pacing once an upstream's `X-Accel-Limit-Rate` says `rate` (0: none);
    with no `limit_rate` before it, counted from now."""
    if not rate:
        return None
    if pacing is None:
        return Pacing(rate, 0, int(trio.current_time()))
    pacing.rate = rate
    return pacing
