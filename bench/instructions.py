"""Instructions per request, counted by valgrind: a figure that does not move with the machine.

    python bench/instructions.py [OTHER] [--load publish|proxy|both] [--seconds 10]

Runs pushproxy (the installed one, then the checkout in the folder OTHER if given) under
`valgrind --tool=callgrind` with counting off, warms it up, counts while a light load runs
(`wrk -t1 -c8` for the 1 KiB upstream file through the proxy, or the bench's publish load,
slowed some fifty times by valgrind), and prints the user-space instructions per request.
Runs of the same code agreed within 0.6% on 2026-11-28 (proxy: 435,546 to 438,086, five runs
over an hour), where requests/s move by 10-20% from run to run on this machine: a change of
a few percent in the CPU work of a request shows here, best with both versions in one call
(the load's pace moves the count a little). What it does not count is the kernel's part
(system calls, waking peers): `ab.py` measures that, in time.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import loadgen
import proxyload
from servers import Server, Servers, checkout
from workloads import publish_load

_STARTUP = 300.0  # seconds: the interpreter and the config, under valgrind
_TOTALS = re.compile(r"^totals: (\d+)", re.MULTILINE)


def _counting(server: Server, on: bool) -> None:
    """callgrind's instrumentation on or off: nothing is counted while it is off."""
    subprocess.run(
        ["callgrind_control", "-i", "on" if on else "off", str(server.pids[0])],
        capture_output=True,
        check=True,
        timeout=60,
    )


def _proxied(server: Server, seconds: float) -> int:
    result = proxyload.run(server.port, server.pids, [], seconds=seconds, connections=8)
    if "error" in result:
        raise RuntimeError(f"{server.name}: {result['error']}")
    return int(result["requests"])


def _published(server: Server, seconds: float) -> int:
    result = loadgen.run(loadgen.build(), publish_load(seconds), server.port, server.pids)
    if "error" in result:
        raise RuntimeError(f"{server.name}: {result['error']}")
    return int(result["phases"][0]["pub_ok"])


LOADS = {"proxy": _proxied, "publish": _published}


def count(servers: Servers, source: Path | None, load: str, seconds: float) -> float:
    """Instructions per request of pushproxy (from `source`, or the installed one)."""
    out = servers.root / f"callgrind-{load}-{'other' if source else 'installed'}.out"
    valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
    under = [*valgrind, f"--callgrind-out-file={out}"]
    with servers.pushproxy(source, under=under, start_timeout=_STARTUP) as server:
        LOADS[load](server, 2)  # first requests: imports, caches
        _counting(server, True)
        requests = LOADS[load](server, seconds)
        _counting(server, False)
    found = _TOTALS.search(out.read_text())
    if found is None or not requests:
        raise RuntimeError(f"no count for {server.name}: {server.log_tail()}")
    return int(found[1]) / requests


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("other", type=checkout, nargs="?", help="the folder of another checkout")
    parser.add_argument("--load", choices=("publish", "proxy", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    loads = ["publish", "proxy"] if args.load == "both" else [args.load]
    sources: list[Path | None] = [None] if args.other is None else [None, args.other]
    servers = Servers()
    try:
        with servers.upstream():
            for load in loads:
                for source in sources:
                    per_request = count(servers, source, load, args.seconds)
                    name = "installed" if source is None else str(source)
                    print(f"{load}: {name}: {per_request:,.0f} instructions per request")
    finally:
        servers.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
