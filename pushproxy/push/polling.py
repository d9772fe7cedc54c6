"""Polling and long-polling subscribers (§6.4, §6.5): one answer per request.

Polling answers what is stored (200) or 304. Long-polling answers stored messages the same way,
or else waits, subscribed to every channel, for the first live message, a deletion or its TTL.
Either way the connection stays usable for the next request (keep-alive).
"""

from __future__ import annotations

import trio

from pushproxy.http.connection import ClientGone, HttpConnection
from pushproxy.push.messages import Message, http_date
from pushproxy.push.responses import header_only
from pushproxy.push.selection import poll
from pushproxy.push.subscription import Subscription
from pushproxy.push.templates import JSONP_CONTENT_TYPE


def _validators(last_modified: int, etag: int) -> list[tuple[bytes, bytes]]:
    """`add_polling_headers()`: Last-Modified when > 0, `Etag: W/<tag>` when >= 0."""
    headers = []
    if last_modified > 0:
        headers.append((b"Last-Modified", http_date(last_modified)))
    if etag >= 0:
        headers.append((b"Etag", b"W/%d" % etag))
    return headers


def _content_type(subscription: Subscription) -> bytes:
    if subscription.callback is not None:
        return JSONP_CONTENT_TYPE.encode()
    return subscription.push.content_type(subscription.exchange.lookup("uri") or "")


async def _answer(
    subscription: Subscription, pieces: list[bytes], last_modified: int, etag: int
) -> None:
    head = [
        *subscription.headers,
        (b"Content-Type", _content_type(subscription)),
        *_validators(last_modified, etag),
    ]
    conn = subscription.exchange.conn
    await conn.start(200, head)
    await conn.write_pieces(pieces)
    await conn.finish()


class LongPollSession:
    """The store's view of a waiting long-poll: the first message ends the wait."""

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
        if self.answer is None:
            self.answer = message
            self.deleted = True
            self.done.set()


async def serve_polling(subscription: Subscription, *, longpolling: bool) -> None:
    exchange, push, runtime = subscription.exchange, subscription.push, subscription.runtime
    store = runtime.store
    assert store is not None
    templates, callback = push.templates, subscription.callback
    result = poll(subscription.channels, subscription.last)
    if result.found:
        pieces = templates.polling_pieces(result.messages, callback)
        await _answer(subscription, pieces, result.last_modified, result.etag)
        return
    if not longpolling:
        await header_only(
            exchange, 304, [*subscription.headers, *_validators(result.last_modified, result.etag)]
        )
        return
    session = LongPollSession()
    connection = store.register(session)
    try:
        for channel, _ in subscription.channels:
            store.subscribe(connection, channel)
        ttl = push.settings.longpolling_connection_ttl
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_watch_client, exchange.conn, session)
            with trio.move_on_after(ttl if ttl else float("inf")):
                await session.done.wait()
            nursery.cancel_scope.cancel()
    finally:
        store.unregister(connection)
    if session.client_gone:
        return
    message = session.answer
    now = store.now()
    try:
        if message is not None and not session.deleted:
            pieces = templates.single_message_pieces(message, callback)
            await _answer(subscription, pieces, message.time, message.tag)
        elif message is not None:
            await _answer(subscription, templates.single_message_pieces(message, callback), now, 0)
        elif store.settings.timeout_with_body:
            pieces = templates.single_message_pieces(store.timeout_message, callback)
            await _answer(subscription, pieces, now, 0)
        else:
            await header_only(exchange, 304, [*subscription.headers, *_validators(now, 0)])
    except ClientGone:
        pass


async def _watch_client(conn: HttpConnection, session: LongPollSession) -> None:
    await conn.wait_peer_closed(consume=False)
    session.client_gone = True
    session.done.set()
