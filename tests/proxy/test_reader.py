"""The upstream response reader (sans-I/O): framing, reuse and nginx's errors, case by case."""

from __future__ import annotations

import pytest

from pushproxy.proxy.reader import InvalidResponse, ResponseReader, parse_response_head


def _read(
    wire: bytes, *, head_request: bool = False, step: int = 0
) -> tuple[ResponseReader, bytes]:
    """Feed `wire` (in `step`-byte pieces when given, then EOF if `wire` ends in b'<EOF>')."""
    eof = wire.endswith(b"<EOF>")
    wire = wire.removesuffix(b"<EOF>")
    reader = ResponseReader(head_request=head_request, max_head=1024)
    pieces = [wire[i : i + step] for i in range(0, len(wire), step)] if step else [wire]
    body = b""
    for piece in [*pieces, *([b""] if eof else [])]:
        reader.feed(piece)
        if reader.head is None:
            reader.read_head()
        if reader.head is not None:
            body += b"".join(reader.body())
    return reader, body


@pytest.mark.parametrize("step", [0, 1, 7])
@pytest.mark.parametrize(
    ("wire", "body", "reusable"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello", True),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n",
         b"hello", True),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", b"ok", False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", b"ok", False),
        (b"HTTP/1.1 200 OK\r\n\r\nuntil the end<EOF>", b"until the end", False),
        (b"HTTP/1.1 204 No Content\r\n\r\n", b"", True),
        (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", b"", True),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", b"x", True),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxEXTRA", b"x", False),
    ],
)  # fmt: skip
def test_framing_and_reuse(wire: bytes, body: bytes, reusable: bool, step: int) -> None:
    reader, received = _read(wire, step=step)
    assert reader.done
    assert received == body
    assert reader.reusable is reusable


def test_a_head_request_has_no_body() -> None:
    reader, _ = _read(b"HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n", head_request=True)
    assert reader.done
    assert reader.reusable
    assert reader.head is not None
    assert list(reader.head.headers) == [(b"Content-Length", b"1024")]


def test_a_101_keeps_what_follows_for_the_tunnel() -> None:
    reader, _ = _read(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi")
    assert reader.head is not None
    assert reader.head.status == 101
    assert reader.trailing() == b"\x81\x02hi"


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"SPDY/3 200 OK\r\n\r\n", "upstream sent no valid HTTP/1.0 header"),
        (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", 'upstream sent invalid header: "no\\\\x20..."'),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 2000 + b"\r\n\r\n", "upstream sent too big header"),
        # 1xx heads count with the final one: endless ones cannot hold the request forever
        (b"HTTP/1.1 100 Continue\r\n\r\n" * 100 + b"HTTP/1.1 200 OK\r\n\r\n",
         "upstream sent too big header"),
        (b"HTTP/1.1 200 OK\r\nContent-Le<EOF>", "upstream prematurely closed connection"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort<EOF>",
         "upstream prematurely closed connection"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
         "upstream sent invalid chunked response"),
    ],
)  # fmt: skip
def test_errors_say_what_nginx_logs(wire: bytes, message: str) -> None:
    with pytest.raises(InvalidResponse, match=message):
        _read(wire)


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        (b"HTTP/1.1 200 OK", b"200 OK"),
        (b"HTTP/1.1 200", b"200"),
        (b"HTTP/1.1 200 ", b"200 "),
        (b"HTTP/1.0  418 I'm a teapot", b"418 I'm a teapot"),
        (b"HTTP/1.1 200.x", b"200.x"),  # nginx takes a dot after the code too
    ],
)
def test_the_status_line_is_kept_as_sent(line: bytes, kept: bytes) -> None:
    reader, _ = _read(line + b"\r\nContent-Length: 0\r\n\r\n")
    assert reader.head is not None
    assert reader.head.status_line == kept


OK = b"HTTP/1.1 200 OK\r\n"


