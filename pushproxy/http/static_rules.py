"""What nginx's filters decide about a file's answer, from the request's headers alone: the
`ETag` and `Last-Modified` it carries, a conditional request's 304 or 412
(ngx_http_not_modified_filter_module) and a `Range`'s 206 or 416
(ngx_http_range_filter_module, single part or multipart/byteranges). Pure."""

from __future__ import annotations

import calendar
import itertools
import os
from collections.abc import Callable, Collection, Sequence
from email.utils import formatdate, parsedate_tz
from enum import Enum
from typing import NamedTuple

Header = Callable[[bytes], bytes | None]  # the request's first header of a (lowercase) name


class ModifiedSince(Enum):
    """`if_modified_since`: how a client's date compares with the file's."""

    OFF = "off"
    EXACT = "exact"
    BEFORE = "before"


def etag_of(mtime: int, size: int) -> bytes:
    """nginx's strong `ETag`: the modification time and the size, in hex."""
    return b'"%x-%x"' % (mtime, size)


def weak_etag(value: bytes) -> bytes | None:
    """ngx_http_weak_etag(): an `ETag` once the body is changed (compressed, substituted):
    weak, or none when it is not a quoted one."""
    if len(value) > 2 and value.startswith(b"W/"):
        return value
    return b"W/" + value if value.startswith(b'"') else None


def changed_body_headers(
    headers: Sequence[tuple[bytes, bytes]], dropped: Collection[bytes]
) -> list[tuple[bytes, bytes]]:
    """An answer's headers once a filter changed its body: those named in `dropped`
    (lowercase) left out, and the `ETag` made weak (`weak_etag`)."""
    out = []
    for name, value in headers:
        lower = name.lower()
        if lower in dropped:
            continue
        if lower == b"etag":
            weak = weak_etag(value)
            if weak is None:
                continue
            value = weak
        out.append((name, value))
    return out


def http_date(seconds: int) -> bytes:
    return formatdate(seconds, usegmt=True).encode("ascii")


def parse_http_time(value: bytes) -> int:
    """A date in one of HTTP's three forms, as seconds; -1 when it is not one (as
    ngx_parse_http_time() says)."""
    try:
        parsed = parsedate_tz(value.decode("latin-1"))
    except (ValueError, IndexError):
        return -1
    if parsed is None or parsed[0] < 1970:
        return -1
    return calendar.timegm(parsed[:6]) - (parsed[9] or 0)


def _matches(listed: bytes, etag: bytes | None, *, weak: bool) -> bool:
    """ngx_http_test_if_match(): whether the entity tag is in the header's list (`*` matches
    any, even none). `weak`: `W/` prefixes do not count (If-None-Match)."""
    if listed == b"*":
        return True
    if etag is None:
        return False
    if weak and etag.startswith(b"W/"):
        etag = etag[2:]
    for one in listed.split(b","):
        one = one.strip(b" \t")
        if weak and one.startswith(b"W/"):
            one = one[2:]
        if one == etag:
            return True
    return False


def _modified(since: bytes, mtime: int, mode: ModifiedSince) -> bool:
    """ngx_http_test_if_modified(): whether the file changed since the client's date (an
    answer without a date, `mtime` -1, always has)."""
    if mode is ModifiedSince.OFF or mtime < 0:
        return True
    seconds = parse_http_time(since)
    if seconds == mtime:
        return False
    return mode is ModifiedSince.EXACT or seconds < mtime


def precondition(header: Header, mtime: int, etag: bytes | None, mode: ModifiedSince) -> int:
    """The status a conditional request turns a 200 into: 412 (If-Unmodified-Since,
    If-Match), 304 (If-Modified-Since, If-None-Match), or 0: the 200 stands. `mtime` -1 and
    `etag` None: the answer has no `Last-Modified`, no `ETag` (nginx's `return 200`, say)."""
    unmodified = header(b"if-unmodified-since")
    if unmodified is not None and (mtime < 0 or parse_http_time(unmodified) < mtime):
        return 412
    match = header(b"if-match")
    if match is not None and not _matches(match, etag, weak=False):
        return 412
    since, none_match = header(b"if-modified-since"), header(b"if-none-match")
    if since is None and none_match is None:
        return 0
    if since is not None and _modified(since, mtime, mode):
        return 0
    if none_match is not None and not _matches(none_match, etag, weak=True):
        return 0
    return 304


