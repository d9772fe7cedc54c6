"""The C load generator: built with gcc on first use, run once per measurement.

It prints one JSON object; `run` returns it with the exit status and the end of stderr. The
self-test points it at its own minimal fan-out server (`loadgen hub`) to show what it can
sustain: deliveries per second over the CPU-seconds it spent.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "loadgen"
BUILD = HERE / "build"
CC = ["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-std=gnu11"]
PATHS = {"stream": "/sub/ch{}", "sse": "/ev/ch{}", "ws": "/ws/ch{}"}

Result = dict[str, Any]


def build() -> Path:
    """Compiles bench/loadgen/*.c into bench/build/loadgen unless it is up to date."""
    exe = BUILD / "loadgen"
    sources = sorted(SOURCES.glob("*.[ch]"))
    if exe.exists() and all(s.stat().st_mtime <= exe.stat().st_mtime for s in sources):
        return exe
    BUILD.mkdir(exist_ok=True)
    cmd = [*CC, "-o", str(exe), *(str(s) for s in sources if s.suffix == ".c")]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"building the load generator failed:\n{done.stderr}")
    return exe


@dataclass(frozen=True)
class Phase:
    """Publishing on the connections a `Load` opened, measured on its own."""

    msgs: int  # per channel; 0: unlimited (publish-only runs, within the budget)
    rate: float = 0.0  # messages per second over all channels, 0 = as fast as answered
    budget: float = 0.0  # seconds of publishing at most, 0 = no limit
    drain: float = 5.0  # seconds to wait for the deliveries after the last publish

    def spec(self) -> str:
        return f"{self.msgs}:{self.rate:g}:{self.budget:g}:{self.drain:g}"

    def longest_s(self, channels: int) -> float:
        publishing = self.budget or (self.msgs * channels / self.rate if self.rate else 60.0)
        return publishing + self.drain + 10.0  # 10: settling between phases


@dataclass(frozen=True, kw_only=True)
class Load:
    """One generator run: the subscribers to open, an idle hold, then the phases."""

    subs: int = 0
    channels: int = 1
    pubs: int = 1
    proto: str = "stream"
    hold: float = 0.0  # seconds the subscribers are held idle (server RSS per subscriber)
    phases: tuple[Phase, ...] = ()
    body_bytes: int = 100

    def argv(self, exe: Path, port: int, pids: list[int]) -> list[str]:
        args = [str(exe), "run", "-p", str(port), "-s", str(self.subs), "-c", str(self.channels)]
        args += ["-P", str(self.pubs), "-b", str(self.body_bytes), "--proto", self.proto]
        args += ["--sub", PATHS[self.proto], "--pub", "/pub?id=ch{}", "--hold", str(self.hold)]
        if self.proto == "stream":
            args.append("--newline")  # the message framing: see configs.py
        for phase in self.phases:
            args += ["--phase", phase.spec()]
        for pid in pids:
            args += ["--pid", str(pid)]
        return args

    def timeout_s(self) -> float:
        connect = 2 * 60.0  # connecting and warming up, each bounded by --ready-timeout
        return connect + self.hold + sum(p.longest_s(self.channels) for p in self.phases) + 30


def run(exe: Path, load: Load, port: int, pids: list[int]) -> Result:
    """Runs the generator; a run that crashes or prints nothing comes back with an `error`."""
    argv = load.argv(exe, port, pids)
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=load.timeout_s(), check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": "load generator timed out", "rc": -1}
    lines = done.stdout.strip().splitlines()
    result: Result
    try:
        result = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        result = {}
    result["rc"] = done.returncode
    result["stderr"] = done.stderr.strip()[-400:]
    if not lines or "phases" not in result:
        result["error"] = f"no result (exit {done.returncode}): {result['stderr']}"
    return result


def _wait_port(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("the self-test hub did not start")


def self_test(exe: Path, port: int, subs: int, msgs: int) -> Result:
    """Fan-out through `loadgen hub`: the generator's deliveries/s and its own CPU share."""
    hub = subprocess.Popen(
        [str(exe), "hub", "-p", str(port), "--max-time", "120"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port, time.monotonic() + 10)
        load = Load(subs=subs, phases=(Phase(msgs, budget=60, drain=10),))
        result = run(exe, load, port, [hub.pid])
    finally:
        hub.terminate()
        hub.wait(10)
    phase = (result.get("phases") or [{}])[0]
    cpu, received = float(phase.get("client_cpu_s", 0.0)), int(phase.get("received", 0))
    return {
        "subs": subs,
        "deliveries_per_s": phase.get("deliveries_per_s", 0),
        "received": received,
        "missing": phase.get("missing", 0),
        "client_cpu_pct": round(100 * cpu / phase["loop_s"], 1) if phase.get("loop_s") else None,
        "generator_us_per_delivery": cpu / received * 1e6 if received else None,
        "generator_capacity_per_s": received / cpu if cpu else None,
        "error": result.get("error"),
    }
