"""`random` and `random two`: peers drawn by weight (a seeded draw here), never one that
cannot be used; of two drawn, the one with fewer requests in flight."""

from __future__ import annotations

import random
from collections import Counter

import trio

from pushproxy.proxy.address import Endpoint
from pushproxy.proxy.balancing import Balancer, Method, PeerSpec

from .conftest import AppFactory, ProxyFactory
from .support import app_answering, conf


def _spec(n: int, *, weight: int = 1, down: bool = False) -> PeerSpec:
    """Peer n listens on port 8000 + n."""
    return PeerSpec(endpoint=Endpoint(host="127.0.0.1", port=8000 + n), weight=weight, down=down)


def _picks(balancer: Balancer, count: int) -> Counter[int]:
    """The ports of `count` requests, each one answered before the next."""
    seen: Counter[int] = Counter()
    for _ in range(count):
        attempts = balancer.start()
        peer = attempts.next(0.0)
        assert peer is not None
        seen[peer.spec.endpoint.port] += 1
        attempts.done(peer, 0.0, failed=False)
    return seen


def test_peers_are_drawn_by_weight() -> None:
    balancer = Balancer("b", [_spec(0, weight=3), _spec(1)], Method.RANDOM, rng=random.Random(7))
    seen = _picks(balancer, 4000)
    assert 2850 < seen[8000] < 3150  # 3 in 4 (the standard deviation is about 27)


def test_a_peer_that_cannot_be_used_is_never_drawn() -> None:
    specs = [_spec(0), _spec(1, down=True), _spec(2)]
    for method in (Method.RANDOM, Method.RANDOM_TWO):
        seen = _picks(Balancer("b", specs, method, rng=random.Random(1)), 300)
        assert set(seen) == {8000, 8002}
    gone = [_spec(0, down=True), _spec(1, down=True)]
    assert Balancer("b", gone, Method.RANDOM).start().next(0.0) is None


def test_of_two_drawn_the_one_with_fewer_requests_in_flight() -> None:
    balancer = Balancer("b", [_spec(n) for n in range(3)], Method.RANDOM_TWO, rng=random.Random(3))
    balancer.primary[0].conns = 5  # busy
    seen = _picks(balancer, 300)
    assert 8000 not in seen
    assert min(seen[8001], seen[8002]) > 50


async def test_random_two_least_conn_serves_through_live_peers(
    proxy: ProxyFactory, app: AppFactory
) -> None:
    apps = [await app(name) for name in "abc"]
    servers = "".join(
        f"server 127.0.0.1:{a.port}{' down' if a.name == 'b' else ''}; " for a in apps
    )
    upstream = f"upstream backend {{ random two least_conn; {servers} }}"
    async with proxy(conf("location / { proxy_pass http://backend; }", http=upstream)) as server:
        port = server.port()
        answers = [
            await app_answering(await trio.open_tcp_stream("127.0.0.1", port)) for _ in range(30)
        ]
    assert set(answers) == {"a", "c"}
