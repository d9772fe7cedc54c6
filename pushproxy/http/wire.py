"""HTTP/1.x on the server side, sans-I/O: request heads, request bodies, response heads.

The rules are nginx's, as a client meets them (ngx_http_parse.c):
- a request line is `METHOD SP target SP HTTP/x.y` (a major version starting with 1-9), or
  `METHOD SP target` alone (HTTP/0.9); methods are upper-case letters, `_` and `-`; empty
  lines before it are skipped; HTTP/2 and later in a text request is 505;
- a header line with a control byte in it is 400, as is one without a colon unless it is a
  bare name (then a header with an empty value); a name with other
  characters than letters, digits and `-` is dropped (`ignore_invalid_headers on`), `_` counting
  as valid only with `underscores_in_headers on`;
- lines may end in CRLF or a bare LF;
- a head longer than the header buffers is 494 ("Request Header Or Cookie Too Large"), or 414
  while its request line is not complete;
- `Transfer-Encoding` other than `chunked` is 501, twice or with HTTP/1.0 it is 400; two
  `Content-Length` headers, or one that is not a number, are 400.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

_HEAD_END = re.compile(rb"\n\r?\n")
# A target starts with `/` or is an absolute URI (`http://...`): nginx refuses `*` and
# `GET HTTP/1.1` (no target) as invalid requests.
_TARGET = rb"(?:/|[A-Za-z][A-Za-z0-9+.\-]*://)[\x21-\x7e\x80-\xff]*"
_REQUEST_LINE = re.compile(
    rb"([A-Z_\-]+) +(" + _TARGET + rb")(?: +HTTP/([0-9]|[1-9][0-9]{1,2})\.([0-9]{1,3}))? *\r?"
)
_HTTP09_LINE = re.compile(rb"[A-Z_\-]+ +" + _TARGET + rb" *\r?\n")
_NAME = re.compile(rb"[^\x00-\x20\x7f]+")  # nginx 1.21.1+: a space or control in a name is 400
_VALID_NAME = re.compile(rb"[A-Za-z0-9\-]+")
_VALID_NAME_UNDERSCORE = re.compile(rb"[A-Za-z0-9\-_]+")
# A header block every line of which is `valid-name: value` with CRLF and no control bytes,
# then the blank line: what `_header_lines` would accept unchanged, read without a loop.
_PLAIN_HEADERS = re.compile(rb"(?:[A-Za-z0-9\-]+:[^\x00\r\n]*\r\n)*\r\n")
# (The value is taken greedily, up to its last byte that is not blank: a lazy match would try
# the rest of the line at every byte, twice the time for a browser's head.)
# (nginx trims spaces around a value, not tabs)
_PLAIN_HEADER = re.compile(rb"([A-Za-z0-9\-]+): *((?:[^\x00\r\n]*[^\x00\r\n ])?) *\r\n")
# The headers nginx reads with ngx_http_process_unique_header_line (besides the framing
# ones): a second copy is a 400, "client sent duplicate header line".
_UNIQUE_HEADERS = frozenset(
    (
        b"if-modified-since",
        b"if-unmodified-since",
        b"if-match",
        b"if-none-match",
        b"content-range",
        b"if-range",
        b"expect",
        b"authorization",
    )
)
_FRAMING_HEADERS = frozenset((b"content-length", b"transfer-encoding", b"connection", b"expect"))
_CHECKED_HEADERS = _FRAMING_HEADERS | _UNIQUE_HEADERS
_PRECONDITIONS = frozenset((b"if-unmodified-since", b"if-match", b"if-none-match"))
_CHUNK_SIZE = re.compile(rb"0*([0-9A-Fa-f]{1,15})[ \t]*(?:;[^\r\n]*)?\r?")  # (0s: any number)
_MAX_CHUNK_LINE = 4096  # a chunk-size line or a trailer line


class MalformedRequest(Exception):
    """The client broke HTTP: nginx answers `status` (400, 414, 494, 501, 505) and closes.
    `line`: the request line as it came, when the head was read (`$request` in the log)."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status
        self.line = b""