@pytest.mark.parametrize("head_request", [False, True])
@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (b"Content-Length: 100\r\nTransfer-Encoding: chunked\r\n",
         'upstream sent "Content-Length" and "Transfer-Encoding" headers at the same time'),
        (b"Transfer-Encoding: chunked\r\nContent-Length: 2\r\n",
         'upstream sent "Content-Length" and "Transfer-Encoding" headers at the same time'),
        (b"Content-Length: 2\r\nContent-Length: 3\r\n",
         'upstream sent duplicate header line: "Content-Length: 3", '
         'previous value: "Content-Length: 2"'),
        (b"Content-Length: 2\r\ncontent-length: 2\r\n",
         'upstream sent duplicate header line: "content-length: 2", '
         'previous value: "Content-Length: 2"'),
        (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
         'upstream sent duplicate header line: "Transfer-Encoding: chunked", '
         'previous value: "Transfer-Encoding: chunked"'),
        (b"Transfer-Encoding: gzip, chunked\r\n",
         'upstream sent unknown "Transfer-Encoding": "gzip, chunked"'),
        (b"Transfer-Encoding: identity\r\n",
         'upstream sent unknown "Transfer-Encoding": "identity"'),
        (b"Content-Length: 2x\r\n",
         'upstream sent invalid "Content-Length" header: "Content-Length: 2x"'),
        (b"Content-Length:\r\n",
         'upstream sent invalid "Content-Length" header: "Content-Length: "'),
        (b"Content-Length: 9223372036854775808\r\n",
         'upstream sent invalid "Content-Length" header: "Content-Length: 9223372036854775808"'),
    ],
)  # fmt: skip
def test_framing_headers_as_current_nginx_checks_them(
    headers: bytes, message: str, head_request: bool
) -> None:
    """nginx 1.23+ (ngx_http_upstream_process_content_length/_transfer_encoding): a body
    framed two ways is an invalid header, even where no body follows (HEAD)."""
    with pytest.raises(InvalidResponse) as error:
        _read(OK + headers + b"\r\n", head_request=head_request)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"X-A : 1", "X-A\\x20..."),
        (b"X-A\t: 1", "X-A\\x09..."),
        (b" X-A: 1", "\\x20..."),
        (b":x", "\\x3a..."),
        (b"X-NoColon  ", "X-NoColon\\x20..."),
        (b"X-NoColon\rZ", "X-NoColon\\x0d..."),
        (b"X-A: 1\rZ", "X-A: 1\\x0d..."),
        (b"X-A: 1 b  \rZ", "X-A: 1 b\\x20..."),
        (b"X-A: \rZ", "X-A: \\x0d..."),
        (b"X-A: a\x00b", "X-A: a\\x00..."),
    ],
)
def test_invalid_header_lines_as_nginx_parses_them(line: bytes, message: str) -> None:
    """ngx_http_parse_header_line(): the log shows the line up to where the parser stopped
    (checked against nginx 1.22, whose parser is the current one)."""
    with pytest.raises(InvalidResponse) as error:
        parse_response_head(OK + line + b"\r\n\r\n")
    assert str(error.value) == f'upstream sent invalid header: "{message}"'


def test_header_lines_nginx_accepts() -> None:
    head = parse_response_head(
        OK
        + b"X-NoColon\r\n"  # a name alone: an empty value
        + b"X-Tabs:\t1\t\r\n"  # only spaces are dropped around a value
        + b"X-Spaces:   a  b   \r\n"
        + b"X-Empty:\r\n"
        + b"X-Crs: 1\r\r\n"  # CRs before the LF
        + b"HTTP/1.1 200 OK\r\n"  # a repeated status line (IIS): skipped
        + b"X@A{}: odd name\r\n"
        + b"Lf-Only: yes\n"
        + b"\r\n"
    )
    assert list(head.headers) == [
        (b"X-NoColon", b""),
        (b"X-Tabs", b"\t1\t"),
        (b"X-Spaces", b"a  b"),
        (b"X-Empty", b""),
        (b"X-Crs", b"1"),
        (b"X@A{}", b"odd name"),
        (b"Lf-Only", b"yes"),
    ]
    assert head.length is None
    assert not head.chunked


def test_lines_are_judged_in_order() -> None:
    """nginx reads a head line by line: a framing error before a refused line is the one
    logged; a refused line before it is."""
    with pytest.raises(InvalidResponse, match='unknown "Transfer-Encoding"'):
        parse_response_head(OK + b"Transfer-Encoding: gzip\r\nX-A : 1\r\n\r\n")
    with pytest.raises(InvalidResponse, match="invalid header"):
        parse_response_head(OK + b"X-A : 1\r\nTransfer-Encoding: gzip\r\n\r\n")


def test_a_status_line_again_is_no_header_even_when_it_reads_as_one() -> None:
    head = parse_response_head(OK + b"HTTP/1.1\r\nX-A: 1\r\n\r\n")
    assert list(head.headers) == [(b"X-A", b"1")]


@pytest.mark.parametrize(
    ("value", "length"),
    [(b"0" * 5000 + b"12", 12), (b"9223372036854775807", 2**63 - 1)],
)
def test_content_length_digits_as_nginx_reads_them(value: bytes, length: int) -> None:
    head = parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: " + value + b"\r\n\r\n")
    assert head.length == length


@pytest.mark.parametrize("value", [b"9223372036854775808", b"9" * 5000])
def test_a_content_length_past_its_range_is_invalid(value: bytes) -> None:
    """Thousands of digits included, which Python's int() would refuse with ValueError."""
    with pytest.raises(InvalidResponse, match='invalid "Content-Length" header'):
        parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: " + value + b"\r\n\r\n")


def test_a_head_sent_again_reads_the_same_and_a_bad_one_is_refused_each_time() -> None:
    """Heads are remembered as parsed: the same bytes give the same head, and one refused
    stays refused (the error is never remembered as a head)."""
    raw = OK + b"Content-Length: 3\r\nX-A: 1\r\n\r\n"
    first, again = parse_response_head(raw), parse_response_head(bytes(raw))
    assert first == again
    assert (first.status, first.length, list(first.headers)) == (
        200, 3, [(b"Content-Length", b"3"), (b"X-A", b"1")]
    )  # fmt: skip
    bad = OK + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\n"
    for _ in range(2):
        with pytest.raises(InvalidResponse, match="duplicate"):
            parse_response_head(bad)
