"""Two versions of pushproxy, measured alternately: the one installed and another checkout.

    python bench/ab.py OTHER [--load publish|proxy|both] [--pairs 5] [--seconds 3]

OTHER is the folder of another checkout (`git worktree add /tmp/before HEAD~1`, say); its
pushproxy runs from there (PYTHONPATH), the installed one as the bench runs it. The loads are
`floors.py`'s: publish (8 keep-alive connections, 100-byte messages, no subscribers) and the
proxy (`wrk -t1 -c64` for the 1 KiB upstream file). Each pair starts both servers fresh, one
after the other, the order swapped from pair to pair; it prints every run and the medians of
requests/s and server CPU µs per request. On a machine whose figures move by 10-20% from run
to run, a change is seen only when most pairs agree.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

import loadgen
from floors import Measure, alternately, medians, proxied, publish
from servers import Server, Servers, checkout


def _pairs(
    title: str, sides: list[tuple[str, Callable[[], Server]]], measure: Measure, pairs: int
) -> list[str]:
    starts = [start for _, start in sides]
    figures = alternately(starts, measure, pairs, swap=True)
    lines = [f"{title}, {pairs} pairs:"]
    for (name, _), runs in zip(sides, figures, strict=True):
        rate, cpu = medians(runs)
        rates = ", ".join(f"{r:,.0f}" for r, _ in runs)
        lines.append(f"  {name}: {rate:,.0f} req/s, {cpu:.1f} µs CPU/request (medians; {rates})")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("other", type=checkout, help="the folder of the other checkout")
    parser.add_argument("--load", choices=("publish", "proxy", "both"), default="both")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    servers = Servers()
    sides: list[tuple[str, Callable[[], Server]]] = [
        ("installed", servers.pushproxy),
        (str(args.other), lambda: servers.pushproxy(args.other)),
    ]
    try:
        with servers.upstream() as upstream:
            loads: list[tuple[str, Measure]] = []
            if args.load in ("publish", "both"):
                exe = loadgen.build()
                loads.append(("publish, 8 keep-alive connections", publish(exe, args.seconds)))
            if args.load in ("proxy", "both"):
                loads.append(("reverse proxy, wrk -c64", proxied(upstream, args.seconds)))
            for title, measure in loads:  # each load's figures as soon as they are in
                print("\n".join(_pairs(title, sides, measure, args.pairs)), flush=True)
    finally:
        servers.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
