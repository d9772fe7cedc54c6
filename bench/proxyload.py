"""Reverse-proxy load: `wrk` through a server to the upstream's 1 KiB file.

Before loading a server the file is fetched once through it: a proxy that does not answer
200 with the file's bytes is reported as not measured, never as a figure.
"""

from __future__ import annotations

import http.client
import re
import resource
import shutil
import subprocess
from typing import Any

import configs
import procstat

WRK = shutil.which("wrk") or "/usr/bin/wrk"
PATH = f"/up/{configs.UPSTREAM_FILE}"

Result = dict[str, Any]

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def probe(port: int) -> str | None:
    """None when the proxy serves the file, else why not."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", PATH)
        response = conn.getresponse()
        body = response.read()
        conn.close()
    except (OSError, http.client.HTTPException) as exc:
        return f"GET {PATH}: {exc.__class__.__name__}: {exc}"
    if response.status != 200 or len(body) != configs.UPSTREAM_FILE_BYTES:
        return f"GET {PATH} answered {response.status} with {len(body)} bytes"
    return None


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")


def parse(out: str) -> Result:
    """The figures of wrk's `--latency` report."""
    result: Result = {}
    if m := re.search(r"Requests/sec:\s+([\d.]+)", out):
        result["req_per_s"] = float(m.group(1))
    if m := re.search(r"(\d+) requests in ([\d.]+\w+)", out):
        result["requests"] = int(m.group(1))
    for pct, key in (("50", "lat_p50_ms"), ("99", "lat_p99_ms")):
        if m := re.search(rf"^\s+{pct}%\s+([\d.]+\w+)", out, re.MULTILINE):
            result[key] = _ms(m.group(1))
    if m := re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", out):
        result["lat_max_ms"] = _ms(m.group(1))
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(g) for g in m.groups())
    result["errors"] = errors
    return result


def run(
    port: int, pids: list[int], upstream: list[int], *, seconds: float, connections: int = 64
) -> Result:
    """`wrk -t1 -cN` for `seconds`, with the CPU of the server, the upstream and wrk over the
    same span."""
    reason = probe(port)
    if reason:
        return {"error": f"not measured: {reason}"}
    cmd = [WRK, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    cmd.append(f"http://127.0.0.1:{port}{PATH}")
    before, up_before = procstat.sample(pids), procstat.sample(upstream)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=seconds + 30, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": "wrk timed out"}
    after, up_after = procstat.sample(pids), procstat.sample(upstream)
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = parse(done.stdout)
    if "req_per_s" not in result:
        return {"error": f"wrk failed: {done.stdout[-300:]} {done.stderr[-300:]}"}
    result["loop_s"] = after.wall - before.wall
    result["server_cpu_s"] = after.cpu - before.cpu
    result["upstream_cpu_s"] = up_after.cpu - up_before.cpu
    result["machine_busy_s"] = after.machine - before.machine
    result["client_cpu_s"] = (used.ru_utime + used.ru_stime) - (
        children.ru_utime + children.ru_stime
    )
    return result
