"""Streaming and eventsource subscribers (§6.1, §6.3): one long response per connection.

The store hands each live message to `StreamSession.deliver`, which only queues the message's
pieces (the same bytes objects for every subscriber) and wakes the session's writer. The writer
sends everything queued in one write, one chunk per piece. A subscriber whose queue outgrows its
bound, or whose socket takes longer than `send_timeout`, is closed: a slow reader never holds up
a publisher or grows memory without bound.
"""

from __future__ import annotations

import trio

from pushproxy.http.connection import ClientGone, HttpConnection
from pushproxy.push.messages import Message
from pushproxy.push.selection import old_messages
from pushproxy.push.subscription import Subscription
from pushproxy.push.templates import EVENTSOURCE_CONTENT_TYPE, RenderMode

# Bytes queued for one subscriber before it counts as too slow and is dropped.
OUTBOX_LIMIT = 4 * 1024 * 1024


class StreamSession:
    """The store's view of one streaming connection (implements `channels.Subscriber`)."""

    __slots__ = (
        "_lot",
        "_padding",
        "_paddings",
        "eventsource",
        "finished",
        "live",
        "overflow",
        "pending",
        "pending_bytes",
        "templates",
    )

    def __init__(self, subscription: Subscription) -> None:
        push = subscription.push
        self.templates = push.templates
        self.eventsource = self.templates.mode is RenderMode.EVENTSOURCE
        self._paddings = subscription.runtime.paddings
        self._padding = subscription.padding
        self._lot = trio.lowlevel.ParkingLot()
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.live = False  # a live message went out since the writer last looked (ping reset)
        self.finished = False  # every channel was deleted: footer, then the end
        self.overflow = False

    def pieces(self, message: Message) -> list[bytes]:
        pieces = self.templates.message_pieces(message)
        rendered = self.templates.render(message)
        padding = self._paddings.after_message(
            self._padding, len(rendered), eventsource=self.eventsource
        )
        if padding:
            pieces.append(padding)
        return pieces

    def ping_pieces(self, ping: Message) -> list[bytes]:
        """Eventsource pings are a bare comment line; other pings are templated and padded."""
        if self.eventsource:
            return [self.templates.ping(ping)]
        return self.pieces(ping)

    def _queue(self, pieces: list[bytes]) -> None:
        self.pending += pieces
        self.pending_bytes += sum(len(p) for p in pieces)
        if self.pending_bytes > OUTBOX_LIMIT:
            self.overflow = True
        self._lot.unpark_all()

    def deliver(self, message: Message) -> None:
        self.live = True
        self._queue(self.pieces(message))

    def channel_deleted(self, message: Message, remaining: int) -> None:
        if remaining == 0:
            self.finished = True
        self._queue(self.pieces(message))

    def take(self) -> list[bytes]:
        pieces, self.pending, self.pending_bytes = self.pending, [], 0
        return pieces

    async def wait(self, deadline: float) -> None:
        with trio.move_on_at(deadline):
            await self._lot.park()


def _content_type(subscription: Subscription) -> bytes:
    if subscription.push.templates.mode is RenderMode.EVENTSOURCE:
        return EVENTSOURCE_CONTENT_TYPE.encode()
    return subscription.push.content_type(subscription.exchange.lookup("uri") or "")


async def serve_stream(subscription: Subscription) -> None:
    """Header template, old messages channel by channel, then live messages until the TTL, the
    deletion of every channel, or the client leaving; the footer ends a stream that ends well.
    """
    exchange, push, runtime = subscription.exchange, subscription.push, subscription.runtime
    store = runtime.store
    assert store is not None
    conn = exchange.conn
    session = StreamSession(subscription)
    templates = push.templates
    settings = push.settings
    head = [*subscription.headers, (b"Content-Type", _content_type(subscription))]
    await conn.start(200, head)
    first = [templates.header] if templates.header else []
    if templates.header:
        first.append(
            runtime.paddings.after_header(
                subscription.padding, len(templates.header), eventsource=session.eventsource
            )
        )
    connection = store.register(session)
    try:
        # Old messages, then the subscription, channel by channel; no await in between, so
        # no message published meanwhile is missed or sent twice.
        for channel, backtrack in subscription.channels:
            for message in old_messages(channel, backtrack, subscription.last):
                first += session.pieces(message)
            store.subscribe(connection, channel)
        await conn.write_pieces(first)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_watch_client, conn, nursery.cancel_scope)
            ended_well = await _write_loop(
                session,
                conn,
                store.ping_message,
                settings.ping_message_interval,
                settings.subscriber_connection_ttl,
            )
            nursery.cancel_scope.cancel()
        if ended_well:
            await conn.write_pieces(
                session.take() + ([templates.footer] if templates.footer else [])
            )
            await conn.finish()
    except ClientGone:
        pass
    finally:
        store.unregister(connection)
    # The watcher consumed whatever the client sent meanwhile: no next request to read.
    conn.end_after_response()


async def _watch_client(conn: HttpConnection, scope: trio.CancelScope) -> None:
    await conn.wait_peer_closed(consume=True)
    scope.cancel()


async def _write_loop(
    session: StreamSession,
    conn: HttpConnection,
    ping: Message,
    ping_interval: float | None,
    ttl: float | None,
) -> bool:
    """Send what the store queues, pings when idle; True when the stream should end with the
    footer (TTL or all channels deleted), False when the subscriber fell too far behind.
    """
    now = trio.current_time()
    end_at = now + ttl if ttl else float("inf")
    next_ping = now + ping_interval if ping_interval else float("inf")
    while True:
        if session.overflow:
            return False
        if session.pending:
            if session.live and ping_interval:
                next_ping = trio.current_time() + ping_interval
                session.live = False
            await conn.write_pieces(session.take())
            continue
        if session.finished:
            return True
        await session.wait(min(end_at, next_ping))
        now = trio.current_time()
        if now >= end_at:
            return True
        if now >= next_ping and not session.pending and ping_interval:
            session.pending += session.ping_pieces(ping)
            next_ping = now + ping_interval