# What the not-modified filter's 304 leaves out of a 200's headers.
_NOT_FOR_304 = frozenset(
    (b"content-type", b"content-length", b"content-encoding", b"accept-ranges")
)


def own_answer_precondition(request_headers: Sequence[tuple[bytes, bytes]]) -> int:
    """`precondition` for a 200 nginx makes itself with neither `Last-Modified` nor `ETag`
    (`return 200`, the push module's answers), from the request's (lowercase) headers: 412
    for any If-Unmodified-Since and any If-Match but `*`, 304 for `If-None-Match: *`."""

    def header(name: bytes) -> bytes | None:
        return next((value for key, value in request_headers if key == name), None)

    return precondition(header, -1, None, ModifiedSince.OFF)


def kept_for_304(headers: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """A 200's headers once the not-modified filter made it a 304 (no body, so no type,
    length, encoding or ranges)."""
    return [header for header in headers if header[0].lower() not in _NOT_FOR_304]


class Span(NamedTuple):
    """Bytes `start` to `end` (excluded) of a file."""

    start: int
    end: int


class Declined:
    """The `Range` is ignored: the whole file goes out with a 200."""


DECLINED = Declined()
NOT_SATISFIABLE = 416


def _number(text: bytes) -> int | None:
    text = text.strip(b" ")
    return int(text) if text.isdigit() and len(text) < 19 else None


def parse_ranges(value: bytes, size: int, limit: int) -> list[Span] | Declined | int:
    """ngx_http_range_parse(): the spans a `Range: bytes=...` asks for of a file of `size`
    bytes, at most `limit` of them (`max_ranges`); DECLINED (the whole file), or 416."""
    spans: list[Span] = []
    total = 0
    for part in value[6:].split(b","):
        first, dash, last = part.partition(b"-")
        if not dash:
            return NOT_SATISFIABLE
        if first.strip(b" "):
            start = _number(first)
            if start is None:
                return NOT_SATISFIABLE
            if last.strip(b" "):
                end = _number(last)
                if end is None:
                    return NOT_SATISFIABLE
                end = size if end >= size else end + 1
            else:
                end = size
        else:  # a suffix: the last N bytes
            count = _number(last)
            if count is None:
                return NOT_SATISFIABLE
            start, end = (size - count if count < size else 0), size
        if start < end:
            spans.append(Span(start, end))
            total += end - start
            if len(spans) > limit:
                return DECLINED
        elif start == 0:
            return DECLINED
    if not spans:
        return NOT_SATISFIABLE
    if total > size:
        return DECLINED
    return spans


def range_applies(header: Header, etag: bytes | None, mtime: int) -> bool:
    """Whether the request's `Range` is to be read: one of `bytes=`, with an `If-Range` (if
    any) naming this very file by its entity tag or its date."""
    asked = header(b"range")
    if asked is None or len(asked) < 7 or asked[:6].lower() != b"bytes=":
        return False
    if_range = header(b"if-range")
    if if_range is None:
        return True
    if len(if_range) >= 2 and if_range.endswith(b'"'):
        return etag is not None and if_range == etag
    return parse_http_time(if_range) == mtime


_boundaries = itertools.count(int.from_bytes(os.urandom(3), "big"))


class Multipart(NamedTuple):
    """A multipart/byteranges answer: its `Content-Type`, and its body as the text before
    each span's bytes and the text after the last."""

    content_type: bytes
    parts: Sequence[tuple[bytes, Span]]
    closing: bytes

    @property
    def length(self) -> int:
        return sum(len(head) + span.end - span.start for head, span in self.parts) + len(
            self.closing
        )


def multipart(spans: Sequence[Span], size: int, content_type: bytes) -> Multipart:
    """ngx_http_range_multipart_header(): each span after a boundary and its own
    `Content-Type` and `Content-Range`; the boundary is a 20-digit number."""
    boundary = b"%020d" % next(_boundaries)
    typed = b"Content-Type: " + content_type + b"\r\n" if content_type else b""
    head = b"\r\n--" + boundary + b"\r\n" + typed + b"Content-Range: bytes "
    parts = [(head + b"%d-%d/%d\r\n\r\n" % (s.start, s.end - 1, size), s) for s in spans]
    return Multipart(
        content_type=b"multipart/byteranges; boundary=" + boundary,
        parts=parts,
        closing=b"\r\n--" + boundary + b"--\r\n",
    )
