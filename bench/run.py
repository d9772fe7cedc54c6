"""pushproxy against nginx + nchan, side by side, on this machine.

    python bench/run.py [--quick] [--runs 3] [--only KEY,KEY] [--quiet-wait SECONDS]
                        [--python PATH]

Builds the C load generator, checks what it can sustain (self-test), then for every workload
runs each server fresh, alternating pushproxy and the reference, `--runs` times. Writes
bench/results/push-<time>.json and .md; a full run also rewrites docs/performance.md and
docs/performance.png. See docs/performance.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import docs_page
import loadgen
import plot
import procstat
import report
from measure import Record, measure, parts
from servers import Servers, free_port
from workloads import FULL, QUICK, Workload

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DOCS = HERE.parent / "docs"


def _stop_on_term(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds through every `with server`, which stops the server


def _options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller workloads, < 2 minutes")
    parser.add_argument(
        "--runs", type=int, help="runs per server and workload (default: 3, quick: 2)"
    )
    parser.add_argument("--only", default="", help="comma-separated workload keys")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        help="before each run, wait up to this long for an idle machine",
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the interpreter pushproxy runs on (default: this one); pushproxy must be "
        "installed for it",
    )
    parser.add_argument("--no-docs", action="store_true", help="leave docs/ alone")
    parser.add_argument(
        "--render", metavar="JSON", help="rewrite docs/ from a saved full result, measure nothing"
    )
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 2 if args.quick else 3
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def _chosen(args: argparse.Namespace) -> tuple[Workload, ...]:
    workloads = QUICK if args.quick else FULL
    if not args.only:
        return workloads
    keys = {k.strip() for k in args.only.split(",") if k.strip()}
    unknown = keys - {w.key for w in workloads}
    if unknown:
        sys.exit(
            f"unknown workload(s): {', '.join(sorted(unknown))}; "
            f"known: {', '.join(w.key for w in workloads)}"
        )
    return tuple(w for w in workloads if w.key in keys)


def _progress(record: Record, workload: Workload) -> None:
    print(f"  run {record['run']} {record['side']}", flush=True)
    for part in workload.parts:
        got = record["parts"][part.key]
        f = got["figures"]
        shown = ", ".join(f"{m.label} {f[m.key]:,.{m.digits}f}" for m in part.metrics if m.key in f)
        cpu = ""
        if "server_cpu_pct" in f:
            cpu = (
                f"  [server {f['server_cpu_pct']:.0f}%, client {f['client_cpu_pct']:.0f}%, "
                f"others {f['other_cpu_pct']:.0f}%]"
            )
        trouble = "; ".join(got["problems"])
        print(
            f"    {part.key}: {shown or 'no figures'}{cpu}"
            + (f"  !! {trouble}" if trouble else ""),
            flush=True,
        )


def _measure_all(
    workloads: tuple[Workload, ...], args: argparse.Namespace, servers: Servers, exe: Path
) -> list[Record]:
    records: list[Record] = []
    for w in workloads:
        print(f"{w.key}: " + " / ".join(p.title for p in w.parts), flush=True)
        # The proxy workload needs the upstream both proxies forward to, for all its runs.
        with servers.upstream() if w.load is None else contextlib.nullcontext() as upstream:
            pids = upstream.pids if upstream else []
            for run in range(1, args.runs + 1):
                for side in report.SIDES:
                    record = measure(
                        w, side, servers, exe, run=run, quiet_wait=args.quiet_wait, upstream=pids
                    )
                    _progress(record, w)
                    records.append(record)
    return records


def _write_docs(result: dict[str, Any]) -> None:
    # Everything is derived again from the raw outputs: a saved run renders as a fresh one.
    workloads = QUICK if result["quick"] else FULL
    by_key = {w.key: w for w in workloads}
    for record in result["measurements"]:
        record["parts"] = parts(record["raw"], by_key[record["workload"]])
    rows = report.summarize(workloads, result["measurements"])
    caption = f"{result['started']}, {result['machine']['cores']} cores, median of runs"
    png = DOCS / "performance.png"
    drawn = plot.draw(rows, png, caption)
    docs_page.write(DOCS / "performance.md", result, report.markdown(rows), png if drawn else None)
    print(f"wrote {DOCS / 'performance.md'}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _options(argv)
    if args.render:
        _write_docs(json.loads(Path(args.render).read_text()))
        return 0
    signal.signal(signal.SIGTERM, _stop_on_term)
    workloads = _chosen(args)
    given = list(sys.argv[1:] if argv is None else argv)
    command = "python bench/run.py" + (" " + shlex.join(given) if given else "")
    started = datetime.now(UTC)
    t0 = time.monotonic()
    try:
        machine = procstat.machine(args.python)
    except (OSError, subprocess.CalledProcessError):
        sys.exit(f"{args.python} cannot import pushproxy: install it for that interpreter")
    exe = loadgen.build()
    servers = Servers(args.python)
    try:
        print("load generator self-test ...", flush=True)
        test = loadgen.self_test(exe, free_port(), 1000, 200 if args.quick else 500)
        print(
            f"  {test.get('deliveries_per_s', 0):,.0f} deliveries/s at "
            f"{test.get('generator_us_per_delivery') or 0:.2f} µs generator CPU each "
            f"(one core: {test.get('generator_capacity_per_s') or 0:,.0f}/s)",
            flush=True,
        )
        records = _measure_all(workloads, args, servers, exe)
    except KeyboardInterrupt:
        print("interrupted: servers stopped", file=sys.stderr)
        return 130
    finally:
        servers.close()
    rows = report.summarize(workloads, records)
    table = report.markdown(rows)
    result: dict[str, Any] = {
        "command": command,
        "started": started.strftime("%Y-%m-%d %H:%M UTC"),
        "duration_s": round(time.monotonic() - t0, 1),
        "runs": args.runs,
        "quick": args.quick,
        "machine": machine,
        "self_test": test,
        "rows": rows,
        "measurements": records,
    }
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"push-{started.strftime('%Y%m%d-%H%M%S')}{'-quick' if args.quick else ''}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1))
    stem.with_suffix(".md").write_text(table)
    print("\n" + table)
    print(f"wrote {stem}.json and .md in {result['duration_s'] / 60:.1f} minutes")
    if not (args.quick or args.only or args.no_docs):
        _write_docs(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
