"""An upstream's response to one request, read from its bytes as they come (sans-I/O).

The framing follows RFC 9112 §6.3, as nginx's upstream module applies it: no body after a HEAD
request or for 1xx, 204 and 304; `Transfer-Encoding: chunked` (decoded here, framed again
for the client); else `Content-Length`; else the body runs until the upstream closes. A
connection is reused only when both messages ended where their framing says and neither side
asked to close.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

from pushproxy.config.units import atoi
from pushproxy.http.wire import ChunkedBody, MalformedRequest, find_head

# The status line nginx passes on is the upstream's own, from the code to the line's end.
_STATUS_LINE = re.compile(rb"HTTP/1\.([0-9]) +(([0-9]{3})(?:[ .][^\r\n]*)?)\r?")
# A header line as nginx's ngx_http_parse_header_line() takes an upstream's: a name of any bytes
# but controls, space, DEL and ':'; then ':' and the value, with spaces (not tabs) dropped
# around it; a name alone (then CR or LF) is a header with an empty value. NUL and a CR before
# the line's end are refused; so is a space or a tab in a name. (The value is taken greedily,
# up to its last byte that is not a space: a lazy match would try the rest at every byte.)
_HEADER_LINE = re.compile(rb"([^:\x00-\x20\x7f]+)(?::[ ]*((?:[^\x00\r]*[^\x00\r ])?)[ ]*)?\r*")
# The same over a whole header block, a line at a time: when every line matches, one call
# takes them all (else the lines are taken one by one, to name the one refused).
_HEADER_LINES = re.compile(
    rb"^([^:\x00-\x20\x7f\n]+)(?::[ ]*((?:[^\x00\r\n]*[^\x00\r\n ])?)[ ]*)?\r*\n", re.MULTILINE
)
_NAME = re.compile(rb"[^:\x00-\x20\x7f]*")
# The names whose handlers decide the framing, by their lengths (one len() before a lower()).
_FRAMING_NAMES = {10: b"connection", 14: b"content-length", 17: b"transfer-encoding"}


class InvalidResponse(Exception):
    """The upstream broke HTTP; the text ends nginx's log line ("upstream sent ...")."""


class ResponseHead(NamedTuple):
    """(A named tuple: immutable, and built in a fraction of a frozen dataclass's time.)"""

    status: int
    status_line: bytes  # as the upstream sent it: `200 OK`, `200`, `418 I'm a teapot`
    headers: tuple[tuple[bytes, bytes], ...]  # as the upstream wrote the names
    keep_alive: bool  # HTTP/1.1 and no `Connection: close`
    chunked: bool  # `Transfer-Encoding: chunked`
    length: int | None  # `Content-Length`


# An upstream sends the same head again and again (the same file, the same `Date` second):
# heads up to this size are remembered as parsed, the last few dozen of them.
_REMEMBERED_HEAD = 2048


def parse_response_head(head: bytes) -> ResponseHead:
    """The head's status and headers, read as nginx reads them, and its framing checked as
    current nginx's header handlers check it (1.23 and later): a second `Content-Length` or
    `Transfer-Encoding`, both at once, an invalid length or a coding other than `chunked` is
    an invalid header (502), never a body framed two ways."""
    if len(head) <= _REMEMBERED_HEAD:
        return _parse_remembered(head)  # (an invalid head raises each time: not remembered)
    return _parse_response_head(head)


def _parse_response_head(head: bytes) -> ResponseHead:
    first, _, block = head.partition(b"\n")
    status = _STATUS_LINE.fullmatch(first)
    if status is None:
        raise InvalidResponse("upstream sent no valid HTTP/1.0 header")
    minor, line, code = status.groups()
    block = block[: block.rfind(b"\n", 0, len(block) - 1) + 1]  # the blank line off
    headers: list[tuple[bytes, bytes]] = _HEADER_LINES.findall(block)
    refused = None  # the first line refused, refused once the lines before it are checked
    if len(headers) != block.count(b"\n") or block.startswith(b"HTTP/") or b"\nHTTP/" in block:
        headers, refused = _header_lines(block)
    close = False
    length: tuple[bytes, bytes] | None = None
    size = 0  # its value
    coding: tuple[bytes, bytes] | None = None
    for name, value in headers:
        framing = _FRAMING_NAMES.get(len(name))
        if framing is None or name.lower() != framing:
            continue
        if framing == b"connection":
            close = close or b"close" in value.lower()
        elif framing == b"content-length":
            _check_unique(length, name, value, coding)
            length = (name, value)
            parsed = atoi(value)  # nginx's off_t: a larger length is invalid too
            if parsed is None:
                raise InvalidResponse(
                    f'upstream sent invalid "Content-Length" header: "{_text(name, value)}"'
                )
            size = parsed
        else:
            _check_unique(coding, name, value, length)
            coding = (name, value)
            if value.lower() != b"chunked":
                message = f'upstream sent unknown "Transfer-Encoding": "{_text(value)}"'
                raise InvalidResponse(message)
    if refused is not None:
        raise InvalidResponse(_invalid_header(refused))
    return ResponseHead(
        status=int(code),
        status_line=line,
        headers=tuple(headers),
        keep_alive=minor != b"0" and not close,
        chunked=coding is not None,
        length=size if length is not None else None,
    )


