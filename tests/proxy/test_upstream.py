"""Peer choice as nginx's round-robin balancer makes it, with an injected clock."""

from __future__ import annotations

import re

import pytest

from pushproxy.proxy.address import Endpoint, ProxyUrl, parse_proxy_url
from pushproxy.proxy.balancing import Balancer, PeerSpec
from pushproxy.proxy.upstream import Upstreams


def peer(
    name: str,
    *,
    weight: int = 1,
    max_fails: int = 1,
    fail_timeout: float = 10.0,
    backup: bool = False,
    down: bool = False,
) -> PeerSpec:
    """Peer `a` listens on port 8000, `b` on 8001..."""
    return PeerSpec(
        endpoint=Endpoint(host="127.0.0.1", port=8000 + ord(name[0]) - ord("a")),
        weight=weight,
        max_fails=max_fails,
        fail_timeout=fail_timeout,
        backup=backup,
        down=down,
    )


def names(balancer: Balancer, count: int, now: float = 0.0) -> str:
    """The peers `count` requests get, each the first try of its request."""
    out = []
    for _ in range(count):
        attempts = balancer.start()
        chosen = attempts.next(now)
        out.append("-" if chosen is None else chr(ord("a") + chosen.spec.endpoint.port - 8000))
        if chosen is not None:
            attempts.done(chosen, now, failed=False)
    return "".join(out)


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ((1, 1, 1), "abcabc"),
        ((5, 1, 1), "aabacaa" * 2),  # nginx's smooth sequence for 5:1:1
        ((2, 1), "abaaba"),
        ((3, 2), "abababaaba"[:5] * 2),
    ],
)
def test_smooth_weighted_round_robin(weights: tuple[int, ...], expected: str) -> None:
    specs = [peer(chr(ord("a") + i), weight=w) for i, w in enumerate(weights)]
    balancer = Balancer("b", specs)
    assert names(balancer, len(expected)) == expected


def test_down_peers_are_never_chosen() -> None:
    balancer = Balancer("b", [peer("a", down=True), peer("b"), peer("c")])
    assert names(balancer, 4) == "bcbc"


def test_max_fails_within_fail_timeout_marks_a_peer_down() -> None:
    balancer = Balancer("b", [peer("a", max_fails=2, fail_timeout=10.0), peer("b")])
    a = balancer.primary[0]
    for now in (0.0, 1.0):
        attempts = balancer.start()
        attempts.done(a, now, failed=True)
    assert not a.available(5.0)
    assert names(balancer, 3, now=5.0) == "bbb"
    # after fail_timeout the peer gets one more chance; a success clears its failures
    assert a.available(11.5)
    attempts = balancer.start()
    chosen = attempts.next(11.5)
    while chosen is not a:
        assert chosen is not None
        attempts.done(chosen, 11.5, failed=False)
        attempts = balancer.start()
        chosen = attempts.next(11.5)
    attempts.done(a, 11.5, failed=False)
    assert a.fails == 0


def test_one_failure_after_the_timeout_marks_it_down_again() -> None:
    balancer = Balancer("b", [peer("a", max_fails=1, fail_timeout=10.0), peer("b")])
    a = balancer.primary[0]
    balancer.start().done(a, 0.0, failed=True)
    assert not a.available(9.0)
    assert a.available(10.5)
    balancer.start().done(a, 10.5, failed=True)
    assert not a.available(11.0)


def test_max_fails_zero_never_marks_down() -> None:
    balancer = Balancer("b", [peer("a", max_fails=0), peer("b")])
    a = balancer.primary[0]
    for _ in range(5):
        balancer.start().done(a, 0.0, failed=True)
    assert a.available(0.0)


def test_a_failure_lowers_the_effective_weight_which_recovers() -> None:
    balancer = Balancer("b", [peer("a", weight=10, max_fails=5), peer("b", weight=1)])
    a = balancer.primary[0]
    balancer.start().done(a, 0.0, failed=True)
    assert a.effective_weight == 8
    names(balancer, 4, now=100.0)
    assert a.effective_weight == 10