class Request(NamedTuple):
    """A request head. `headers` have lower-case names; `raw_names` are the same names as the
    client wrote them (`raw_items` pairs them with the values when a proxy passes them on).
    (A named tuple: immutable, and built in a fraction of a frozen dataclass's time.)"""

    method: bytes
    target: bytes
    http_version: bytes  # b"1.1", b"1.0", or b"0.9" (a request line without a version)
    headers: tuple[tuple[bytes, bytes], ...]
    raw_names: tuple[bytes, ...]
    content_length: int | None
    chunked: bool
    keep_alive: bool  # what the client asks for
    expect_continue: bool
    head_size: int  # bytes, blank line included
    # If-Unmodified-Since, If-Match or If-None-Match came: nginx's not-modified filter may
    # turn a 200 of its own into a 412 or a 304
    conditional: bool = False
    line: bytes = b""  # the request line as it came (its line end aside): `$request`

    def raw_items(self) -> list[tuple[bytes, bytes]]:
        pairs = zip(self.raw_names, self.headers, strict=True)
        return [(name, value) for name, (_, value) in pairs]


@dataclass(frozen=True, slots=True)
class HeaderRules:
    """How header names are judged (nginx's `ignore_invalid_headers`, `underscores_in_headers`)."""

    ignore_invalid: bool = True
    underscores: bool = False

    def valid_name(self, name: bytes) -> bool:
        pattern = _VALID_NAME_UNDERSCORE if self.underscores else _VALID_NAME
        return pattern.fullmatch(name) is not None


DEFAULT_RULES = HeaderRules()


def find_head(buffer: bytearray, start: int = 0) -> int:
    """The end of the request head in `buffer` (past its blank line), or -1 if incomplete.
    A request line without a version (HTTP/0.9) is a whole head: no header follows it."""
    if not buffer:  # (a keep-alive connection's, before its next request came)
        return -1
    found = _HEAD_END.search(buffer, start)
    if found is not None:
        return found.end()
    line = _HTTP09_LINE.match(buffer)
    return -1 if line is None else line.end()


def skip_blank_lines(buffer: bytearray) -> None:
    """nginx skips CRLFs before a request line (a client's stray CRLF after a body, say)."""
    if buffer and buffer[0] in (0x0D, 0x0A):
        del buffer[: len(buffer) - len(buffer.lstrip(b"\r\n"))]


# A client sends the same head again and again (a publisher to its channels, a browser for its
# page's parts): heads up to this size are remembered as parsed, the last 1,024 of them (a
# publisher that cycles over a thousand channels still finds its heads; a few MB at most).
REMEMBERED_HEAD = 2048


def parse_head(head: bytes, rules: HeaderRules = DEFAULT_RULES) -> Request:
    """A complete request head (up to and including its blank line)."""
    try:
        if len(head) <= REMEMBERED_HEAD:
            return _parse_remembered(head, rules)  # (a head refused is refused each time)
        return _parse_head(head, rules)
    except MalformedRequest as refused:
        refused.line = head.split(b"\n", 1)[0].removesuffix(b"\r")
        raise


