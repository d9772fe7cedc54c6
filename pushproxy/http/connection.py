"""One client connection: h11's state machine over a trio stream, with nginx's timeouts.

`HttpConnection` reads requests and request bodies and writes responses, whole or streamed.
Every wait is bounded: the request head by `client_header_timeout`, each body read by
`client_body_timeout`, each write by `send_timeout`; idle keep-alive by `keepalive_timeout`.
"""

from __future__ import annotations

import os
import socket
import time
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from email.utils import formatdate

import h11
import trio

from pushproxy import __version__
from pushproxy.http.gzip import GzipPolicy
from pushproxy.http.pages import SENT_AS, error_page
from pushproxy.http.pages import reason as reason_phrase

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
    out: list[tuple[bytes, bytes]] = []
    if b"server" not in names:
        out.append((b"Server", SERVER_HEADER))
    if b"date" not in names:
        out.append((b"Date", http_now()))
    return out


class ClientGone(Exception):
    """The client closed the connection, broke the protocol or timed out."""


class HeadTooLarge(Exception):
    """The request line (414) or the header lines (400) outgrow `large_client_header_buffers`."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


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


class HttpConnection:
    """A server-side HTTP/1.x connection. Not safe for concurrent writers."""

    __slots__ = (
        "_chunked",
        "_client_keeps_alive",
        "_deflate",
        "_h11",
        "_head_probe",
        "body_bytes_sent",
        "gzip",
        "limits",
        "requests_served",
        "reuse",
        "status_sent",
        "stream",
        "taken_over",
    )

    def __init__(self, stream: trio.abc.Stream, limits: Limits) -> None:
        self.stream = stream
        self.limits = limits
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=limits.max_header_bytes)
        self.requests_served = 0
        self.reuse = True
        self.taken_over = False
        self._chunked = False
        self._client_keeps_alive = False
        self.status_sent = 0  # of the current request's response (access logs)
        self.body_bytes_sent = 0
        self.gzip: GzipPolicy | None = None  # set per request when the client accepts gzip
        self._deflate: zlib._Compress | None = None
        self._head_probe: bytearray | None = None  # the start of a request head being read

    # reading

    async def _receive(self) -> None:
        try:
            data = await self.stream.receive_some(_READ_SIZE)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as error:
            raise ClientGone from error
        if self._head_probe is not None and len(self._head_probe) <= self.limits.max_line_bytes:
            self._head_probe += data
        self._h11.receive_data(bytes(data))

    def _oversized_status(self) -> int:
        """nginx: a request line longer than one buffer is 414, else the headers are (400)."""
        head = bytes(self._head_probe or b"")
        end = head.find(b"\n")
        return 414 if end < 0 or end > self.limits.max_line_bytes else 494

    async def next_request(self) -> h11.Request | None:
        """The next request head; None when the client is done (closed, or idle too long).

        The wait for a request's first byte is bounded by `keepalive_timeout` (by
        `client_header_timeout` on a new connection), the rest of the head by
        `client_header_timeout`. h11.RemoteProtocolError means a malformed request: the caller
        answers 400 and closes.
        """
        idle = self.limits.header_timeout
        if self.requests_served:
            if not self.keep_alive or self.requests_served >= self.limits.keepalive_requests:
                return None
            self._h11.start_next_cycle()
            idle = self.limits.keepalive_timeout
        self._head_probe = bytearray()
        try:
            event = self._h11.next_event()
            if event is h11.NEED_DATA:
                with trio.move_on_after(idle) as idle_scope:
                    await self._receive()
                if idle_scope.cancelled_caught:
                    return None
                event = self._h11.next_event()
            if event is h11.NEED_DATA:  # a timeout scope only when there is something to wait for
                with trio.move_on_after(self.limits.header_timeout) as head_scope:
                    while event is h11.NEED_DATA:
                        await self._receive()
                        event = self._h11.next_event()
                if head_scope.cancelled_caught:
                    return None
        except ClientGone:
            return None
        except h11.RemoteProtocolError as error:
            if error.error_status_hint == 431:  # h11: the head outgrew its buffer
                raise HeadTooLarge(self._oversized_status()) from error
            raise
        finally:
            self._head_probe = None
        if isinstance(event, h11.Request):
            self.requests_served += 1
            self.status_sent = self.body_bytes_sent = 0
            self.gzip = None
            self._client_keeps_alive = event.http_version == b"1.1" and not any(
                name == b"connection" and b"close" in value.lower()
                for name, value in event.headers
            )
            if self.requests_served >= self.limits.keepalive_requests:
                self.reuse = False  # the last one: its response says so
            return event
        return None

    @property
    def waiting_for_continue(self) -> bool:
        return self._h11.they_are_waiting_for_100_continue

    async def body_chunks(self, max_size: int | None = None) -> AsyncIterator[bytes]:
        """The request body as it arrives; BodyTooLarge past `max_size` (0/None: no limit)."""
        if self.waiting_for_continue:
            await self._send(
                h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")
            )
        total = 0
        while True:
            event = self._h11.next_event()
            if event is h11.NEED_DATA:  # a small body often came with the head: no wait at all
                with trio.move_on_after(self.limits.body_timeout) as scope:
                    await self._receive()
                if scope.cancelled_caught:
                    raise ClientGone  # nginx answers 408 into the void and closes
                continue
            if isinstance(event, h11.Data):
                total += len(event.data)
                if max_size and total > max_size:
                    raise BodyTooLarge
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return
            else:
                raise ClientGone

    async def read_body(self, max_size: int | None = None) -> bytes:
        parts = [chunk async for chunk in self.body_chunks(max_size)]
        return b"".join(parts)

    async def discard_body(self) -> None:
        """Read and drop what is left of the request body, so keep-alive can go on."""
        if self._h11.their_state is h11.SEND_BODY:
            async for _ in self.body_chunks():
                pass

    # writing

    async def _send(self, event: h11.Event) -> None:
        data = self._h11.send(event)
        if data:
            await self.send_raw(data)

    async def send_raw(self, data: bytes) -> None:
        """Write bytes; within `send_timeout` or the client counts as gone.

        Most writes fit in the socket buffer: they go out with one non-blocking write, without
        a timeout scope or trio's wait machinery (the request path's largest fixed cost). Only
        what the socket does not take waits, bounded by `send_timeout`."""
        sock = getattr(self.stream, "socket", None)
        if sock is not None:
            try:  # a closed socket's fileno() is -1: EBADF, never someone else's descriptor
                sent = os.write(sock.fileno(), data)
            except BlockingIOError:
                sent = 0
            except OSError as error:
                raise ClientGone from error
            if sent == len(data):
                return
            data = data[sent:]
        try:
            with trio.fail_after(self.limits.send_timeout):
                await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError) as error:
            raise ClientGone from error

    def _head(self, status: int, headers: Headers, reason: bytes = b"") -> h11.Response:
        self.status_sent = status
        full = own_headers(headers)
        if self.gzip is not None and self.gzip.compresses(status, headers):
            # The compressed length is not known up front: the body goes chunked.
            full.extend(h for h in headers if h[0].lower() != b"content-length")
            full.append((b"Content-Encoding", b"gzip"))
            if self.gzip.vary:
                full.append((b"Vary", b"Accept-Encoding"))
            self._deflate = self.gzip.compressor()
        else:
            full.extend(headers)
            self._deflate = None
        if self._client_keeps_alive and not any(
            name.lower() == b"connection" for name, _ in headers
        ):
            # As nginx says it; h11 itself closes after a response that says `close`.
            full.append((b"Connection", b"keep-alive" if self.reuse else b"close"))
        return h11.Response(
            status_code=status, headers=full, reason=reason or reason_phrase(status).encode()
        )

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
        """A whole response with its Content-Length (no body bytes for HEAD)."""
        full = [*headers, (b"Content-Length", str(len(body)).encode())]
        data = self._h11.send(self._head(status, full))
        if not head_only:
            body = self._last_piece(body)
            if body:
                data += self._h11.send(h11.Data(data=body))
                self.body_bytes_sent += len(body)
        data += self._h11.send(h11.EndOfMessage())
        await self.send_raw(data)

    async def start(self, status: int, headers: Headers = (), *, reason: bytes = b"") -> None:
        """Start a streamed response: chunked for HTTP/1.1, closed at the end for HTTP/1.0."""
        head = self._head(status, headers, reason)
        # h11 frames a body without Content-Length as chunks for HTTP/1.1 clients.
        self._chunked = self._h11.their_http_version == b"1.1" and not any(
            name.lower() == b"content-length" for name, _ in headers
        )
        await self._send(head)

    def direct_sender(self) -> Callable[[list[bytes]], tuple[bytes, bool]] | None:
        """A synchronous, non-blocking write of body pieces, for fan-out: no task switch, no
        awaiting. It returns the framed bytes the socket did not take (to send the usual way)
        and False when the client is gone. None when pieces need the async path (gzip)."""
        sock = getattr(self.stream, "socket", None)
        if sock is None or self._deflate is not None or self.taken_over:
            return None
        fd = sock.fileno()
        chunked = self._chunked

        def send(pieces: list[bytes]) -> tuple[bytes, bool]:
            if chunked:
                data = b"".join([b"%x\r\n%b\r\n" % (len(p), p) for p in pieces if p])
            else:
                data = b"".join(pieces)
            self.body_bytes_sent += len(data)
            try:
                sent = os.write(fd, data)
            except BlockingIOError:
                return data, True
            except OSError:
                return b"", False
            return data[sent:], True

        return send

    async def write(self, data: bytes) -> None:
        if data:
            await self.write_pieces([data])

    async def write_pieces(self, pieces: list[bytes]) -> None:
        """Several pieces, each framed on its own (one chunk each), in one write."""
        send = self._h11.send
        if self._deflate is not None:
            pieces = [self._piece(piece) for piece in pieces if piece]
        self.body_bytes_sent += sum(len(piece) for piece in pieces)
        await self.send_raw(b"".join([send(h11.Data(data=piece)) for piece in pieces if piece]))

    async def wait_peer_closed(self, *, consume: bool) -> None:
        """Return when the client closes its side of the connection.

        With `consume`, bytes it sends meanwhile are dropped (a streaming subscriber has nothing
        more to say); without, the first byte belongs to the next request and is left in place
        (peeked), and the wait never ends. Reads the socket directly: h11 is not reading now.
        """
        sock = getattr(self.stream, "socket", None)
        if sock is None:
            await trio.sleep_forever()
            return
        flags = 0 if consume else socket.MSG_PEEK
        while True:
            try:
                data = await sock.recv(65536 if consume else 1, flags)
            except (OSError, trio.ClosedResourceError):
                return
            if not data:
                return
            if not consume:
                await trio.sleep_forever()

    async def finish(self, data: bytes = b"") -> None:
        data = self._last_piece(data)
        self.body_bytes_sent += len(data)
        out = self._h11.send(h11.Data(data=data)) if data else b""
        out += self._h11.send(h11.EndOfMessage())
        await self.send_raw(out)

    async def error(self, status: int, *, close: bool = False, head_only: bool = False) -> None:
        """nginx's HTML error page for `status` (494 goes out as 400, with its own title)."""
        headers: list[tuple[bytes, bytes]] = [(b"Content-Type", b"text/html")]
        if close:
            headers.append((b"Connection", b"close"))
        page = error_page(status)
        await self.respond(SENT_AS.get(status, status), headers, page, head_only=head_only)

    def take_over(self) -> tuple[trio.abc.Stream, bytes]:
        """Leave HTTP for another protocol (an Upgrade): the stream and the bytes already
        received past the request head. The caller writes its own 101; no request follows."""
        self.reuse = False
        self.taken_over = True
        leftover, _ = self._h11.trailing_data
        return self.stream, bytes(leftover)

    def end_after_response(self) -> None:
        """No further request on this connection (a stream was cut, say)."""
        self.reuse = False

    @property
    def can_respond(self) -> bool:
        """Whether an HTTP response can still be written (not after one, nor after a 101)."""
        return not self.taken_over and self._h11.our_state in (h11.IDLE, h11.SEND_RESPONSE)

    @property
    def keep_alive(self) -> bool:
        return self.reuse and self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE

    async def close(self) -> None:
        with trio.move_on_after(1):
            await self.stream.aclose()
