"""Streaming and eventsource subscribers (§6.1, §6.3): one long response per connection.

The store hands each live message to `StreamSession.deliver`. When nothing is queued and the
writer is idle, the message's pieces (the same bytes objects for every subscriber) go straight
to the socket with one non-blocking write: no task switch per subscriber per message, the hot
path of fan-out. What the socket does not take is queued and the session's writer wakes; it
sends everything queued in one write, one chunk per piece. A subscriber whose queue outgrows its
bound, or whose socket takes longer than `send_timeout`, is closed: a slow reader never holds up
a publisher or grows memory without bound.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress

import trio

from pushproxy.http.connection import ClientGone, HttpConnection
from pushproxy.push.messages import Message
from pushproxy.push.padding import PaddingRule, Paddings
from pushproxy.push.selection import old_messages
from pushproxy.push.subscription import Subscription
from pushproxy.push.templates import EVENTSOURCE_CONTENT_TYPE, LocationTemplates, RenderMode

STOP_WRITE_SECONDS = 1.0  # at most this long for the last bytes of a stream
# Bytes queued for one subscriber before it counts as too slow and is dropped.
OUTBOX_LIMIT = 4 * 1024 * 1024


class StreamSession:
    """The store's view of one streaming connection (implements `channels.Subscriber`)."""

    __slots__ = (
        "_lot",
        "_padding",
        "_paddings",
        "clock",
        "direct",
        "eventsource",
        "finished",
        "live_at",
        "overflow",
        "pending",
        "pending_bytes",
        "raw",
        "templates",
        "writer",
        "writing",
    )

    def __init__(
        self,
        templates: LocationTemplates,
        paddings: Paddings,
        padding: PaddingRule | None,
        *,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self.clock = clock
        self.templates = templates
        self.eventsource = templates.mode is RenderMode.EVENTSOURCE
        self._paddings = paddings
        self._padding = padding
        self._lot = trio.lowlevel.ParkingLot()
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.live_at = float("-inf")  # when the last live message went out (pings count from it)
        self.finished = False  # every channel was deleted: footer, then the end
        self.overflow = False  # too slow: dropped without a footer
        self.writer = trio.CancelScope()  # the writer's scope; an overflow cancels its write
        # Set once the head is out: the synchronous write used while the writer is idle.
        self.direct: Callable[[list[bytes]], tuple[bytes, bool]] | None = None
        self.raw = b""  # framed bytes a direct write left over, sent before any piece
        self.writing = False  # the writer is in a write: bytes must not interleave

    def pieces(self, message: Message) -> list[bytes]:
        """A message as written to this subscriber: its shared pieces, then the padding its
        user agent asks for (measured on the rendering, as the module does)."""
        pieces = self.templates.message_pieces(message)
        padding = self._paddings.after_message(
            self._padding, len(self.templates.render(message)), eventsource=self.eventsource
        )
        if padding:
            pieces.append(padding)
        return pieces

    def header_pieces(self) -> list[bytes]:
        header = self.templates.header
        padding = self._paddings.after_header(
            self._padding, len(header), eventsource=self.eventsource
        )
        return [piece for piece in (header, padding) if piece]

    def ping_pieces(self, ping: Message) -> list[bytes]:
        """Eventsource pings are a bare comment line; other pings are templated and padded."""
        if self.eventsource:
            return [self.templates.ping(ping)]
        return self.pieces(ping)

    def _queue(self, pieces: list[bytes]) -> None:
        if self.overflow:
            return
        if self.direct is not None and not self.pending and not self.raw and not self.writing:
            left, alive = self.direct(pieces)
            if not alive:
                self._drop()
            elif left:
                self.raw = left
                self.pending_bytes = len(left)
                self._lot.unpark_all()
            return
        size = sum(len(piece) for piece in pieces)
        if self.pending_bytes + size > OUTBOX_LIMIT:
            self._drop()  # nginx would hit its send timeout
            return
        self.pending += pieces
        self.pending_bytes += size
        self._lot.unpark_all()

    def _drop(self) -> None:
        """Too slow or gone: end the subscriber now, keep nothing queued."""
        self.overflow = True
        self.pending, self.pending_bytes, self.raw = [], 0, b""
        self.writer.cancel()

    def deliver(self, message: Message) -> None:
        self.live_at = self.clock()
        self._queue(self.pieces(message))

    def channel_deleted(self, message: Message, remaining: int) -> None:
        self._queue(self.pieces(message))
        if remaining == 0:
            self.finished = True
            self._lot.unpark_all()  # the writer ends the stream with the footer

    def take(self) -> list[bytes]:
        pieces, self.pending, self.pending_bytes = self.pending, [], 0
        return pieces

    async def flush(self, conn: HttpConnection) -> None:
        """The writer's send: leftover framed bytes first, then the queued pieces."""
        self.writing = True
        try:
            while self.raw or self.pending:
                if self.raw:
                    raw, self.raw = self.raw, b""
                    self.pending_bytes -= len(raw)
                    await conn.send_raw(raw)
                else:
                    await conn.write_pieces(self.take())
        finally:
            self.writing = False

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
    session = StreamSession(push.templates, runtime.paddings, subscription.padding)
    await conn.start(200, [*subscription.headers, (b"Content-Type", _content_type(subscription))])
    first = session.header_pieces()
    connection = store.register(session)
    ended_well = False  # stays False when the client left or fell too far behind
    try:
        # Old messages, then the subscription, channel by channel; no await in between, so
        # no message published meanwhile is missed or sent twice.
        for channel, backtrack in subscription.channels:
            for message in old_messages(channel, backtrack, subscription.last):
                first += session.pieces(message)
            store.subscribe(connection, channel)
        with runtime.session() as stopping, session.writer:
            session.pending[:0] = first  # ahead of anything published meanwhile
            await session.flush(conn)
            session.direct = conn.direct_sender()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_watch_client, conn, session.writer)
                try:
                    await _write_loop(session, conn, store.ping_message, subscription)
                    ended_well = True
                except ClientGone:
                    pass
                session.writer.cancel()
        ended_well = ended_well or stopping.cancelled_caught  # a stop ends with the footer
    except ClientGone:
        pass
    finally:
        # Unsubscribed before the footer goes out, as the module finalizes.
        store.unregister(connection)
    if ended_well:
        footer = [push.templates.footer] if push.templates.footer else []
        # Shielded and brief: at a stop the server's own scope may be ending too.
        with trio.CancelScope(shield=True), trio.move_on_after(STOP_WRITE_SECONDS), suppress(
            ClientGone
        ):
            if not session.overflow:
                session.pending += footer
                await session.flush(conn)
            await conn.finish()
    # The watcher consumed whatever the client sent meanwhile: no next request to read.
    conn.end_after_response()


async def _watch_client(conn: HttpConnection, scope: trio.CancelScope) -> None:
    await conn.wait_peer_closed(consume=True)
    scope.cancel()


async def _write_loop(
    session: StreamSession, conn: HttpConnection, ping: Message, subscription: Subscription
) -> None:
    """Send what the store queues, and pings when idle, until the connection TTL or the
    deletion of every channel (then the stream ends with the footer)."""
    settings = subscription.push.settings
    interval, ttl = settings.ping_message_interval, settings.subscriber_connection_ttl
    now = trio.current_time()
    end_at = now + ttl if ttl else float("inf")
    next_ping = now + interval if interval else float("inf")
    while True:
        if session.pending or session.raw:
            await session.flush(conn)
            continue
        if session.finished:
            return
        await session.wait(min(end_at, next_ping))
        now = trio.current_time()
        if now >= end_at:
            return
        if interval and session.live_at + interval > next_ping:
            next_ping = session.live_at + interval  # a live message reset the ping timer
            continue
        if interval and now >= next_ping and not session.pending:
            session.pending += session.ping_pieces(ping)
            next_ping = now + interval
