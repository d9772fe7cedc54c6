"""One client connection: HTTP/1.x (`wire`) over a trio stream, with nginx's timeouts.

`HttpConnection` reads requests and request bodies and writes responses, whole or streamed.
Every wait is bounded: the request head by `client_header_timeout`, each body read by
`client_body_timeout`, each write by `send_timeout`; idle keep-alive by `keepalive_timeout`.
"""

from __future__ import annotations

import math
import os
import time
import zlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from email.utils import formatdate

import trio

from pushproxy import __version__
from pushproxy.config.complex import Lookup
from pushproxy.http import pages
from pushproxy.http.addheader import AddedHeaders
from pushproxy.http.gzip import GzipPolicy
from pushproxy.http.wire import (
    DEFAULT_RULES,
    ChunkedBody,
    HeaderRules,
    MalformedRequest,
    Request,
    find_head,
    parse_head,
    response_head,
    skip_blank_lines,
)

Headers = Sequence[tuple[bytes, bytes]]
SERVER_HEADER = f"pushproxy/{__version__}".encode()
_READ_SIZE = 65536


_date_cache: list[tuple[int, bytes]] = [(0, b"")]


def http_now() -> bytes:
    """The `Date` header value, formatted once a second."""
    now = int(time.time())
    second, text = _date_cache[0]
    if second != now:
        text = formatdate(now, usegmt=True).encode("ascii")
        _date_cache[0] = (now, text)
    return text


def own_headers(headers: Headers) -> list[tuple[bytes, bytes]]:
    """Our `Server` and `Date`, each unless the response brings its own (a proxied response
    with `proxy_pass_header Server`, say)."""
    names = {name.lower() for name, _ in headers}
    return _own_headers(server=b"server" in names, date=b"date" in names)


def _own_headers(*, server: bool, date: bool) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    if not server:
        out.append((b"Server", SERVER_HEADER))
    if not date:
        out.append((b"Date", http_now()))
    return out


async def send_soon(stream: trio.SocketStream, data: bytes, within: float) -> None:
    """Write `data` to a socket stream. Most writes fit in the socket buffer: they go out with
    one non-blocking write, without a timeout scope or trio's wait machinery (a request's
    largest fixed cost). Only what the socket does not take waits, for `within` seconds at most.
    trio.TooSlowError past it; OSError or trio's stream errors when the peer is gone."""
    try:  # a closed socket's fileno() is -1: EBADF, never someone else's descriptor
        sent = os.write(stream.socket.fileno(), data)
    except BlockingIOError:
        sent = 0
    if sent < len(data):
        with trio.fail_after(within):
            await stream.send_all(data[sent:])


class ClientGone(Exception):
    """The client closed the connection, broke the protocol or timed out."""


class BodyTooLarge(Exception):
    """The request body exceeds `client_max_body_size` (nginx answers 413)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Timeouts in seconds and sizes in bytes, from the server's configuration."""

    header_timeout: float = 60.0
    body_timeout: float = 60.0
    send_timeout: float = 60.0
    keepalive_timeout: float = 75.0
    keepalive_requests: int = 1000
    max_header_bytes: int = 4 * 8192
    max_line_bytes: int = 8192  # one of the large_client_header_buffers


# The error pages after which nginx closes a keep-alive connection
# (ngx_http_special_response_handler).
_ENDS_KEEPALIVE = frozenset({400, 413, 414, 495, 496, 497, 500, 501})
# What nginx's header filter drops from a 204 it words itself (not from an upstream's).
_NOT_FOR_204 = frozenset({b"content-type", b"content-length", b"last-modified"})


