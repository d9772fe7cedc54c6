"""Balancing by the requests in flight, as nginx does it: with requests held open on some
peers, the next ones go where nginx sends them: `least_conn` (fewest in flight for their
weight, ties round-robin) and `max_conns` (a peer at its limit is passed over; none left is
a 502)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from pushproxy.proxy.address import Endpoint
from pushproxy.proxy.balancing import Balancer, Method, PeerSpec

from .conftest import AppFactory, ProxyFactory
from .nginx import needs_nginx, running_nginx
from .support import app_answering, conf, eventually
from .upstream_app import UpstreamApp

# "ask": a request answered at once (which app answered it); "hold": one left waiting
# (`/hang`) on an app, until the end (which app holds it).
PLAN = ("ask", "ask", "ask", "hold", "ask", "ask", "hold", "hold", "ask", "ask", "ask", "hold",
        "ask", "ask", "ask", "ask")  # fmt: skip


async def _ask(port: int) -> str:
    return await app_answering(await trio.open_tcp_stream("127.0.0.1", port))


def _one_more(apps: list[UpstreamApp], total: int) -> Callable[[], bool]:
    return lambda: sum(len(app.requests) for app in apps) > total


async def _run_plan(port: int, apps: list[UpstreamApp]) -> list[str]:
    """The app of each step of PLAN, the held requests let go at the end."""
    held: list[trio.SocketStream] = []
    seen: list[str] = []
    try:
        for step in PLAN:
            if step == "ask":
                seen.append(await _ask(port))
                continue
            before = [len(app.requests) for app in apps]
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            held.append(stream)
            await stream.send_all(b"GET /hang HTTP/1.1\r\nHost: a\r\n\r\n")
            await eventually(_one_more(apps, sum(before)))
            grew = [app.name for app, n in zip(apps, before, strict=True) if len(app.requests) > n]
            seen.append("hold " + "".join(grew))
    finally:
        for stream in held:
            await stream.aclose()
    await eventually(lambda: all(app.open_streams == 0 for app in apps))
    return seen


@needs_nginx
@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("least_conn;", ("", "", "")),
        ("least_conn;", ("weight=2", "", "")),
        ("", ("max_conns=1", "max_conns=2", "max_conns=1")),
        ("least_conn;", ("max_conns=2", "max_conns=1", "max_conns=1")),
    ],
    ids=["least_conn", "least_conn-weights", "max_conns", "least_conn-max_conns"],
)
async def test_requests_go_where_nginx_sends_them(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path, method: str, params: tuple[str, ...]
) -> None:
    apps = [await app(name) for name in "abc"]
    pairs = zip(apps, params, strict=True)
    servers = "".join(f"server 127.0.0.1:{a.port} {extra}; " for a, extra in pairs)
    upstream = f"upstream backend {{ {method} {servers} }}"
    location = "location / { proxy_pass http://backend; }"
    async with running_nginx(tmp_path, location, http=upstream) as port:
        expected = await _run_plan(port, apps)
    async with proxy(conf(location, http=upstream)) as server:
        got = await _run_plan(server.port(), apps)
    assert got == expected
    assert {"a", "b", "c"} <= set(got)
    if "max_conns" in params[0]:
        assert "status 502" in got  # every peer at its limit


def test_the_peer_with_fewer_requests_in_flight_for_its_weight_is_chosen() -> None:
    specs = [
        PeerSpec(endpoint=Endpoint(host="127.0.0.1", port=8000), weight=3),
        PeerSpec(endpoint=Endpoint(host="127.0.0.1", port=8001)),
    ]
    balancer = Balancer("b", specs, Method.LEAST_CONN)
    in_flight = [balancer.start().next(0.0) for _ in range(4)]
    ports = [peer.spec.endpoint.port for peer in in_flight if peer is not None]
    # weight 3 takes three requests in flight for the other's one
    assert sorted(ports) == [8000, 8000, 8000, 8001]
    assert [peer.conns for peer in balancer.primary] == [3, 1]
