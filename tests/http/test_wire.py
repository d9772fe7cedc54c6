"""The request head and body reader (sans-I/O): nginx's rules, case by case."""

from __future__ import annotations

import pytest

from pushproxy.http.wire import (
    ChunkedBody,
    HeaderRules,
    MalformedRequest,
    find_head,
    parse_head,
    response_head,
    skip_blank_lines,
)


def test_a_plain_request() -> None:
    request = parse_head(b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-One:  spaced  \r\n\r\n")
    assert (request.method, request.target, request.http_version) == (b"GET", b"/a?b=1", b"1.1")
    assert list(request.headers) == [(b"host", b"x"), (b"x-one", b"spaced")]
    assert request.raw_items() == [(b"Host", b"x"), (b"X-One", b"spaced")]
    assert request.keep_alive
    assert (request.content_length, request.chunked) == (None, False)


@pytest.mark.parametrize(
    "lines",
    [
        [b"Host: x", b"X-One:  spaced \t", b"X-Empty:", b"X-Colon: a:b: c", b"x-lower:\tv"],
        [b"Host: x", b"Content-Length: 12", b"Connection: close", b"Expect: 100-continue"],
        [b"Host: x", b"Transfer-Encoding: chunked", b"X-Ctl: a\x01b"],
        [],
    ],
)
def test_crlf_and_bare_lf_heads_read_alike(lines: list[bytes]) -> None:
    """A usual CRLF head and the same lines ended by bare LFs (or one of each) come out the
    same: names as sent and lower-cased, values without surrounding spaces (tabs stay)."""
    crlf = parse_head(b"POST / HTTP/1.1\r\n" + b"".join(n + b"\r\n" for n in lines) + b"\r\n")
    lf = parse_head(b"POST / HTTP/1.1\n" + b"".join(n + b"\n" for n in lines) + b"\n")
    mixed = parse_head(b"POST / HTTP/1.1\r\n" + b"".join(n + b"\r\n" for n in lines) + b"\n")
    assert crlf._replace(head_size=0) == lf._replace(head_size=0) == mixed._replace(head_size=0)
    assert [name for name, _ in crlf.raw_items()] == [line.split(b":")[0] for line in lines]
    if lines and lines[1] == b"X-One:  spaced \t":
        assert list(crlf.headers[1:]) == [
            (b"x-one", b"spaced \t"),
            (b"x-empty", b""),
            (b"x-colon", b"a:b: c"),
            (b"x-lower", b"\tv"),
        ]


def test_bare_lf_line_ends() -> None:
    request = parse_head(b"POST /p HTTP/1.0\nContent-Length: 3\n\n")
    assert request.http_version == b"1.0"
    assert request.content_length == 3


@pytest.mark.parametrize(
    ("version", "connection", "keep_alive"),
    [
        (b"1.1", b"", True),
        (b"1.1", b"close", False),
        (b"1.1", b"Keep-Alive", True),
        (b"1.0", b"", False),
        (b"1.0", b"keep-alive", True),  # nginx keeps HTTP/1.0 clients that ask
        (b"1.0", b"close", False),
    ],
)
def test_keep_alive(version: bytes, connection: bytes, keep_alive: bool) -> None:
    extra = b"Connection: " + connection + b"\r\n" if connection else b""
    head = b"GET / HTTP/" + version + b"\r\nHost: x\r\n" + extra + b"\r\n"
    assert parse_head(head).keep_alive is keep_alive


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"get / HTTP/1.1\r\n\r\n", 400),  # nginx: methods are upper case
        (b"GET HTTP/1.1\r\n\r\n", 400),  # no target: not an HTTP/0.9 request for "HTTP/1.1"
        (b"OPTIONS * HTTP/1.1\r\n\r\n", 400),  # nginx knows no asterisk form
        (b"GET x:y HTTP/1.1\r\n\r\n", 400),  # an absolute URI needs its "://"
        (b"GET / HTTP/1.1 extra\r\n\r\n", 400),
        (b"GET /a b HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / HTTP/0.9\r\n\r\n", 400),
        (b"GET / HTTP/01.1\r\n\r\n", 400),  # nginx: a major version starts with 1-9
        (b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n: no name\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n folded: line\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\n" + b"Transfer-Encoding: chunked\r\n" * 2 + b"\r\n", 400),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),  # nginx 1.21.1+
    ],
)
def test_malformed_heads(head: bytes, status: int) -> None:
    with pytest.raises(MalformedRequest) as caught:
        parse_head(head)
    assert caught.value.status == status


