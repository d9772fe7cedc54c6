"""Upstream blocks over real sockets: weights, backup, passive health, proxy_next_upstream,
keep-alive connections to upstreams."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio
from helpers import Client, request
from trio.testing import MockClock

from .conftest import AppFactory, ProxyFactory
from .support import conf, echoed, eventually
from .upstream_app import UpstreamApp


def block(*servers: str, extra: str = "") -> str:
    lines = "".join(f"server {s}; " for s in servers)
    return f"upstream backend {{ {lines} {extra} }}"


def via_block(upstream: str, location: str = "") -> str:
    return conf(f"location / {{ proxy_pass http://backend; {location} }}", http=upstream)


async def dead_port() -> int:
    sock = trio.socket.socket()
    await sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


class Closer:
    """A peer that accepts and closes at once: a failure the proxy sees as `error`."""

    def __init__(self) -> None:
        self.accepted = 0
        self.port = 0

    async def serve(self, *, task_status: trio.TaskStatus[Closer]) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self)
        async with listeners[0] as listener:
            while True:
                stream = await listener.accept()
                self.accepted += 1
                await stream.aclose()


async def names(port: int, count: int, target: str = "/") -> str:
    client = await Client.connect(port)
    got = []
    for _ in range(count):
        got.append(echoed(await client.request("GET", target))["app"])
    await client.aclose()
    return "".join(got)


async def test_weighted_round_robin(proxy: ProxyFactory, app: AppFactory) -> None:
    a, b = await app("a"), await app("b")
    upstream = block(f"127.0.0.1:{a.port} weight=2", f"127.0.0.1:{b.port}")
    async with proxy(via_block(upstream)) as server:
        assert await names(server.port(), 6) == "abaaba"


async def test_backup_serves_only_while_primaries_fail(
    proxy: ProxyFactory, app: AppFactory
) -> None:
    a, spare = await app("a"), await app("spare")
    dead = await dead_port()
    upstream = block(f"127.0.0.1:{dead}", f"127.0.0.1:{a.port}", f"127.0.0.1:{spare.port} backup")
    async with proxy(via_block(upstream)) as server:
        # the dead primary fails once, its request goes on to the live one; no backup needed
        assert await names(server.port(), 4) == "aaaa"
    upstream = block(f"127.0.0.1:{dead}", f"127.0.0.1:{spare.port} backup")
    async with proxy(via_block(upstream)) as server:
        assert await names(server.port(), 3) == "spare" * 3


async def test_max_fails_and_fail_timeout(
    proxy: ProxyFactory, app: AppFactory, nursery: trio.Nursery, autojump_clock: MockClock
) -> None:
    a = await app("a")
    closer: Closer = await nursery.start(Closer().serve)
    upstream = block(f"127.0.0.1:{closer.port} max_fails=2 fail_timeout=30s", f"127.0.0.1:{a.port}")
    async with proxy(via_block(upstream)) as server:
        port = server.port()
        assert await names(port, 8) == "a" * 8  # failures are retried on the live peer
        assert closer.accepted == 2  # down after two failures
        autojump_clock.jump(31)
        assert await names(port, 4) == "a" * 4
        assert closer.accepted == 3  # one more chance after fail_timeout, failed again
        autojump_clock.jump(10)
        assert await names(port, 4) == "a" * 4
        assert closer.accepted == 3


async def test_all_peers_failing_is_502(proxy: ProxyFactory, app: AppFactory) -> None:
    first, second = await dead_port(), await dead_port()
    upstream = block(f"127.0.0.1:{first}", f"127.0.0.1:{second}")
    async with proxy(via_block(upstream)) as server:
        port = server.port()
        assert (await request(port, "GET", "/")).status == 502  # both tried, both failed
        assert (await request(port, "GET", "/")).status == 502  # no live upstreams


@pytest.mark.parametrize(
    ("next_upstream", "method", "expected"),
    [
        ("error timeout", "GET", (500, "bad")),  # http_500 not listed: the 500 passes
        ("error timeout http_500", "GET", (200, "good")),
        ("error timeout http_500", "POST", (500, "bad")),  # sent, not idempotent
        ("error timeout http_500 non_idempotent", "POST", (200, "good")),
        ("off", "GET", (500, "bad")),
    ],
)
async def test_next_upstream_on_status(
    proxy: ProxyFactory, app: AppFactory, next_upstream: str, method: str, expected: tuple[int, str]
) -> None:
    bad, good = await app("bad", status=500), await app("good")
    upstream = block(f"127.0.0.1:{bad.port}", f"127.0.0.1:{good.port}")
    location = f"proxy_next_upstream {next_upstream};"
    async with proxy(via_block(upstream, location)) as server:
        response = await request(
            server.port(), method, "/", body=b"x" if method == "POST" else None
        )
    assert response.status == expected[0]
    assert expected[1].encode() in response.body


async def test_unsent_post_goes_to_the_next_peer(proxy: ProxyFactory, app: AppFactory) -> None:
    good = await app("good")
    upstream = block(f"127.0.0.1:{await dead_port()}", f"127.0.0.1:{good.port}")
    async with proxy(via_block(upstream)) as server:
        for _ in range(2):
            response = await request(server.port(), "POST", "/", body=b"data")
            assert echoed(response)["body"] == "data"


async def test_next_upstream_off_and_tries(proxy: ProxyFactory, app: AppFactory) -> None:
    good = await app("good")
    dead = await dead_port()
    upstream = block(f"127.0.0.1:{dead} max_fails=0", f"127.0.0.1:{good.port}")
    async with proxy(via_block(upstream, "proxy_next_upstream off;")) as server:
        statuses = [(await request(server.port(), "GET", "/")).status for _ in range(4)]
    assert sorted(statuses) == [200, 200, 502, 502]
    async with proxy(via_block(upstream, "proxy_next_upstream_tries 1;")) as server:
        statuses = [(await request(server.port(), "GET", "/")).status for _ in range(4)]
    assert sorted(statuses) == [200, 200, 502, 502]


async def test_timeout_then_next_peer(
    proxy: ProxyFactory, app: AppFactory, autojump_clock: MockClock
) -> None:
    slow, fast = await app("slow", delay=5.0), await app("fast")
    upstream = block(f"127.0.0.1:{slow.port}", f"127.0.0.1:{fast.port}")
    location = "proxy_read_timeout 2s;"
    async with proxy(via_block(upstream, location)) as server:
        client = await Client.connect(server.port())
        for _ in range(2):
            response = await client.request("GET", "/")
            assert echoed(response)["app"] == "fast"
        await client.aclose()


KEEPALIVE = """
    proxy_http_version 1.1;
    proxy_set_header Connection "";
