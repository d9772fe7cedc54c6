"""The master process and its worker, as nginx's: the statistics show the worker's pid, a
reload starts a new worker that finds the channels, a worker killed is started again, and with
`master_process off` one process does it all."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import free_port, http10

from pushproxy.master import fatal_exit

CONF = """daemon on;
master_process {master};
pid {dir}/test.pid;
error_log {dir}/error.log notice;
events {{}}
http {{
    push_stream_shared_memory_size 32m;
    push_stream_events_channel_id events;
    server {{
        listen 127.0.0.1:{port};
        location /pub {{ push_stream_publisher admin; push_stream_channels_path $arg_id;
                         push_stream_store_messages on; }}
        location /stats {{ push_stream_channels_statistics; push_stream_channels_path $arg_id; }}
        location ~ /sub/(.*) {{ push_stream_subscriber; push_stream_channels_path $1;
                               push_stream_footer_template "BYE"; }}
        location ~ /lp/(.*) {{ push_stream_subscriber long-polling;
                              push_stream_channels_path $1; }}
    }}
}}
"""
_PAST = "Thu, 01 Jan 1970 00:00:00 GMT"


class Running:
    """A pushproxy started as a daemon with `CONF`, stopped (and its processes gone) after."""

    def __init__(self, folder: Path, master: str) -> None:
        self.folder, self.port = folder, free_port()
        self.conf = folder / "nginx.conf"
        self.conf.write_text(CONF.format(master=master, dir=folder, port=self.port))
        started = _pushproxy("-c", str(self.conf))
        assert started.returncode == 0, started.stderr
        self.pid = int((folder / "test.pid").read_text())

    def get(self, path: str, method: str = "GET", body: bytes = b"", head: str = "") -> bytes:
        return http10(self.port, path, method, body, head)

    def stats(self, channel: str = "") -> dict[str, object]:
        answer = self.get(f"/stats?id={channel}" if channel else "/stats")
        found: dict[str, object] = json.loads(answer.partition(b"\r\n\r\n")[2])
        return found

    def worker(self) -> int:
        by_worker = self.stats()["by_worker"]
        assert isinstance(by_worker, list)
        assert len(by_worker) == 1
        return int(by_worker[0]["pid"])

    def log(self) -> str:
        return (self.folder / "error.log").read_text()

    def reload(self) -> None:
        done = _pushproxy("-c", str(self.conf), "-s", "reload")
        assert done.returncode == 0, done.stderr


def _pushproxy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pushproxy", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _until(condition: Callable[[], bool], what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(line) for line in found.stdout.split()]


@pytest.fixture
def running(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Running]:
    server = Running(tmp_path, getattr(request, "param", "on"))
    processes = [server.pid, *_children(server.pid)]
    try:
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(server.pid, signal.SIGTERM)
        with contextlib.suppress(AssertionError):
            _until(lambda: not any(map(_alive, processes)), "stopped")
        for pid in [*processes, *_children(server.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_the_statistics_show_the_worker_not_the_master(running: Running) -> None:
    worker = running.worker()
    assert worker != running.pid
    assert _children(running.pid) == [worker]
    assert f"[notice] {running.pid}#0: start worker processes" in running.log()


def test_a_reload_starts_a_new_worker_that_finds_the_channels(running: Running) -> None:
    """The module's events-channel spec: after a reload the old worker's pid is gone and the
    statistics name the new one; channels, stored messages and counters stay (the zone)."""
    assert b'"published_messages": 1' in running.get("/pub?id=kept", "POST", b"first")
    old = running.worker()
    running.reload()
    _until(lambda: not _alive(old), "the old worker exits")
    new = running.worker()
    assert new != old
    assert new != running.pid
    assert running.stats("kept") == {
        "channel": "kept",
        "published_messages": 1,
        "stored_messages": 1,
        "subscribers": 0,
    }
    answer = running.get("/lp/kept", head=f"If-Modified-Since: {_PAST}\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert answer.endswith(b"first")
    # the events channel's own messages (the channel's creation) went over too
    assert running.stats("events")["published_messages"] == 1
    assert b'"published_messages": 2' in running.get("/pub?id=kept", "POST", b"second")
    log = running.log()
    assert f"[notice] {running.pid}#0: worker process {old} exited with code 0" in log


def test_a_subscriber_ends_with_its_footer_and_comes_back_to_the_new_worker(
    running: Running,
) -> None:
    with socket.create_connection(("127.0.0.1", running.port), timeout=10) as sub:
        sub.sendall(b"GET /sub/room HTTP/1.1\r\nHost: x\r\n\r\n")
        _until(lambda: running.stats("room")["subscribers"] == 1, "subscribed")
        running.reload()
        received = b""
        while chunk := sub.recv(65536):
            received += chunk
    assert received.endswith(b"3\r\nBYE\r\n0\r\n\r\n")
    # the unsubscription is the old worker's: the new one starts with no subscriber counted
    assert running.stats()["subscribers"] == 0
    assert running.stats("room")["subscribers"] == 0


def test_publishes_during_a_reload_are_all_kept(running: Running) -> None:
    """A publish the old worker accepted is in the channel the new worker has: the old one
    hands the channels over once it answered what it was answering."""
    accepted = 0
    stop = threading.Event()

    def publish() -> None:
        nonlocal accepted
        while not stop.is_set():
            with contextlib.suppress(OSError):
                if running.get("/pub?id=busy", "POST", b"m").startswith(b"HTTP/1.1 200"):
                    accepted += 1

    publisher = threading.Thread(target=publish)
    publisher.start()
    try:
        _until(lambda: accepted >= 20, "publishing")
        old = running.worker()
        running.reload()
        _until(lambda: not _alive(old), "the old worker exits")
        counted = accepted
        _until(lambda: accepted >= counted + 20, "publishing to the new worker")
    finally:
        stop.set()
        publisher.join()
    assert running.stats("busy")["published_messages"] == accepted


def test_a_killed_worker_is_started_again(running: Running) -> None:
    old = running.worker()
    os.kill(old, signal.SIGKILL)
    _until(lambda: running.get("/stats").startswith(b"HTTP/1.1 200"), "served again")
    assert running.worker() not in (old, running.pid)
    assert f"[alert] {running.pid}#0: worker process {old} exited on signal 9" in running.log()


def test_a_stop_ends_the_worker_and_the_master(running: Running) -> None:
    worker = running.worker()
    done = _pushproxy("-c", str(running.conf), "-s", "stop")
    assert done.returncode == 0, done.stderr
    _until(lambda: not _alive(running.pid) and not _alive(worker), "stopped")
    assert not (running.folder / "test.pid").exists()
    assert re.search(
        rf"\[notice\] {worker}#0: exit\n.*\[notice\] {running.pid}#0: exit\n",
        running.log(),
        re.DOTALL,
    )


def test_a_worker_whose_master_is_gone_stops(running: Running) -> None:
    worker = running.worker()
    os.kill(running.pid, signal.SIGKILL)
    _until(lambda: not _alive(worker), "the worker stops")


@pytest.mark.parametrize("running", ["off"], indirect=True)
def test_without_a_master_one_process_serves_and_reloads(running: Running) -> None:
    assert running.worker() == running.pid
    assert _children(running.pid) == []
    assert b'"published_messages": 1' in running.get("/pub?id=kept", "POST", b"first")
    running.reload()
    _until(lambda: "reconfiguring" in running.log(), "reloaded")
    assert running.worker() == running.pid
    assert running.stats("kept")["stored_messages"] == 1


def test_reloads_leave_no_files_open_in_the_master(running: Running) -> None:
    """nginx's master closes the old configuration's files; so does pushproxy's (each
    reload's server, never served there, held its access log and an epoll set)."""

    def files() -> int:
        return len(os.listdir(f"/proc/{running.pid}/fd"))

    def reload() -> None:
        old = running.worker()
        running.reload()
        _until(lambda: not _alive(old), "the old worker exits")

    before = files()
    for _ in range(3):
        reload()
    assert files() == before


