"""`ip_hash` and `hash KEY [consistent]` as nginx applies them: the same clients (addresses
of their own in 127.0.0.0/8) and the same keys (request URIs) reach the same peers through
pushproxy as through Debian's nginx, with weights, a peer down and a peer that refuses, and
keep them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import trio

from pushproxy.proxy.address import Endpoint
from pushproxy.proxy.balancing import Balancer, Method, PeerSpec
from pushproxy.proxy.hashing import ip_hash_key

from .conftest import AppFactory, ProxyFactory
from .nginx import needs_nginx, running_nginx
from .support import app_answering, conf, connect_from

# Addresses whose first three bytes differ (ip_hash looks at those only), and one that shares
# them with the first; request URIs, the last one again.
SOURCES = [f"127.{a}.{b}.1" for a in (0, 1, 7, 42) for b in (0, 3, 9, 200)] + ["127.0.0.77"]
TARGETS = [f"/{word}/{n}" for word in ("img", "api", "cart", "x") for n in range(25)] + ["/img/0"]


async def _app_from(port: int, source: str) -> str:
    """The name of the upstream app that answers a request sent from `source`."""
    return await app_answering(await connect_from(source, port))


async def _by_source(port: int) -> list[str]:
    return [await _app_from(port, source) for source in SOURCES]


async def _by_target(port: int) -> list[str]:
    return [
        await app_answering(await trio.open_tcp_stream("127.0.0.1", port), target)
        for target in TARGETS
    ]


MAPPINGS: dict[str, Callable[[int], Awaitable[list[str]]]] = {
    "ip_hash": _by_source,
    "hash $request_uri": _by_target,
    "hash $request_uri consistent": _by_target,
}


def _upstream(method: str, ports: list[int], params: list[str]) -> str:
    pairs = zip(ports, params, strict=True)
    servers = "".join(f"server 127.0.0.1:{port} {extra}; " for port, extra in pairs)
    return f"upstream backend {{ {method}; {servers} }}"


async def _side_by_side(
    proxy: ProxyFactory, tmp_path: Path, method: str, ports: list[int], params: list[str]
) -> tuple[list[str], list[str], list[str]]:
    """Where nginx sends the requests of `method`'s mapping, then pushproxy, twice."""
    upstream = _upstream(method, ports, params)
    location = "location / { proxy_pass http://backend; }"
    mapping = MAPPINGS[method]
    async with running_nginx(tmp_path, location, http=upstream) as port:
        expected = await mapping(port)
    async with proxy(conf(location, http=upstream)) as server:
        got = await mapping(server.port())
        again = await mapping(server.port())
    return expected, got, again


@needs_nginx
@pytest.mark.parametrize("method", list(MAPPINGS))
@pytest.mark.parametrize(
    "params",
    [["", "", ""], ["weight=3", "", "weight=2"], ["", "down", ""]],
    ids=["equal", "weights", "down"],
)
async def test_requests_reach_the_peers_nginx_sends_them_to(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path, method: str, params: list[str]
) -> None:
    apps = [await app(name) for name in "abc"]
    expected, got, again = await _side_by_side(
        proxy, tmp_path, method, [a.port for a in apps], params
    )
    assert got == expected
    assert again == got  # a client, a key, keeps its peer
    assert got[-1] == got[0]  # the same key (only three bytes of an IPv4 address count)
    assert len(set(got)) > 1
    if "down" in params:
        assert "b" not in got


@needs_nginx
@pytest.mark.parametrize("method", list(MAPPINGS))
async def test_a_peer_that_refuses_sends_its_requests_where_nginx_does(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path, method: str
) -> None:
    """A failed try goes on from the hash where the last try stopped; the peer is then out
    for `fail_timeout` (the same order of requests gives the same answers)."""
    apps = [await app(name) for name in "ac"]
    dead = trio.socket.socket()
    await dead.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    ports = [apps[0].port, dead.getsockname()[1], apps[1].port]
    expected, got, _ = await _side_by_side(proxy, tmp_path, method, ports, ["", "", ""])
    dead.close()
    assert got == expected
    assert set(got) == {"a", "c"}


def _specs(count: int, **down: bool) -> list[PeerSpec]:
    return [
        PeerSpec(endpoint=Endpoint(host="127.0.0.1", port=8000 + n), down=down.get(f"p{n}", False))
        for n in range(count)
    ]


def test_the_key_is_three_bytes_of_ipv4_all_of_ipv6() -> None:
    assert ip_hash_key("10.1.2.3") == bytes([10, 1, 2])
    assert ip_hash_key("::1") == bytes(15) + b"\x01"
    assert ip_hash_key("unix:") == bytes(3)  # a unix socket's client: nginx's pseudo address


def test_a_failed_try_moves_on_to_another_peer_then_round_robin() -> None:
    balancer = Balancer("b", _specs(3), Method.IP_HASH)
    attempts = balancer.start(key=ip_hash_key("10.0.0.1"))
    tried = []
    while (peer := attempts.next(0.0)) is not None:
        tried.append(peer.spec.endpoint.port)
        attempts.done(peer, 0.0, failed=True)
    assert sorted(tried) == [8000, 8001, 8002]  # each peer once, then no live upstreams


def test_every_peer_down_leaves_none() -> None:
    balancer = Balancer("b", _specs(2, p0=True, p1=True), Method.IP_HASH)
    assert balancer.start(key=ip_hash_key("10.0.0.1")).next(0.0) is None
