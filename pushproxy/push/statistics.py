"""The statistics location (`push_stream_channels_statistics`, PROTOCOL.md §7.3)."""

from __future__ import annotations

from pushproxy import __version__
from pushproxy.http.exchange import Exchange
from pushproxy.push import info
from pushproxy.push.access import statistics_lookup
from pushproxy.push.explain import Explain
from pushproxy.push.responses import (
    ANTI_CACHE,
    header_only,
    method_not_allowed,
    refuse,
    requested_channels,
)
from pushproxy.push.runtime import PushLocation, PushRuntime

MODULE_TAG = b"0.5.5"  # the module version whose behaviour is served
MODULE_COMMIT = f"pushproxy-{__version__}".encode()
_VERSION_HEADERS = (
    (b"X-Nginx-PushStream-Tag", MODULE_TAG),
    (b"X-Nginx-PushStream-Commit", MODULE_COMMIT),
)


async def handle_statistics(exchange: Exchange, push: PushLocation, runtime: PushRuntime) -> None:
    store = runtime.store
    assert store is not None
    if exchange.method != "GET":
        await method_not_allowed(exchange, b"GET", ANTI_CACHE)
        return
    headers = [*ANTI_CACHE, *_VERSION_HEADERS]
    info_format = info.negotiate(exchange.header(b"accept"))
    totals = store.totals()
    now = runtime.clock()
    requested = requested_channels(exchange, push)
    if not requested:
        worker = info.WorkerInfo(
            pid=runtime.pid, subscribers=totals.subscribers, uptime=runtime.uptime
        )
        body: bytes | None = info.render_summary(
            info_format, [worker], hostname=runtime.hostname, now=now, totals=totals
        )
    else:
        found = statistics_lookup(store, requested)
        if isinstance(found, Explain):
            await refuse(exchange, found, headers)
            return
        render = info.render_group if found.listing else info.render_channels
        body = render(
            info_format, found.channels, hostname=runtime.hostname, now=now, totals=totals
        )
    if body is None:
        await header_only(exchange, 404, headers)
        return
    content_type = (b"Content-Type", info_format.content_type.encode())
    await exchange.conn.respond(200, [*headers, content_type], body)
