"""nginx's limit_req and limit_conn modules: requests per second and requests at once, per key.

`limit_req_zone KEY zone=NAME:SIZE rate=Nr/s|Nr/m` (http) keeps, per value of KEY, nginx's
leaky bucket: the excess, in thousandths of a request, drains at the rate and grows by one
request with each request (ngx_http_limit_req_lookup(), its integer arithmetic included).
`limit_req zone=NAME [burst=N] [nodelay | delay=N]` refuses a request whose excess would pass
the burst (503, `limit_req_status`), and holds back one whose excess passes `delay` (all of
it by default, none with `nodelay`) until the bucket has drained to it. Several `limit_req`s
at a level all count; the longest hold wins.

`limit_conn_zone KEY zone=NAME:SIZE` with `limit_conn NAME N` refuses a request (503,
`limit_conn_status`) while N requests with the same key are being answered; a streaming
subscriber counts for as long as it stays.

An empty key counts for nothing. A zone keeps as many keys as SIZE holds at 64 bytes a key
(nginx's own estimate), forgetting the least recently seen first. Zones belong to a
configuration: a reload starts them empty. The error log lines are nginx's, at
`limit_req_log_level`/`limit_conn_log_level` (holds one level lower); `*_dry_run on` only
logs. `$limit_req_status` and `$limit_conn_status` say what happened.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from pushproxy.config.complex import ComplexValue, ComplexValueError, Lookup, compile_value
from pushproxy.config.model import Level
from pushproxy.config.tree import Directive
from pushproxy.config.units import InvalidValue, parse_size
from pushproxy.logs import NOTICE

log = logging.getLogger("pushproxy")
_STATE_BYTES = 64  # what a key takes in a zone, by nginx's estimate
_LOG_LEVELS = {
    "info": logging.INFO, "notice": NOTICE, "warn": logging.WARNING, "error": logging.ERROR,
}
# The level a hold is logged at: one below the refusals' (ngx_http_limit_req_merge_conf()).
_HOLD_LEVEL = {logging.ERROR: logging.WARNING, logging.WARNING: NOTICE, NOTICE: logging.INFO}


@dataclass(eq=False)
class Zone:
    """A zone's keys and what each holds: (excess, time of the last count in ms) for
    limit_req, the requests being answered for limit_conn. `rate`: thousandths of a request
    per second (limit_req only)."""

    name: str
    key: ComplexValue
    capacity: int
    rate: int = 0
    states: OrderedDict[str, tuple[int, int]] = field(default_factory=OrderedDict)
    counts: dict[str, int] = field(default_factory=dict)

    def keep(self, key: str, state: tuple[int, int]) -> None:
        """A key's new state, the least recently seen key going when the zone is full."""
        self.states[key] = state
        self.states.move_to_end(key)
        if len(self.states) > self.capacity:
            self.states.popitem(last=False)