"""


async def test_keepalive_reuses_upstream_connections(proxy: ProxyFactory, app: AppFactory) -> None:
    a = await app("a")
    upstream = block(f"127.0.0.1:{a.port}", extra="keepalive 4;")
    async with proxy(via_block(upstream, KEEPALIVE)) as server:
        port = server.port()
        for _ in range(3):
            assert len(await names(port, 5)) == 5
        streamed = await request(port, "GET", "/chunked")
        big = await request(port, "GET", "/big?size=300000")
        assert streamed.body == b"onetwothree"
        assert len(big.body) == 300_000
        assert a.connections == 1
        assert [r.http_version for r in a.requests] == ["1.1"] * 17
        assert all(r.header("Connection") is None for r in a.requests)


async def test_no_keepalive_without_the_directive_or_http_1_1(
    proxy: ProxyFactory, app: AppFactory
) -> None:
    a = await app("a")
    async with proxy(via_block(block(f"127.0.0.1:{a.port}"), KEEPALIVE)) as server:
        await names(server.port(), 3)
    assert a.connections == 3
    b = await app("b")
    async with proxy(via_block(block(f"127.0.0.1:{b.port}", extra="keepalive 4;"))) as server:
        await names(server.port(), 3)  # Connection: close by default
    assert b.connections == 3


async def test_keepalive_drops_what_the_upstream_closed(
    proxy: ProxyFactory, app: AppFactory
) -> None:
    a: UpstreamApp = await app("a", requests_per_connection=2)
    upstream = block(f"127.0.0.1:{a.port}", extra="keepalive 4;")
    async with proxy(via_block(upstream, KEEPALIVE)) as server:
        port = server.port()
        for _ in range(6):
            assert len(await names(port, 1)) == 1
            await trio.sleep(0.01)  # let the upstream's close arrive
    assert a.connections == 3


async def test_keepalive_drops_a_cut_response(proxy: ProxyFactory, app: AppFactory) -> None:
    a = await app("a")
    upstream = block(f"127.0.0.1:{a.port}", extra="keepalive 4;")
    async with proxy(via_block(upstream, KEEPALIVE)) as server:
        port = server.port()
        await names(port, 1)
        client = await Client.connect(port)
        await client.send_request("GET", "/endless")
        await client.read_head()
        await client.read_chunk()
        await client.aclose()
        await eventually(lambda: a.open_streams == 0)
        await names(port, 1)
    assert a.connections == 2


async def test_upstream_variables_list_every_try(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path
) -> None:
    """`$upstream_addr`, `$upstream_status`, `$upstream_response_time`: one value per peer
    tried, ", " between them; "-" in the log for a request no upstream served."""
    dead, good = await dead_port(), await app("good")
    log = tmp_path / "access.log"
    http = (
        block(f"127.0.0.1:{dead}", f"127.0.0.1:{good.port}")
        + " log_format up '$uri|$upstream_addr|$upstream_status|$upstream_response_time';"
        + f" access_log {log} up;"
    )
    text = conf('location / { proxy_pass http://backend; } location /r { return 204; }', http=http)
    async with proxy(text) as server:
        assert (await request(server.port(), "GET", "/x")).status == 200  # the dead one first
        assert (await request(server.port(), "GET", "/r")).status == 204
    first, second = log.read_text().splitlines()
    uri, addrs, statuses, times = first.split("|")
    assert (uri, addrs, statuses) == (
        "/x",
        f"127.0.0.1:{dead}, 127.0.0.1:{good.port}",
        "502, 200",
    )
    assert all(re.fullmatch(r"\d+\.\d{3}", t) for t in times.split(", "))
    assert second == "/r|-|-|-"


async def test_a_status_that_moves_on_is_logged_as_answered(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path
) -> None:
    """A peer skipped for a `proxy_next_upstream` status shows that status, as in nginx."""
    bad, good = await app("bad", status=500), await app("good")
    log = tmp_path / "access.log"
    http = (
        block(f"127.0.0.1:{bad.port}", f"127.0.0.1:{good.port}")
        + f" log_format up '$upstream_status'; access_log {log} up;"
    )
    location = "location / { proxy_pass http://backend; proxy_next_upstream error http_500; }"
    async with proxy(conf(location, http=http)) as server:
        assert (await request(server.port(), "GET", "/")).status == 200
    assert log.read_text().splitlines() == ["500, 200"]


async def test_a_peer_its_failures_disable_is_logged_as_nginx_logs_it(
    proxy: ProxyFactory, app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """After the error itself: `upstream server temporarily disabled while connecting to
    upstream, client: ...`, at `warn`, with the request's context (nginx 1.22's line)."""
    good, dead = await app("good"), await dead_port()
    upstream = block(f"127.0.0.1:{dead}", f"127.0.0.1:{good.port}")
    async with proxy(via_block(upstream)) as server:
        statuses = [(await request(server.port(), "GET", "/a")).status for _ in range(2)]
    assert statuses == [200, 200]
    lines = [r.getMessage() for r in caplog.records if "upstream" in r.getMessage()]
    refused = next(i for i, line in enumerate(lines) if line.startswith("connect() failed"))
    disabled = lines[refused + 1]
    assert disabled.startswith(
        "upstream server temporarily disabled while connecting to upstream, client: 127.0.0.1, "
    )
    assert f'upstream: "http://127.0.0.1:{dead}/a"' in disabled
    [record] = [r for r in caplog.records if r.getMessage() == disabled]
    assert record.levelname == "WARNING"
