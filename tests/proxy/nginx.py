"""Debian's nginx for the proxy tests: started on 127.0.0.1 with its own prefix and config,
in the foreground, bounded in time, always stopped with the test's nursery."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest
import trio
from confhelpers import nginx_binary
from conftest import ServeFactory

from .upstream_app import UpstreamApp

NGINX = nginx_binary()
# Without nginx a comparison cannot run: skipped on a developer machine, a failure in CI.
needs_nginx = pytest.mark.skipif(
    NGINX is None and not os.environ.get("CI"), reason="nginx is not installed"
)
T = TypeVar("T")

_MAIN = """
daemon off;
master_process off;
worker_processes 1;
error_log {prefix}/error.log info;
pid {prefix}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    {http}
    server {{
        listen 127.0.0.1:{port};
        {server}
    }}
}}
"""


async def _free_port() -> int:
    sock = trio.socket.socket()
    await sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


@asynccontextmanager
async def running_nginx(directory: Path, server: str, http: str = "") -> AsyncIterator[int]:
    """nginx serving one `server { ... }` body (after `http`, at the http level) on a free
    port, which it yields."""
    assert NGINX is not None
    prefix = directory / "nginx"
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    port = await _free_port()
    conf = prefix / "nginx.conf"
    server = server.replace("PORT", str(port))  # (another server block on the same port)
    conf.write_text(_MAIN.format(prefix=prefix, port=port, server=server, http=http))
    command = [NGINX, "-e", str(prefix / "error.log"), "-p", f"{prefix}/", "-c", str(conf)]
    async with trio.open_nursery() as nursery:
        run = partial(trio.run_process, command, check=False, stdin=subprocess.DEVNULL)
        process: trio.Process = await nursery.start(run)
        try:
            with trio.fail_after(10):
                while True:
                    if process.returncode is not None:
                        log = (prefix / "error.log").read_text(errors="replace")
                        raise AssertionError(f"nginx exited: {log}")
                    try:
                        stream = await trio.open_tcp_stream("127.0.0.1", port)
                    except OSError:
                        await trio.sleep(0.02)
                        continue
                    await stream.aclose()
                    break
            yield port
        finally:
            nursery.cancel_scope.cancel()


async def side_by_side(
    serve: ServeFactory,
    directory: Path,
    locations: str,
    ask: Callable[[int], Awaitable[T]],
    http: str = "",
) -> tuple[T, T]:
    """What `ask(port)` finds out from nginx, then from pushproxy, both serving `locations` in
    one server on 127.0.0.1 (and `http` at the http level): (nginx's, pushproxy's). `PORT` in
    `locations` is that server's port (`} server { listen 127.0.0.1:PORT; ...` adds one)."""
    async with running_nginx(directory, locations, http=http) as port:
        expected = await ask(port)
    locations = locations.replace("PORT", "0")  # pushproxy's servers share one port 0
    conf = f"events {{}}\nhttp {{ {http} server {{ listen 127.0.0.1:0; {locations} }} }}"
    async with serve(conf) as server:
        answered = await ask(server.port())
    return expected, answered


def at_app(text: str, app: UpstreamApp) -> str:
    """A configuration text with `APP` standing for the test's upstream app's address."""
    return text.replace("APP", f"127.0.0.1:{app.port}")
