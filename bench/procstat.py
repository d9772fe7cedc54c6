"""What /proc says about the machine and the servers: CPU time, VmRSS, and how busy the rest
of the machine is (a bench on a shared machine must say when others took the CPU)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HZ = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    wall: float  # monotonic seconds
    cpu: float  # utime + stime of the pids, seconds
    machine: float  # busy CPU-seconds of all cores
    rss_kb: int  # VmRSS summed over the pids


def pid_cpu_s(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2 :].split()  # fields 3.. of proc(5); utime is field 14
    return (int(fields[11]) + int(fields[12])) / HZ


def pid_rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def machine_busy_s() -> float:
    """All cores' busy time: user nice system irq softirq steal (not idle, not iowait)."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values
    return (user + nice + system + irq + softirq + steal) / HZ


def sample(pids: list[int]) -> Sample:
    return Sample(
        wall=time.monotonic(),
        cpu=sum(pid_cpu_s(p) for p in pids),
        machine=machine_busy_s(),
        rss_kb=sum(pid_rss_kb(p) for p in pids),
    )


def wait_quiet(limit_s: float, *, busy_cores: float = 0.25, window_s: float = 0.5) -> float:
    """Waits (at most `limit_s`) until the machine is nearly idle; returns the busy cores seen
    last, so a measurement taken anyway can say how loaded the machine was."""
    deadline = time.monotonic() + limit_s
    while True:
        before = machine_busy_s()
        time.sleep(window_s)
        busy = (machine_busy_s() - before) / window_s
        if busy <= busy_cores or time.monotonic() >= deadline:
            return busy


def machine(python: str = sys.executable) -> dict[str, str | int]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "cores": os.cpu_count() or 0,
        "model": model or platform.processor() or "unknown",
        "kernel": f"{platform.system()} {platform.release()}",
        "memory_gib": round(memory_kb / 1024 / 1024),
        **interpreter(python),
    }


def interpreter(python: str) -> dict[str, str]:
    """The version and real path of the interpreter pushproxy runs on (builds of one version
    differ in speed: with or without PGO and LTO, libpython shared or linked in)."""
    asked = "import platform, sys, pushproxy.cli; print(platform.python_version(), sys.executable)"
    out = subprocess.run([python, "-c", asked], capture_output=True, text=True, check=True)
    version, executable = out.stdout.split(maxsplit=1)
    return {"python": version, "python_path": os.path.realpath(executable.strip())}
