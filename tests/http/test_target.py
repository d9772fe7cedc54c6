"""Request targets split and normalized as nginx does (expected values are nginx's)."""

from __future__ import annotations

import pytest

from pushproxy.http.target import BadRequest, normalize_path, parse_target


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (b"/a/b", b"/a/b"),
        (b"/x/../y", b"/y"),
        (b"/x/./y", b"/x/y"),
        (b"//a//b", b"/a/b"),
        (b"/a/.", b"/a/"),
        (b"/a/..", b"/"),
        (b"/a/b/..", b"/a/"),
        (b"/a/./../b", b"/b"),
        (b"/a/%2e%2e/x", b"/x"),  # decoded dots count as dots
        (b"/x/%2E./y", b"/y"),
        (b"/%41%2fb", b"/A/b"),
        (b"/%2f%2fq", b"/q"),  # decoded slashes are merged too
        (b"/a%3Fb", b"/a?b"),
        (b"/a%23b", b"/a#b"),
        (b"/a%25%32%46", b"/a%2F"),  # a decoded `%` is not decoded again
        (b"/x+y", b"/x+y"),
        (b"/.hidden", b"/.hidden"),
        (b"/a/.../b", b"/a/.../b"),
        (b"/a/..x", b"/a/..x"),
        (b"/%C3%A9", "/é".encode()),
    ],
)
def test_normalize_path(path: bytes, expected: bytes) -> None:
    assert normalize_path(path) == expected


@pytest.mark.parametrize(
    "path",
    [b"/..", b"/a/../..", b"/ab/../../c", b"/%2e%2e/x", b"/%zz", b"/a%2", b"/a%", b"/a%00b"],
)
def test_normalize_path_bad_request(path: bytes) -> None:
    with pytest.raises(BadRequest, match="client sent invalid request"):
        normalize_path(path)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (b"//a//b", b"//a//b"),
        (b"//a/..//b", b"///b"),
        (b"/a//./b", b"/a//b"),
        (b"/a//../b", b"/a/b"),
        (b"/%2f/x", b"///x"),
    ],
)
def test_normalize_path_keeps_slashes_when_not_merging(path: bytes, expected: bytes) -> None:
    assert normalize_path(path, merge_slashes=False) == expected


@pytest.mark.parametrize(
    ("raw", "host", "request_uri", "uri", "args"),
    [
        (b"/p?a=1&b=2", None, "/p?a=1&b=2", "/p", "a=1&b=2"),
        (b"/p?", None, "/p?", "/p", ""),
        (b"/a?b#c", None, "/a?b#c", "/a", "b"),
        (b"/a#b?c", None, "/a#b?c", "/a", ""),
        (b"/a%3Fb?c=d", None, "/a%3Fb?c=d", "/a?b", "c=d"),
        (b"/a/..?q=1", None, "/a/..?q=1", "/", "q=1"),
        (b"/a?b%20c", None, "/a?b%20c", "/a", "b%20c"),  # args are not unescaped
        (b"http://h", b"h", "", "/", ""),
        (b"http://h?x=1", b"h", "?x=1", "/", "x=1"),
        (b"http://H.test.:81/p?x#y", b"H.test.", "/p?x#y", "/p", "x"),
        (b"https://[::1]:8443/p", b"[::1]", "/p", "/p", ""),
        (b"HTTP://h/", b"h", "/", "/", ""),
    ],
)
def test_parse_target(
    raw: bytes, host: bytes | None, request_uri: str, uri: str, args: str
) -> None:
    target = parse_target(raw)
    assert (target.host, target.request_uri, target.uri, target.args) == (
        host,
        request_uri,
        uri,
        args,
    )
    assert target.raw == raw.decode()


@pytest.mark.parametrize(
    "raw", [b"*", b"p/x", b"http://a_b/", b"http://h#x", b"http:/h/", b"http://h:8a/", b"/%zz"]
)
def test_parse_target_bad_request(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_target(raw)
