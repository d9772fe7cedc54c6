"""Driving pushproxy as a harness drives nginx: -c, daemon on, the pid file, -s signals."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import free_port, http10

from pushproxy.logs import ErrorLog

CONF = """daemon {daemon};
pid {dir}/logs/test.pid;
error_log {dir}/logs/error.log notice;
events {{}}
http {{
    push_stream_shared_memory_size 32m;
    server {{
        listen 127.0.0.1:{port};
        location /pub {{ push_stream_publisher admin; push_stream_channels_path $arg_id;
                         push_stream_store_messages on; }}
        location /stats {{ push_stream_channels_statistics; push_stream_channels_path $arg_id; }}
        location /hello {{ return 200 "{greeting}"; }}
        location /down {{ proxy_pass http://127.0.0.1:1; }}
    }}
}}
"""


def _pushproxy(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pushproxy", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} still running")


@pytest.fixture
def conf(tmp_path: Path) -> tuple[Path, int]:
    (tmp_path / "logs").mkdir()
    port = free_port()
    path = tmp_path / "nginx.conf"
    path.write_text(CONF.format(daemon="on", dir=tmp_path, port=port, greeting="one"))
    return path, port


def test_daemon_is_ready_when_the_launcher_exits(conf: tuple[Path, int]) -> None:
    path, port = conf
    pid_file = path.parent / "logs" / "test.pid"
    launched = subprocess.run(
        [sys.executable, "-m", "pushproxy", "-c", str(path)],
        stdin=subprocess.DEVNULL,
        capture_output=True,  # returns at EOF on stdout and stderr, as harnesses wait
        timeout=20,
        check=False,
    )
    assert launched.returncode == 0, launched.stderr
    # At EOF: the pid file is written and the listener accepts, with no retry or sleep.
    pid = int(pid_file.read_text())
    try:
        assert http10(port, "/hello").endswith(b"one")
        assert b'"published_messages": 1' in http10(port, "/pub?id=c", "POST", b"kept")
        path.write_text(path.read_text().replace('"one"', '"two"'))
        assert _pushproxy("-c", str(path), "-s", "reload").returncode == 0
        deadline = time.monotonic() + 10
        while not http10(port, "/hello").endswith(b"two"):
            assert time.monotonic() < deadline, "reload not applied"
            time.sleep(0.02)
        # the channel and its stored message survived the reload
        assert b'"stored_messages": 1' in http10(port, "/stats?id=c")
        stopped = _pushproxy("-c", str(path), "-s", "stop")
        assert stopped.returncode == 0, stopped.stderr
        _wait_gone(pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
    assert not pid_file.exists()
    log = (path.parent / "logs" / "error.log").read_text()
    assert f"[notice] {pid}#0: exit" in log


def test_bad_reload_keeps_the_old_config_serving(conf: tuple[Path, int]) -> None:
    path, port = conf
    assert _pushproxy("-c", str(path)).returncode == 0
    pid = int((path.parent / "logs" / "test.pid").read_text())
    try:
        good = path.read_text()
        path.write_text(good.replace("location /hello", "locaton /hello"))
        os.kill(pid, 1)  # SIGHUP with the broken file in place
        deadline = time.monotonic() + 10
        log = path.parent / "logs" / "error.log"
        while 'unknown directive "locaton"' not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        assert http10(port, "/hello").endswith(b"one")
        path.write_text(good)
    finally:
        os.kill(pid, 15)
        _wait_gone(pid)


def test_the_zone_size_is_logged_and_kept_over_a_reload(conf: tuple[Path, int]) -> None:
    """The module's lines on a reload: the zone's size, and a new size that must wait for a
    restart (the module's send_signals spec looks for the warning)."""
    path, port = conf
    path.write_text(path.read_text().replace("error.log notice;", "error.log info;"))
    assert _pushproxy("-c", str(path)).returncode == 0
    pid = int((path.parent / "logs" / "test.pid").read_text())
    log = path.parent / "logs" / "error.log"
    using = (
        "#0: Using 32768KiB of shared memory for push stream module on zone: "
        f"push_stream_module in {path}:6"
    )
    ignored = (
        f"[warn] {pid}#0: Cannot change memory area size without restart, ignoring change on "
        f"zone: push_stream_module in {path}:6"
    )
    try:
        assert "Using" not in log.read_text()  # (nginx reads it at start before its log opens)
        assert b'"published_messages": 1' in http10(port, "/pub?id=c", "POST", b"kept")
        path.write_text(path.read_text().replace("size 32m;", "size 64m;"))
        os.kill(pid, 1)
        deadline = time.monotonic() + 10
        while ignored not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        assert f"[info] {pid}{using}" in log.read_text()  # the zone in use keeps its size
        assert b'"stored_messages": 1' in http10(port, "/stats?id=c")
    finally:
        os.kill(pid, 15)
        _wait_gone(pid)


def test_config_errors_are_printed_like_nginx(tmp_path: Path) -> None:
    path = tmp_path / "nginx.conf"
    path.write_text("events {}\nhttp {\n  server { listen 80 }\n}\n")
    run = _pushproxy("-c", str(path))
    assert run.returncode == 1
    assert run.stderr == f'pushproxy: [emerg] unexpected "}}" in {path}:3\n'


@pytest.mark.parametrize("missing", ["error_log", "pid"])
def test_a_log_or_pid_file_in_a_missing_directory_stops_start_and_test(
    tmp_path: Path, missing: str
) -> None:
    """As nginx: `-t` and the start open the error log and the pid file; a missing directory
    is an [emerg] naming the file, and nothing starts."""
    port = free_port()
    text = CONF.format(daemon="off", dir=tmp_path, port=port, greeting="one")
    (tmp_path / "logs").mkdir()
    wanted = f"{tmp_path}/nodir/{'error.log' if missing == 'error_log' else 'test.pid'}"
    text = text.replace(
        f"{tmp_path}/logs/{'error.log' if missing == 'error_log' else 'test.pid'}", wanted
    )
    path = tmp_path / "nginx.conf"
    path.write_text(text)
    message = f'pushproxy: [emerg] open() "{wanted}" failed (2: No such file or directory)\n'
    tested = _pushproxy("-t", "-c", str(path))
    assert tested.returncode == 1
    # As nginx -t: the syntax is fine, then the file's failure as a log line, then the verdict.
    syntax, failure, verdict = tested.stderr.splitlines()
    assert syntax == f"pushproxy: the configuration file {path} syntax is ok"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[emerg\] \d+#0: (.*)", failure)
    assert failure.endswith(message.removeprefix("pushproxy: [emerg] ").rstrip("\n"))
    assert verdict == f"pushproxy: configuration file {path} test failed"
    started = _pushproxy("-c", str(path))
    assert started.returncode == 1
    assert started.stderr == message
    assert not (tmp_path / "nodir").exists()


def test_an_error_log_that_cannot_be_written_does_not_stop_the_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = ErrorLog(str(tmp_path / "gone" / "error.log"), "info", main=False)  # (logger as it is)
    log.log("error", "upstream timed out")  # its directory is not there (removed, say)
    assert "[error]" in capsys.readouterr().err  # the line went to the standard error


def test_signal_without_a_pid_file(conf: tuple[Path, int]) -> None:
    path, _ = conf
    run = _pushproxy("-c", str(path), "-s", "stop")
    assert run.returncode == 1
    assert run.stderr == (
        f'pushproxy: [error] open() "{path.parent}/logs/test.pid" failed '
        "(2: No such file or directory)\n"
    )


@pytest.mark.parametrize("written", ["abc", "12x", "\u00b2"])
def test_signal_with_a_pid_file_that_holds_no_number(conf: tuple[Path, int], written: str) -> None:
    path, _ = conf
    pid_file = path.parent / "logs" / "test.pid"
    pid_file.write_text(written + "\n", encoding="utf-8")
    run = _pushproxy("-c", str(path), "-s", "stop")
    assert (run.returncode, run.stderr) == (
        1,
        f'pushproxy: [error] invalid PID number "{written}" in "{pid_file}"\n',
    )


def test_busy_port_is_retried_then_reported(conf: tuple[Path, int]) -> None:
    path, port = conf
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", port))
        holder.listen()
        started = time.monotonic()
        run = _pushproxy("-c", str(path))
        elapsed = time.monotonic() - started
    assert run.returncode == 1
    log = (path.parent / "logs" / "error.log").read_text()
    assert log.count(f"bind() to 127.0.0.1:{port} failed (98: Address already in use)") == 5
    assert "still could not bind()" in log
    assert elapsed >= 4 * 0.5


def test_foreground_stop_with_quit(conf: tuple[Path, int]) -> None:
    path, port = conf
    path.write_text(path.read_text().replace("daemon on;", "daemon off;"))
    process = subprocess.Popen(
        [sys.executable, "-m", "pushproxy", "-c", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        pid_file = path.parent / "logs" / "test.pid"
        deadline = time.monotonic() + 10
        while not pid_file.exists():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert int(pid_file.read_text()) == process.pid
        assert http10(port, "/hello").endswith(b"one")
        assert _pushproxy("-c", str(path), "-s", "quit").returncode == 0
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert not (path.parent / "logs" / "test.pid").exists()


def test_a_stop_during_a_graceful_stop_ends_it_at_once(tmp_path: Path) -> None:
    """As with nginx: QUIT waits for a request in flight (here one an upstream never
    answers), and TERM meanwhile makes it a fast stop."""
    (tmp_path / "logs").mkdir()
    port = free_port()
    with socket.socket() as silent:  # takes the request, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        hang = f"location /hang {{ proxy_pass http://127.0.0.1:{silent.getsockname()[1]}; }}"
        text = CONF.format(daemon="off", dir=tmp_path, port=port, greeting="one")
        path = tmp_path / "nginx.conf"
        path.write_text(text.replace("location /hello", hang + "\n        location /hello"))
        proc = subprocess.Popen([sys.executable, "-m", "pushproxy", "-c", str(path)])
        try:
            pid_file = tmp_path / "logs" / "test.pid"
            deadline = time.monotonic() + 10
            while not pid_file.exists():
                assert time.monotonic() < deadline
                time.sleep(0.02)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                client.sendall(b"GET /hang HTTP/1.0\r\nHost: x\r\n\r\n")
                silent.settimeout(5)
                upstream, _ = silent.accept()
                with upstream:  # the request is in flight, and never answered
                    proc.send_signal(signal.SIGQUIT)
                    with pytest.raises(subprocess.TimeoutExpired):
                        proc.wait(timeout=1.5)  # the graceful stop waits for it
                    stopped_at = time.monotonic()
                    proc.send_signal(signal.SIGTERM)
                    assert proc.wait(timeout=10) == 0
                    assert time.monotonic() - stopped_at < 5  # not a graceful stop's 30 s
        finally:
            proc.kill()
            proc.wait()
    log = (tmp_path / "logs" / "error.log").read_text()
    assert re.search(r"gracefully shutting down\n.*signal received, exiting\n.*exit\n", log, re.S)
    assert not pid_file.exists()


def test_a_configuration_without_http_notes_the_unused_module(tmp_path: Path) -> None:
    """The module's own spec: without an http block it logs (notice) that it is not used, at
    start and with -t."""
    log = tmp_path / "error.log"
    path = tmp_path / "nginx.conf"
    path.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {log} debug;\ndaemon off;\n"
        "events { worker_connections 1024; }\n"
    )
    tested = _pushproxy("-t", "-c", str(path))
    assert tested.returncode == 0
    assert "[notice]" in log.read_text()
    assert "ngx_http_push_stream_module will not be used with this configuration." in (
        log.read_text()
    )
    # with push locations, nothing of the kind
    (tmp_path / "logs").mkdir()
    used = tmp_path / "used.conf"
    used.write_text(CONF.format(daemon="off", dir=tmp_path, port=free_port(), greeting="one"))
    done = _pushproxy("-t", "-c", str(used))
    assert done.returncode == 0
    written = tmp_path / "logs" / "error.log"
    logged = written.read_text() if written.exists() else ""
    assert "will not be used" not in done.stderr + logged


def test_repeated_stop_signals_do_not_cut_the_exit_short(tmp_path: Path) -> None:
    """A supervisor may send TERM again while the process stops (GNU `timeout` sends it to the
    process and then to its group): like nginx, it still ends as a stop ends, exit 0, its
    `exit` line logged and its pid file removed."""
    (tmp_path / "logs").mkdir()
    port = free_port()
    path = tmp_path / "nginx.conf"
    path.write_text(CONF.format(daemon="off", dir=tmp_path, port=port, greeting="one"))
    proc = subprocess.Popen([sys.executable, "-m", "pushproxy", "-c", str(path)])
    try:
        deadline = time.monotonic() + 10
        pid_file = tmp_path / "logs" / "test.pid"
        while not pid_file.exists():
            assert time.monotonic() < deadline
            assert proc.poll() is None
            time.sleep(0.02)
        assert http10(port, "/hello").endswith(b"one")
        while proc.poll() is None:  # TERM every 10 ms until it is gone
            assert time.monotonic() < deadline
            proc.send_signal(15)
            time.sleep(0.01)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0
    assert not pid_file.exists()
    assert "[notice]" in (log := (tmp_path / "logs" / "error.log").read_text())
    assert re.search(r"\[notice\] \d+#0: exit\n", log), log


def test_an_error_line_about_a_request_starts_with_its_connection_number(
    conf: tuple[Path, int],
) -> None:
    """As nginx writes it: `[error] PID#TID: *N connect() failed (...) while connecting to
    upstream, client: ...`, N being the connection's number (`$connection`)."""
    path, port = conf
    assert _pushproxy("-c", str(path)).returncode == 0
    pid = int((path.parent / "logs" / "test.pid").read_text())
    try:
        assert b" 502 " in http10(port, "/down").split(b"\r\n")[0]
    finally:
        os.kill(pid, 15)
        _wait_gone(pid)
    log = (path.parent / "logs" / "error.log").read_text()
    assert re.search(
        r"\[error\] \d+#\d+: \*\d+ connect\(\) failed \(111: Connection refused\) while "
        r'connecting to upstream, client: 127\.0\.0\.1, server: , request: "GET /down HTTP/1\.0", '
        r'upstream: "http://127\.0\.0\.1:1/down", host: "x"\n',
        log,
    ), log


def test_reopen_brings_a_rotated_error_log_back_at_once(conf: tuple[Path, int]) -> None:
    """USR1 after a rotation (`mv error.log error.log.1`): the error log is there again at
    once, and the daemon's standard error is the new file, as nginx's."""
    path, _ = conf
    assert _pushproxy("-c", str(path)).returncode == 0
    logs = path.parent / "logs"
    pid = int((logs / "test.pid").read_text())
    try:
        (logs / "error.log").rename(logs / "error.log.1")
        assert _pushproxy("-c", str(path), "-s", "reopen").returncode == 0
        deadline = time.monotonic() + 10
        while not (logs / "error.log").exists():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        deadline = time.monotonic() + 10
        while os.readlink(f"/proc/{pid}/fd/2") != str(logs / "error.log"):
            assert time.monotonic() < deadline, os.readlink(f"/proc/{pid}/fd/2")
            time.sleep(0.02)
    finally:
        os.kill(pid, 15)
        _wait_gone(pid)


def test_a_reload_naming_a_log_that_cannot_open_is_refused(conf: tuple[Path, int]) -> None:
    """As nginx: a new configuration whose access log cannot be opened is refused with
    `open() "..." failed` and the old one serves on (nor are its subscribers ended)."""
    path, port = conf
    assert _pushproxy("-c", str(path)).returncode == 0
    pid = int((path.parent / "logs" / "test.pid").read_text())
    missing = path.parent / "gone" / "a.log"
    try:
        good = path.read_text()
        changed = good.replace('"one"', '"two"').replace(
            "push_stream_shared_memory_size 32m;",
            f"push_stream_shared_memory_size 32m; access_log {missing};",
        )
        path.write_text(changed)
        os.kill(pid, 1)
        log = path.parent / "logs" / "error.log"
        deadline = time.monotonic() + 10
        while f'open() "{missing}" failed (2: No such file or directory)' not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        assert http10(port, "/hello").endswith(b"one")
    finally:
        os.kill(pid, 15)
        _wait_gone(pid)


def test_the_error_log_is_made_at_the_start_whatever_its_level(tmp_path: Path) -> None:
    """As nginx opens it before it listens: a harness that looks for the file once the port
    accepts finds it, even when nothing was worth a line at its level yet."""
    (tmp_path / "logs").mkdir()
    port = free_port()
    path = tmp_path / "nginx.conf"
    text = CONF.format(daemon="on", dir=tmp_path, port=port, greeting="one")
    path.write_text(text.replace("error.log notice;", "error.log crit;"))
    assert _pushproxy("-c", str(path)).returncode == 0
    pid = int((tmp_path / "logs" / "test.pid").read_text())
    try:
        assert (tmp_path / "logs" / "error.log").exists()
    finally:
        os.kill(pid, 15)
        _wait_gone(pid)
