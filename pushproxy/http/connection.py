"""One client connection: HTTP/1.x (`wire`) over a trio stream, with nginx's timeouts.

`HttpConnection` reads requests and request bodies (its base, `RequestReader`) and writes
responses, whole or streamed: the head (our `Server` and `Date`, `Connection`, the location's
`add_header`s, gzip) and the body, framed chunked or not. Every wait is bounded (nginx's
timeouts, see `RequestReader`).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Sequence
from typing import ClassVar, cast

import trio

from pushproxy.config.complex import Lookup
from pushproxy.http import pages
from pushproxy.http.addheader import AddedHeaders
from pushproxy.http.connection_variables import Response
from pushproxy.http.deadlines import Deadlines
from pushproxy.http.gzip import GzipPolicy, gzipped_upstream_headers
from pushproxy.http.outbox import Outbox
from pushproxy.http.pages import server_and_date
from pushproxy.http.request_reader import RequestReader
from pushproxy.http.static_rules import kept_for_304, own_answer_precondition
from pushproxy.http.sub_filter import SubFilter, SubStream
from pushproxy.http.transport import Limits
from pushproxy.http.wire import DEFAULT_RULES, HeaderRules, HostLimits, response_head

Headers = Sequence[tuple[bytes, bytes]]
# The error pages after which nginx closes a keep-alive connection
# (ngx_http_special_response_handler).
_ENDS_KEEPALIVE = frozenset({400, 413, 414, 495, 496, 497, 500, 501})
# What nginx's header filter drops from a 204 it words itself (not from an upstream's).
_NOT_FOR_204 = frozenset({b"content-type", b"content-length", b"last-modified"})


class HttpConnection(RequestReader):
    """A server-side HTTP/1.x connection. Not safe for concurrent writers.

    Requests are read by its base, `RequestReader`; responses are formatted and written here.
    """

    __slots__ = ("_chunked", "_deflate", "_head_bytes", "_sent_headers", "_substream")
    main_request: ClassVar[bool] = True  # (a subrequest's answers skip some filters)

    def __init__(
        self,
        stream: trio.SocketStream,
        limits: Limits,
        deadlines: Deadlines,
        header_rules: HeaderRules = DEFAULT_RULES,
        outbox: Outbox | None = None,
        host_limits: HostLimits | None = None,
    ) -> None:
        super().__init__(stream, limits, deadlines, header_rules, outbox, host_limits)
        self._chunked = False
        self._deflate: zlib._Compress | None = None
        self._substream: SubStream | None = None  # this answer's substitution, if any
        self._head_bytes, self._sent_headers = 0, cast(Headers, ())  # of the last head

    # writing responses

    def _head(
        self,
        status: int,
        headers: Headers,
        line: bytes = b"",
        *,
        streamed: bool = False,
        location: bytes | None = None,
        after: Headers = (),
    ) -> bytes:
        """The response head, its headers in the order of nginx's header filter: `Server` and
        `Date` (ours unless passed), `Content-Type` (the first, and only with a value),
        `Content-Length`, our own `Last-Modified`, `location` (nginx's own `Location` made
        absolute; one in `headers` goes with the rest), `Transfer-Encoding`, `Connection`,
        `Keep-Alive`, gzip's `Vary`, then the rest as given, the location's `add_header`s and
        `after` (what nginx's range filter adds, after them) and gzip's `Content-Encoding`.
        `line`: an upstream's own status line (else nginx's).
        `streamed`: the body comes in pieces, framed chunked (HTTP/1.1) or by closing
        (HTTP/1.0), unless the headers give a Content-Length."""
        override = self.status_override
        # An error page's answer goes out with the error's status; with `=200`, nginx's range
        # and not-modified filters still turn it into a 206 or 304.
        if override and not (override == 200 and status in (206, 304)):
            status, line = override, b""
        if self.carried:  # what an earlier answer left for this one: nginx's list has it first
            headers = [*self.carried, *headers]
        self.status_sent = status
        self._response_started = True
        self._chunked = False
        self._deflate = None
        self._substream = None
        if self.request is not None and self.request.http_version == b"0.9":
            return b""  # the body alone, then the connection ends (0.9 never keeps alive)
        if status == 204 and not line:  # nginx's own 204 has no type, length or date
            headers = [h for h in headers if h[0].lower() not in _NOT_FOR_204]
        # One look at the handler's headers: the fixed ones apart, ours only where it has none.
        server = date = close = False
        content_type = length = modified = connection = None
        rest: list[tuple[bytes, bytes]] = []
        for header in headers:
            lower = header[0].lower()
            if lower == b"content-type":  # one only, the first, and none without a value
                if content_type is None and header[1]:
                    content_type = header
            elif lower == b"content-length" and length is None:
                length = header
            elif lower == b"last-modified" and not line and modified is None:
                modified = header  # an upstream's goes with the rest, as nginx's does
            elif lower == b"connection":
                connection = header
                close = close or b"close" in header[1].lower()
            else:
                server = server or lower == b"server"
                date = date or lower == b"date"
                rest.append(header)
        charset = self.limits.charset
        if charset is not None and content_type is not None:
            content_type = (content_type[0], charset.content_type(content_type[1]))
        if self._sub_rules is not None:
            rules, lookup = self._sub_rules
            ctype = content_type[1] if content_type else None
            self._substream = rules.start(ctype, length[1] if length else None, lookup)
            if self._substream is not None:  # the body's length changes: none is said
                length, streamed, rest = None, True, rules.headers(rest)
                modified = modified if rules.last_modified else None
        streamed = streamed and length is None  # a length given frames the body itself
        added: list[tuple[bytes, bytes]] = []
        if self._added is not None:
            headers_of, lookup = self._added
            if headers_of.expires is not None:
                rest = headers_of.with_expires(status, rest, modified[1] if modified else None)
            added = headers_of.for_response(status, lookup)
            rest += added
        gzip, vary = self._gzip_for(status, headers, added)
        if gzip is not None:
            self._deflate = gzip.compressor()
            streamed = True  # the compressed length is not known up front: chunked
            length = None
            if line:
                rest = gzipped_upstream_headers(rest)
        full = server_and_date(server=server, date=date, tokens=self.limits.server_tokens)
        if content_type is not None:
            full.append(content_type)
        if length is not None:
            full.append(length)
        if modified is not None:
            full.append(modified)
        if location is not None:
            full.append((b"Location", location))
        if streamed and status >= 200 and status not in (204, 304) and not self._head_only:
            # nginx's chunked filter leaves a HEAD response alone: no body, so no framing
            request = self.request
            if request is not None and request.http_version == b"1.1" and self.limits.chunked:
                self._chunked = True
                full.append((b"Transfer-Encoding", b"chunked"))
            else:
                self.reuse = False  # the end of the body is the end of the connection
        if connection is not None:
            self.reuse = self.reuse and not close
            full.append(connection)
        else:
            keep = self.reuse and self._client_keeps_alive
            full.append((b"Connection", b"keep-alive" if keep else b"close"))
            if keep and self.limits.keepalive_header:
                full.append((b"Keep-Alive", b"timeout=%d" % self.limits.keepalive_header))
        if vary or self.vary_encoding:
            full.append((b"Vary", b"Accept-Encoding"))
        full += rest
        if after:
            full += after
        if gzip is not None:
            full.append((b"Content-Encoding", b"gzip"))
        head = response_head(line or pages.status_line(status), full)
        # (a stream, which may last for hours, keeps none: memory per subscriber)
        self._head_bytes, self._sent_headers = len(head), () if streamed else full
        return head

    def sent_response(self) -> Response:
        """The answer for the access log: `$status`, `$[body_]bytes_sent`, `$sent_http_*`."""
        sent = self.body_bytes_sent
        return Response(
            status=self.status_sent,
            body_bytes_sent=sent,
            bytes_sent=self._head_bytes + sent,
            headers=self._sent_headers,
        )

    def _gzip_for(
        self, status: int, headers: Headers, added: Headers
    ) -> tuple[GzipPolicy | None, bool]:
        """The policy that compresses this answer (None: it goes as it is), and whether the
        head says `Vary: Accept-Encoding`: nginx says it whenever the answer could be
        compressed, whatever this client takes. The client is asked only then."""
        policy, request = self.gzip, self.request
        if policy is None or request is None:
            return None, False
        if not policy.compresses(status, [*headers, *added] if added else headers):
            return None, False
        takes = policy.accepts(request.headers, request.http_version)
        return (policy if takes else None), policy.vary

    def compresses(self, status: int, headers: Headers) -> bool:
        """Whether gzip compresses an answer with this status and these headers."""
        return self._gzip_for(status, headers, ())[0] is not None

    def changes_body(self, content_type: bytes | None) -> bool:
        """Whether `sub_filter` changes the body of an answer of this type (its length is
        then unknown: no ranges)."""
        rules = self._sub_rules
        return rules is not None and rules[0].start(content_type, None, rules[1]) is not None

    def filter_body(self, rules: SubFilter, lookup: Lookup) -> None:
        """The location's `sub_filter`s, for this request's answer (a new request has none)."""
        self._sub_rules = (rules, lookup)

    def add_headers(self, added: AddedHeaders | None, lookup: Lookup) -> None:
        """The location's `add_header`s (None: none), for this request's response (see
        `AddedHeaders`)."""
        self._added = None if added is None else (added, lookup)

    def _piece(self, data: bytes) -> bytes:
        """A body piece as it goes out: substituted (`sub_filter`), then compressed and
        flushed when gzip is on."""
        if self._substream is not None:
            data = self._substream.feed(data)
        if self._deflate is None:
            return data
        return self._deflate.compress(data) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def _last_piece(self, data: bytes) -> bytes:
        if self._substream is not None:
            data = self._substream.feed(data, last=True)
        if self._deflate is None:
            return data
        return self._deflate.compress(data) + self._deflate.flush()

    async def respond(
        self,
        status: int,
        headers: Headers = (),
        body: bytes = b"",
        *,
        location: bytes | None = None,
        then: Callable[[], None] | None = None,
    ) -> None:
        """A whole response with its Content-Length (no body bytes for HEAD). Compressed, it
        goes chunked (HTTP/1.1) or ends with the connection (HTTP/1.0). `location`: see
        `_head`; `then`: see `send_soon`."""
        request = self.request
        if request is not None and request.conditional and await self._filtered(status, headers):
            if then is not None:
                then()
            return
        length = (b"Content-Length", b"%d" % len(body))
        head = self._head(status, [*headers, length], location=location)
        if self._head_only or status in (204, 304):
            self._response_done = True
            await self.send_raw(head, then)
        else:
            await self.send_raw(self._with_body(head, body), then)

    async def _filtered(self, status: int, headers: Headers) -> bool:
        """nginx's not-modified filter on a 200 of its own (not a subrequest's): True when it
        answered (its 412 page, or a 304)."""
        assert self.request is not None
        if (self.status_override or status) != 200 or not self.main_request:
            return False
        status = own_answer_precondition(self.request.headers)
        if status == 412:
            await self.error(412)
        elif status == 304:
            await self.start(304, kept_for_304(headers))
            await self.finish()
        return status != 0

    async def start(
        self,
        status: int,
        headers: Headers = (),
        *,
        status_line: bytes = b"",
        whole: bytes | None = None,
        location: bytes | None = None,
        after: Headers = (),
    ) -> None:
        """Start a streamed response: chunked for HTTP/1.1, closed at the end for HTTP/1.0.
        With `whole`, that is the entire body: head, body and end go in one write.
        `location`, `after`: see `_head`."""
        head = self._head(
            status, headers, status_line, streamed=True, location=location, after=after
        )
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
        """Whether `write_now` may be used: not when pieces need the async path (gzip, a
        `limit_rate`)."""
        return (
            self._deflate is None
            and self._substream is None
            and self.pacing is None
            and not self.taken_over
        )

    def write_now(self, data: bytes) -> tuple[bytes, bool]:
        """A synchronous, non-blocking write of framed body bytes, for fan-out: no task
        switch, no awaiting (see `writes_now`). It returns the bytes the socket did not take
        (to send the usual way) and False when the client is gone."""
        self.body_bytes_sent += len(data)
        outbox = self.outbox
        if outbox is not None and (outbox.queued or outbox.stalled):
            outbox.flush()  # what waits for the turn's end goes first (the head, say)
            if self.stream.socket in outbox.stalled:
                return data, True
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
        if self._deflate is not None or self._substream is not None:
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

    async def error(self, status: int, *, close: bool = False) -> None:
        """nginx's HTML error page for `status` (494 to 497 go out as 400, with their titles); an
        empty body for a code nginx has no page for. An `error_page` may take it over (see
        `error_hook`): nothing is written then."""
        if close or status in _ENDS_KEEPALIVE:
            self.end_after_response()  # nginx decides this before it looks for an error_page
        hook = self.error_hook
        if hook is not None and hook(status):
            return
        self.status_override = 0  # an error while serving an error page goes out as itself
        page = pages.error_page(status)
        headers: list[tuple[bytes, bytes]] = [(b"Content-Type", b"text/html")] if page else []
        await self.respond(pages.SENT_AS.get(status, status), headers, page)

    @property
    def head_arriving(self) -> bool:
        """Whether part of a request head is here, and not yet the rest (nginx's reading)."""
        return bool(self._buffer)

    @property
    def can_respond(self) -> bool:
        """Whether an HTTP response can still be written (not after one, nor after a 101)."""
        return not self.taken_over and not self._response_started
