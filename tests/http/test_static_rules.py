"""The static answer's rules, table by table: `Range` parsing, conditional requests, dates,
`If-Range` and the multipart layout (nginx's behaviour over sockets is in
tests/proxy/test_static_oracle.py)."""

from __future__ import annotations

import pytest

from pushproxy.http.static_rules import (
    DECLINED,
    ModifiedSince,
    Span,
    etag_of,
    http_date,
    kept_for_304,
    multipart,
    own_answer_precondition,
    parse_http_time,
    parse_ranges,
    precondition,
    range_applies,
)

SIZE = 21
MTIME = 1_000_000_000
TAG = etag_of(MTIME, SIZE)
DATE = http_date(MTIME)


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        (b"bytes=0-9", 10, [Span(0, 10)]),
        (b"bytes=-5", 10, [Span(16, 21)]),
        (b"bytes=5-", 10, [Span(5, 21)]),
        (b"bytes=0-100", 10, [Span(0, 21)]),
        (b"bytes=-100", 10, [Span(0, 21)]),
        (b"bytes=0-0,5-9", 10, [Span(0, 1), Span(5, 10)]),
        (b"bytes=100-,0-1", 10, [Span(0, 2)]),  # a span past the end is left out
        (b"bytes= 0-1", 10, [Span(0, 2)]),
        (b"bytes=0-0,5-9", 1, DECLINED),  # more spans than `max_ranges`: the whole file
        (b"bytes=0-20,0-20", 10, DECLINED),  # more bytes than the file has
        (b"bytes=-0", 10, 416),
        (b"bytes=9-5", 10, 416),
        (b"bytes=1000-", 10, 416),
        (b"bytes=abc", 10, 416),
        (b"bytes=0-1,", 10, 416),
        (b"bytes=1-2-3", 10, 416),
        (b"bytes=0-99999999999999999999", 10, 416),
    ],
)
def test_ranges_as_nginx_reads_them(value: bytes, limit: int, expected: object) -> None:
    assert parse_ranges(value, SIZE, limit) == expected


def _headers(**given: bytes) -> dict[bytes, bytes]:
    return {name.replace("_", "-").encode(): value for name, value in given.items()}


@pytest.mark.parametrize(
    ("given", "mode", "status"),
    [
        ({}, ModifiedSince.EXACT, 0),
        ({"if_modified_since": DATE}, ModifiedSince.EXACT, 304),
        ({"if_modified_since": http_date(MTIME + 1)}, ModifiedSince.EXACT, 0),
        ({"if_modified_since": http_date(MTIME + 1)}, ModifiedSince.BEFORE, 304),
        ({"if_modified_since": http_date(MTIME - 1)}, ModifiedSince.BEFORE, 0),
        ({"if_modified_since": DATE}, ModifiedSince.OFF, 0),
        ({"if_modified_since": b"garbage"}, ModifiedSince.EXACT, 0),
        ({"if_none_match": TAG}, ModifiedSince.EXACT, 304),
        ({"if_none_match": b"W/" + TAG}, ModifiedSince.EXACT, 304),
        ({"if_none_match": b'"x", ' + TAG}, ModifiedSince.EXACT, 304),
        ({"if_none_match": b"*"}, ModifiedSince.EXACT, 304),
        ({"if_none_match": b'"x"', "if_modified_since": DATE}, ModifiedSince.EXACT, 0),
        ({"if_match": TAG}, ModifiedSince.EXACT, 0),
        ({"if_match": b"W/" + TAG}, ModifiedSince.EXACT, 412),
        ({"if_match": b"*"}, ModifiedSince.EXACT, 0),
        ({"if_unmodified_since": http_date(MTIME - 1)}, ModifiedSince.EXACT, 412),
        ({"if_unmodified_since": DATE}, ModifiedSince.EXACT, 0),
        ({"if_unmodified_since": b"garbage"}, ModifiedSince.EXACT, 412),
    ],
)
def test_conditional_requests(given: dict[str, bytes], mode: ModifiedSince, status: int) -> None:
    headers = _headers(**given)
    assert precondition(headers.get, MTIME, TAG, mode) == status


def test_without_an_entity_tag_only_a_star_matches() -> None:
    assert precondition(_headers(if_match=TAG).get, MTIME, None, ModifiedSince.EXACT) == 412
    assert precondition(_headers(if_match=b"*").get, MTIME, None, ModifiedSince.EXACT) == 0


@pytest.mark.parametrize(
    ("given", "status"),
    [
        ({}, 0),
        ({"if_unmodified_since": http_date(MTIME)}, 412),  # no Last-Modified to compare with
        ({"if_match": TAG}, 412),
        ({"if_match": b"*"}, 0),
        ({"if_none_match": TAG}, 0),
        ({"if_none_match": b"*"}, 304),
        ({"if_modified_since": DATE}, 0),  # always modified: no date to compare with
        ({"if_modified_since": DATE, "if_none_match": b"*"}, 0),
    ],
)
def test_an_answer_without_validators(given: dict[str, bytes], status: int) -> None:
    """nginx's own 200 (`return 200`, the push module's answers): no Last-Modified, no ETag."""
    assert own_answer_precondition(list(_headers(**given).items())) == status
    assert precondition(_headers(**given).get, -1, None, ModifiedSince.EXACT) == status


def test_a_304_keeps_the_headers_but_the_bodys() -> None:
    headers = [(b"Content-Type", b"text/plain"), (b"X-A", b"1"), (b"content-length", b"3")]
    assert kept_for_304([*headers, (b"Accept-Ranges", b"bytes")]) == [(b"X-A", b"1")]


def test_dates_in_the_three_http_forms() -> None:
    assert DATE == b"Sun, 09 Sep 2001 01:46:40 GMT"
    for text in (DATE, b"Sunday, 09-Sep-01 01:46:40 GMT", b"Sun Sep  9 01:46:40 2001"):
        assert parse_http_time(text) == MTIME, text
    assert parse_http_time(b"yesterday") == -1


def test_if_range_names_the_file_by_tag_or_date() -> None:
    ranged = {b"range": b"bytes=0-1"}
    assert range_applies(ranged.get, TAG, MTIME)
    assert range_applies({**ranged, b"if-range": TAG}.get, TAG, MTIME)
    assert range_applies({**ranged, b"if-range": DATE}.get, TAG, MTIME)
    assert not range_applies({**ranged, b"if-range": b'"other"'}.get, TAG, MTIME)
    assert not range_applies({**ranged, b"if-range": b"W/" + TAG}.get, TAG, MTIME)
    assert not range_applies({**ranged, b"if-range": TAG}.get, None, MTIME)
    assert not range_applies({b"range": b"items=0-1"}.get, TAG, MTIME)


def test_a_multipart_answer_has_nginx_s_layout() -> None:
    parts = multipart([Span(0, 1), Span(5, 10)], SIZE, b"text/plain")
    boundary = parts.content_type.removeprefix(b"multipart/byteranges; boundary=")
    assert len(boundary) == 20
    assert boundary.isdigit()
    heads = [head for head, _ in parts.parts]
    assert heads[1] == (
        b"\r\n--%b\r\nContent-Type: text/plain\r\nContent-Range: bytes 5-9/21\r\n\r\n" % boundary
    )
    assert parts.closing == b"\r\n--" + boundary + b"--\r\n"
    assert parts.length == sum(map(len, heads)) + 1 + 5 + len(parts.closing)
