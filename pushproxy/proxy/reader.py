"""An upstream's response to one request, read from its bytes as they come (sans-I/O).

The framing follows RFC 9112 §6.3, as nginx's upstream module applies it: no body after a HEAD
request or for 1xx, 204 and 304; `Transfer-Encoding: chunked` (decoded here, framed again
for the client); else `Content-Length`; else the body runs until the upstream closes. A
connection is reused only when both messages ended where their framing says and neither side
asked to close.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pushproxy.http.wire import ChunkedBody, MalformedRequest, find_head

# The status line nginx passes on is the upstream's own, from the code to the line's end.
_STATUS_LINE = re.compile(rb"HTTP/1\.([0-9]) +(([0-9]{3})(?:[ .][^\r\n]*)?)\r?")
_HEADER_LINE = re.compile(rb"([^:\x00-\x20\x7f]+)[ \t]*:[ \t]*([^\x00\r\n]*?)[ \t]*\r?")


class InvalidResponse(Exception):
    """The upstream broke HTTP; the text ends nginx's log line ("upstream sent ...")."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseHead:
    status: int
    status_line: bytes  # as the upstream sent it: `200 OK`, `200`, `418 I'm a teapot`
    headers: list[tuple[bytes, bytes]]  # as the upstream wrote the names
    keep_alive: bool  # HTTP/1.1 and no `Connection: close`


def parse_response_head(head: bytes) -> ResponseHead:
    lines = head.split(b"\n")
    status = _STATUS_LINE.fullmatch(lines[0])
    if status is None:
        raise InvalidResponse("upstream sent no valid HTTP/1.0 header")
    minor, line, code = status.groups()
    headers: list[tuple[bytes, bytes]] = []
    close = False
    for text in lines[1:-2]:  # the last two: the blank line's halves
        field = _HEADER_LINE.fullmatch(text)
        if field is None:
            raise InvalidResponse("upstream sent invalid header")
        name, value = field.groups()
        if len(name) == 10 and name.lower() == b"connection":
            close = close or b"close" in value.lower()
        headers.append((name, value))
    return ResponseHead(
        status=int(code),
        status_line=line,
        headers=headers,
        keep_alive=minor != b"0" and not close,
    )


class ResponseReader:
    """Feed it what the upstream sends (b"" when it closes); take the head, then the body."""

    __slots__ = (
        "_buffer", "_chunks", "_eof", "_head_request", "_left", "_max_head", "_until_close",
        "done", "head", "reusable",
    )  # fmt: skip

    def __init__(self, *, head_request: bool, max_head: int) -> None:
        self._buffer = bytearray()
        self._head_request = head_request
        self._max_head = max_head
        self._eof = False
        self._left = 0  # Content-Length bytes still to come
        self._chunks: ChunkedBody | None = None
        self._until_close = False
        self.head: ResponseHead | None = None
        self.done = False  # the body ended where its framing says
        self.reusable = False

    def feed(self, data: bytes) -> None:
        if data:
            self._buffer += data
            if self.done and self.head is not None and self.head.status != 101:
                self.reusable = False  # bytes past the end of the response
        else:
            self._eof = True

    @property
    def eof(self) -> bool:
        return self._eof

    def read_head(self) -> ResponseHead | None:
        """The final head (or a 101); None until it is all here. Other 1xx heads are
        skipped, as nginx skips them. InvalidResponse if the upstream broke the protocol."""
        while True:
            end = find_head(self._buffer)
            if end < 0:
                if len(self._buffer) > self._max_head:
                    raise InvalidResponse("upstream sent too big header")
                if self._eof:
                    raise InvalidResponse("upstream prematurely closed connection")
                return None
            if end > self._max_head:
                raise InvalidResponse("upstream sent too big header")
            head = parse_response_head(bytes(self._buffer[:end]))
            del self._buffer[:end]
            if 100 <= head.status < 200 and head.status != 101:
                continue
            self._frame(head)
            self.head = head
            return head

    def _frame(self, head: ResponseHead) -> None:
        if self._head_request or head.status < 200 or head.status in (204, 304):
            self.done = True
            self.reusable = head.keep_alive
            return
        length: int | None = None
        for name, value in head.headers:
            lower = name.lower()
            if lower == b"transfer-encoding" and b"chunked" in value.lower():
                self._chunks = ChunkedBody()
            elif lower == b"content-length":
                if not value.isdigit():
                    raise InvalidResponse("upstream sent invalid \"Content-Length\" header")
                length = int(value)
        if self._chunks is not None:
            return
        if length is None:
            self._until_close = True
        elif length == 0:
            self.done = True
            self.reusable = head.keep_alive
        else:
            self._left = length

    def body(self) -> list[bytes]:
        """The body bytes here so far (taken). InvalidResponse when the upstream closed
        before the end its framing announced, or broke the chunked framing."""
        buffer = self._buffer
        out: list[bytes] = []
        if self.done or (not buffer and not self._eof):
            return out
        if self._chunks is not None:
            try:
                out = self._chunks.take(buffer)
            except MalformedRequest:
                raise InvalidResponse("upstream sent invalid chunked response") from None
            if self._chunks.done:
                self._end()
        elif self._until_close:
            if buffer:
                out.append(bytes(buffer))
                buffer.clear()
            if self._eof:
                self.done = True  # the end of the body; the connection cannot serve again
        else:
            piece = bytes(buffer[: self._left])
            del buffer[: len(piece)]
            self._left -= len(piece)
            out.append(piece)
            if not self._left:
                self._end()
        if self._eof and not self.done:
            raise InvalidResponse("upstream prematurely closed connection")
        return [piece for piece in out if piece]

    def _end(self) -> None:
        self.done = True
        # Bytes past the end of a response were never asked for: the connection is not reused.
        self.reusable = self.head is not None and self.head.keep_alive and not self._buffer

    def trailing(self) -> bytes:
        """What came after the head (a tunnel's first bytes after a 101)."""
        data, self._buffer = bytes(self._buffer), bytearray()
        return data