def _parse_head(head: bytes, rules: HeaderRules) -> Request:
    lines = head.split(b"\n", 1)
    line = _REQUEST_LINE.fullmatch(lines[0])
    if line is None:
        raise MalformedRequest(400, "client sent invalid request")
    method, target, major, minor = line.groups()
    request_line = lines[0].removesuffix(b"\r")
    if major is None:  # HTTP/0.9: the request line alone; the server refuses all but GET
        return Request(
            method=method,
            target=target,
            http_version=b"0.9",
            headers=(),
            raw_names=(),
            content_length=None,
            chunked=False,
            keep_alive=False,
            expect_continue=False,
            head_size=len(head),
            line=request_line,
        )
    if int(major) != 1:
        raise MalformedRequest(505 if int(major) > 1 else 400, "client sent unsupported version")
    version = b"1.1" if int(minor) >= 1 else b"1.0"
    block = lines[1]
    if _PLAIN_HEADERS.fullmatch(block):
        # The usual head (CRLFs, valid names, nothing to drop): checked and split by regexes.
        raw = []
        headers = []
        for name, value in _PLAIN_HEADER.findall(block):
            raw.append(name)
            headers.append((name.lower(), value))
    else:
        raw, headers = _header_lines(block.split(b"\n")[:-2], rules)
    length: int | None = None
    chunked = False
    close = keep = expect = False
    seen: set[bytes] = set()
    for lower, value in headers:
        if lower not in _CHECKED_HEADERS:
            continue
        if lower in _UNIQUE_HEADERS:
            if lower in seen:
                name = lower.decode("latin-1")
                raise MalformedRequest(400, f'client sent duplicate header line "{name}"')
            seen.add(lower)
        if lower == b"content-length":
            if length is not None:
                raise MalformedRequest(400, 'client sent duplicate header line "Content-Length"')
            if not value.isdigit() or len(value) > 18:
                raise MalformedRequest(400, 'client sent invalid "Content-Length" header')
            length = int(value)
        elif lower == b"transfer-encoding":
            if chunked:
                raise MalformedRequest(400, 'client sent duplicate header line "Transfer-Encoding"')
            if value.lower() != b"chunked":
                raise MalformedRequest(501, 'client sent unknown "Transfer-Encoding"')
            if version == b"1.0":
                raise MalformedRequest(400, 'client sent HTTP/1.0 request with "Transfer-Encoding"')
            chunked = True
        elif lower == b"connection":
            tokens = value.lower()
            close = close or b"close" in tokens
            keep = keep or b"keep-alive" in tokens
        elif lower == b"expect":
            expect = value.lower() == b"100-continue"
    return Request(
        method=method,
        target=target,
        http_version=version,
        headers=tuple(headers),
        raw_names=tuple(raw),
        content_length=length,
        chunked=chunked,
        keep_alive=not close if version == b"1.1" else keep and not close,
        expect_continue=expect and version == b"1.1",
        head_size=len(head),
        conditional=not seen.isdisjoint(_PRECONDITIONS),
        line=request_line,
    )


_parse_remembered = functools.lru_cache(maxsize=1024)(_parse_head)


def _header_lines(
    lines: list[bytes], rules: HeaderRules
) -> tuple[list[bytes], list[tuple[bytes, bytes]]]:
    """Header lines one by one, with every rule: (names as sent, (lower-case name, value))."""
    raw: list[bytes] = []
    headers: list[tuple[bytes, bytes]] = []
    for text in lines:
        if text[-1:] == b"\r":
            text = text[:-1]
        name, colon, value = text.partition(b":")
        value = value.strip(b" ")
        if (not colon and not _NAME.fullmatch(name)) or b"\r" in value or b"\x00" in value:
            raise MalformedRequest(400, "client sent invalid header line")
        if not rules.valid_name(name):
            if not _NAME.fullmatch(name) or not rules.ignore_invalid:
                raise MalformedRequest(400, "client sent invalid header line")
            continue
        raw.append(name)
        headers.append((name.lower(), value))
    return raw, headers


class ChunkedBody:
    """Decodes a chunked request body as bytes arrive: `take` consumes what it can."""

    __slots__ = ("_left", "_state", "done")

    def __init__(self) -> None:
        self._state = "size"  # size, data, data-end, trailer
        self._left = 0
        self.done = False

    def take(self, buffer: bytearray) -> list[bytes]:
        """The body bytes decodable from the front of `buffer` (removed from it)."""
        out: list[bytes] = []
        while buffer and not self.done:
            if self._state == "data":
                piece = bytes(buffer[: self._left])
                del buffer[: len(piece)]
                self._left -= len(piece)
                out.append(piece)
                if not self._left:
                    self._state = "data-end"
                continue
            end = buffer.find(b"\n")
            if end < 0:
                if len(buffer) > _MAX_CHUNK_LINE:
                    raise MalformedRequest(400, "client sent invalid chunked body")
                break
            line = bytes(buffer[:end])
            del buffer[: end + 1]
            self._line(line)
        return out

    def _line(self, line: bytes) -> None:
        if self._state == "size":
            size = _CHUNK_SIZE.fullmatch(line)
            if size is None:
                raise MalformedRequest(400, "client sent invalid chunked body")
            self._left = int(size.group(1), 16)
            self._state = "data" if self._left else "trailer"
        elif self._state == "data-end":
            if line not in (b"", b"\r"):
                raise MalformedRequest(400, "client sent invalid chunked body")
            self._state = "size"
        elif line in (b"", b"\r"):  # the trailer section ends with an empty line
            self.done = True


