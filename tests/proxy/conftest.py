"""Fixtures: upstream apps on port 0, pushproxy in front of them, Debian's nginx."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from pushproxy.config.check import check_file
from pushproxy.config.diagnostics import Severity
from pushproxy.config.includes import config_prefix, inline, load
from pushproxy.config.model import build
from pushproxy.http.server import HttpServer

from .upstream_app import UpstreamApp

ProxyFactory = Callable[..., AbstractAsyncContextManager[HttpServer]]
AppFactory = Callable[..., Awaitable[UpstreamApp]]


@pytest.fixture
def proxy(tmp_path: Path) -> ProxyFactory:
    """`async with proxy(conf_text, default_upstream=None) as server:` (the config must pass
    `check`; write `listen 127.0.0.1:0;` and use `server.port()`)."""

    @asynccontextmanager
    async def running(text: str, default_upstream: str | None = None) -> AsyncIterator[HttpServer]:
        path = tmp_path / "nginx.conf"
        path.write_text(text)
        errors = [d for d in check_file(str(path)).diagnostics if d.severity is Severity.ERROR]
        assert not errors, errors
        config = build(inline(load(str(path)))[0], config_prefix(str(path)))
        server = HttpServer(config, default_upstream=default_upstream)
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            yield server
            nursery.cancel_scope.cancel()

    return running


@pytest.fixture
def app(nursery: trio.Nursery) -> AppFactory:
    """`await app("a", **options)`: an upstream app on 127.0.0.1 (see UpstreamApp's fields),
    stopped with the test."""

    async def start(name: str, **options: Any) -> UpstreamApp:
        started: UpstreamApp = await nursery.start(UpstreamApp(name=name, **options).serve)
        return started

    return start
