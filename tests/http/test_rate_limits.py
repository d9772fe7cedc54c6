"""`limit_req` holds and `limit_conn` places over HTTP, timed with trio's mock clock: when
answers come, what `$limit_req_status`/`$limit_conn_status` say, and the error log lines.
The comparison with nginx itself is tests/proxy/test_rate_limits_oracle.py."""

from __future__ import annotations

import logging

import pytest
import trio
from conftest import ServeFactory
from helpers import Client, request
from trio.testing import MockClock

CONF = """
events {}
http {
    push_stream_shared_memory_size 32m;
    limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s;
    limit_conn_zone $binary_remote_addr zone=addr:1m;
    server {
        listen 127.0.0.1:0;
        add_header X-Req "$limit_req_status" always;
        add_header X-Conn "$limit_conn_status" always;
        location /held { limit_req zone=one burst=5; return 204; }
        location /delay {
            limit_req zone=one burst=5 delay=1;
            limit_req_log_level warn;
            proxy_pass http://127.0.0.1:1;
        }
        location /free {
            limit_req zone=one burst=5 nodelay;
            limit_req_status 429;
            proxy_pass http://127.0.0.1:1;
        }
        location /sub {
            limit_conn addr 1;
            push_stream_subscriber;
            push_stream_channels_path $arg_id;
        }
    }
}
"""


@pytest.fixture
def autojump_clock() -> MockClock:
    return MockClock(autojump_threshold=0)


async def _answered_at(port: int, target: str, count: int) -> list[tuple[float, int, str]]:
    """`count` requests sent at once: when each was answered, its status and X-Req."""
    start = trio.current_time()
    seen: list[tuple[float, int, str]] = []

    async def one() -> None:
        response = await request(port, "GET", target)
        seen.append((trio.current_time() - start, response.status, response.header("X-Req") or ""))

    async with trio.open_nursery() as nursery:
        for _ in range(count):
            nursery.start_soon(one)
    return sorted(seen)


async def test_a_return_answers_before_any_limit(
    serve: ServeFactory, autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="pushproxy"):
        async with serve(CONF) as server:
            # the rewrite phase comes before nginx's preaccess phase: never held nor counted
            seen = await _answered_at(server.port(), "/held", 3)
    assert seen == [(0.0, 204, "")] * 3
    assert "limiting" not in caplog.text
    assert "delaying" not in caplog.text


async def test_holds_and_the_delay_parameter(
    serve: ServeFactory, autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="pushproxy"):
        async with serve(CONF) as server:
            seen = await _answered_at(server.port(), "/delay", 4)
    # excess 0 and 1 pass at once (delay=1); 2 and 3 wait until it is back to 1
    assert [(round(at, 3), status, said) for at, status, said in seen] == [
        (0.0, 502, "PASSED"),
        (0.0, 502, "PASSED"),
        (1.0, 502, "DELAYED"),
        (2.0, 502, "DELAYED"),
    ]
    assert 'delaying request, excess: 2.000, by zone "one", client: 127.0.0.1' in caplog.text
    assert "delaying request, excess: 3.000" in caplog.text
    records = [r for r in caplog.records if r.getMessage().startswith("delaying")]
    assert {r.levelname for r in records} == {"NOTICE"}  # one level below `warn`


async def test_refusals_and_their_status(
    serve: ServeFactory, autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="pushproxy"):
        async with serve(CONF) as server:
            seen = await _answered_at(server.port(), "/free", 8)
            assert [(s, said) for _, s, said in seen].count((429, "REJECTED")) == 2
            assert all(at == 0 for at, _, _ in seen)  # nodelay: nobody waits
            await trio.sleep(2)  # the bucket drains two requests' worth
            assert (await request(server.port(), "GET", "/free")).status == 502
            assert (await request(server.port(), "GET", "/free")).status == 502
            assert (await request(server.port(), "GET", "/free")).status == 429
    assert 'limiting requests, excess: 6.000 by zone "one"' in caplog.text
    assert 'by zone "one", client: 127.0.0.1, server: , request: "GET /free' in caplog.text


async def test_a_subscriber_holds_its_place_while_it_stays(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        first = await Client.connect(port)
        await first.send_request("GET", "/sub?id=a")
        head = await first.read_head()
        assert head.status == 200
        second = await request(port, "GET", "/sub?id=b")
        assert (second.status, second.header("X-Conn")) == (503, "REJECTED")
        await first.aclose()
        await trio.sleep(1)  # the server sees the first one go
        client = await Client.connect(port)
        await client.send_request("GET", "/sub?id=b")
        assert (await client.read_head()).status == 200
        await client.aclose()
