"""nginx variables. Expected values are nginx's (checked against nginx 1.22
where it behaves the same; `$http_*` joins several headers as nginx does since 1.23)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta, timezone

import pytest

from pushproxy.config.complex import compile_value
from pushproxy.http.captures import NO_CAPTURES, Captures
from pushproxy.http.connection_variables import ConnectionInfo, Response
from pushproxy.http.target import parse_target
from pushproxy.http.variables import Headers, RequestVars

CONNECTION = ConnectionInfo(
    remote_addr="192.0.2.7", remote_port=51234, server_addr="127.0.0.1", server_port=8080
)
NOW = 1_700_000_000.123  # 2023-11-14 22:13:20.123 UTC


def variables(
    target: bytes = b"/",
    headers: Headers = (),
    *,
    method: bytes = b"GET",
    version: bytes = b"1.1",
    captures: Captures = NO_CAPTURES,
    host: str = "",
    connection: ConnectionInfo = CONNECTION,
) -> RequestVars:
    return RequestVars(
        method=method,
        target=parse_target(target),
        http_version=version,
        headers=headers,
        connection=connection,
        server_name="example.com",
        host=host,
        hostname="box",
        captures=captures,
        started=NOW - 1.5,
        clock=lambda: NOW,
        tz=timezone(timedelta(hours=-3, minutes=-30)),
    )


HEADERS: Headers = [
    (b"Host", b"Example.COM:8080"),
    (b"User-Agent", b"curl/8.0"),
    (b"X-Thing", b"a"),
    (b"x-thing", b"b"),
    (b"Cookie", b"a=1; sid=abc; x=y"),
    (b"Cookie", b"late=2"),
    (b"Content-Type", b"text/plain"),
    (b"Content-Length", b"12"),
    (b"X-Forwarded-For", b"10.0.0.1"),
    (b"X-Forwarded-For", b"10.0.0.2"),
]


@pytest.mark.parametrize(
    ("target", "name", "expected"),
    [
        (b"/a/../b%20c?x=1&y=2", "uri", "/b c"),
        (b"/a/../b%20c?x=1&y=2", "document_uri", "/b c"),
        (b"/a/../b%20c?x=1&y=2", "request_uri", "/a/../b%20c?x=1&y=2"),
        (b"/a/../b%20c?x=1&y=2", "args", "x=1&y=2"),
        (b"/a/../b%20c?x=1&y=2", "query_string", "x=1&y=2"),
        (b"/a?x=1", "is_args", "?"),
        (b"/a?", "is_args", ""),
        (b"/a", "is_args", ""),
        (b"http://h/p?q", "request", "GET http://h/p?q HTTP/1.1"),
        (b"/", "request_method", "GET"),
        (b"/", "server_protocol", "HTTP/1.1"),
        (b"/", "scheme", "http"),
        (b"/", "https", ""),
        (b"/", "host", "example.com"),  # no host given: the server name
        (b"/", "hostname", "box"),
        (b"/", "server_name", "example.com"),
        (b"/", "remote_addr", "192.0.2.7"),
        (b"/", "remote_port", "51234"),
        (b"/", "server_addr", "127.0.0.1"),
        (b"/", "server_port", "8080"),
        (b"/", "content_type", "text/plain"),
        (b"/", "content_length", "12"),
        (b"/", "http_user_agent", "curl/8.0"),
        (b"/", "http_host", "Example.COM:8080"),
        (b"/", "http_x_thing", "a, b"),
        (b"/", "http_cookie", "a=1; sid=abc; x=y; late=2"),
        (b"/", "http_x_forwarded_for", "10.0.0.1, 10.0.0.2"),
        (b"/", "http_missing", None),
        (b"/", "proxy_add_x_forwarded_for", "10.0.0.1, 10.0.0.2, 192.0.2.7"),
        (b"/", "cookie_sid", "abc"),
        (b"/", "cookie_late", "2"),
        (b"/", "cookie_SID", "abc"),
        (b"/", "cookie_none", None),
        (b"/", "msec", "1700000000.123"),
        (b"/", "time_local", "14/Nov/2023:18:43:20 -0330"),
        (b"/", "time_iso8601", "2023-11-14T18:43:20-03:30"),
        (b"/", "request_time", "1.500"),
        (b"/", "status", None),  # no response yet
        (b"/", "body_bytes_sent", "0"),
        (b"/", "proxy_host", ""),
        (b"/", "1", None),
        (b"/", "no_such_variable", None),
        (b"/", "URI", "/"),  # nginx lowercases variable names
        (b"/", "HTTP_X_THING", "a, b"),
    ],
)
def test_variable(target: bytes, name: str, expected: str | None) -> None:
    assert variables(target, HEADERS).lookup(name) == expected


@pytest.mark.parametrize(
    ("args", "name", "expected"),
    [
        ("id=1&ID=2", "id", "1"),
        ("xid=1&id=2", "id", "2"),  # the name must start the pair
        ("a=1&Id=3&id=4", "id", "3"),  # the first, names compared without case
        ("id", "id", None),  # no `=`: not found
        ("id=&x", "id", ""),
        ("a=id=3", "id", None),
        ("a;id=5", "id", None),  # only `&` separates
        ("id=a%20b+c", "id", "a%20b+c"),  # not unescaped
        ("id=1=2&x", "id", "1=2"),
        ("", "id", None),
    ],
)
def test_arg(args: str, name: str, expected: str | None) -> None:
    assert variables(f"/p?{args}".encode()).lookup(f"arg_{name}") == expected


@pytest.mark.parametrize(
    ("cookies", "expected"),
    [
        ([b"a=1; sid=abc; x=y"], "abc"),
        ([b"sid = q r ;x=1"], "q r "),  # spaces around `=` skipped, trailing kept
        ([b"x=1, sid=2", b"sid=3"], "2"),  # a pair that does not match ends at `,` too
        ([b"a=1", b"sid=3"], "3"),
        ([b"sidx=1; SID=4"], "4"),
        ([b"sid;sid=5"], None),  # nginx skips the rest after a `sid` with no `=`
        ([b"sid"], None),
        ([b"a=sid=1"], None),
        ([], None),
    ],
)
def test_cookie(cookies: list[bytes], expected: str | None) -> None:
    headers = [(b"Cookie", cookie) for cookie in cookies]
    assert variables(b"/", headers).lookup("cookie_sid") == expected


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ([], "192.0.2.7"),
        ([b"10.0.0.1"], "10.0.0.1, 192.0.2.7"),
        ([b""], ", 192.0.2.7"),  # nginx keeps an empty header's place
    ],
)
def test_proxy_add_x_forwarded_for(forwarded: list[bytes], expected: str) -> None:
    headers = [(b"X-Forwarded-For", value) for value in forwarded]
    assert variables(b"/", headers).lookup("proxy_add_x_forwarded_for") == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("1", "a1"),
        ("2", "b"),
        ("3", ""),  # a group that did not take part
        ("4", None),  # beyond the groups
        ("sub", "a1"),
        ("other", None),
    ],
)
def test_captures(name: str, expected: str | None) -> None:
    captures = Captures(("a1", "b", ""), {"sub": "a1"})
    assert variables(captures=captures).lookup(name) == expected


@pytest.mark.parametrize(
    ("first", "later", "positional", "named"),
    [
        (Captures(("a",), {"x": "a"}), None, ("a",), {"x": "a"}),
        (Captures(("a",), {"x": "a"}), Captures(("b",), {"y": "b"}), ("b",), {"x": "a", "y": "b"}),
        (Captures(("a",), {"x": "a"}), Captures((), {}), (), {"x": "a"}),
        (Captures(("a",), {"x": "a"}), Captures(("b",), {"x": "b"}), ("b",), {"x": "b"}),
        (NO_CAPTURES, Captures(("b",), {}), ("b",), {}),
    ],
)
def test_captures_then(
    first: Captures,
    later: Captures | None,
    positional: tuple[str, ...],
    named: dict[str, str],
) -> None:
    combined = first.then(later)
    assert (combined.positional, dict(combined.named)) == (positional, named)


def test_add_captures_replaces_positional_and_adds_named() -> None:
    request = variables(captures=Captures(("a", "b"), {"x": "1"}))
    request.add_captures(Captures(("c",), {"y": "2"}))
    assert [request.lookup(n) for n in ("1", "2", "x", "y")] == ["c", None, "1", "2"]


def test_set_overlays_and_ignores_case() -> None:
    request = variables(b"/p?id=7")
    request.set("Target", "backend")
    request.set("uri", "/rewritten")
    assert request.lookup("target") == "backend"
    assert request.lookup("TARGET") == "backend"
    assert request.lookup("uri") == "/rewritten"
    assert request.lookup("arg_id") == "7"


def test_host_given_wins_over_server_name() -> None:
    assert variables(host="app.test").lookup("host") == "app.test"


def test_https_scheme() -> None:
    secure = ConnectionInfo(
        remote_addr="::1", remote_port=1, server_addr="::1", server_port=443, scheme="https"
    )
    request = variables(connection=secure)
    assert (request.lookup("scheme"), request.lookup("https")) == ("https", "on")


def test_http_1_0() -> None:
    request = variables(b"/x", version=b"1.0", method=b"HEAD")
    assert request.lookup("request") == "HEAD /x HTTP/1.0"
    assert request.lookup("server_protocol") == "HTTP/1.0"


def test_proxy_variables() -> None:
    request = variables()
    request.set_proxy("backend", 8081)
    assert (request.lookup("proxy_host"), request.lookup("proxy_port")) == ("backend", "8081")


def test_response_variables() -> None:
    request = variables()
    request.respond(
        Response(
            status=204,
            body_bytes_sent=10,
            bytes_sent=150,
            headers=[(b"Content-Type", b"text/html"), (b"X-A", b"1"), (b"X-A", b"2")],
        )
    )
    names = ["status", "body_bytes_sent", "bytes_sent"]
    assert [request.lookup(n) for n in names] == ["204", "10", "150"]
    assert request.lookup("sent_http_content_type") == "text/html"
    assert request.lookup("sent_http_x_a") == "1, 2"
    assert request.lookup("sent_http_missing") is None


def test_time_in_the_local_zone_by_default() -> None:
    request = RequestVars(
        method=b"GET",
        target=parse_target(b"/"),
        http_version=b"1.1",
        headers=(),
        connection=CONNECTION,
        server_name="",
        clock=lambda: NOW,
    )
    assert request.lookup("request_time") == "0.000"
    local = request.lookup("time_iso8601")
    assert local is not None
    assert local.startswith("2023-11-1")  # whatever the machine's zone


class Untouchable(Sequence[tuple[bytes, bytes]]):
    """Headers that fail the test when read."""

    def __len__(self) -> int:
        raise AssertionError("headers were read")

    def __getitem__(self, index: object) -> tuple[bytes, bytes]:  # type: ignore[override]
        raise AssertionError("headers were read")

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        raise AssertionError("headers were read")


def test_args_and_uri_do_not_read_headers() -> None:
    request = variables(b"/p?id=3", Untouchable())
    assert request.lookup("arg_id") == "3"
    assert request.lookup("uri") == "/p"
    assert request.lookup("remote_addr") == "192.0.2.7"
    with pytest.raises(AssertionError, match="headers were read"):
        request.lookup("cookie_sid")


def test_complex_value_evaluation() -> None:
    request = variables(b"/r/42?x=1", HEADERS, host="example.com")
    request.add_captures(Captures(("42",), {}))
    value = compile_value("$scheme://$host${request_uri}#$1:$arg_x:$cookie_sid:$unknown.")
    assert value.evaluate(request.lookup) == "http://example.com/r/42?x=1#42:1:abc:."


def test_set_args_changes_what_reads_the_arguments() -> None:
    """`set $args` changes nginx's `r->args`: `$query_string`, `$is_args` and `$arg_*` too."""
    found = variables(b"/p?orig=1")
    found.set("args", "a=1&b=2")
    names = ("args", "query_string", "is_args", "arg_a", "arg_orig")
    assert [found.lookup(name) for name in names] == ["a=1&b=2", "a=1&b=2", "?", "1", None]
    found.set("args", "")
    assert [found.lookup(name) for name in names] == ["", "", "", None, None]