@dataclass(frozen=True, slots=True)
class RequestLimit:
    """One `limit_req`: its zone, the burst and the excess held for nothing (thousandths)."""

    zone: Zone
    burst: int
    delay: int


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """A level's `limit_req`s and their settings."""

    limits: tuple[RequestLimit, ...]
    status: int = 503
    level: int = logging.ERROR
    dry_run: bool = False

    def check(self, lookup: Lookup, now_ms: int, context: str) -> tuple[str, int, float]:
        """`$limit_req_status`, the status to refuse with (0: none) and the seconds to hold
        the request back, as ngx_http_limit_req_handler() works them out."""
        counted: list[tuple[RequestLimit, str, int]] = []
        for limit in self.limits:
            zone = limit.zone
            key = zone.key.evaluate(lookup)
            if not key:
                continue
            last = zone.states.get(key)
            excess = 0
            if last is not None:
                elapsed = now_ms - last[1]
                elapsed = 1 if elapsed < -60000 else max(elapsed, 0)
                excess = max(last[0] - zone.rate * elapsed // 1000 + 1000, 0)
                if excess > limit.burst:
                    zone.states.move_to_end(key)
                    dry = ", dry run" if self.dry_run else ""
                    log.log(
                        self.level,
                        'limiting requests%s, excess: %d.%03d by zone "%s", %s',
                        dry, excess // 1000, excess % 1000, zone.name, context,
                    )  # fmt: skip
                    if self.dry_run:
                        return "REJECTED_DRY_RUN", 0, 0.0
                    return "REJECTED", self.status, 0.0
            counted.append((limit, key, excess))
        if not counted:
            return "PASSED", 0, 0.0
        hold, held_by, held_excess = 0, counted[-1][0], 0
        for limit, key, excess in counted:
            zone = limit.zone
            zone.keep(key, (excess, now_ms))
            if excess > limit.delay and zone.rate:
                wait = (excess - limit.delay) * 1000 // zone.rate
                if wait > hold:
                    hold, held_by, held_excess = wait, limit, excess
        if not hold:
            return "PASSED", 0, 0.0
        dry = ", dry run" if self.dry_run else ""
        log.log(
            _HOLD_LEVEL.get(self.level, logging.INFO),
            'delaying request%s, excess: %d.%03d, by zone "%s", %s',
            dry, held_excess // 1000, held_excess % 1000, held_by.zone.name, context,
        )  # fmt: skip
        if self.dry_run:
            return "DELAYED_DRY_RUN", 0, 0.0
        return "DELAYED", 0, hold / 1000


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """A level's `limit_conn`s (zone, most at once) and their settings."""

    limits: tuple[tuple[Zone, int], ...]
    status: int = 503
    level: int = logging.ERROR
    dry_run: bool = False

    def enter(self, lookup: Lookup, context: str) -> tuple[str, int, Callable[[], None]]:
        """`$limit_conn_status`, the status to refuse with (0: none), and what to call when
        the request is over (it gives back what it holds)."""
        held: list[tuple[Zone, str]] = []

        def leave() -> None:
            for zone, key in held:
                left = zone.counts[key] - 1
                if left:
                    zone.counts[key] = left
                else:
                    del zone.counts[key]

        for zone, most in self.limits:
            key = zone.key.evaluate(lookup)
            if not key:
                continue
            count = zone.counts.get(key, 0)
            if count >= most or (not count and len(zone.counts) >= zone.capacity):
                dry = ", dry run" if self.dry_run else ""
                log.log(
                    self.level, 'limiting connections%s by zone "%s", %s', dry, zone.name, context
                )
                leave()
                held.clear()
                if self.dry_run:
                    return "REJECTED_DRY_RUN", 0, leave
                return "REJECTED", self.status, leave
            zone.counts[key] = count + 1
            held.append((zone, key))
        return "PASSED", 0, leave


def _zone_spec(directive: Directive) -> tuple[str, int] | None:
    """`zone=NAME:SIZE` of a `*_zone` directive: the name and how many keys SIZE holds."""
    for arg in directive.args[1:]:
        if arg.startswith("zone="):
            name, _, size = arg[5:].partition(":")
            try:
                return name, max(1, parse_size(size) // _STATE_BYTES)
            except (ValueError, InvalidValue):
                return None
    return None


def parse_rate(text: str) -> int | None:
    """`Nr/s` or `Nr/m` in thousandths of a request per second; None for anything else."""
    number, unit = text[:-3], text[-3:]
    if unit not in ("r/s", "r/m") or not (number.isascii() and number.isdigit()):
        return None
    return int(number) * 1000 // (1 if unit == "r/s" else 60) or None


def zones_of(level: Level) -> tuple[dict[str, Zone], dict[str, Zone]]:
    """The http level's `limit_req_zone`s and `limit_conn_zone`s, by name."""
    requests: dict[str, Zone] = {}
    connections: dict[str, Zone] = {}
    for name, found in (("limit_req_zone", requests), ("limit_conn_zone", connections)):
        for directive in level.all(name):
            spec = _zone_spec(directive)
            try:
                key = compile_value(directive.args[0])
            except (ComplexValueError, IndexError):
                continue
            rate = next((parse_rate(a[5:]) for a in directive.args if a.startswith("rate=")), 0)
            if spec is not None:
                found[spec[0]] = Zone(spec[0], key, spec[1], rate or 0)
    return requests, connections


def _settings(level: Level, module: str) -> tuple[int, int, bool]:
    status = level.values.get(f"{module}_status", 503)
    return (
        status if isinstance(status, int) else 503,
        _LOG_LEVELS.get(level.arg(f"{module}_log_level", "error") or "error", logging.ERROR),
        level.arg(f"{module}_dry_run", "off") == "on",
    )


def request_limits_of(level: Level, zones: dict[str, Zone]) -> RequestLimits | None:
    limits = []
    for directive in level.all("limit_req"):
        words = dict(arg.partition("=")[::2] for arg in directive.args)
        zone = zones.get(words.get("zone", ""))
        if zone is None or not zone.rate:
            continue
        burst = int(words["burst"]) * 1000 if words.get("burst", "").isdigit() else 0
        delay = int(words["delay"]) * 1000 if words.get("delay", "").isdigit() else 0
        if "nodelay" in words:
            delay = 1 << 62  # no hold whatever the excess
        limits.append(RequestLimit(zone, burst, delay))
    if not limits:
        return None
    status, level_, dry_run = _settings(level, "limit_req")
    return RequestLimits(tuple(limits), status, level_, dry_run)


def connection_limits_of(level: Level, zones: dict[str, Zone]) -> ConnectionLimits | None:
    limits = []
    for directive in level.all("limit_conn"):
        if len(directive.args) != 2 or not directive.args[1].isdigit():
            continue
        zone = zones.get(directive.args[0])
        if zone is not None:
            limits.append((zone, int(directive.args[1])))
    if not limits:
        return None
    status, level_, dry_run = _settings(level, "limit_conn")
    return ConnectionLimits(tuple(limits), status, level_, dry_run)
