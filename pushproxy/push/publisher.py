"""The publisher location (`push_stream_publisher [normal|admin]`, PROTOCOL.md §4).

GET answers channel info, POST/PUT publish the body to every channel of the path, an admin
DELETE removes channels. Channel checks come first and answer as the module does; publishing
never waits on a subscriber.

A publish is the hot request: what depends only on the location is worked out once
(`Publisher`), so a request evaluates the channels path, checks, stores and formats the answer.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from pushproxy.config.complex import ComplexValue
from pushproxy.config.model import Location
from pushproxy.http.connection import Headers
from pushproxy.http.exchange import Exchange
from pushproxy.http.transport import BodyTooLarge
from pushproxy.logs import request_context
from pushproxy.push import info
from pushproxy.push.access import publisher_channels
from pushproxy.push.channels import Channel
from pushproxy.push.explain import Explain
from pushproxy.push.responses import (
    ANTI_CACHE,
    cors_headers,
    header_only,
    method_not_allowed,
    parse_channels_path,
    refuse,
)
from pushproxy.push.runtime import PushLocation, PushRuntime
from pushproxy.push.settings import LocationType
from pushproxy.push.store import DeleteResult, HeldDelivery, Store, deliver_held

log = logging.getLogger("pushproxy")
_NORMAL_METHODS = b"GET, POST, PUT"
_ADMIN_METHODS = b"GET, POST, PUT, DELETE"
_DEFAULT_BODY_LIMIT = 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Publisher:
    """A publisher location's per-request constants, from its settings and nginx level.

    `allowed` is the `Allow` (and CORS methods) value, `methods` the same as request methods;
    `origins` is `push_stream_allowed_origins` (None: no CORS headers, so every answer starts
    with the anti-cache headers alone).
    """

    push: PushLocation
    location: Location
    allowed: bytes
    methods: frozenset[str]
    origins: ComplexValue | None
    channels_path: ComplexValue | None
    body_limit: int
    store_messages: bool
    info_on_publish: bool

    @classmethod
    def build(cls, push: PushLocation, location: Location) -> Publisher:
        settings = push.settings
        admin = settings.type is LocationType.PUBLISHER_ADMIN
        allowed = _ADMIN_METHODS if admin else _NORMAL_METHODS
        limit = location.level.values.get("client_max_body_size", _DEFAULT_BODY_LIMIT)
        return cls(
            push=push,
            location=location,
            allowed=allowed,
            methods=frozenset(allowed.decode().split(", ")),
            origins=push.complex("allowed_origins"),
            channels_path=push.complex("channels_path"),
            body_limit=limit if isinstance(limit, int) else _DEFAULT_BODY_LIMIT,
            store_messages=settings.store_messages,
            info_on_publish=settings.channel_info_on_publish,
        )

    def headers(self, exchange: Exchange) -> Headers:
        """Anti-cache headers, then CORS ones when `push_stream_allowed_origins` has a value."""
        if self.origins is None:
            return ANTI_CACHE
        return (*ANTI_CACHE, *cors_headers(exchange, self.origins, self.allowed))


def publisher_of(push: PushLocation, location: Location, runtime: PushRuntime) -> Publisher:
    """The location's constants, worked out on its first request of a configuration."""
    found = runtime.prepared.get(id(location))
    if not isinstance(found, Publisher):
        found = runtime.prepared[id(location)] = Publisher.build(push, location)
    return found


