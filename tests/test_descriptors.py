"""Open file limits as nginx handles them: `worker_rlimit_nofile` applied, the warning for
`worker_connections` above the limit (at start and with -t), and a server that runs out of
descriptors pausing its accepts instead of ending."""

from __future__ import annotations

import resource
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from helpers import free_port

CONF = """daemon off;
{extra}
pid {dir}/test.pid;
error_log {dir}/error.log notice;
events {{ worker_connections {connections}; }}
http {{
    push_stream_shared_memory_size 32m;
    server {{
        listen 127.0.0.1:{port};
        location /sub {{ push_stream_subscriber; push_stream_channels_path $arg_id; }}
        location /hello {{ return 200 "hi"; }}
    }}
}}
"""


def _write_conf(tmp_path: Path, *, connections: int, extra: str = "") -> tuple[Path, int]:
    port = free_port()
    path = tmp_path / "nginx.conf"
    path.write_text(CONF.format(dir=tmp_path, port=port, connections=connections, extra=extra))
    return path, port


def _soft_limit(files: int) -> Callable[[], None]:
    """For a child process: an open file limit of `files` (the hard limit stays)."""

    def apply() -> None:
        resource.setrlimit(
            resource.RLIMIT_NOFILE, (files, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        )

    return apply


def _start(conf: Path, files: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "pushproxy", "-c", str(conf)],
        preexec_fn=_soft_limit(files),
        stderr=subprocess.PIPE,
    )


def _test_with_limit(conf: Path, files: int) -> subprocess.CompletedProcess[str]:
    """`pushproxy -t` run with an open file limit of `files`."""
    return subprocess.run(
        [sys.executable, "-m", "pushproxy", "-t", "-c", str(conf)],
        preexec_fn=_soft_limit(files),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the server did not start")


def _hello(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"GET /hello HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
        return data


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(timeout=10)
    assert server.stderr is not None
    server.stderr.close()


def test_the_test_warns_of_connections_above_the_open_file_limit(tmp_path: Path) -> None:
    conf, _ = _write_conf(tmp_path, connections=1000)
    done = _test_with_limit(conf, files=100)
    assert done.returncode == 0
    assert done.stderr.splitlines() == [
        f"pushproxy: the configuration file {conf} syntax is ok",
        "pushproxy: [warn] 1000 worker_connections exceed open file resource limit: 100",
        f"pushproxy: configuration file {conf} test is successful",
    ]
    assert "[warn]" in (tmp_path / "error.log").read_text()  # nginx logs it there too


def test_no_warning_when_worker_rlimit_nofile_covers_the_connections(tmp_path: Path) -> None:
    conf, _ = _write_conf(tmp_path, connections=1000, extra="worker_rlimit_nofile 1000;")
    done = _test_with_limit(conf, files=100)
    assert "[warn]" not in done.stderr
    assert done.returncode == 0


def test_worker_rlimit_nofile_sets_the_limit_of_the_running_server(tmp_path: Path) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    wanted = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
    conf, port = _write_conf(tmp_path, connections=100, extra=f"worker_rlimit_nofile {wanted};")
    server = _start(conf, files=64)
    try:
        _wait_listening(port)
        limits = Path(f"/proc/{server.pid}/limits").read_text()
        line = next(text for text in limits.splitlines() if text.startswith("Max open files"))
        assert line.split()[3:5] == [str(wanted), str(wanted)]
    finally:
        _stop(server)


def test_a_server_out_of_descriptors_pauses_accepting_and_goes_on(tmp_path: Path) -> None:
    conf, port = _write_conf(tmp_path, connections=1000)
    server = _start(conf, files=64)
    clients: list[socket.socket] = []
    try:
        _wait_listening(port)
        for _ in range(100):  # more than the server's descriptors: some accepts fail
            client = socket.create_connection(("127.0.0.1", port), timeout=5)
            client.sendall(b"GET /sub?id=a HTTP/1.1\r\nHost: x\r\n\r\n")
            clients.append(client)
        time.sleep(1)
        for client in clients:
            client.close()
        clients = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and server.poll() is None:
            try:
                answer = _hello(port)
                break
            except OSError:
                time.sleep(0.2)
        assert server.poll() is None, "the server ended"
        assert answer.startswith(b"HTTP/1.1 200 OK")
        log = (tmp_path / "error.log").read_text()
        assert "[crit]" in log
        assert "accept4() failed (24: Too many open files)" in log
        assert "[warn]" in log
        assert "1000 worker_connections exceed open file resource limit: 64" in log
    finally:
        for client in clients:
            client.close()
        _stop(server)