@pytest.mark.parametrize(
    ("status", "lived", "fatal"),
    [
        (signal.SIGKILL, 0.1, False),  # killed: started again at once, as nginx
        (2 << 8, 60.0, True),  # nginx's fatal code: never
        (1 << 8, 0.1, True),  # a fault as it starts would repeat for ever
        (1 << 8, 60.0, False),
        (0, 0.1, False),
    ],
)
def test_which_workers_are_started_again(status: int, lived: float, fatal: bool) -> None:
    assert fatal_exit(status, lived) is fatal


def test_a_reload_whose_new_port_is_busy_keeps_the_old_worker(running: Running) -> None:
    old = running.worker()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        text = running.conf.read_text()
        own = f"listen 127.0.0.1:{running.port};"
        running.conf.write_text(text.replace(own, f"{own}\n        listen 127.0.0.1:{taken};"))
        running.reload()
        _until(lambda: "still could not bind()" in running.log(), "the bind refused")
    assert running.worker() == old
    assert _children(running.pid) == [old]


def test_a_listen_a_reload_removes_is_closed(running: Running) -> None:
    extra = free_port()
    own = f"listen 127.0.0.1:{running.port};"
    first = running.conf.read_text()
    running.conf.write_text(first.replace(own, f"{own}\n        listen 127.0.0.1:{extra};"))
    old = running.worker()
    running.reload()
    _until(lambda: not _alive(old), "the old worker exits")
    assert http10(extra, "/stats").startswith(b"HTTP/1.1 200")
    running.conf.write_text(first)
    old = running.worker()
    running.reload()
    _until(lambda: not _alive(old), "the old worker exits")
    with pytest.raises(ConnectionRefusedError):
        http10(extra, "/stats")
    assert http10(running.port, "/stats").startswith(b"HTTP/1.1 200")