_parse_remembered = functools.lru_cache(maxsize=64)(_parse_response_head)


def _header_lines(block: bytes) -> tuple[list[tuple[bytes, bytes]], bytes | None]:
    """The header lines one by one, a second status line skipped, up to the first line
    refused (returned with them)."""
    headers: list[tuple[bytes, bytes]] = []
    for text in block.split(b"\n")[:-1]:
        if text.startswith(b"HTTP/"):
            continue  # IIS may send its status line twice: nginx skips the line
        field = _HEADER_LINE.fullmatch(text)
        if field is None:
            return headers, text
        headers.append((field[1], field[2] or b""))
    return headers, None


def _text(*parts: bytes) -> str:
    return b": ".join(parts).decode("latin-1")


def _check_unique(
    previous: tuple[bytes, bytes] | None,
    name: bytes,
    value: bytes,
    other: tuple[bytes, bytes] | None,
) -> None:
    """ngx_http_upstream_process_content_length() and _transfer_encoding(): each header once,
    and never both."""
    if previous is not None:
        raise InvalidResponse(
            f'upstream sent duplicate header line: "{_text(name, value)}", '
            f'previous value: "{_text(*previous)}"'
        )
    if other is not None:
        raise InvalidResponse(
            'upstream sent "Content-Length" and "Transfer-Encoding" headers at the same time'
        )


def _invalid_header(line: bytes) -> str:
    """nginx's words for a header line its parser refuses: the line up to the byte where the
    parser stopped (`header_end`), then that byte in hex."""
    at = _refused_at(line)
    return f'upstream sent invalid header: "{line[:at].decode("latin-1")}\\x{line[at]:02x}..."'


def _refused_at(line: bytes) -> int:
    """Where ngx_http_parse_header_line() leaves `header_end` on a line `_HEADER_LINE`
    refuses (its states: name, spaces before the value, value, spaces after it)."""
    name = _NAME.match(line)
    end = name.end() if name is not None else 0
    if end == 0 or end == len(line) or line[end] != 0x3A:  # else a CR, control or space
        return min(end, len(line) - 1)
    at = end + 1
    while at < len(line) and line[at] == 0x20:
        at += 1
    if at == len(line) or line[at] in (0x00, 0x0D):
        return min(at, len(line) - 1)
    spaces = -1  # where the spaces after the value began, if the value is followed by some
    for index in range(at, len(line)):
        byte = line[index]
        if byte == 0x00:
            return index
        if byte == 0x0D:  # not the line's end: something but CR follows
            return spaces if spaces >= 0 else index
        if byte == 0x20:
            if spaces < 0:
                spaces = index
        else:
            spaces = -1
    return len(line) - 1  # not reached: the line would have matched


class ResponseReader:
    """Feed it what the upstream sends (b"" when it closes); take the head, then the body."""

    __slots__ = (
        "_buffer", "_chunks", "_eof", "_head_request", "_left", "_max_head", "_skipped",
        "_until_close", "done", "head", "reusable",
    )  # fmt: skip

    def __init__(self, *, head_request: bool, max_head: int) -> None:
        self._buffer = bytearray()
        self._head_request = head_request
        self._max_head = max_head
        self._skipped = 0  # bytes of the 1xx heads before the final one
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
        skipped, as nginx skips them; they count with the final head against the head's
        buffer (`proxy_buffer_size`), so an upstream cannot keep a request waiting with them.
        InvalidResponse if the upstream broke the protocol."""
        while True:
            end = find_head(self._buffer)
            room = self._max_head - self._skipped
            if end < 0:
                if len(self._buffer) > room:
                    raise InvalidResponse("upstream sent too big header")
                if self._eof:
                    raise InvalidResponse("upstream prematurely closed connection")
                return None
            if end > room:
                raise InvalidResponse("upstream sent too big header")
            head = parse_response_head(bytes(self._buffer[:end]))
            del self._buffer[:end]
            if 100 <= head.status < 200 and head.status != 101:
                self._skipped += end
                continue
            self._frame(head)
            self.head = head
            return head

    def relay_switching(self) -> None:
        """A 101 the request did not ask for (no `Upgrade`): nginx relays it as a response
        whose body runs until the upstream closes; that connection serves no other."""
        self.done = self.reusable = False
        self._until_close = True

    def _frame(self, head: ResponseHead) -> None:
        if self._head_request or head.status < 200 or head.status in (204, 304):
            self.done = True
            self.reusable = head.keep_alive
            return
        if head.chunked:
            self._chunks = ChunkedBody()
        elif head.length is None:
            self._until_close = True
        elif head.length == 0:
            self.done = True
            self.reusable = head.keep_alive
        else:
            self._left = head.length

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
