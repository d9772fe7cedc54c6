"""Starting and stopping the servers under test, each fresh, in its own folder, on 127.0.0.1.

A `Server` is a context manager: whatever happens inside the `with`, its processes are stopped
on the way out (TERM, then KILL after a grace period), workers included.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

import configs

NGINX = "/usr/sbin/nginx"
START_TIMEOUT = 30.0
STOP_GRACE = 5.0


class ServerError(RuntimeError):
    """A server did not start, or died while measured."""


def free_port() -> int:
    """A port nothing listens on now (the kernel's pick, released for the server to take)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def children(pid: int) -> list[int]:
    """Direct children of `pid` (nginx's workers), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name, which may itself hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Server:
    """One server process tree: `name` and `port` are what workloads need, `pids` what the
    generator samples (VmRSS, CPU)."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        folder: Path,
        port: int,
        *,
        workers: bool = False,
        env: dict[str, str] | None = None,
        start_timeout: float = 0,
    ) -> None:
        self.name = name
        self.start_timeout = start_timeout or START_TIMEOUT
        self.workers = workers  # nginx: the master forks the processes that serve
        self.argv = argv
        self.env = env  # None: the bench's own environment
        self.folder = folder
        self.port = port
        self.pids: list[int] = []
        self.start_s = 0.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = folder / "stderr.log"

    def __enter__(self) -> Server:
        t0 = time.monotonic()
        with self._log.open("wb") as log:
            # A new session: a stray TERM from the terminal reaches the bench, not the server.
            # Started in its folder: `python -m pushproxy` then imports the interpreter's
            # pushproxy (or PYTHONPATH's), never a checkout the bench happens to run from.
            proc = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.folder,
                env=self.env,
            )
        self._proc = proc
        try:
            self._wait_ready(proc, t0 + self.start_timeout)
        except BaseException:  # not started, or interrupted: __exit__ will not run
            self._stop()
            raise
        self.start_s = time.monotonic() - t0
        return self

    def _wait_ready(self, proc: subprocess.Popen[bytes], deadline: float) -> None:
        while not _listening(self.port) or proc.poll() is not None:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise ServerError(f"{self.name} did not start: {self.log_tail()}")
            time.sleep(0.05)
        # The master listens before it forks: wait for the workers the generator must sample.
        while self.workers and not children(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.pids = [proc.pid, *children(proc.pid)]

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop()

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_errors(self) -> list[str]:
        """Lines of its logs at level error or worse, and Python tracebacks."""
        found = []
        for path in (self._log, self.folder / "error.log"):
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            marks = ("[error]", "[crit]", "[alert]", "[emerg]", "Traceback")
            found += [line.strip() for line in text.splitlines() if any(m in line for m in marks)]
        return found

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self._log.read_text(errors="replace")
        except OSError:
            return ""
        error_log = self.folder / "error.log"
        if error_log.exists():
            text += error_log.read_text(errors="replace")
        return " | ".join(text.strip().splitlines()[-lines:])

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        workers = children(proc.pid) if proc.poll() is None else []
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_GRACE)
        for pid in workers:  # an nginx worker outliving its master would hold the port
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def checkout(text: str) -> Path:
    """An argparse type: the folder of another pushproxy checkout (`git worktree add`)."""
    folder = Path(text)
    if not (folder / "pushproxy" / "__init__.py").is_file():
        raise argparse.ArgumentTypeError(f"{folder} holds no pushproxy checkout")
    return folder


class Servers:
    """Makes fresh servers in one temporary folder, removed at the end."""

    def __init__(self, python: str = sys.executable) -> None:
        self.python = python  # the interpreter pushproxy runs on
        self.root = Path(tempfile.mkdtemp(prefix="pushproxy-bench-"))
        # nginx workers run as an unprivileged user when started as root: let them read.
        self.root.chmod(0o755)
        self.upstream_port = free_port()
        self._count = 0

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def _folder(self, name: str) -> Path:
        self._count += 1
        folder = self.root / f"{self._count:03d}-{name}"
        folder.mkdir()
        return folder

    def _nginx(self, name: str, make: Callable[[Path, int], str]) -> Server:
        folder, port = self._folder(name), free_port()
        conf = folder / "nginx.conf"
        conf.write_text(make(folder, port))
        argv = [NGINX, "-p", str(folder), "-c", str(conf)]
        return Server(name, argv, folder, port, workers=True)

    def reference(self) -> Server:
        """nginx + nchan."""
        return self._nginx("nchan", lambda f, p: configs.nchan(f, p, self.upstream_port))

    def pushproxy(
        self, source: Path | None = None, *, under: Sequence[str] = (), start_timeout: float = 0
    ) -> Server:
        """pushproxy as the interpreter has it installed, or from the checkout `source`, a
        master and its worker as nginx; `under`: a command it runs under (valgrind, say), which
        may need `start_timeout`, and then one process serves (`master_process off`)."""
        folder, port = self._folder("pushproxy"), free_port()
        conf = folder / "pushproxy.conf"
        conf.write_text(configs.pushproxy(folder, port, self.upstream_port))
        argv = [*under, self.python, "-m", "pushproxy", "-c", str(conf)]
        if under:
            argv += ["-g", "master_process off;"]
        name, env = "pushproxy", None
        if source is not None:
            name, env = f"pushproxy {source}", {**os.environ, "PYTHONPATH": str(source.resolve())}
        return Server(
            name, argv, folder, port, workers=not under, env=env, start_timeout=start_timeout
        )

    def upstream(self) -> Server:
        """The nginx both proxies forward to, serving a 1 KiB file as /file.bin."""
        folder = self._folder("upstream")
        (folder / "www").mkdir()
        (folder / "www" / configs.UPSTREAM_FILE).write_bytes(b"x" * configs.UPSTREAM_FILE_BYTES)
        conf = folder / "nginx.conf"
        conf.write_text(configs.upstream(folder, self.upstream_port))
        argv = [NGINX, "-p", str(folder), "-c", str(conf)]
        return Server("upstream", argv, folder, self.upstream_port, workers=True)

    def bare(self, mode: str) -> Server:
        """`bare_trio.py MODE`: the least a trio server does per request (see floors.py)."""
        folder, port = self._folder(f"bare-{mode}"), free_port()
        argv = [sys.executable, str(Path(__file__).with_name("bare_trio.py")), mode, str(port)]
        if mode == "proxy":
            argv.append(str(self.upstream_port))
        return Server(f"trio {mode}", argv, folder, port)

    def make(self, side: str) -> Server:
        return self.pushproxy() if side == "pushproxy" else self.reference()