def test_backup_only_when_every_primary_is_down() -> None:
    balancer = Balancer("b", [peer("a"), peer("b"), peer("c", backup=True)])
    assert names(balancer, 4) == "abab"
    for p in balancer.primary:
        balancer.start().done(p, 0.0, failed=True)
    assert names(balancer, 3, now=1.0) == "ccc"
    # back after fail_timeout, their effective weights recovering from 0
    assert names(balancer, 4, now=20.0) == "aaba"


def test_one_request_tries_each_peer_once_then_the_backups() -> None:
    balancer = Balancer("b", [peer("a"), peer("b"), peer("c", backup=True)])
    attempts = balancer.start()
    tried = []
    while (chosen := attempts.next(0.0)) is not None:
        tried.append(chosen.spec.endpoint.port - 8000)
        attempts.done(chosen, 0.0, failed=True)
    assert sorted(tried[:2]) == [0, 1]
    assert tried[2:] == [2]
    assert attempts.tries == 0


def test_next_upstream_tries_caps_the_walk() -> None:
    balancer = Balancer("b", [peer("a"), peer("b"), peer("c")])
    attempts = balancer.start(max_tries=2)
    first = attempts.next(0.0)
    assert first is not None
    attempts.done(first, 0.0, failed=True)
    second = attempts.next(0.0)
    assert second is not None
    attempts.done(second, 0.0, failed=True)
    assert attempts.next(0.0) is None


def test_a_single_peer_is_never_marked_down_and_tried_once() -> None:
    balancer = Balancer("b", [peer("a", max_fails=1)])
    a = balancer.primary[0]
    for _ in range(3):
        attempts = balancer.start()
        assert attempts.next(0.0) is a
        attempts.done(a, 0.0, failed=True)
        assert attempts.tries == 0
        assert attempts.next(0.0) is None
    assert a.fails == 0


@pytest.mark.parametrize(
    ("text", "host", "port", "uri", "authority"),
    [
        ("http://127.0.0.1:8080", "127.0.0.1", 8080, None, "127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", "127.0.0.1", 8080, "/", "127.0.0.1:8080"),
        ("http://backend/api/", "backend", None, "/api/", "backend"),
        ("HTTP://Backend:80/x?y", "Backend", 80, "/x?y", "Backend:80"),
        ("http://[::1]:81/", "::1", 81, "/", "[::1]:81"),
        ("http://example.org?a", "example.org", None, "?a", "example.org"),
    ],
)
def test_proxy_pass_urls(
    text: str, host: str, port: int | None, uri: str | None, authority: str
) -> None:
    url = parse_proxy_url(text)
    assert (url.host, url.port, url.uri, url.authority) == (host, port, uri, authority)


def test_unix_socket_urls() -> None:
    url = parse_proxy_url("http://unix:/run/app.sock:/api/")
    assert (url.unix, url.uri, url.authority) == ("/run/app.sock", "/api/", "localhost")
    assert parse_proxy_url("http://unix:/run/app.sock").uri is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ftp://x", 'invalid URL prefix in "ftp://x"'),
        ("http://", 'no host in "http://"'),
        ("http://a:b/", 'invalid port in "http://a:b/"'),
        ("http://a:70000", 'invalid port in "http://a:70000"'),
    ],
)
def test_invalid_urls(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_proxy_url(text)


def test_implicit_groups_resolve_once_and_are_shared() -> None:
    calls: list[str] = []

    def resolve(host: str) -> list[str]:
        calls.append(host)
        return ["10.0.0.1", "10.0.0.2"]

    upstreams = Upstreams.build(None, resolve)
    first = upstreams.for_url(parse_proxy_url("http://app.internal:81/a/"))
    again = upstreams.for_url(parse_proxy_url("http://app.internal:81"))
    assert first is again
    assert first is not None
    assert [p.name for p in first.balancer.primary] == ["10.0.0.1:81", "10.0.0.2:81"]
    assert calls == ["app.internal"]
    # at request time a name is not resolved (nginx: no resolver defined)
    assert upstreams.for_url(parse_proxy_url("http://other"), resolve=False) is None
    literal = upstreams.for_url(parse_proxy_url("http://10.1.1.1"), resolve=False)
    assert literal is not None
    assert literal.balancer.single


def test_proxy_url_is_frozen() -> None:
    url = parse_proxy_url("http://a")
    assert isinstance(url, ProxyUrl)
    with pytest.raises(AttributeError):
        url.host = "b"  # type: ignore[misc]
