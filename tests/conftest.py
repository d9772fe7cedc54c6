"""Shared fixtures: a real pushproxy server on port 0, started from nginx.conf text."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
import trio

from pushproxy.config.check import check_file
from pushproxy.config.diagnostics import Severity
from pushproxy.config.includes import inline, load
from pushproxy.config.model import build
from pushproxy.http.server import HttpServer

ServeFactory = Callable[[str], AbstractAsyncContextManager[HttpServer]]


@pytest.fixture
def serve(tmp_path: Path) -> ServeFactory:
    """`async with serve(conf_text) as server:` runs pushproxy on the config; use
    `server.port()` (write `listen 127.0.0.1:0;`). The config must pass `check`."""

    @asynccontextmanager
    async def running(text: str) -> AsyncIterator[HttpServer]:
        path = tmp_path / "nginx.conf"
        path.write_text(text)
        errors = [d for d in check_file(str(path)).diagnostics if d.severity is Severity.ERROR]
        assert not errors, errors
        server = HttpServer(build(inline(load(str(path)))[0]))
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            yield server
            nursery.cancel_scope.cancel()

    return running


@pytest.fixture(scope="session")
def nginx() -> str:
    """Debian's nginx, for the tests that compare with it: skipped without it on a developer
    machine, a failure in CI (which installs it)."""
    from confhelpers import nginx_binary

    found = nginx_binary()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is not installed: CI must install it (Debian package nginx)")
        pytest.skip("nginx is not installed")
    return found
