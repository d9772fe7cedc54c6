"""One measurement: a fresh server, one workload, and per part the figures and problems.

A record is plain JSON: the generator's (or wrk's) raw output, and for each part the figures
the report tabulates, the CPU shares that tell what limited them, which figures are only
lower bounds (deliveries that never came), and every misbehaviour seen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import loadgen
import procstat
import proxyload
from servers import ServerError, Servers
from workloads import Workload

Record = dict[str, Any]

_PROBLEMS = (
    ("missing", "deliveries lost or not there {drain:g} s after the last publish"),
    ("out_of_order", "deliveries duplicated or out of order"),
    ("wrong_channel", "deliveries on the wrong channel"),
    ("pub_errors", "publishes failed (connection errors)"),
    ("pub_non2xx", "publishes answered non-2xx (first: {first_non2xx})"),
    ("closed", "subscribers closed by the server"),
    ("late", "deliveries of the previous phase still arriving"),
)


def _shares(raw: Record) -> dict[str, float]:
    """CPU of the server, the client and the rest of the machine, in % of one core."""
    loop_s = float(raw.get("loop_s", 0.0))
    if loop_s <= 0 or "server_cpu_s" not in raw:
        return {}
    server, client = raw["server_cpu_s"], raw["client_cpu_s"]
    upstream = raw.get("upstream_cpu_s", 0.0)  # the proxy's upstream is part of the bench
    # Clock-tick rounding can make the rest slightly negative.
    rest = max(0.0, raw.get("machine_busy_s", 0.0) - server - client - upstream)
    shares = {"server_cpu_pct": server, "client_cpu_pct": client, "other_cpu_pct": rest}
    if upstream:
        shares["upstream_cpu_pct"] = upstream
    return {k: round(100 * v / loop_s, 1) for k, v in shares.items()}


def _phase_figures(phase: Record, publish_only: bool) -> tuple[dict[str, float], list[str]]:
    out: dict[str, float] = {}
    bounds: list[str] = []
    if publish_only:
        if phase.get("pub_ok"):
            out["req_per_s"] = phase["pub_per_s"]
            out["lat_p50_ms"] = phase["pub_lat_p50_ms"]
            out["lat_p99_ms"] = phase["pub_lat_p99_ms"]
    elif phase.get("received"):
        out["deliveries_per_s"] = phase["deliveries_per_s"]
        out["cpu_us_per_delivery"] = round(phase["server_cpu_s"] / phase["received"] * 1e6, 2)
        for key in ("lat_p50_ms", "lat_p99_ms", "lat_max_ms"):
            if phase[key] is None:  # it falls on a delivery that never came: at least this
                out[key] = phase["lat_floor_ms"]
                bounds.append(key)
            else:
                out[key] = phase[key]
    return out | _shares(phase), bounds


def _setup_problems(raw: Record) -> list[str]:
    found = []
    logged = raw.get("server_errors") or []
    if logged:
        found.append(f"{len(logged):,} errors in the server's log, first: {logged[0][:160]}")
    refused = raw.get("failed", 0) + raw.get("bad_status", 0)
    if refused:
        status = raw.get("first_bad_status") or "no answer"
        found.append(f"{refused:,} subscribers refused or failed (first status: {status})")
    missing_warm = raw.get("subs", 0) - refused - raw.get("warm", 0)
    if missing_warm > 0:
        found.append(f"{missing_warm:,} subscribers got no warm-up message")
    return found


def _phase_problems(phase: Record) -> list[str]:
    return [
        f"{phase[key]:,} "
        + text.format(drain=phase.get("drain_s", 0), first_non2xx=phase.get("first_non2xx"))
        for key, text in _PROBLEMS
        if phase.get(key)
    ]


def _phase_notes(phase: Record, channels: int) -> list[str]:
    """Not misbehaviour, but needed to read the figures: a budget that cut publishing short."""
    if not (phase.get("truncated") and phase.get("msgs")):
        return []
    planned = phase["msgs"] * channels
    return [
        f"{phase['published']:,} of {planned:,} planned msgs published "
        f"in the {phase['budget_s']:g} s budget"
    ]


def parts(raw: Record, workload: Workload) -> dict[str, Record]:
    """Figures and problems of every part of `workload` in a run's raw output."""
    out: dict[str, Record] = {}
    setup = _setup_problems(raw)
    for part in workload.parts:
        figures: dict[str, float] = {}
        bounds: list[str] = []
        notes: list[str] = []
        problems = list(setup)
        if "error" in raw:
            problems = [str(raw["error"])]
        elif workload.load is None:  # wrk
            figures = {k: raw[k] for k in ("req_per_s", "lat_p50_ms", "lat_p99_ms") if k in raw}
            figures |= _shares(raw)
            if raw.get("errors"):
                problems.append(f"{raw['errors']:,} wrk errors (non-2xx or socket)")
        elif part.phase is None:  # the idle hold
            hold = raw.get("hold") or {}
            if hold.get("held"):
                figures = {"bytes_per_sub": hold["bytes_per_sub"]}
        elif part.phase < len(raw.get("phases", [])):
            phase = raw["phases"][part.phase]
            figures, bounds = _phase_figures(phase, workload.load.subs == 0)
            problems += _phase_problems(phase)
            notes = _phase_notes(phase, workload.load.channels)
        else:
            problems.append(f"phase {part.phase} did not run: {raw.get('stderr', '')}")
        out[part.key] = {
            "figures": figures,
            "lower_bounds": bounds,
            "problems": problems,
            "notes": notes,
        }
    return out


def measure(
    workload: Workload,
    side: str,
    servers: Servers,
    exe: Path,
    *,
    run: int,
    quiet_wait: float,
    upstream: list[int] | None = None,
) -> Record:
    """Starts `side` fresh, loads it with `workload`, stops it (also on errors)."""
    record: Record = {"workload": workload.key, "side": side, "run": run}
    if quiet_wait > 0:
        record["busy_cores_before"] = round(procstat.wait_quiet(quiet_wait), 2)
    raw: Record
    try:
        with servers.make(side) as server:
            record["start_s"] = round(server.start_s, 3)
            if workload.load is None:
                raw = proxyload.run(
                    server.port, server.pids, upstream or [], seconds=workload.seconds
                )
            else:
                raw = loadgen.run(exe, workload.load, server.port, server.pids)
            if not server.alive():
                raw["error"] = f"{side} exited during the run: {server.log_tail()}"
            elif raw.get("rc") and "error" not in raw:
                raw["server_log"] = server.log_tail()
            raw["server_errors"] = server.log_errors()
    except ServerError as exc:
        raw = {"error": str(exc)}
    record["raw"] = raw
    record["parts"] = parts(raw, workload)
    return record
