"""Streaming and eventsource subscribers (§6.1, §6.3): one long response per connection.

The store hands each live message to `StreamSession.deliver`. When nothing is queued and the
session's task is not writing, the message's pieces (the same bytes objects for every
subscriber) go straight to the socket with one non-blocking write: no task switch per subscriber
per message, the hot path of fan-out. What the socket does not take is queued and the session's
task wakes; it sends everything queued in one write, one chunk per piece. A subscriber whose
queue outgrows its bound, or whose socket takes longer than `send_timeout`, is closed: a slow
reader never holds up a publisher or grows memory without bound.

Idle subscribers are the many, so one costs its task and little else: no nursery, no
watcher task, no parking lot, and without pings or a TTL not even a cancel scope
(bench/idle_memory.py measures it). The task parks itself with trio and whatever needs it
(bytes left to send, the last channel deleted, a drop, a server stop, its client) reschedules
it; a cancel scope only bounds the wait by the next ping or the TTL. Clients are watched all at
once by the runtime's `ClientWatch` (one epoll set, one task), not by a wait per subscriber.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from contextlib import suppress

import trio

from pushproxy.http.connection import HttpConnection
from pushproxy.http.transport import ClientGone
from pushproxy.push.messages import Message
from pushproxy.push.padding import PaddingRule, Paddings
from pushproxy.push.selection import old_messages
from pushproxy.push.subscription import Subscription
from pushproxy.push.templates import EVENTSOURCE_CONTENT_TYPE, LocationTemplates, RenderMode

STOP_WRITE_SECONDS = 1.0  # at most this long for the last bytes of a stream
# Bytes queued for one subscriber before it counts as too slow and is dropped, at least: nginx
# keeps whatever a slow client has not taken (only `send_timeout` ends it), so the bound is the
# zone's size, the memory the configuration gives messages (`queue_limit`), and one message
# always fits. What is queued is the messages' shared renderings, not copies.
OUTBOX_LIMIT = 4 * 1024 * 1024


def queue_limit(zone_size: int) -> int:
    """The bytes queued for one subscriber past which it is dropped, for a zone's size."""
    return max(OUTBOX_LIMIT, zone_size)


_READ_SIZE = 65536


