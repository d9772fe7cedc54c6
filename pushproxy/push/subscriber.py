"""The subscriber location (`push_stream_subscriber`, PROTOCOL.md §5): checks, mode, then the
mode's session (streaming and eventsource in `streaming`, polling and long-polling in
`polling`; WebSocket has its own entry).
"""

from __future__ import annotations

from collections.abc import Awaitable

from pushproxy.config.model import Location
from pushproxy.http.exchange import Exchange
from pushproxy.push.access import subscriber_channels
from pushproxy.push.explain import Explain
from pushproxy.push.padding import choose_padding
from pushproxy.push.polling import serve_polling
from pushproxy.push.responses import (
    ANTI_CACHE,
    cors,
    header_only,
    method_not_allowed,
    refuse,
    requested_channels,
)
from pushproxy.push.runtime import PushLocation, PushRuntime
from pushproxy.push.streaming import serve_stream
from pushproxy.push.subscription import (
    Subscription,
    callback,
    last_received,
    polling_mode,
    user_agent,
)


def handle_subscriber(
    exchange: Exchange, location: Location, push: PushLocation, runtime: PushRuntime
) -> Awaitable[None]:
    """The answer to await: a refusal, or the mode's session. A plain function, so that a
    subscriber's session is not held inside one more frame for its whole life."""
    store = runtime.store
    assert store is not None
    headers = cors(exchange, push, b"GET")
    if exchange.method == "OPTIONS":
        return header_only(exchange, 200, headers)
    headers = [*ANTI_CACHE, *headers]
    if exchange.method != "GET":
        return method_not_allowed(exchange, b"GET", headers)
    requested = requested_channels(exchange, push)
    if not requested:
        return refuse(exchange, Explain.NO_CHANNEL_ID, headers)
    found = subscriber_channels(store, requested, push.settings)
    if isinstance(found, Explain):
        return refuse(exchange, found, headers)
    polling, longpolling = polling_mode(exchange, push.settings.type)
    subscription = Subscription(
        exchange=exchange,
        location=location,
        push=push,
        runtime=runtime,
        channels=[(c, r.backtrack) for c, r in zip(found, requested, strict=True)],
        last=last_received(exchange, push),
        headers=headers,
        padding=choose_padding(push.settings.paddings, user_agent(exchange, push)),
        callback=callback(exchange),
    )
    if polling or longpolling:
        return serve_polling(subscription, longpolling=longpolling)
    return serve_stream(subscription)