class HttpConnection:
    """A server-side HTTP/1.x connection. Not safe for concurrent writers.

    Requests are read with `wire` (nginx's rules, sans-I/O) from one buffer that is kept between
    requests, so pipelined requests need no read at all; responses are formatted here.
    """

    __slots__ = (
        "_added",
        "_body_left",
        "_buffer",
        "_chunked",
        "_chunks",
        "_client_keeps_alive",
        "_continue_due",
        "_deflate",
        "_head_only",
        "_response_done",
        "_response_started",
        "body_bytes_sent",
        "gzip",
        "header_rules",
        "limits",
        "request",
        "request_length",
        "requests_served",
        "reuse",
        "scope",
        "status_sent",
        "stream",
        "taken_over",
    )

    def __init__(
        self, stream: trio.SocketStream, limits: Limits, header_rules: HeaderRules = DEFAULT_RULES
    ) -> None:
        self.stream = stream
        self.limits = limits
        self.header_rules = header_rules
        self._buffer = bytearray()
        self.scope = trio.CancelScope()  # the connection's: see _receive_within
        self.request: Request | None = None
        self.request_length = 0  # $request_length: head and body bytes, as received
        self.requests_served = 0
        self.reuse = True
        self.taken_over = False
        self._chunked = False
        self._client_keeps_alive = False
        self._head_only = False  # a HEAD request: heads as for GET, never a body byte
        self._response_started = False
        self._response_done = False
        self._body_left = 0  # Content-Length bytes of the request body not yet read
        self._chunks: ChunkedBody | None = None  # a chunked request body not yet read to its end
        self._continue_due = False  # `Expect: 100-continue` not yet answered
        self.status_sent = 0  # of the current request's response (access logs)
        self.body_bytes_sent = 0
        self.gzip: GzipPolicy | None = None  # set per request when the client accepts gzip
        self._added: tuple[AddedHeaders, Lookup] | None = None  # the request's `add_header`s
        self._deflate: zlib._Compress | None = None

    # reading

    async def _receive(self) -> bool:
        """Append what the client sends to the buffer; False when it closed its side."""
        sock = self.stream.socket
        try:  # trio's own recv wraps the same wait in more machinery
            await trio.lowlevel.wait_readable(sock)
            data = os.read(sock.fileno(), _READ_SIZE)
        except BlockingIOError:
            return True
        except (OSError, trio.ClosedResourceError):
            return False
        self._buffer += data
        return bool(data)

    def fileno(self) -> int:
        """The client socket's descriptor (-1 once closed), for the client watches."""
        return self.stream.socket.fileno()

    async def _receive_within(self, seconds: float) -> bool:
        """`_receive`, bounded by the connection's own scope: one scope for the connection's
        life, its deadline moved per wait, costs far less than a scope per wait. Running out
        of time cancels that scope, which ends the connection (nginx closes it silently)."""
        scope = self.scope
        scope.deadline = trio.current_time() + seconds
        try:
            return await self._receive()
        finally:
            scope.deadline = math.inf

    async def next_request(self) -> Request | None:
        """The next request head; None when the client is done (closed, or idle too long).

        The wait for a request's first byte is bounded by `keepalive_timeout` (by
        `client_header_timeout` on a new connection), the rest of the head by
        `client_header_timeout`; running out of either cancels `scope`, which the caller runs
        the connection in. MalformedRequest: the caller answers its status and closes.
        """
        idle = self.limits.header_timeout
        if self.requests_served:
            if not self.keep_alive or self.requests_served >= self.limits.keepalive_requests:
                return None
            idle = self.limits.keepalive_timeout
        self._response_started = self._response_done = False
        buffer = self._buffer
        skip_blank_lines(buffer)
        end = find_head(buffer)
        if end < 0:
            if not buffer and not await self._receive_within(idle):
                return None
            skip_blank_lines(buffer)
            end = find_head(buffer)
            started = trio.current_time()
            while end < 0:
                self._check_head_size()
                searched = max(0, len(buffer) - 3)
                left = started + self.limits.header_timeout - trio.current_time()
                if not await self._receive_within(left):
                    return None
                skip_blank_lines(buffer)
                end = find_head(buffer, searched if buffer else 0)
        if end > self.limits.max_header_bytes:
            raise MalformedRequest(
                self._oversized_status(bytes(buffer[:end])), "client sent too large header"
            )
        head = bytes(buffer[:end])
        del buffer[:end]
        request = parse_head(head, self.header_rules)
        self.request = request
        self.request_length = end  # from the request line on (blank lines before it skipped)
        self.requests_served += 1
        self.status_sent = self.body_bytes_sent = 0
        self.gzip = None
        self._added = None
        self._head_only = request.method == b"HEAD"
        self._client_keeps_alive = request.keep_alive
        self._body_left = request.content_length or 0
        self._chunks = ChunkedBody() if request.chunked else None
        self._continue_due = request.expect_continue and request.has_body
        if self.requests_served >= self.limits.keepalive_requests:
            self.reuse = False  # the last one: its response says so
        return request

    def _check_head_size(self) -> None:
        if len(self._buffer) > self.limits.max_header_bytes:
            raise MalformedRequest(
                self._oversized_status(bytes(self._buffer)), "client sent too large header"
            )

    def _oversized_status(self, head: bytes) -> int:
        """nginx: a request line longer than one buffer is 414, else the headers are (400)."""
        end = head.find(b"\n")
        return 414 if end < 0 or end > self.limits.max_line_bytes else 494

    @property
    def waiting_for_continue(self) -> bool:
        return self._continue_due and not self._buffer and not self._response_started

    @property
    def body_pending(self) -> bool:
        return self._body_left > 0 or self._chunks is not None

    async def body_chunks(self, max_size: int | None = None) -> AsyncIterator[bytes]:
        """The request body as it arrives; BodyTooLarge past `max_size` (0/None: no limit)."""
        if self.waiting_for_continue:
            await self.send_raw(b"HTTP/1.1 100 Continue\r\n\r\n")
        self._continue_due = False
        total = 0
        buffer = self._buffer
        while self.body_pending:
            if not buffer:  # a small body often came with the head: no wait at all
                with trio.move_on_after(self.limits.body_timeout) as scope:
                    alive = await self._receive()
                if scope.cancelled_caught or not alive:
                    raise ClientGone  # nginx answers 408 into the void and closes
                continue
            if self._chunks is not None:
                before = len(buffer)
                try:
                    pieces = self._chunks.take(buffer)
                except MalformedRequest:
                    self.reuse = False
                    raise  # the server answers 400 if nothing was sent yet, and closes
                self.request_length += before - len(buffer)  # the chunks' framing too
                if self._chunks.done:
                    self._chunks = None
            else:
                piece = bytes(buffer[: self._body_left])
                del buffer[: len(piece)]
                self._body_left -= len(piece)
                self.request_length += len(piece)
                pieces = [piece]
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
        """Read and drop what is left of the request body, so keep-alive can go on. Like
        nginx, `$request_length` does not count what is discarded."""
        if self.body_pending:
            if self._continue_due:  # the client waits for our word: none came, none is due
                self.reuse = False
                return
            counted = self.request_length
            async for _ in self.body_chunks():
                pass
            self.request_length = counted

    # writing

    async def send_raw(self, data: bytes) -> None:
        """Write bytes; within `send_timeout` or the client counts as gone (`send_soon`)."""
        try:
            await send_soon(self.stream, data, self.limits.send_timeout)
        except (
            OSError,
            trio.BrokenResourceError,
            trio.ClosedResourceError,
            trio.TooSlowError,
        ) as error:
            raise ClientGone from error

    def _head(
        self, status: int, headers: Headers, line: bytes = b"", *, streamed: bool = False
    ) -> bytes:
        """The response head. `line`: an upstream's own status line (else nginx's).
        `streamed`: the body comes in pieces, framed chunked (HTTP/1.1) or by closing
        (HTTP/1.0), unless the headers give a Content-Length."""
        self.status_sent = status
        self._response_started = True
        if status == 204 and not line:  # nginx's own 204 has no type, length or date
            headers = [h for h in headers if h[0].lower() not in _NOT_FOR_204]
        # One look at the handler's headers: ours go in only where it has none.
        server = date = connection = close = length = False
        for name, value in headers:
            lower = name.lower()
            if lower == b"server":
                server = True
            elif lower == b"date":
                date = True
            elif lower == b"connection":
                connection = True
                close = close or b"close" in value.lower()
            elif lower == b"content-length":
                length = True
        streamed = streamed and not length  # a length given frames the body itself
        full = _own_headers(server=server, date=date)
        if self._added is not None:
            added, lookup = self._added
            headers = [*headers, *added.for_response(status, lookup)]
        if self.gzip is not None and self.gzip.compresses(status, headers):
            # The compressed length is not known up front: the body goes chunked.
            full.extend(h for h in headers if h[0].lower() != b"content-length")
            full.append((b"Content-Encoding", b"gzip"))
            if self.gzip.vary:
                full.append((b"Vary", b"Accept-Encoding"))
            self._deflate = self.gzip.compressor()
            streamed = True
        else:
            full.extend(headers)
            self._deflate = None
        self._chunked = False
        if streamed and status >= 200 and status not in (204, 304) and not self._head_only:
            # nginx's chunked filter leaves a HEAD response alone: no body, so no framing
            if self.request is not None and self.request.http_version == b"1.1":
                self._chunked = True
                full.append((b"Transfer-Encoding", b"chunked"))
            else:
                self.reuse = False  # the end of the body is the end of the connection
        if self.body_pending and self._continue_due:
            self.reuse = False  # the client waits for a 100 that never came: no body follows
        if connection:
            self.reuse = self.reuse and not close
        else:
            keep = self.reuse and self._client_keeps_alive
            full.append((b"Connection", b"keep-alive" if keep else b"close"))
        return response_head(line or pages.status_line(status), full)

    def add_headers(self, added: AddedHeaders, lookup: Lookup) -> None:
        """The location's `add_header`s, for this request's response (see `AddedHeaders`)."""
        self._added = (added, lookup)

    def _piece(self, data: bytes) -> bytes:
        """A body piece as it goes out: compressed and flushed when gzip is on."""
        if self._deflate is None:
            return data
        return self._deflate.compress(data) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def _last_piece(self, data: bytes) -> bytes:
        if self._deflate is None:
            return data
        return self._deflate.compress(data) + self._deflate.flush()

    async def respond(
        self, status: int, headers: Headers = (), body: bytes = b"", *, head_only: bool = False
    ) -> None:
        """A whole response with its Content-Length (no body bytes for HEAD). Compressed, it
        goes chunked (HTTP/1.1) or ends with the connection (HTTP/1.0)."""
        head = self._head(status, [*headers, (b"Content-Length", b"%d" % len(body))])
        if head_only or status in (204, 304):
            self._response_done = True
            await self.send_raw(head)
        else:
            await self.send_raw(self._with_body(head, body))

    async def start(
        self,
        status: int,
        headers: Headers = (),
        *,
        status_line: bytes = b"",
        whole: bytes | None = None,
    ) -> None:
        """Start a streamed response: chunked for HTTP/1.1, closed at the end for HTTP/1.0.
        With `whole`, that is the entire body: head, body and end go in one write."""
        head = self._head(status, headers, status_line, streamed=True)
        await self.send_raw(head if whole is None else self._with_body(head, whole))

    def _with_body(self, head: bytes, body: bytes) -> bytes:
        """The head, the whole body as it goes on the wire (compressed, framed) and the end
        of a chunked body: a complete response, for one write."""
        self._response_done = True
        piece = self._last_piece(body)
        framed = self.frame([piece])
        if framed:
            self.body_bytes_sent += len(piece)
        end = b"0\r\n\r\n" if self._chunked and not self._head_only else b""
        return head + framed + end

    def frame(self, pieces: list[bytes]) -> bytes:
        """Body pieces as they go on the wire: one chunk each when chunked."""
        if self._head_only:
            return b""
        if self._chunked:
            return b"".join([b"%x\r\n%b\r\n" % (len(p), p) for p in pieces if p])
        return b"".join(pieces)

    @property
    def framing(self) -> tuple[bool, bool]:
        """What `frame` depends on: responses that agree on it frame pieces alike."""
        return self._chunked, self._head_only

    @property
    def writes_now(self) -> bool:
        """Whether `write_now` may be used: not when pieces need the async path (gzip)."""
        return self._deflate is None and not self.taken_over

    def write_now(self, data: bytes) -> tuple[bytes, bool]:
        """A synchronous, non-blocking write of framed body bytes, for fan-out: no task
        switch, no awaiting (see `writes_now`). It returns the bytes the socket did not take
        (to send the usual way) and False when the client is gone."""
        self.body_bytes_sent += len(data)
        try:  # a closed socket's fileno() is -1: EBADF, never someone else's descriptor
            sent = os.write(self.stream.socket.fileno(), data)
        except BlockingIOError:
            return data, True
        except OSError:
            return b"", False
        return data[sent:], True

    async def write(self, data: bytes) -> None:
        if data:
            await self.write_pieces([data])

    async def write_pieces(self, pieces: list[bytes]) -> None:
        """Several pieces, each framed on its own (one chunk each), in one write."""
        if self._deflate is not None:
            pieces = [self._piece(piece) for piece in pieces if piece]
        data = self.frame(pieces)
        if data:
            self.body_bytes_sent += sum(len(piece) for piece in pieces)
            await self.send_raw(data)

    async def finish(self, data: bytes = b"") -> None:
        data = self._last_piece(data)
        out = self.frame([data]) if data else b""
        if out:
            self.body_bytes_sent += len(data)
        if self._chunked and not self._head_only:
            out += b"0\r\n\r\n"
        self._response_done = True
        if out:
            await self.send_raw(out)

    async def error(self, status: int, *, close: bool = False, head_only: bool = False) -> None:
        """nginx's HTML error page for `status` (494 goes out as 400, with its own title); an
        empty body for a code nginx has no page for."""
        page = pages.error_page(status)
        headers: list[tuple[bytes, bytes]] = [(b"Content-Type", b"text/html")] if page else []
        if close or status in _ENDS_KEEPALIVE:
            headers.append((b"Connection", b"close"))
        await self.respond(pages.SENT_AS.get(status, status), headers, page, head_only=head_only)

    def take_over(self) -> tuple[trio.abc.Stream, bytes]:
        """Leave HTTP for another protocol (an Upgrade): the stream and the bytes already
        received past the request head. The caller writes its own 101; no request follows."""
        self.reuse = False
        self.taken_over = True
        leftover, self._buffer = bytes(self._buffer), bytearray()
        return self.stream, leftover

    def end_after_response(self) -> None:
        """No further request on this connection (a stream was cut, say)."""
        self.reuse = False

    @property
    def can_respond(self) -> bool:
        """Whether an HTTP response can still be written (not after one, nor after a 101)."""
        return not self.taken_over and not self._response_started

    @property
    def keep_alive(self) -> bool:
        return (
            self.reuse
            and self._client_keeps_alive
            and self._response_done
            and not self.body_pending
        )

    async def close(self) -> None:
        with trio.move_on_after(1):
            await self.stream.aclose()
