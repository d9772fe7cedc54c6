"""The request side of a client connection: HTTP/1.x requests read from a trio socket stream.

`RequestReader`, the base of `HttpConnection` (which writes the responses), reads heads and
bodies with `wire` (nginx's rules, sans-I/O) from one buffer kept between requests (pipelined
requests need no read), and holds each request's state. Every wait is bounded: the head by
`client_header_timeout`, each body read by `client_body_timeout`, idle keep-alive by
`keepalive_timeout`, each write (`send_raw`; a `100 Continue` too) by `send_timeout`.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable

import trio

from pushproxy.config.complex import Lookup
from pushproxy.http.addheader import AddedHeaders
from pushproxy.http.deadlines import Deadlines, no_action
from pushproxy.http.gzip import GzipPolicy
from pushproxy.http.outbox import Outbox
from pushproxy.http.pacing import Pacing
from pushproxy.http.sub_filter import SubFilter
from pushproxy.http.transport import BodyTooLarge, ClientGone, Limits, send_soon
from pushproxy.http.wire import (
    DEFAULT_RULES,
    ChunkedBody,
    HeaderRules,
    HostLimits,
    MalformedRequest,
    Request,
    find_head,
    head_budget,
    header_too_large,
    oversized_head,
    parse_head,
    skip_blank_lines,
)

_READ_SIZE = 65536
_WRITE_FAILURES = (OSError, trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError)
# Seconds after an answer's write past which the client's next request has likely come: a
# client on the same machine answers in tens of µs, over a network in hundreds or more.
_LIKELY_ARRIVED = 50e-6


class RequestReader:
    """The request side of a server-side HTTP/1.x connection (see `HttpConnection`), and the
    state of the request being answered."""

    __slots__ = (
        "_added", "_body_left", "_buffer", "_chunks", "_client_keeps_alive", "_continue_due",
        "_head_only", "_response_done", "_response_started", "_sub_rules", "_written_at",
        "body_bytes_sent", "carried", "clock", "deadline", "error_hook", "gzip",
        "handler_deadline", "head_limits", "header_rules", "host_limits", "limits", "outbox",
        "pacing", "request", "request_length", "requests_served", "reuse", "scope",
        "status_override", "status_sent", "stream", "taken_over", "vary_encoding",
    )  # fmt: skip

    def __init__(
        self,
        stream: trio.SocketStream,
        limits: Limits,
        deadlines: Deadlines,
        header_rules: HeaderRules = DEFAULT_RULES,
        outbox: Outbox | None = None,
        host_limits: HostLimits | None = None,
    ) -> None:
        self.stream = stream
        self.outbox = outbox  # the server's: small answers go out at the turn's end
        # Every head is read with the connection's limits (`head_limits`, its address's default
        # server's); `limits` are then those of the location that answers.
        self.limits = self.head_limits = limits
        self.host_limits = host_limits  # (and those of the server a `Host` line names)
        self.header_rules = header_rules
        self._buffer = bytearray()
        self.scope = trio.CancelScope()  # the connection's: a stop or a timeout cancels it
        self.clock = deadlines.now  # trio's
        self.deadline = deadlines.deadline(self._timed_out)  # the waits for a request head
        # A handler's own waits (a proxied request's on its upstream): the handler sets the
        # action. One per connection, so a request queues no entry of its own (see `deadlines`).
        self.handler_deadline = deadlines.deadline(no_action)
        self.request: Request | None = None
        self.request_length = 0  # $request_length: head and body bytes, as received
        self.requests_served = 0
        self.reuse, self.taken_over, self._client_keeps_alive = True, False, False
        self._head_only = False  # a HEAD request: heads as for GET, never a body byte
        self._body_left = 0  # Content-Length bytes of the request body not yet read
        self._chunks: ChunkedBody | None = None  # a chunked request body not yet read to its end
        self._continue_due = False  # `Expect: 100-continue` not yet answered
        # The response's, which `HttpConnection` writes; `next_request` starts them anew.
        self._response_started = self._response_done = False
        self.status_sent = self.body_bytes_sent = 0  # of the current response (access logs)
        self.gzip: GzipPolicy | None = None  # the location's, set per request
        self.vary_encoding = False  # `gzip_static` looked for a .gz: `Vary: Accept-Encoding`
        self.pacing: Pacing | None = None  # the answer's `limit_rate`
        self._added: tuple[AddedHeaders, Lookup] | None = None  # the request's `add_header`s
        self._sub_rules: tuple[SubFilter, Lookup] | None = None  # the request's `sub_filter`
        self._written_at = 0.0  # perf_counter() of the last write (see `_receive_within`)
        # The request's `error_page`s: called with an error's status before its page goes
        # out, it takes the error over when it returns True (see `dispatch`).
        self.error_hook: Callable[[int], bool] | None = None
        self.status_override = 0  # the status an error page's answer goes out with (0: its own)
        # Headers an error page's answer takes along (a 401's `WWW-Authenticate`).
        self.carried: list[tuple[bytes, bytes]] = []

    # reading

    async def _receive(self) -> bool:
        """Append what the client sends to the buffer; False when it closed its side."""
        try:  # trio's own recv wraps the same wait in more machinery
            await trio.lowlevel.wait_readable(self.stream.socket)
        except trio.ClosedResourceError:
            return False
        received = self._receive_now()
        return True if received is None else received

    def _receive_now(self) -> bool | None:
        """`_receive` without the wait: None when nothing has come."""
        try:
            data = os.read(self.stream.socket.fileno(), _READ_SIZE)
        except BlockingIOError:
            return None
        except OSError:
            return False
        self._buffer += data
        return bool(data)

    def _timed_out(self) -> None:
        """The wait for a request head ran out: the connection ends (nginx logs a 408 for a
        head begun, see `timed_out_head`)."""
        self.status_sent, self.body_bytes_sent = 408, 0
        self.scope.cancel()

    def timed_out_head(self) -> tuple[bytes, int] | None:
        """For a connection whose wait for the rest of a head ran out: what nginx logs of it,
        the request line as far as it came and the bytes of the head's whole lines (none
        until the request line is whole); None otherwise (an idle connection, say)."""
        buffer = self._buffer
        if self.status_sent != 408 or not buffer or not self.scope.cancel_called:
            return None
        end = buffer.find(b"\n")
        if end < 0:
            return bytes(buffer).removesuffix(b"\r"), 0
        return bytes(buffer[:end]).removesuffix(b"\r"), buffer.rfind(b"\n") + 1

    def fileno(self) -> int:
        return self.stream.socket.fileno()  # (-1 once closed; for the client watches)

    async def _receive_within(self, seconds: float) -> bool:
        """`_receive`, bounded by the connection's `deadline` (`deadlines`: far cheaper than a
        cancel scope per wait); running out of time ends the connection silently, as nginx.
        When the last answer went out a while ago (a publisher's, before its deliveries), the
        next request has likely come: it is read at once, without registering with epoll."""
        if time.perf_counter() - self._written_at > _LIKELY_ARRIVED:
            received = self._receive_now()
            if received is not None:
                await trio.lowlevel.checkpoint()
                return received
        deadline = self.deadline
        deadline.move_after(seconds)
        try:
            return await self._receive()
        finally:
            deadline.clear()

    async def next_request(self) -> Request | None:
        """The next request head; None when the client is done (closed, or idle too long).
        The wait for its first byte is bounded by `keepalive_timeout` (`client_header_timeout`
        on a new connection), the rest of the head by `client_header_timeout`; running out
        cancels `scope`. MalformedRequest: the caller answers its status and closes."""
        head_limits = self.head_limits
        idle = head_limits.header_timeout
        if self.requests_served:
            if not self.keep_alive or self.requests_served >= self.limits.keepalive_requests:
                return None
            idle = self.limits.keepalive_timeout
        self._response_started = self._response_done = self._head_only = False
        # The last location's answer settings end with its answer: a malformed next request's
        # page has none of them.
        self.gzip = None
        self.vary_encoding = False
        self.pacing = None
        self._added = None
        self._sub_rules = None
        self.error_hook = None
        self.status_override = 0
        self.carried = []
        buffer = self._buffer
        skip_blank_lines(buffer)
        end = find_head(buffer)
        if end < 0:
            if not buffer and not await self._receive_within(idle):
                return None
            skip_blank_lines(buffer)
            end = find_head(buffer)
            started = self.clock()
            while end < 0:
                most = head_limits.max_header_bytes
                if len(buffer) > most and len(buffer) > head_budget(buffer, most, self.host_limits):
                    raise header_too_large(bytes(buffer), head_limits.max_line_bytes)
                searched = max(0, len(buffer) - 3)
                left = started + head_limits.header_timeout - self.clock()
                if not await self._receive_within(left):
                    return None
                skip_blank_lines(buffer)
                end = find_head(buffer, searched if buffer else 0)
        head, limits = bytes(buffer[:end]), head_limits
        if end >= limits.max_line_bytes:  # a line may be longer than one buffer
            line, most = limits.max_line_bytes, limits.max_header_bytes
            if too_large := oversized_head(head, line, most, self.host_limits):
                raise too_large
        del buffer[:end]
        request = parse_head(head, self.header_rules)
        self.request = request
        self.request_length = end  # from the request line on (blank lines before it skipped)
        self.requests_served += 1
        self.status_sent = self.body_bytes_sent = 0
        # HTTP/0.9 knows GET alone: its HEAD is refused with the whole 400 page, as nginx does.
        self._head_only = request.method == b"HEAD" and request.http_version != b"0.9"
        self._client_keeps_alive = request.keep_alive
        self._body_left = request.content_length or 0
        self._chunks = ChunkedBody() if request.chunked else None
        self._continue_due = request.expect_continue
        if self.requests_served >= self.limits.keepalive_requests:
            self.reuse = False  # the last one: its response says so
        return request

    async def answer_expect(self) -> None:
        """ngx_http_test_expect(): a handler reading the body, or dropping it before its own
        answer, says `100 Continue` to HTTP/1.1 `Expect: 100-continue` (once; not after a
        response began). Error pages never say it: the body that may come is dropped after."""
        if self._continue_due:
            self._continue_due = False
            if not self._response_started:
                await self.send_raw(b"HTTP/1.1 100 Continue\r\n\r\n")

    def drop_buffered_body(self) -> None:
        """ngx_http_discard_request_body() before a handler's own answer: the part received
        goes now (a broken chunk in it: MalformedRequest, 400), the rest after the answer
        (`discard_body`). Dropped bytes do not count in `$request_length`."""
        buffer = self._buffer
        if self._chunks is not None:
            self._take_chunks(self._chunks)
        elif self._body_left and buffer:
            dropped = min(self._body_left, len(buffer))
            del buffer[:dropped]
            self._body_left -= dropped

    def _take_chunks(self, chunks: ChunkedBody) -> list[bytes]:
        """The body pieces the buffer's chunks hold (taken from it); a broken chunk ends the
        connection (400 if nothing was sent yet)."""
        try:
            pieces = chunks.take(self._buffer)
        except MalformedRequest:
            self.reuse = False
            raise
        if chunks.done:
            self._chunks = None
        return pieces

    @property
    def body_pending(self) -> bool:
        return self._body_left > 0 or self._chunks is not None

    async def body_chunks(
        self, max_size: int | None = None, *, idle: float | None = None
    ) -> AsyncIterator[bytes]:
        """The request body as it arrives; BodyTooLarge past `max_size` (0/None: no limit);
        ClientGone when a read waits past `idle` (`client_body_timeout` unless given)."""
        await self.answer_expect()
        total = 0
        buffer = self._buffer
        starved = not buffer  # a small body often came with the head: no wait at all
        while self.body_pending:
            if starved:
                with trio.move_on_after(idle or self.limits.body_timeout) as scope:
                    alive = await self._receive()
                if scope.cancelled_caught or not alive:
                    if scope.cancelled_caught and not self._response_started:
                        self.status_sent = 408  # what nginx logs; the client gets nothing
                    raise ClientGone
                starved = False
                continue
            if self._chunks is not None:
                before = len(buffer)
                pieces = self._take_chunks(self._chunks)
                taken = before - len(buffer)
                self.request_length += taken  # the chunks' framing too
                # (the buffer may end inside a chunk's size line: wait for the rest of it)
                starved = not buffer or not taken
            else:
                piece = bytes(buffer[: self._body_left])
                del buffer[: len(piece)]
                self._body_left -= len(piece)
                self.request_length += len(piece)
                pieces = [piece]
                starved = not buffer
            for piece in pieces:
                total += len(piece)
                if max_size and total > max_size:
                    raise BodyTooLarge
                if piece:
                    yield piece

    async def read_body(self, max_size: int | None = None) -> bytes:
        if not self._chunks and len(self._buffer) >= self._body_left and not self._continue_due:
            # The whole body came with the head (most small POSTs): no iterator, no wait.
            if max_size and self._body_left > max_size:
                raise BodyTooLarge
            body = bytes(self._buffer[: self._body_left])
            del self._buffer[: self._body_left]
            self.request_length += self._body_left
            self._body_left = 0
            return body
        parts = [chunk async for chunk in self.body_chunks(max_size)]
        return b"".join(parts)

    async def discard_body(self) -> None:
        """Read and drop what is left of the request body after the answer, so keep-alive
        can go on: as nginx, each read within `lingering_timeout`, all within `lingering_time`
        (ClientGone past them), and whatever comes, even after an `Expect: 100-continue` the
        answer left unanswered. `$request_length` does not count what is discarded."""
        if self.body_pending:
            counted, limits = self.request_length, self.limits
            with trio.move_on_after(limits.lingering_time):  # (left pending: no keep-alive)
                async for _ in self.body_chunks(idle=limits.lingering_timeout):
                    pass
            self.request_length = counted

    # writing: raw bytes (responses are formatted by `HttpConnection`)

    async def send_raw(self, data: bytes, then: Callable[[], None] | None = None) -> None:
        """Write bytes; within `send_timeout` or the client counts as gone (`send_soon`, which
        runs `then`). Without `then`, a pace or a protocol taking over next, a write waits in
        the outbox for the turn's end; otherwise it goes after what the outbox holds for it."""
        self._written_at = time.perf_counter()
        within, outbox = self.limits.send_timeout, self.outbox
        try:
            if outbox is not None and self.pacing is None and not self.taken_over:
                await outbox.send(self.stream, data, within, then)
                return
            if outbox is not None:
                await outbox.drain(self.stream.socket)
            if self.pacing is None:
                await send_soon(self.stream, data, within, then)
            else:
                await self.pacing.send(self.stream, data, within, then)
        except _WRITE_FAILURES as error:
            raise ClientGone from error

    # the connection's life

    def take_over(self) -> tuple[trio.abc.Stream, bytes]:
        """Leave HTTP for another protocol (an Upgrade; the caller writes its 101): the stream
        and the bytes received past the request head."""
        self.reuse = False
        self.taken_over = True
        leftover, self._buffer = bytes(self._buffer), bytearray()
        return self.stream, leftover

    def end_after_response(self) -> None:
        """No further request on this connection (a stream was cut, say)."""
        self.reuse = False

    @property
    def keep_alive(self) -> bool:
        answered = self._response_done and not self.body_pending
        return self.reuse and self._client_keeps_alive and answered

    async def close(self) -> None:
        """Close the connection. While the client may still be sending (a body nobody read,
        a 413 say, or requests pipelined past the last answered), nginx's lingering close comes
        first: no more writing, and what arrives is dropped until the client stops (for
        `lingering_timeout`, `lingering_time` in all): a reset would destroy the answers."""
        try:
            if self.outbox is not None:
                await self.outbox.drain(self.stream.socket)
            limits = self.limits
            mode = limits.lingering_close
            unread = self.body_pending or bool(self._buffer) or bool(self._receive_now())
            if mode == "always" or (mode == "on" and unread):
                await self._linger(limits)
        finally:
            with trio.move_on_after(1):
                await self.stream.aclose()

    async def _linger(self, limits: Limits) -> None:
        try:
            await self.stream.send_eof()
        except _WRITE_FAILURES:
            return
        with trio.move_on_after(limits.lingering_time):
            while True:
                with trio.move_on_after(limits.lingering_timeout) as idle:
                    alive = await self._receive()
                self._buffer.clear()
                if idle.cancelled_caught or not alive:
                    return