class StreamSession:
    """The store's view of one streaming connection (implements `channels.Subscriber`)."""

    __slots__ = (
        "_padding",
        "_paddings",
        "clock",
        "direct",
        "dropped",
        "eventsource",
        "finished",
        "limit",
        "live_at",
        "parked",
        "pending",
        "pending_bytes",
        "raw",
        "readable",
        "scope",
        "stopped",
        "templates",
        "wire_key",
        "writing",
    )

    def __init__(
        self,
        templates: LocationTemplates,
        paddings: Paddings,
        padding: PaddingRule | None,
        *,
        clock: Callable[[], float] | None = trio.current_time,
        limit: int = OUTBOX_LIMIT,
    ) -> None:
        self.clock = clock  # None: no pings, and no live message's time to keep for them
        self.limit = limit  # the bytes queued past which the client is too slow
        self.templates = templates
        self.eventsource = templates.mode is RenderMode.EVENTSOURCE
        self._paddings = paddings
        self._padding = padding
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.live_at = float("-inf")  # when the last live message went out (pings count from it)
        self.finished = False  # every channel was deleted: footer, then the end
        self.stopped = False  # the server stops: footer, then the end
        self.dropped = False  # too slow or gone: the end, without a footer
        self.parked: trio.lowlevel.Task | None = None  # the task, while it waits
        self.scope: trio.CancelScope | None = None  # the task's write: a drop or a stop cuts it
        self.readable = False  # the client sent bytes, closed or broke (`ClientWatch` says)
        # Set once the head is out: the synchronous write used while the task is not writing.
        self.direct: HttpConnection | None = None
        self.raw = b""  # framed bytes a direct write left over, sent before any piece
        self.writing = False  # the task is in a write: bytes must not interleave
        # Set with `direct` when this subscriber's bytes are every such subscriber's: the key
        # of the framed bytes kept with each message's renderings.
        self.wire_key: tuple[object, ...] | None = None

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

    @property
    def padding_free(self) -> bool:
        return self._padding is None

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

    def _writes_now(self) -> bool:
        """Whether bytes may go straight to the socket: it takes direct writes and nothing is
        queued or being written before them."""
        return not (self.direct is None or self.pending or self.raw or self.writing)

    def _queue(self, pieces: list[bytes]) -> None:
        if self.dropped:
            return
        if self._writes_now():
            assert self.direct is not None
            self._write_now(self.direct.frame(pieces))
            return
        size = sum(len(piece) for piece in pieces)
        if self.pending_bytes + size > self.limit and self.pending_bytes:
            self.drop()  # not keeping up: nginx would have hit its send timeout
            return
        self.pending += pieces
        self.pending_bytes += size
        self._wake()

    def _write_now(self, data: bytes) -> None:
        assert self.direct is not None
        left, alive = self.direct.write_now(data)
        if not alive:
            self.drop()
        elif left:
            self.raw = left
            self.pending_bytes = len(left)
            self._wake()

    def _wake(self) -> None:
        """Reschedule the task if it waits; a write in progress takes what is queued next."""
        task = self.parked
        if task is not None:
            self.parked = None  # rescheduled once, never twice
            trio.lowlevel.reschedule(task)

    def unpark(self, _: object) -> trio.lowlevel.Abort:
        """trio's abort for the waiting task, cancelled from outside (the TTL or ping scope,
        the server's own): it leaves its wait, nothing may reschedule it now."""
        self.parked = None
        return trio.lowlevel.Abort.SUCCEEDED

    def drop(self) -> None:
        """Too slow or gone: end the subscriber now, keep nothing queued."""
        self.dropped = True
        self.pending, self.pending_bytes, self.raw = [], 0, b""
        self._cut()

    def cancel(self) -> None:
        """The server stops (`PushRuntime.end_sessions`): end now, with the footer."""
        self.stopped = True
        self._cut()

    def finish(self) -> None:
        """End once what is queued went out (each write within `send_timeout`), with the
        footer: every channel was deleted, or a reload (`end_sessions(graceful=True)`)."""
        self.finished = True
        self._wake()

    def _cut(self) -> None:
        if self.scope is not None:
            self.scope.cancel()  # even a write blocked on a slow client
        self._wake()

    def client_event(self) -> None:
        """From `ClientWatch`: the client's socket is readable (bytes or end of file) or broke."""
        self.readable = True
        self._wake()

    def deliver(self, message: Message) -> None:
        if self.clock is not None:
            self.live_at = self.clock()
        key = self.wire_key
        if key is None or self.dropped or not self._writes_now():
            self._queue(self.pieces(message))
            return
        # The hot path: every subscriber of this template and framing writes the same bytes,
        # framed once per message (kept with its renderings).
        data = message.rendered.get(key)
        if data is None:
            assert self.direct is not None
            data = message.rendered[key] = self.direct.frame(self.pieces(message))
        self._write_now(data)

    def channel_deleted(self, message: Message, remaining: int) -> None:
        self._queue(self.pieces(message))
        if remaining == 0:
            self.finish()

    def take(self) -> list[bytes]:
        pieces, self.pending, self.pending_bytes = self.pending, [], 0
        return pieces

    async def flush(self, conn: HttpConnection) -> None:
        """Leftover framed bytes first, then the queued pieces; each write is bounded by
        `send_timeout`, the whole by a drop or a stop (they cancel it)."""
        scope = self.scope = trio.CancelScope()
        self.writing = True
        try:
            with scope:
                while self.raw or self.pending:
                    if self.raw:
                        raw, self.raw = self.raw, b""
                        self.pending_bytes -= len(raw)
                        await conn.send_raw(raw)
                    else:
                        await conn.write_pieces(self.take())
        finally:
            self.writing = False
            self.scope = None


def _client_left(fd: int) -> bool:
    """Read what the client sent and drop it (a streaming subscriber has nothing more to say);
    True when it closed the connection or the connection broke."""
    try:
        return not os.read(fd, _READ_SIZE)
    except BlockingIOError:
        return False
    except OSError:
        return True


