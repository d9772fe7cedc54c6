"""How much of a request's cost is trio's own: pushproxy against a bare trio server.

    python bench/floors.py [--runs 3] [--seconds 3]

Two pairs, measured alternately, each server fresh, `--runs` times:
- publish: the bench's publish load (8 keep-alive connections, `POST /pub?id=chN`, 100-byte
  bodies, no subscribers) against pushproxy and against `bare_trio.py respond`, which answers
  each request with a fixed 200 and does nothing else;
- proxy: `wrk -t1 -c64` for the 1 KiB upstream file through pushproxy and through
  `bare_trio.py proxy`, which only relays bytes over one upstream connection per client.
Prints requests/s and server CPU µs per request (user + system, from /proc) of each, and the
share of pushproxy's CPU per request that the bare server spends too: what any trio server
pays before its HTTP work. See docs/performance.md ("What the floors say").
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import loadgen
import procstat
import proxyload
from servers import Server, Servers
from workloads import publish_load

Measure = Callable[[Server], tuple[float, float]]  # → (requests/s, server CPU µs/request)


def publish(exe: Path, seconds: float) -> Measure:
    load = publish_load(seconds)

    def measure(server: Server) -> tuple[float, float]:
        result = loadgen.run(exe, load, server.port, server.pids)
        if "error" in result:
            raise RuntimeError(f"{server.name}: {result['error']}")
        phase = result["phases"][0]
        return phase["pub_per_s"], phase["server_cpu_s"] / phase["pub_ok"] * 1e6

    return measure


def proxied(upstream: Server, seconds: float) -> Measure:
    def measure(server: Server) -> tuple[float, float]:
        result = proxyload.run(server.port, server.pids, upstream.pids, seconds=seconds)
        if "error" in result:
            raise RuntimeError(f"{server.name}: {result['error']}")
        return result["req_per_s"], result["server_cpu_s"] / result["requests"] * 1e6

    return measure


Figures = list[tuple[float, float]]  # (requests/s, server CPU µs/request), run by run


def alternately(
    starts: Sequence[Callable[[], Server]], measure: Measure, runs: int, *, swap: bool = False
) -> list[Figures]:
    """Each server started fresh and measured in turn, `runs` rounds (`swap`: every other
    round in the reverse order); the figures of each."""
    figures: list[Figures] = [[] for _ in starts]
    for round_ in range(runs):
        order = list(enumerate(starts))
        for index, start in order[::-1] if swap and round_ % 2 else order:
            procstat.wait_quiet(10.0)
            with start() as server:
                figures[index].append(measure(server))
                if not server.alive():  # a figure from a server that died meanwhile is void
                    raise RuntimeError(f"{server.name} exited: {server.log_tail()}")
    return figures


def medians(figures: Figures) -> tuple[float, float]:
    return statistics.median(r for r, _ in figures), statistics.median(c for _, c in figures)


def _pair(
    title: str, ours: Callable[[], Server], bare: Callable[[], Server], measure: Measure, runs: int
) -> list[str]:
    """pushproxy and the bare server, alternately, `runs` times: their medians and the bare
    server's share of pushproxy's CPU per request."""
    found = [medians(figures) for figures in alternately((ours, bare), measure, runs)]
    lines = [f"{title}:"]
    for name, (rate, cpu) in zip(("pushproxy", "bare trio"), found, strict=True):
        lines.append(f"  {name:14} {rate:9,.0f} req/s  {cpu:6.1f} µs CPU/request (medians)")
    share = found[1][1] / found[0][1]
    lines.append(f"  the bare server's share of pushproxy's CPU per request: {share:.0%}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    exe = loadgen.build()
    servers = Servers()
    try:
        with servers.upstream() as upstream:
            report = _pair(
                "publish, 8 keep-alive connections",
                servers.pushproxy,
                lambda: servers.bare("respond"),
                publish(exe, args.seconds),
                args.runs,
            )
            report += _pair(
                "reverse proxy, 1 KiB file, wrk -c64",
                servers.pushproxy,
                lambda: servers.bare("proxy"),
                proxied(upstream, args.seconds),
                args.runs,
            )
    finally:
        servers.close()
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