UNIQUE = ["If-Modified-Since", "If-Unmodified-Since", "If-Match", "If-None-Match"]
UNIQUE += ["Content-Range", "If-Range", "Expect", "Authorization"]


@pytest.mark.parametrize("name", UNIQUE)
def test_a_second_copy_of_a_header_nginx_reads_once_is_a_400(name: str) -> None:
    """nginx reads these with ngx_http_process_unique_header_line (checked against nginx 1.22)."""
    line = name.encode() + b": a\r\n"
    with pytest.raises(MalformedRequest) as caught:
        parse_head(b"GET / HTTP/1.1\r\nHost: x\r\n" + line + b"X: 1\r\n" + line + b"\r\n")
    assert caught.value.status == 400
    assert name.lower() in str(caught.value)
    assert parse_head(b"GET / HTTP/1.1\r\nHost: x\r\n" + line + b"\r\n").headers[1][0] == (
        name.lower().encode()
    )


@pytest.mark.parametrize("name", ["User-Agent", "Referer", "Range", "Cookie", "Accept", "TE"])
def test_other_headers_may_come_twice(name: str) -> None:
    line = name.encode() + b": a\r\n"
    request = parse_head(b"GET / HTTP/1.1\r\nHost: x\r\n" + line + line + b"\r\n")
    assert [value for key, value in request.headers if key == name.lower().encode()] == [b"a"] * 2


def test_a_bare_name_is_a_header_with_an_empty_value() -> None:
    """nginx reads `BadHeader` (no colon) as the header `BadHeader:` with an empty value."""
    request = parse_head(b"GET / HTTP/1.1\r\nHost: x\r\nBadHeader\r\n\r\n")
    assert list(request.headers) == [(b"host", b"x"), (b"badheader", b"")]


def test_invalid_header_names_are_dropped_or_refused() -> None:
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX_Under: 1\r\nX.Dot: 2\r\n\r\n"
    assert list(parse_head(head).headers) == [(b"host", b"x")]
    underscores = parse_head(head, HeaderRules(underscores=True))
    assert list(underscores.headers) == [(b"host", b"x"), (b"x_under", b"1")]
    with pytest.raises(MalformedRequest):
        parse_head(head, HeaderRules(ignore_invalid=False))


def test_body_framing_and_expect() -> None:
    chunked = parse_head(
        b"POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\nExpect: 100-continue\r\n\r\n"
    )
    assert chunked.chunked
    assert chunked.expect_continue
    # An HTTP/1.0 client never waits for a 100.
    assert not parse_head(b"POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").expect_continue