def response_head(status_line: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    """The status line (`status_line` follows `HTTP/1.1 `) and header lines. A value with
    CR or LF would split the response.

    Most responses repeat a head seen moments ago (the same handler, the same `Date` second),
    so small heads are remembered: a lookup costs a fraction of formatting one."""
    key = (status_line, *headers)
    head = _heads.get(key)
    if head is None:
        head = _format_head(status_line, headers)
        if len(head) <= _HEAD_CACHE_BYTES:
            if len(_heads) >= _HEAD_CACHE_ENTRIES:
                _heads.clear()  # stale `Date` seconds go with the rest
            _heads[key] = head
    return head


_HEAD_CACHE_ENTRIES = 256
_HEAD_CACHE_BYTES = 512
_heads: dict[tuple[object, ...], bytes] = {}


def _format_head(status_line: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    lines = [b"HTTP/1.1 %b\r\n" % status_line]
    for name, value in headers:
        if b"\n" in value or b"\r" in value:
            raise ValueError(f"header {name!r} has a line break in its value")
        lines.append(b"%b: %b\r\n" % (name, value))
    lines.append(b"\r\n")
    return b"".join(lines)


def request_line(request: Request) -> bytes:
    """`$request` of a request whose head was read: its line as it came (nginx's, spaces and
    all), or one made from its parts for a request made here."""
    if request.line:
        return request.line
    version = b"" if request.http_version == b"0.9" else b" HTTP/" + request.http_version
    return request.method + b" " + request.target + version


def refused(request: Request, status: int, why: str) -> MalformedRequest:
    """A request found broken after its head was read."""
    error = MalformedRequest(status, why)
    error.line = request_line(request)
    return error


def header_too_large(head: bytes, max_line: int) -> MalformedRequest:
    """A head past the buffers: nginx's 414 when its request line (its end included) is
    longer than one buffer, else 494 (its headers are: a 400)."""
    end = head.find(b"\n")
    status = 414 if end < 0 or end >= max_line else 494
    too_large = MalformedRequest(status, "client sent too large header")
    if status == 494:  # (its request line was read)
        too_large.line = head[:end].removesuffix(b"\r")
    return too_large


# A Host value -> the (line, head) limits of the server it names: nginx reads the lines after a
# `Host` line with that server's `large_client_header_buffers`.
HostLimits = Callable[[bytes], tuple[int, int]]
_HOST_LINE = re.compile(rb"\n[Hh][Oo][Ss][Tt]:[ \t]*([^\r\n]*?)[ \t]*\r?\n")


def head_budget(head: bytes | bytearray, max_head: int, for_host: HostLimits | None) -> int:
    """The bytes a head being read may take: `max_head`, or, once it holds a whole `Host`
    line, what the server that names allows."""
    found = _HOST_LINE.search(head) if for_host is not None else None
    if found is None or for_host is None:
        return max_head
    return for_host(found.group(1))[1]


def oversized_head(
    head: bytes, max_line: int, max_head: int, for_host: HostLimits | None = None
) -> MalformedRequest | None:
    """nginx's limits on a whole head: past all the buffers (`header_too_large`), or a line
    longer, with its end, than one buffer: 414 for the request line, 494 for a header. The
    lines after a `Host` line, and the whole, have the limits `for_host` gives for it."""
    found = _HOST_LINE.search(head) if for_host is not None else None
    if found is None or for_host is None:
        later_line, budget, split = max_line, max_head, len(head)
    else:
        (later_line, budget), split = for_host(found.group(1)), found.end()
    lines = head[:split].split(b"\n")
    if len(head) > budget or len(lines[0]) >= max_line:
        return header_too_large(head, max_line)
    later = head[split:].split(b"\n")
    if any(len(line) >= max_line for line in lines[1:]) or any(
        len(line) >= later_line for line in later
    ):
        return MalformedRequest(494, "client sent too long header line")
    return None
