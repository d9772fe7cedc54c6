"""Heads sent again: a route remembered for a head (`http/quick_routes.py`) never stands in for
what the phases before the handler make of each request, and follows the address, the port
and the configuration it was found for."""

from __future__ import annotations

import json
from pathlib import Path

import trio
from conftest import ServeFactory
from helpers import Client, Response, free_port, request

from pushproxy.config.model import build
from pushproxy.config.parse import parse_text

_SAME = 3  # requests with the same head, on one connection


async def _same_head(
    port: int, target: str, method: str = "GET", body: bytes | None = None
) -> list[Response]:
    client = await Client.connect(port)
    try:
        return [await client.request(method, target, body=body) for _ in range(_SAME)]
    finally:
        await client.aclose()


def _conf(server: str, *, extra: str = "") -> str:
    """A server on a port of its own, after `extra` (http level)."""
    return f"""
events {{}}
http {{
    access_log off;
    push_stream_shared_memory_size 8m;
    {extra}
    server {{
        listen 127.0.0.1:0;
        {server}
    }}
}}
"""


async def test_the_rewrite_phases_run_for_every_request_with_the_same_head(
    serve: ServeFactory,
) -> None:
    conf = _conf(
        """
        if ($connection_requests = 3) { return 403; }
        location = /pub {
            push_stream_publisher;
            push_stream_channels_path $arg_id;
            if ($connection_requests = 2) { return 204; }
        }
        """
    )
    async with serve(conf) as server:
        answers = await _same_head(server.port(), "/pub?id=a", "POST", b"m")
    assert [a.status for a in answers] == [200, 204, 403]


async def test_a_regex_locations_captures_are_the_heads_each_time(serve: ServeFactory) -> None:
    conf = _conf(
        """
        location ~ ^/p/(\\w+)$ {
            push_stream_publisher;
            push_stream_channels_path $1;
        }
        """
    )
    async with serve(conf) as server:
        answers = await _same_head(server.port(), "/p/chan", "POST", b"m")
    infos = [json.loads(a.body) for a in answers]
    assert [(i["channel"], i["published_messages"]) for i in infos] == [
        ("chan", 1),
        ("chan", 2),
        ("chan", 3),
    ]


async def test_the_locations_limits_hold_for_the_same_head(serve: ServeFactory) -> None:
    conf = _conf(
        """
        location = /pub {
            push_stream_publisher;
            push_stream_channels_path $arg_id;
            keepalive_requests 2;
        }
        """
    )
    async with serve(conf) as server:
        client = await Client.connect(server.port())
        heads = [await client.request("POST", "/pub?id=a", body=b"m") for _ in range(2)]
        with trio.fail_after(5):
            assert await client.stream.receive_some(100) == b""  # the server closed
        await client.aclose()
    assert [h.header("Connection") for h in heads] == ["keep-alive", "close"]


async def test_an_error_page_and_an_access_rule_are_applied_each_time(
    serve: ServeFactory,
) -> None:
    conf = _conf(
        """
        location = /gone { error_page 404 =200 /found; }
        location = /found { return 200 "found"; }
        location = /closed { deny all; }
        """
    )
    async with serve(conf) as server:
        pages = await _same_head(server.port(), "/gone")
        refused = await _same_head(server.port(), "/closed")
    assert [(p.status, p.body) for p in pages] == [(200, b"found")] * _SAME
    assert [r.status for r in refused] == [403] * _SAME


async def test_the_same_head_on_another_port_finds_that_ports_server(
    serve: ServeFactory,
) -> None:
    second = free_port()
    conf = _conf(
        "location = /x { push_stream_publisher; push_stream_channels_path a; }",
        extra=f"""
    server {{
        listen 127.0.0.1:{second};
        location = /x {{ push_stream_publisher; push_stream_channels_path b; }}
    }}
    """,
    )
    async with serve(conf) as server:
        first = server.port(server.site.listens[1])
        channels = []
        for port in (first, second, first, second):
            answer = await request(port, "POST", "/x", body=b"m")
            channels.append(json.loads(answer.body)["channel"])
    assert channels == ["a", "b", "a", "b"]


async def test_after_a_reload_the_same_head_is_routed_by_the_new_configuration(
    serve: ServeFactory,
) -> None:
    old = _conf("location = /x { push_stream_publisher; push_stream_channels_path a; }")
    new = old.replace("location = /x", "location = /y").replace(
        "location = /y", "location = /x { return 200 new; } location = /y"
    )
    async with serve(old) as server:
        port = server.port()
        before = await request(port, "POST", "/x", body=b"m")
        await server.reload(build(parse_text(new, file="nginx.conf")))
        after = await request(port, "POST", "/x", body=b"m")
    assert json.loads(before.body)["channel"] == "a"
    assert (after.status, after.body) == (200, b"new")


async def test_each_request_with_the_same_head_is_logged(
    serve: ServeFactory, tmp_path: Path
) -> None:
    log = tmp_path / "access.log"
    conf = _conf(
        f"""
        access_log {log} quick;
        location = /pub {{ push_stream_publisher; push_stream_channels_path $arg_id; }}
        """,
        extra="log_format quick '$connection_requests $status $request $body_bytes_sent';",
    )
    async with serve(conf) as server:
        answers = await _same_head(server.port(), "/pub?id=a", "POST", b"m")
    lines = log.read_text().splitlines()
    sizes = [len(a.body) for a in answers]
    assert lines == [f"{n} 200 POST /pub?id=a HTTP/1.1 {sizes[n - 1]}" for n in (1, 2, 3)]


async def test_routes_are_remembered_only_for_heads_remembered_as_parsed(
    serve: ServeFactory,
) -> None:
    """A head over 2 KiB is parsed anew each time (a new `Request`): no route is kept for it,
    so big heads from clients fill nothing; the same small head keeps one route."""
    conf = _conf("location / { root /nonexistent; }")  # (a `return` is a rewrite directive)
    async with serve(conf) as server:
        port = server.port()
        for n in range(5):
            big = await request(port, "GET", "/", [("X-Big", f"{n}" * 3000)])
            small = await request(port, "GET", "/small")
            assert (big.status, small.status) == (404, 404)
        assert len(server.routes.remembered) == 1
