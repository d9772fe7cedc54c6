"""The upstream request as nginx builds it: target, header order, defaults (pure)."""

from __future__ import annotations

import pytest

from pushproxy.config.tree import Directive
from pushproxy.http.target import parse_target
from pushproxy.proxy.request import (
    BodyFraming,
    HeaderPlan,
    build_headers,
    escape_uri,
    request_head,
    set_headers,
    upstream_target,
)


def set_header(name: str, value: str) -> Directive:
    return Directive(
        name="proxy_set_header", args=(name, value), file="t", line=1, column=1, end_line=1
    )


# (location name or "" for regex/named, proxy_pass URI part or None, request) → upstream target
@pytest.mark.parametrize(
    ("prefix", "uri_part", "raw", "expected"),
    [
        ("/", None, "/a/b?c=1", "/a/b?c=1"),
        ("/app/", None, "/app//x/../y?q", "/app//x/../y?q"),  # unchanged, not normalized
        ("/app/", "/", "/app/x?q=1", "/x?q=1"),
        ("/app/", "/new/", "/app/x/y", "/new/x/y"),
        ("/app", "/new", "/app/x", "/new/x"),
        ("/app", "/new/", "/app/x", "/new//x"),  # nginx joins as written
        ("/app/", "/", "/app//x/./y/../z", "/x/z"),  # the normalized URI is what is replaced
        ("/app/", "/", "/app/a%20b", "/a%20b"),  # re-escaped when the client escaped
        ("/app/", "/", "/app/%7Euser", "/~user"),
        ("/app/", "/", "/app/a%3Fb?c", "/a%3Fb?c"),
        ("/app/", "/base", "/app/", "/base"),
        ("", "/", "/any/thing", "//any/thing"),  # regex location: nothing replaced
        ("/", None, "http://example.org/x?y", "/x?y"),  # absolute-form: from the path on
    ],
)
def test_upstream_target(prefix: str, uri_part: str | None, raw: str, expected: str) -> None:
    target = parse_target(raw.encode())
    got = upstream_target(target, uri_part=uri_part, prefix=len(prefix))
    assert got == expected.encode()


def test_upstream_target_from_variables_is_taken_as_given() -> None:
    target = parse_target(b"/app/x?q=1")
    assert upstream_target(target, uri_part="/fixed", prefix=5, from_variables=True) == b"/fixed"
    assert upstream_target(target, uri_part=None, prefix=5, from_variables=True) == b"/app/x?q=1"


def test_escape_uri() -> None:
    assert escape_uri(b"/a b#c%d?e\x7f\xc3\xa9") == b"/a%20b%23c%25d%3Fe%7F%C3%A9"
    assert escape_uri(b"/plain~") == b"/plain~"


def test_default_headers_then_client_headers() -> None:
    plan = HeaderPlan.build([])
    client = [
        (b"Host", b"front"),
        (b"Connection", b"keep-alive"),
        (b"Keep-Alive", b"300"),
        (b"TE", b"trailers"),
        (b"Expect", b"100-continue"),
        (b"Upgrade", b"websocket"),
        (b"Content-Length", b"3"),
        (b"Proxy-Connection", b"x"),
        (b"X-A", b"1"),
        (b"x-a", b"2"),
    ]
    lookup = {"proxy_host": "backend"}.get
    own = set_headers(plan, lookup, framing=BodyFraming(length=3))
    headers = build_headers(plan, own, client)
    assert headers == [
        (b"Host", b"backend"),
        (b"Connection", b"close"),
        (b"Content-Length", b"3"),
        (b"Proxy-Connection", b"x"),  # not hop-by-hop for nginx
        (b"X-A", b"1"),
        (b"x-a", b"2"),
    ]


def test_set_headers_come_first_and_empty_values_suppress() -> None:
    plan = HeaderPlan.build(
        [
            set_header("X-Real-IP", "$remote_addr"),
            set_header("Host", "$host"),
            set_header("Connection", ""),
            set_header("Accept-Encoding", ""),
            set_header("X-Empty", "$arg_missing"),
        ]
    )
    variables = {"remote_addr": "10.0.0.9", "host": "front.example"}
    client = [(b"Accept-Encoding", b"gzip"), (b"X-Empty", b"client"), (b"Cookie", b"a=1")]
    own = set_headers(plan, variables.get, framing=BodyFraming(chunked=True))
    headers = build_headers(plan, own, client)
    assert headers == [
        (b"X-Real-IP", b"10.0.0.9"),
        (b"Host", b"front.example"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Cookie", b"a=1"),
    ]


def test_pass_request_headers_off() -> None:
    plan = HeaderPlan.build([])
    own = set_headers(plan, {"proxy_host": "b"}.get, framing=BodyFraming())
    headers = build_headers(plan, own, [(b"X-A", b"1")], pass_request_headers=False)
    assert headers == [(b"Host", b"b"), (b"Connection", b"close")]


def test_request_head_bytes() -> None:
    head = request_head("GET", b"/x", "1.1", [(b"Host", b"b"), (b"X", b"y")])
    assert head == b"GET /x HTTP/1.1\r\nHost: b\r\nX: y\r\n\r\n"
