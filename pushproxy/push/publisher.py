"""The publisher location (`push_stream_publisher [normal|admin]`, PROTOCOL.md §4).

GET answers channel info, POST/PUT publish the body to every channel of the path, an admin
DELETE removes channels. Channel checks come first and answer as the module does; publishing
never waits on a subscriber.
"""

from __future__ import annotations

from pushproxy.config.model import Location
from pushproxy.http.connection import BodyTooLarge
from pushproxy.http.exchange import Exchange
from pushproxy.push import info
from pushproxy.push.access import publisher_channels
from pushproxy.push.channels import Channel
from pushproxy.push.explain import Explain
from pushproxy.push.responses import (
    ANTI_CACHE,
    cors,
    header_only,
    method_not_allowed,
    refuse,
    requested_channels,
)
from pushproxy.push.runtime import PushLocation, PushRuntime
from pushproxy.push.settings import LocationType
from pushproxy.push.store import DeleteResult, Store

_NORMAL_METHODS = b"GET, POST, PUT"
_ADMIN_METHODS = b"GET, POST, PUT, DELETE"
_DEFAULT_BODY_LIMIT = 1024 * 1024


async def handle_publisher(
    exchange: Exchange, location: Location, push: PushLocation, runtime: PushRuntime
) -> None:
    store = runtime.store
    assert store is not None
    admin = push.settings.type is LocationType.PUBLISHER_ADMIN
    allowed = _ADMIN_METHODS if admin else _NORMAL_METHODS
    headers = [*ANTI_CACHE, *cors(exchange, push, allowed)]
    method = exchange.method
    if method == "OPTIONS":
        await header_only(exchange, 200, headers)
        return
    if method.encode() not in allowed.split(b", "):
        await method_not_allowed(exchange, allowed, headers)
        return
    requested = requested_channels(exchange, push)
    if not requested:
        await refuse(exchange, Explain.NO_CHANNEL_ID, headers)
        return
    found = publisher_channels(store, requested, method)
    if isinstance(found, Explain):
        if found is Explain.OUT_OF_MEMORY:
            await header_only(exchange, 500, headers)  # publishers get no explain header
        else:
            await refuse(exchange, found, headers)
        return
    channels = [c for c in found if c is not None]
    if method == "GET":
        await _answer_info(exchange, runtime, store, channels, headers)
    elif method == "DELETE":
        await _delete(exchange, location, store, channels, headers)
    else:
        await _publish(exchange, location, push, runtime, store, channels, headers)


def _body_limit(location: Location) -> int:
    value = location.level.values.get("client_max_body_size", _DEFAULT_BODY_LIMIT)
    return value if isinstance(value, int) else _DEFAULT_BODY_LIMIT


async def _read_body(exchange: Exchange, location: Location) -> bytes | None:
    """The request body; None after answering 413 (it exceeds `client_max_body_size`)."""
    try:
        return await exchange.conn.read_body(_body_limit(location))
    except BodyTooLarge:
        await exchange.conn.error(413, close=True)
        return None


async def _publish(
    exchange: Exchange,
    location: Location,
    push: PushLocation,
    runtime: PushRuntime,
    store: Store,
    channels: list[Channel],
    headers: list[tuple[bytes, bytes]],
) -> None:
    body = await _read_body(exchange, location)
    if body is None:
        return
    if not body:
        await refuse(exchange, Explain.EMPTY_POST, headers)
        return
    event_id = exchange.header(b"event-id")
    event_type = exchange.header(b"event-type")
    for channel in channels:
        message = store.publish(
            channel,
            body,
            event_id=event_id,
            event_type=event_type,
            store_messages=push.settings.store_messages,
        )
        if message is None:
            await exchange.conn.error(500)  # the module lets nginx answer with its page
            return
    if push.settings.channel_info_on_publish:
        await _answer_info(exchange, runtime, store, channels, headers)
    else:
        await header_only(exchange, 200, headers)


async def _delete(
    exchange: Exchange,
    location: Location,
    store: Store,
    channels: list[Channel],
    headers: list[tuple[bytes, bytes]],
) -> None:
    text = await _read_body(exchange, location)
    if text is None:
        return
    deleted = False
    for channel in channels:
        result = store.delete_channel(channel, text)
        if result is DeleteResult.OUT_OF_MEMORY:
            await exchange.conn.error(500)
            return
        deleted = deleted or result is DeleteResult.DELETED
    if not deleted:
        await header_only(exchange, 404, headers)
        return
    await refuse(exchange, Explain.CHANNEL_DELETED, headers)


async def _answer_info(
    exchange: Exchange,
    runtime: PushRuntime,
    store: Store,
    channels: list[Channel],
    headers: list[tuple[bytes, bytes]],
) -> None:
    info_format = info.negotiate(exchange.header(b"accept"))
    body = info.render_channels(
        info_format,
        [c.info() for c in channels],
        hostname=runtime.hostname,
        now=runtime.clock(),
        totals=store.totals(),
    )
    if body is None:
        await header_only(exchange, 404, headers)
        return
    content_type = (b"Content-Type", info_format.content_type.encode())
    await exchange.conn.respond(200, [*headers, content_type], body)
