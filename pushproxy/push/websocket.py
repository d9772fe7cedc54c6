"""WebSocket subscriber locations (`push_stream_subscriber websocket`, PROTOCOL.md §8).

The handshake is checked like the module's `websocket_handler()`: anything refused before the
upgrade is an ordinary HTTP answer (keep-alive off). The 101 is not built by wsproto, which
would add or reorder headers: it is one fixed byte string (status line, `Expires`,
`Cache-Control`, `Upgrade: WebSocket`, `Connection: Upgrade`) plus the `Sec-WebSocket-Accept`
value from wsproto's `generate_accept_token()`, written on the connection taken over from HTTP.

After the 101 the channels are validated (a refusal is a close frame, §8.3), then the header
frame and each channel's old messages go out and the subscriptions are made, with no await in
between. Every server frame is already built: the header and footer frames by the location's
templates, each message as its rendered WebSocket frame (the same bytes object for every
subscriber of the template), ping and close frames as constants. The store hands live messages
to `WebSocketSession`, which queues them in a bounded outbox and wakes the writer, as a
streaming session does. The client's frames are read by `websocket_frames.ClientFrames`
(wsproto's frame decoder under the module's rules) in a second task.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Callable
from contextlib import suppress

import trio
from wsproto.utilities import generate_accept_token

from pushproxy.config.model import Location
from pushproxy.config.units import atoi
from pushproxy.http.connection import HttpConnection
from pushproxy.http.exchange import Exchange
from pushproxy.http.transport import ClientGone
from pushproxy.push.access import subscriber_channels
from pushproxy.push.channels import Connection
from pushproxy.push.explain import Explain
from pushproxy.push.messages import Message
from pushproxy.push.responses import ANTI_CACHE, method_not_allowed, refuse, requested_channels
from pushproxy.push.runtime import PushLocation, PushRuntime
from pushproxy.push.selection import old_messages
from pushproxy.push.store import Store
from pushproxy.push.streaming import OUTBOX_LIMIT, queue_limit
from pushproxy.push.subscription import last_received
from pushproxy.push.templates import (
    WEBSOCKET_CLOSE_FRAME,
    WEBSOCKET_PING_FRAME,
    LocationTemplates,
    websocket_close_frame,
)
from pushproxy.push.websocket_frames import ClientFrames, Reply, TextMessage

log = logging.getLogger("pushproxy")

WEBSOCKET_PONG_FRAME = b"\x8a\x00"
SUPPORTED_VERSIONS = b"8, 13"
_MANDATORY_HEADERS = (b"upgrade", b"connection", b"sec-websocket-key", b"sec-websocket-version")
_NO_KEEPALIVE = (b"Connection", b"close")
_SWITCHING_PROTOCOLS = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    + b"".join(name + b": " + value + b"\r\n" for name, value in ANTI_CACHE)
    + b"Upgrade: WebSocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
)
# A failure of the server itself after the 101 (a subscription that does not fit in memory).
INTERNAL_ERROR_FRAME = websocket_close_frame(Explain.OUT_OF_MEMORY)

_READ_SIZE = 65536
# Client bytes decoded per turn of the loop (1 KiB of the smallest frames: about 5 ms).
_SLICE = 1024
# After the last frame, unread client bytes would turn the close into a reset that can destroy
# what was just sent; like nginx's lingering close, read and drop them for a while.
LINGER_SECONDS = 2.0
# At a server stop, how long the footer and close frame may take to leave.
STOP_WRITE_SECONDS = 1.0


def switching_protocols(key: bytes) -> bytes:
    """The whole 101 response head for a `Sec-WebSocket-Key` value."""
    return _SWITCHING_PROTOCOLS + generate_accept_token(key) + b"\r\n\r\n"


def supported_version(value: bytes) -> bool:
    """`Sec-WebSocket-Version` read with `ngx_atoi()`: digits only, and 8 or 13."""
    return atoi(value) in (8, 13)


class Ending(enum.Enum):
    """How a WebSocket session ends."""

    FOOTER = "footer"  # TTL, every channel deleted, server stop: footer frame, close frame
    CLOSE = "close"  # the client closed or sent what the module refuses: close frame only
    DROP = "drop"  # invalid UTF-8, a failed publish, a slow or gone client: nothing more


class WebSocketSession:
    """The store's view of one WebSocket connection (implements `channels.Subscriber`).

    Nothing here awaits: frames are queued (rendered once per template, shared by every
    subscriber) and the writer is woken. Past `limit` queued bytes (`streaming.queue_limit`,
    in more than one frame) the client counts as too slow and the connection is dropped.
    """

    __slots__ = (
        "_lot", "_render", "clock", "cut", "direct", "ending", "limit", "live_at", "overflow",
        "pending", "pending_bytes", "writing",
    )  # fmt: skip

    def __init__(
        self,
        templates: LocationTemplates,
        *,
        clock: Callable[[], float] | None = trio.current_time,
        limit: int = OUTBOX_LIMIT,
    ) -> None:
        self._render = templates.render
        self.limit = limit
        self.clock = clock  # None: no pings, and no live message's time to keep for them
        self._lot = trio.lowlevel.ParkingLot()
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.live_at = -math.inf  # when the last live message was queued (pings count from it)
        self.overflow = False
        self.ending: Ending | None = None
        # Stops the writer at once on overflow, even in the middle of a blocked send.
        self.cut: Callable[[], None] | None = None
        # Set once the writer runs: frames go straight to the socket while it is not writing.
        self.direct: HttpConnection | None = None
        self.writing = False

    def _queue(self, frame: bytes) -> None:
        if self.ending is not None:
            return
        if self.direct is not None and not self.pending and not self.writing:
            # The hot path of fan-out: one non-blocking write, no task switch; the writer
            # wakes only for what the socket did not take.
            left, alive = self.direct.write_now(frame)
            if not alive:
                self.end(Ending.DROP)
            elif left:
                self.pending.append(left)
                self.pending_bytes += len(left)
                self._lot.unpark_all()
            return
        self.pending.append(frame)
        self.pending_bytes += len(frame)
        # One frame always fits, however large (the module's specs send 4 MiB messages);
        # a backlog past the limit means the client is not keeping up.
        if self.pending_bytes > self.limit and len(self.pending) > 1:
            self.overflow = True
            if self.cut is not None:
                self.cut()
        self._lot.unpark_all()

    def deliver(self, message: Message) -> None:
        if self.clock is not None:
            self.live_at = self.clock()
        self._queue(self._render(message))

    def channel_deleted(self, message: Message, remaining: int) -> None:
        self._queue(self._render(message))
        if remaining == 0:
            self.end(Ending.FOOTER)

    def reply(self, frame: bytes) -> None:
        """A control frame for the client (pong, ping), in line with the messages."""
        self._queue(frame)

    def end(self, ending: Ending) -> None:
        """The first reason to end wins."""
        if self.ending is None:
            self.ending = ending
            self._lot.unpark_all()

    def take(self) -> list[bytes]:
        frames, self.pending, self.pending_bytes = self.pending, [], 0
        return frames

    async def wait(self, deadline: float) -> None:
        with trio.move_on_at(deadline):
            await self._lot.park()


async def handle_websocket(
    exchange: Exchange, location: Location, push: PushLocation, runtime: PushRuntime
) -> None:
    """The handshake (§8.1), then the session until one side ends it."""
    del location  # what the module reads of the location is in `push`
    if exchange.method != "GET":
        await method_not_allowed(exchange, b"GET", [_NO_KEEPALIVE])
        return
    headers = [*ANTI_CACHE, _NO_KEEPALIVE]
    upgrade, connection, key, version = (exchange.header(name) for name in _MANDATORY_HEADERS)
    if upgrade is None or connection is None or key is None or version is None:
        await refuse(exchange, Explain.WEBSOCKET_MISSING_HEADERS, headers)
        return
    if not supported_version(version):
        headers.append((b"Sec-WebSocket-Version", SUPPORTED_VERSIONS))
        await refuse(exchange, Explain.WEBSOCKET_VERSION, headers)
        return
    conn = exchange.conn
    stream, leftover = conn.take_over()
    try:
        await conn.send_raw(switching_protocols(key))
        conn.status_sent = 101  # what the access log says of the session when it ends
        await _subscribe_and_serve(exchange, push, runtime, leftover)
    except ClientGone:
        pass
    except Exception:
        # The connection is no longer HTTP: nothing to answer, only to close.
        log.exception("websocket session failed for %s", exchange.request.target)
    finally:
        await _close(stream)


async def _subscribe_and_serve(
    exchange: Exchange, push: PushLocation, runtime: PushRuntime, leftover: bytes
) -> None:
    conn = exchange.conn
    store = runtime.store
    assert store is not None
    requested = requested_channels(exchange, push)
    if not requested:
        return  # the module's 400 comes after its 101 and never reaches the client
    found = subscriber_channels(store, requested, push.settings)
    if isinstance(found, Explain):
        await conn.send_raw(websocket_close_frame(found))
        return
    last = last_received(exchange, push)
    templates = push.templates
    interval = push.settings.ping_message_interval
    clock = trio.current_time if interval else None
    session = WebSocketSession(templates, clock=clock, limit=queue_limit(runtime.zone_size))
    connection = store.register(session)
    try:
        # Old messages, then the subscription, channel by channel; no await in between, so
        # no message published meanwhile is missed or sent twice.
        first = [templates.header] if templates.header else []
        for channel, wanted in zip(found, requested, strict=True):
            first += [templates.render(m) for m in old_messages(channel, wanted.backtrack, last)]
            if not store.subscribe(connection, channel):
                store.unregister(connection)
                await conn.send_raw(b"".join([*first, INTERNAL_ERROR_FRAME]))
                return
        if first:
            await conn.send_raw(b"".join(first))
        with runtime.session():  # a stop cancels it: footer and close frame (§9.6)
            await _Serving(conn, push, store, connection, session).run(leftover)
    finally:
        store.unregister(connection)


class _Serving:
    """The I/O side of a subscribed session: the writer, the reader beside it, the end."""

    __slots__ = ("conn", "connection", "footer", "session", "settings", "store")

    def __init__(
        self,
        conn: HttpConnection,
        push: PushLocation,
        store: Store,
        connection: Connection,
        session: WebSocketSession,
    ) -> None:
        self.conn = conn
        self.settings = push.settings
        self.footer = push.templates.footer
        self.store = store
        self.connection = connection
        self.session = session

    async def run(self, leftover: bytes) -> None:
        """Until the TTL, the deletion of every channel, the client's close or departure, a
        slow client, or a server stop (cancellation)."""
        stopped = True
        ending = Ending.DROP  # unless the writer says otherwise (overflow cuts it short)
        try:
            async with trio.open_nursery() as nursery:
                self.session.cut = nursery.cancel_scope.cancel
                nursery.start_soon(self._read_client, leftover)
                with suppress(ClientGone):
                    ending = await self._write_loop()
                nursery.cancel_scope.cancel()
            stopped = False
        finally:
            if stopped:
                # The server is stopping: like the module, it ends its subscribers with the
                # footer and a close frame (§9.6), as briefly as it can.
                with (
                    trio.CancelScope(shield=True),
                    trio.move_on_after(STOP_WRITE_SECONDS),
                    suppress(ClientGone),
                ):
                    await self._finish(Ending.FOOTER)
        await self._finish(ending)

    async def _finish(self, ending: Ending) -> None:
        """Unsubscribe first (a client that saw the close frame finds the subscription gone),
        then send what is still queued and the closing frames."""
        self.store.unregister(self.connection)
        if ending is Ending.DROP:
            return
        frames = self.session.take()
        if ending is Ending.FOOTER and self.footer:
            frames.append(self.footer)
        frames.append(WEBSOCKET_CLOSE_FRAME)
        await self.conn.send_raw(b"".join(frames))

    async def _write_loop(self) -> Ending:
        """Send what the store queues, a ping frame when idle; how the session ends."""
        session, settings = self.session, self.settings
        now = trio.current_time()
        ttl = settings.subscriber_connection_ttl
        end_at = now + ttl if ttl else math.inf
        interval = settings.ping_message_interval or math.inf
        next_ping = now + interval
        session.direct = self.conn
        while True:
            if session.overflow:
                return Ending.DROP
            if session.ending is not None:
                return session.ending
            if session.pending:
                session.writing = True
                try:
                    await self.conn.send_raw(b"".join(session.take()))
                finally:
                    session.writing = False
                continue
            await session.wait(min(end_at, next_ping))
            now = trio.current_time()
            if now >= end_at:
                return Ending.FOOTER
            if session.live_at + interval > next_ping:
                next_ping = session.live_at + interval  # a live message reset the ping timer
                continue
            if now >= next_ping:
                session.reply(WEBSOCKET_PING_FRAME)
                next_ping = now + interval

    async def _read_client(self, leftover: bytes) -> None:
        """Read the client's frames (the bytes past the request head first) until the client
        closes, breaks the protocol or leaves."""
        session = self.session
        publish = self._publish if self.settings.websocket_allow_publish else None
        frames = ClientFrames()
        data = leftover
        while True:
            for start in range(0, len(data), _SLICE):
                if start:  # a flood of tiny frames must not hold everyone else up
                    await trio.lowlevel.checkpoint()
                for event in frames.receive(data[start : start + _SLICE]):
                    if isinstance(event, TextMessage):
                        if publish is not None and not publish(event.text):
                            session.end(Ending.DROP)
                            return
                    elif event is Reply.PONG:
                        session.reply(WEBSOCKET_PONG_FRAME)
                    else:
                        session.end(Ending.CLOSE if event is Reply.CLOSE else Ending.DROP)
                        return
            try:
                data = bytes(await self.conn.stream.receive_some(_READ_SIZE))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            if not data:
                session.end(Ending.DROP)
                return

    def _publish(self, text: bytes) -> bool:
        """`push_stream_websocket_allow_publish`: a text message goes to every channel of the
        connection in subscription order, the events channel skipped. False when the store
        refuses it (the module then drops the connection)."""
        store_messages = self.settings.store_messages
        for subscription in tuple(self.connection.subscriptions):
            channel = subscription.channel
            if channel.for_events:
                continue
            if self.store.publish(channel, text, store_messages=store_messages) is None:
                return False
        return True


async def _close(stream: trio.abc.Stream) -> None:
    """Half-close, drop what the client still sends for a while, then close."""
    try:
        if isinstance(stream, trio.abc.HalfCloseableStream):
            with trio.move_on_after(LINGER_SECONDS):
                await stream.send_eof()
                while await stream.receive_some(_READ_SIZE):
                    pass
    except (trio.BrokenResourceError, trio.ClosedResourceError, trio.BusyResourceError):
        pass
    finally:
        await stream.aclose()
