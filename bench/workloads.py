"""The workloads, as data: what each generator run loads a server with, and which figures
(parts) come out of it.

One run opens its subscribers once and measures several parts on them (an idle hold, then a
fan-out as fast as the server answers, then a fixed publishing rate): connecting 10,000
subscribers is the slow step. `FULL` is the benchmark of record (about 10 minutes); `QUICK`
the same shapes, smaller, in under 2 minutes. A fan-out publishes within a time budget: a
server too slow to take every planned message in it is measured on the messages it took, and
the report says how many.
"""

from __future__ import annotations

from dataclasses import dataclass

from loadgen import Load, Phase


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    higher_is_better: bool
    digits: int = 0


DELIVERIES = Metric("deliveries_per_s", "deliveries/s", True)
CPU_PER_DELIVERY = Metric("cpu_us_per_delivery", "server CPU µs/delivery", False, 1)
P50 = Metric("lat_p50_ms", "latency p50 ms", False, 2)
P99 = Metric("lat_p99_ms", "latency p99 ms", False, 2)
MAX = Metric("lat_max_ms", "latency max ms", False, 2)
REQUESTS = Metric("req_per_s", "requests/s", True)
RSS = Metric("bytes_per_sub", "RSS bytes/subscriber", False)
FANOUT = (DELIVERIES, CPU_PER_DELIVERY, P99)
LATENCY = (P50, P99, MAX)


@dataclass(frozen=True, kw_only=True)
class Part:
    """One group of figures: the hold (phase None) or one phase of the run."""

    key: str
    title: str
    metrics: tuple[Metric, ...]
    phase: int | None = None
    series: str = ""  # "throughput" or "latency": a point of the plot, at `subs`
    subs: int = 0


@dataclass(frozen=True, kw_only=True)
class Workload:
    key: str
    parts: tuple[Part, ...]
    load: Load | None = None  # None: the reverse proxy, loaded by wrk for `seconds`
    seconds: float = 0.0


DRAIN = 3.0  # seconds a run waits for deliveries after its last publish
LATE = 2.0  # seconds a fixed-rate phase may run behind its schedule


def _shape(subs: int, channels: int) -> str:
    return f"{subs:,} subs x {channels:,} ch"


def _fanout_title(proto: str, subs: int, channels: int, msgs: int, budget: float) -> str:
    kind = {"stream": "fan-out", "sse": "EventSource fan-out", "ws": "WebSocket fan-out"}[proto]
    return f"{kind}, {_shape(subs, channels)}, up to {msgs:,} msgs/ch in {budget:g} s"


def _subscribers(
    key: str,
    subs: int,
    channels: int,
    *,
    fanout: tuple[int, float],
    latency: tuple[float, float] | None = None,
    hold: float = 0.0,
    proto: str = "stream",
    series: bool = False,
) -> Workload:
    """Subscribers on `channels`: [hold,] fan-out of msgs/channel in a budget [, then a fixed
    rate (msg/s over all channels) for some seconds]."""
    msgs, budget = fanout
    phases = [Phase(msgs, budget=budget, drain=DRAIN)]
    parts = []
    if hold:
        title = f"idle streaming subscribers, {_shape(subs, channels)}, held {hold:g} s"
        parts.append(Part(key=f"idle-{key}", title=title, metrics=(RSS,)))
    parts.append(
        Part(
            key=f"{'fanout' if proto == 'stream' else proto}-{key}",
            title=_fanout_title(proto, subs, channels, msgs, budget),
            metrics=FANOUT,
            phase=0,
            series="throughput" if series else "",
            subs=subs,
        )
    )
    if latency:
        rate, seconds = latency
        per_channel = max(1, round(rate * seconds / channels))
        # A server that falls behind the rate is cut off after `LATE` more seconds.
        phases.append(Phase(per_channel, rate=rate, budget=seconds + LATE, drain=DRAIN))
        title = f"latency, {_shape(subs, channels)}, {rate:g} msg/s for {seconds:g} s"
        parts.append(
            Part(
                key=f"latency-{key}",
                title=title,
                metrics=LATENCY,
                phase=1,
                series="latency" if series else "",
                subs=subs,
            )
        )
    pubs = 8 if channels >= 8 else 1  # each channel has its own connection: order is kept
    load = Load(
        subs=subs, channels=channels, pubs=pubs, proto=proto, hold=hold, phases=tuple(phases)
    )
    return Workload(
        key=key if proto == "stream" else f"{proto}-{key}", load=load, parts=tuple(parts)
    )


def publish_load(seconds: float) -> Load:
    """8 keep-alive publishers, no subscribers, for `seconds`."""
    return Load(channels=8, pubs=8, phases=(Phase(0, budget=seconds, drain=0),))


def _publish(seconds: float) -> Workload:
    load = publish_load(seconds)
    title = f"publish, 8 keep-alive connections, no subscribers, {seconds:g} s"
    return Workload(
        key="publish",
        load=load,
        parts=(Part(key="publish", title=title, metrics=(REQUESTS, P99), phase=0),),
    )


def _proxy(seconds: int) -> Workload:
    title = f"reverse proxy, 1 KiB upstream file, wrk -c64, {seconds:g} s"
    part = Part(key="proxy", title=title, metrics=(REQUESTS, P50, P99))
    return Workload(key="proxy", parts=(part,), seconds=seconds)


FULL = (
    _subscribers("1k", 1000, 1, fanout=(1000, 5), latency=(20, 3), series=True),
    _subscribers("10k-1000ch", 10000, 1000, fanout=(100, 5), latency=(1000, 3), hold=2),
    _publish(4),
    _proxy(4),
    _subscribers("1k", 1000, 1, fanout=(1000, 5), proto="sse"),
    _subscribers("1k", 1000, 1, fanout=(1000, 5), proto="ws"),
    _subscribers("5k", 5000, 1, fanout=(200, 5), latency=(20, 3), series=True),
    _subscribers("10k", 10000, 1, fanout=(100, 5), latency=(20, 3), series=True),
)

QUICK = (
    _subscribers("1k", 1000, 1, fanout=(200, 1.5), latency=(20, 1.5)),
    _subscribers("1k-100ch", 1000, 100, fanout=(20, 1.5), latency=(100, 1.5), hold=1),
    _publish(1.5),
    _proxy(2),
    _subscribers("1k", 1000, 1, fanout=(100, 1.5), proto="sse"),
    _subscribers("1k", 1000, 1, fanout=(100, 1.5), proto="ws"),
)

# The table's order: the figures the issue asks for first, the variants after.
ORDER = (
    "fanout-1k",
    "fanout-10k-1000ch",
    "fanout-1k-100ch",
    "publish",
    "idle-10k-1000ch",
    "idle-1k-100ch",
    "proxy",
    "latency-1k",
    "latency-10k-1000ch",
    "latency-1k-100ch",
    "sse-1k",
    "ws-1k",
    "fanout-5k",
    "fanout-10k",
    "latency-5k",
    "latency-10k",
)