async def handle_publisher(
    exchange: Exchange, location: Location, push: PushLocation, runtime: PushRuntime
) -> None:
    store = runtime.store
    assert store is not None
    publisher = publisher_of(push, location, runtime)
    headers = publisher.headers(exchange)
    method = exchange.method
    if method == "OPTIONS":
        await header_only(exchange, 200, headers)
        return
    if method not in publisher.methods:
        await method_not_allowed(exchange, publisher.allowed, headers)
        return
    path = publisher.channels_path
    requested = parse_channels_path(exchange.evaluate_bytes(path)) if path is not None else ()
    if not requested:
        await refuse(exchange, Explain.NO_CHANNEL_ID, headers)
        return
    channels = publisher_channels(store, requested, method)
    if isinstance(channels, Explain):
        if channels is Explain.OUT_OF_MEMORY:
            await header_only(exchange, 500, headers)  # publishers get no explain header
        else:
            await refuse(exchange, channels, headers)
        return
    if method == "GET":
        await _answer_info(exchange, runtime, store, channels, headers)
        return
    try:
        body = await exchange.conn.read_body(publisher.body_limit)
    except BodyTooLarge:
        await exchange.conn.error(413, close=True)  # over `client_max_body_size`
        return
    # Requests that came with this one (in the same turn of the event loop) go first, as
    # nginx takes a turn's events in the order they came: a subscriber whose request was
    # sent just before the publish is subscribed when it lands.
    await trio.lowlevel.checkpoint()
    if method == "DELETE":
        await _delete(exchange, store, channels, headers, body)
    elif not body:
        await refuse(exchange, Explain.EMPTY_POST, headers)
    else:
        await _publish(exchange, runtime, store, publisher, channels, body, headers)


async def _publish(
    exchange: Exchange,
    runtime: PushRuntime,
    store: Store,
    publisher: Publisher,
    channels: list[Channel],
    body: bytes,
    headers: Headers,
) -> None:
    """Publish the body to each channel in turn and answer. The answer's write comes before
    the deliveries, as in the module, whose publisher hands the message to the workers' event
    loops and answers at once; they follow in the same step, before any wait, so nothing can
    come between (another publish, a subscriber joining). The memory budget refusing one
    channel's message is a 500; those before it keep theirs."""
    event_id = exchange.header(b"event-id")
    event_type = exchange.header(b"event-type")
    store_messages = publisher.store_messages
    held: list[HeldDelivery] = []
    try:
        for channel in channels:
            message = store.publish(
                channel,
                body,
                event_id=event_id,
                event_type=event_type,
                store_messages=store_messages,
                held=held,
            )
            if message is None:
                deliver_held(held)
                await exchange.conn.error(500)  # the module lets nginx answer with its page
                return
        then = functools.partial(deliver_held, held)
        if publisher.info_on_publish:
            await _answer_info(exchange, runtime, store, channels, headers, then)
        else:
            await header_only(exchange, 200, headers, then=then)
    finally:
        deliver_held(held)  # when the answer failed before its write


async def _delete(
    exchange: Exchange, store: Store, channels: list[Channel], headers: Headers, text: bytes
) -> None:
    deleted = False
    for channel in channels:
        result = store.delete_channel(channel, text)
        if result is DeleteResult.OUT_OF_MEMORY:  # the module's header-only 500, and its line
            name = channel.id.decode("utf-8", "surrogateescape")
            context = request_context(exchange.lookup)
            log.error("push stream module: error while deleting channel '%s', %s", name, context)
            await header_only(exchange, 500, headers)
            return
        deleted = deleted or result is DeleteResult.DELETED
    if not deleted:
        await header_only(exchange, 404, headers)
        return
    await refuse(exchange, Explain.CHANNEL_DELETED, headers)


def _answer_info(
    exchange: Exchange,
    runtime: PushRuntime,
    store: Store,
    channels: list[Channel],
    headers: Headers,
    then: Callable[[], None] | None = None,
) -> Awaitable[None]:
    """The channels' info in the format `Accept` asks for, or 404 when none exists (a plain
    function returning the answer to await: one coroutine fewer on every publish)."""
    info_format = info.negotiate(exchange.header(b"accept"))
    if not channels:
        return header_only(exchange, 404, headers)
    if len(channels) == 1:
        # The single format has no totals, time or hostname: none is read.
        body = info.render_channel(info_format, channels[0].info())
    else:
        body = info.render_group(
            info_format,
            [c.info() for c in channels],
            hostname=runtime.hostname,
            now=runtime.clock(),
            totals=store.totals(),
        )
    return exchange.conn.respond(
        200, (*headers, info_format.content_type_header), body, then=then
    )
