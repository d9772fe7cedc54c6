"""Polling and long-polling subscribers (§6.4, §6.5): one answer per request.

Polling answers what is stored (200) or 304. Long-polling answers stored messages the same way,
or else waits, subscribed to every channel, for the first live message, a deletion or its TTL.
Either way the connection stays usable for the next request (keep-alive).
"""

from __future__ import annotations

import math

import trio

from pushproxy.http.exchange import Exchange
from pushproxy.http.transport import ClientGone
from pushproxy.push.messages import Message, http_date
from pushproxy.push.responses import header_only
from pushproxy.push.selection import poll
from pushproxy.push.subscription import Subscription
from pushproxy.push.templates import JSONP_CONTENT_TYPE
from pushproxy.push.validators import etag_matches


def _validators(last_modified: int, etag: int) -> list[tuple[bytes, bytes]]:
    """Last-Modified when > 0, `Etag: W/<tag>` when >= 0."""
    headers = []
    if last_modified > 0:
        headers.append((b"Last-Modified", http_date(last_modified)))
    if etag >= 0:
        headers.append((b"Etag", b"W/%d" % etag))
    return headers


def _polling_headers(
    subscription: Subscription, last_modified: int, etag: int
) -> list[tuple[bytes, bytes]]:
    """`add_polling_headers()`, which every polling answer gets, a 304 included: the content
    type (JSONP's, or nginx's choice for the URI) and the validators."""
    if subscription.callback is not None:
        content_type = JSONP_CONTENT_TYPE.encode()
    else:
        content_type = subscription.push.content_type(subscription.exchange.lookup("uri") or "")
    return [
        *subscription.headers,
        (b"Content-Type", content_type),
        *_validators(last_modified, etag),
    ]


def _not_modified(exchange: Exchange, etag: int) -> bool:
    """nginx's not-modified filter on a 200 with an Etag: If-None-Match naming it turns the
    answer into a 304, unless the request has If-Modified-Since (which the module's locations
    switch off, so it always counts as modified).
    """
    if exchange.header(b"if-modified-since") is not None:
        return False
    wanted = exchange.header(b"if-none-match")
    return wanted is not None and etag_matches(wanted, b"W/%d" % etag if etag >= 0 else None)


async def _answer(
    subscription: Subscription, pieces: list[bytes], last_modified: int, etag: int
) -> None:
    """A 200 with `pieces`, one chunk each (or the not-modified filter's 304)."""
    exchange = subscription.exchange
    conn = exchange.conn
    if _not_modified(exchange, etag):
        # The filter's 304 drops the body, Content-Type and Content-Length.
        await conn.start(304, [*subscription.headers, *_validators(last_modified, etag)])
        await conn.finish()
        return
    await conn.start(200, _polling_headers(subscription, last_modified, etag))
    await conn.write_pieces(pieces)
    await conn.finish()


async def _not_modified_answer(subscription: Subscription, last_modified: int, etag: int) -> None:
    """The module's own 304: header-only, with the polling headers."""
    await header_only(
        subscription.exchange, 304, _polling_headers(subscription, last_modified, etag)
    )


class LongPollSession:
    """The store's view of a waiting long-poll: the first message ends the wait, and so does
    the client closing its connection (the runtime's close watch tells it)."""

    __slots__ = ("answer", "client_gone", "deleted", "done")

    def __init__(self) -> None:
        self.answer: Message | None = None
        self.deleted = False
        self.client_gone = False
        self.done = trio.Event()

    def deliver(self, message: Message) -> None:
        if self.answer is None:
            self.answer = message
            self.done.set()

    def channel_deleted(self, message: Message, remaining: int) -> None:
        # Any deleted channel answers, even when others remain (§6.5).
        if self.answer is None:
            self.answer = message
            self.deleted = True
            self.done.set()

    def client_event(self) -> None:
        self.client_gone = True
        self.done.set()


async def serve_polling(subscription: Subscription, *, longpolling: bool) -> None:
    templates, callback = subscription.push.templates, subscription.callback
    result = poll(subscription.channels, subscription.last)
    if result.found:
        pieces = templates.polling_pieces(result.messages, callback)
        await _answer(subscription, pieces, result.last_modified, result.etag)
    elif longpolling:
        await _wait_and_answer(subscription)
    else:
        await _not_modified_answer(subscription, result.last_modified, result.etag)


async def _wait_and_answer(subscription: Subscription) -> None:
    """Long-polling with nothing to send yet: wait subscribed, then answer once."""
    store = subscription.runtime.store
    assert store is not None
    session = LongPollSession()
    connection = store.register(session)
    try:
        for channel, _ in subscription.channels:
            store.subscribe(connection, channel)
        ttl = subscription.push.settings.longpolling_connection_ttl
        # Watched for closing, not for bytes: a pipelined request waits its turn.
        closes = subscription.runtime.closes
        fd = subscription.exchange.conn.fileno()
        watched = closes.add(fd, session)
        try:
            # A stop (the runtime's session scope) is answered like the TTL, as the module does.
            with subscription.runtime.session(), trio.move_on_after(ttl if ttl else math.inf):
                await session.done.wait()
        finally:
            if watched:
                closes.remove(fd)
    finally:
        store.unregister(connection)
    if session.client_gone:
        return
    templates, callback = subscription.push.templates, subscription.callback
    message, now = session.answer, store.now()
    try:
        if message is not None:
            # A deletion answers like a timeout: validators of now and tag 0.
            last_modified, etag = (now, 0) if session.deleted else (message.time, message.tag)
            pieces = templates.single_message_pieces(message, callback)
            await _answer(subscription, pieces, last_modified, etag)
        elif store.settings.timeout_with_body:
            pieces = templates.single_message_pieces(store.timeout_message, callback)
            await _answer(subscription, pieces, now, 0)
        else:
            await _not_modified_answer(subscription, now, 0)
    except ClientGone:
        pass  # the client left as the answer went out