def test_find_head_and_blank_lines() -> None:
    buffer = bytearray(b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next")
    skip_blank_lines(buffer)
    end = find_head(buffer)
    assert bytes(buffer[:end]).endswith(b"Host: x\r\n\r\n")
    assert bytes(buffer[end:]) == b"GET /next"
    assert find_head(bytearray(b"GET / HTTP/1.1\r\nHost: x\r\n")) == -1
    assert find_head(bytearray(b"GET / HTTP/1.1\nHost: x\n\n")) > 0


def test_chunked_body_across_reads() -> None:
    wire = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: t\r\n\r\nNEXT"
    decoder, buffer, body = ChunkedBody(), bytearray(), b""
    for index in range(len(wire)):  # one byte at a time: every split point
        buffer += wire[index : index + 1]
        body += b"".join(decoder.take(buffer))
        if decoder.done:
            break
    assert decoder.done
    assert body == b"hello world"
    # Fed whole, it stops at the body's end: the next request stays in the buffer.
    decoder, buffer = ChunkedBody(), bytearray(wire)
    assert b"".join(decoder.take(buffer)) == b"hello world"
    assert bytes(buffer) == b"NEXT"


@pytest.mark.parametrize("wire", [b"zz\r\nhello\r\n", b"5\r\nhelloXX0\r\n\r\n", b"1" * 5000])
def test_chunked_body_errors(wire: bytes) -> None:
    with pytest.raises(MalformedRequest):
        ChunkedBody().take(bytearray(wire))


def test_response_head_refuses_line_breaks() -> None:
    assert response_head(b"200 OK", [(b"A", b"1")]) == b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\n"
    with pytest.raises(ValueError, match="line break"):
        response_head(b"200 OK", [(b"A", b"1\r\nInjected: yes")])


def test_response_heads_are_remembered_by_their_whole_content() -> None:
    first = response_head(b"200 OK", [(b"Date", b"one"), (b"Content-Length", b"5")])
    assert first == b"HTTP/1.1 200 OK\r\nDate: one\r\nContent-Length: 5\r\n\r\n"
    assert response_head(b"200 OK", [(b"Date", b"one"), (b"Content-Length", b"5")]) is first
    # Any difference in the status line, a name or a value is another head.
    assert response_head(b"200 OK", [(b"Date", b"two"), (b"Content-Length", b"5")]) == (
        b"HTTP/1.1 200 OK\r\nDate: two\r\nContent-Length: 5\r\n\r\n"
    )
    assert response_head(b"404 Not Found", [(b"Date", b"one"), (b"Content-Length", b"5")]) == (
        b"HTTP/1.1 404 Not Found\r\nDate: one\r\nContent-Length: 5\r\n\r\n"
    )
    assert response_head(b"200 OK", [(b"date", b"one"), (b"Content-Length", b"5")]) == (
        b"HTTP/1.1 200 OK\r\ndate: one\r\nContent-Length: 5\r\n\r\n"
    )


def test_many_distinct_heads_all_come_out_right() -> None:
    """Past the remembered number, heads are still formatted, each from its own headers."""
    for n in range(1000):
        expected = b"HTTP/1.1 200 OK\r\nX: %d\r\n\r\n" % n
        assert response_head(b"200 OK", [(b"X", b"%d" % n)]) == expected


@pytest.mark.parametrize("line", [b"GET /x?a=1\r\n", b"GET /x?a=1\n", b"GET /x?a=1 \r\n"])
def test_http09_request_line(line: bytes) -> None:
    """A request line without a version is HTTP/0.9: the head ends with it, no header follows,
    and the connection ends with the answer."""
    assert find_head(bytearray(line + b"ignored")) == len(line)
    request = parse_head(line)
    assert (request.method, request.target, request.http_version) == (b"GET", b"/x?a=1", b"0.9")
    assert (request.headers, request.keep_alive, request.expect_continue) == ((), False, False)


def test_a_publisher_cycling_over_a_thousand_channels_finds_its_heads_remembered() -> None:
    def head(number: int) -> bytes:
        return b"POST /pub?id=ch%d HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n" % number

    first = [parse_head(head(number)) for number in range(1000)]
    again = [parse_head(head(number)) for number in range(1000)]
    assert all(a is b for a, b in zip(first, again, strict=True))
    assert again[7].target == b"/pub?id=ch7"


def test_spaces_around_a_value_go_tabs_stay() -> None:
    """nginx 1.22 trims spaces from both ends of a value, not tabs (checked with nginx)."""
    head = b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent:\ta\t\r\nX-A:  \tb \t \r\nX-B:   \r\n\r\n"
    for request in (parse_head(head), parse_head(head.replace(b"\r\n", b"\n"))):
        assert list(request.headers)[1:] == [
            (b"user-agent", b"\ta\t"),
            (b"x-a", b"\tb \t"),
            (b"x-b", b""),
        ]