def _content_type(subscription: Subscription) -> bytes:
    if subscription.push.templates.mode is RenderMode.EVENTSOURCE:
        return EVENTSOURCE_CONTENT_TYPE.encode()
    return subscription.push.content_type(subscription.exchange.lookup("uri") or "")


async def serve_stream(subscription: Subscription) -> None:
    """Header template, old messages channel by channel, then live messages and pings until
    the TTL, the deletion of every channel, a server stop or the client leaving; the footer
    ends a stream that ends well.

    The live part is inline, not a helper coroutine: an idle subscriber's task holds this
    frame and trio's wait, nothing more.
    """
    exchange, push, runtime = subscription.exchange, subscription.push, subscription.runtime
    store = runtime.store
    assert store is not None
    conn = exchange.conn
    session = StreamSession(
        push.templates,
        runtime.paddings,
        subscription.padding,
        clock=trio.current_time if push.settings.ping_message_interval else None,
        limit=queue_limit(runtime.zone_size),
    )
    await conn.start(200, [*subscription.headers, (b"Content-Type", _content_type(subscription))])
    first = session.header_pieces()
    connection = store.register(session)
    try:
        # Old messages, then the subscription, channel by channel; no await in between, so
        # no message published meanwhile is missed or sent twice.
        for channel, backtrack in subscription.channels:
            for message in old_messages(channel, backtrack, subscription.last):
                first += session.pieces(message)
            store.subscribe(connection, channel)
        session.pending[:0] = first  # ahead of anything published meanwhile
        del first  # not held for the life of the stream
        runtime.add_session(session)  # a stop cancels it: the stream ends with the footer
        try:
            await session.flush(conn)
            if conn.writes_now:
                session.direct = conn
                if session.padding_free:  # pieces depend on the message alone: share them
                    session.wire_key = session.templates.wire_key(conn.framing)
            ping, settings = store.ping_message, push.settings
            interval, ttl = settings.ping_message_interval, settings.subscriber_connection_ttl
            fd = conn.fileno()
            # Unwatched (the watch has ended), a departure shows at a write.
            watched = runtime.clients.add(fd, session)
            now = trio.current_time()
            end_at = now + ttl if ttl else math.inf
            next_ping = now + interval if interval else math.inf
            try:
                # Every wake is seen here, before the next wait: no await between these
                # checks and the wait.
                while not (session.dropped or session.stopped):
                    if session.readable:
                        session.readable = False
                        if _client_left(fd):
                            session.drop()
                            break
                        runtime.clients.rearm(fd)
                    if session.pending or session.raw:
                        await session.flush(conn)
                        continue
                    if session.finished:
                        break
                    deadline = min(end_at, next_ping)
                    session.parked = trio.lowlevel.current_task()
                    if deadline == math.inf:  # no ping, no TTL (the default): no scope at all
                        await trio.lowlevel.wait_task_rescheduled(session.unpark)
                        continue
                    with trio.move_on_at(deadline):
                        await trio.lowlevel.wait_task_rescheduled(session.unpark)
                    now = trio.current_time()
                    if now >= end_at:
                        break
                    if interval and session.live_at + interval > next_ping:
                        next_ping = session.live_at + interval  # a live message reset the timer
                        continue
                    if interval and now >= next_ping and not session.pending:
                        session.pending += session.ping_pieces(ping)
                        next_ping = now + interval
            finally:
                if watched:
                    runtime.clients.remove(fd)
        finally:
            runtime.discard_session(session)
    except ClientGone:
        session.dropped = True
    finally:
        # Unsubscribed before the footer goes out, as the module finalizes.
        store.unregister(connection)
    if not session.dropped:  # the TTL, every channel deleted, a server stop
        footer = [push.templates.footer] if push.templates.footer else []
        # Shielded and brief: at a stop the server's own scope may be ending too.
        with (
            trio.CancelScope(shield=True),
            trio.move_on_after(STOP_WRITE_SECONDS),
            suppress(ClientGone),
        ):
            session.pending += footer
            await session.flush(conn)
            await conn.finish()
    # Whatever the client sent meanwhile was dropped: no next request to read.
    conn.end_after_response()
