"""A file's answer, as nginx's static module and its filters make it: `Last-Modified`,
`ETag` and `Accept-Ranges`, a conditional request's 304 or 412, a `Range`'s 206 (one part or
multipart/byteranges) or 416, and the body itself, streamed from the file in pieces so that
no file is held in memory whole, and a client that reads slowly holds up nobody else."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from pushproxy.http.exchange import Exchange
from pushproxy.http.static_rules import (
    Declined,
    ModifiedSince,
    Multipart,
    Span,
    etag_of,
    http_date,
    multipart,
    parse_ranges,
    precondition,
    range_applies,
)

if TYPE_CHECKING:
    from pushproxy.http.connection import HttpConnection

log = logging.getLogger("pushproxy")
_PIECE = 256 * 1024  # read and written at a time; a file up to this size is read at once


class Served(Protocol):
    """What the answer depends on besides the file (see `static_files.StaticFiles`)."""

    @property
    def etag(self) -> bool: ...
    @property
    def modified_since(self) -> ModifiedSince: ...
    @property
    def max_ranges(self) -> int: ...


def _read(fd: int, span: Span) -> bytes:
    """Bytes of the file, read as nginx reads them without `aio`: in the server's own
    thread, a piece at a time (a piece from the page cache takes microseconds)."""
    return os.pread(fd, span.end - span.start, span.start)


async def _stream(conn: HttpConnection, fd: int, spans: Sequence[tuple[bytes, Span]]) -> bool:
    """Write each text and the file's bytes after it, a piece at a time; False when the
    file turned out shorter than it was (the answer cannot be finished)."""
    for text, span in spans:
        start = span.start
        while start < span.end:
            piece = Span(start, min(start + _PIECE, span.end))
            data = _read(fd, piece)
            if len(data) != piece.end - piece.start:
                return False
            await conn.write_pieces([text, data] if text else [data])
            text = b""
            start = piece.end
        if text:
            await conn.write(text)
    return True


async def send_file(
    exchange: Exchange,
    fd: int,
    info: os.stat_result,
    content_type: bytes,
    served: Served,
    *,
    encoded: bool = False,
) -> None:
    """The answer for an open regular file (GET or HEAD); `encoded`: a `gzip_static` .gz file,
    sent as gzip content encoding of the file asked for, without ranges."""
    conn, head = exchange.conn, exchange.method == "HEAD"
    mtime, size = int(info.st_mtime), info.st_size
    etag = etag_of(mtime, size) if served.etag else None
    if conn.status_override not in (0, 200):
        await _error_page(conn, fd, size, etag, content_type, encoded, head)
        return
    status = precondition(exchange.header, mtime, etag, served.modified_since)
    if status == 412:
        await conn.error(412)
        return
    validators = [(b"Last-Modified", http_date(mtime))]
    if status == 304:  # nginx's not-modified filter drops the type and the length
        conn.carried = [h for h in conn.carried if h[0].lower() != b"content-type"]
        if etag is not None:
            validators.append((b"ETag", etag))
        await conn.start(304, validators, whole=b"")
        return
    typed = [(b"Content-Type", content_type)] if content_type else []
    length = (b"Content-Length", b"%d" % size)
    # gzip or sub_filter: the length sent is not the file's, so no ranges (nginx's filters)
    compressed = not encoded and (
        conn.compresses(200, [*typed, length]) or conn.changes_body(content_type)
    )
    if etag is not None:  # gzip makes an entity tag weak (ngx_http_weak_etag())
        validators.append((b"ETag", b"W/" + etag if compressed else etag))
    if encoded:
        validators.append((b"Content-Encoding", b"gzip"))
    ranged = (
        not compressed
        and not encoded
        and served.max_ranges > 0
        and exchange.http_version != b"0.9"
        and range_applies(exchange.header, etag, mtime)
    )
    if not ranged:
        ranges = not compressed and not encoded and served.max_ranges > 0  # else none offered
        accept = [(b"Accept-Ranges", b"bytes")] if ranges else []
        whole = [*typed, length, *validators]
        await _send(conn, fd, 200, whole, [(b"", Span(0, size))], accept, head_only=head)
        return
    asked = exchange.header(b"range") or b""
    spans = parse_ranges(asked, size, served.max_ranges)
    if isinstance(spans, Declined):
        whole = [*typed, length, *validators]
        accept = [(b"Accept-Ranges", b"bytes")]
        await _send(conn, fd, 200, whole, [(b"", Span(0, size))], accept, head_only=head)
    elif isinstance(spans, int):
        conn.carried = [(b"Content-Range", b"bytes */%d" % size)]
        await conn.error(416)
    elif len(spans) == 1:
        span = spans[0]
        part = [
            *typed,
            (b"Content-Length", b"%d" % (span.end - span.start)),
            *validators,
        ]
        ranged_as = [(b"Content-Range", b"bytes %d-%d/%d" % (span.start, span.end - 1, size))]
        await _send(conn, fd, 206, part, [(b"", span)], ranged_as, head_only=head)
    else:
        parts: Multipart = multipart(spans, size, content_type)
        multi = [
            (b"Content-Type", parts.content_type),
            (b"Content-Length", b"%d" % parts.length),
            *validators,
        ]
        body = [*parts.parts, (parts.closing, Span(size, size))]
        await _send(conn, fd, 206, multi, body, (), head_only=head)


async def _error_page(
    conn: HttpConnection,
    fd: int,
    size: int,
    etag: bytes | None,
    content_type: bytes,
    encoded: bool,
    head: bool,
) -> None:
    """A file as an error page: nginx's filters see the error's status, so no 304, 412 or
    range (nor `Accept-Ranges`), and its header filter drops `Last-Modified`."""
    typed = [(b"Content-Type", content_type)] if content_type else []
    headers = [*typed, (b"Content-Length", b"%d" % size)]
    changed = not encoded and (
        conn.compresses(conn.status_override, headers) or conn.changes_body(content_type)
    )
    if etag is not None:
        headers.append((b"ETag", b"W/" + etag if changed else etag))
    if encoded:
        headers.append((b"Content-Encoding", b"gzip"))
    await _send(conn, fd, 200, headers, [(b"", Span(0, size))], [], head_only=head)


async def _send(
    conn: HttpConnection,
    fd: int,
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: Sequence[tuple[bytes, Span]],
    after: Sequence[tuple[bytes, bytes]],
    *,
    head_only: bool,
) -> None:
    """The head (`after`: what goes after the location's `add_header`s), then the body's
    texts and file spans: in one write when they are small."""
    if head_only:  # the head alone: the file is not read
        await conn.start(status, headers, whole=b"", after=after)
        return
    total = sum(len(text) + span.end - span.start for text, span in body)
    if total <= _PIECE:
        pieces: list[bytes] = []
        for text, span in body:
            pieces.append(text)
            if span.end > span.start:
                data = _read(fd, span)
                if len(data) != span.end - span.start:
                    conn.end_after_response()
                    return  # nothing was sent: the connection just ends
                pieces.append(data)
        await conn.start(status, headers, whole=b"".join(pieces), after=after)
        return
    await conn.start(status, headers, after=after)
    if await _stream(conn, fd, body):
        await conn.finish()
    else:
        conn.end_after_response()  # the length said is not the length sent: no next request
