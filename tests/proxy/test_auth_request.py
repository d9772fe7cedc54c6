"""`auth_request` where pushproxy's own choices show (nginx's answers are compared in
test_auth_request_oracle.py): a publisher guarded by an authorization service, whose message
body waits, unread, until the service lets the request in; a POST asked about with the
location's default settings, where the service gets a GET without the body's headers; and
`auth_delay`, timed with trio's mock clock."""

from __future__ import annotations

import json

import trio
from helpers import Client, request
from trio.testing import MockClock

from .conftest import AppFactory, ProxyFactory
from .support import conf

PUBLISHER = """
location = /auth {{ internal; proxy_pass http://127.0.0.1:{port}/check; }}
location /pub {{
    auth_request /auth;
    push_stream_publisher admin;
    push_stream_channels_path $arg_id;
    push_stream_store_messages on;
}}
"""


async def test_a_guarded_publisher_keeps_the_message_for_after_the_check(
    proxy: ProxyFactory, app: AppFactory
) -> None:
    allowing = await app("allow")
    refusing = await app("refuse", status=403)
    http = "push_stream_shared_memory_size 1m;"
    allowed = conf(PUBLISHER.format(port=allowing.port), http=http)
    async with proxy(allowed) as server:
        published = await request(server.port(), "POST", "/pub?id=ch", body=b"hello")
        stats = await request(server.port(), "GET", "/pub?id=ch")
    assert published.status == 200
    assert json.loads(stats.body)["published_messages"] == 1
    checked = allowing.requests[0]
    assert (checked.method, checked.target, checked.body) == ("GET", "/check", b"")
    assert checked.header("Content-Length") is None
    refused_conf = conf(PUBLISHER.format(port=refusing.port), http=http)
    async with proxy(refused_conf) as server:
        client = await Client.connect(server.port())
        refused = await client.request("POST", "/pub?id=ch", body=b"hello")
        after = await client.request("POST", "/pub?id=ch", body=b"again")  # the same connection
        await client.aclose()
    assert (refused.status, after.status) == (403, 403)


async def test_auth_delay_holds_back_a_401_only(
    proxy: ProxyFactory, app: AppFactory, autojump_clock: MockClock
) -> None:
    refusing = await app("refuse", status=401)
    text = conf(
        f"""
        location = /auth {{ internal; proxy_pass http://127.0.0.1:{refusing.port}/check; }}
        location /asked/ {{ auth_request /auth; proxy_pass http://127.0.0.1:1; }}
        location /denied/ {{ deny all; proxy_pass http://127.0.0.1:1; }}
        """,
        server="auth_delay 2s;",
    )
    async with proxy(text) as server:
        started = trio.current_time()
        asked = await request(server.port(), "GET", "/asked/x")
        asked_after = trio.current_time() - started
        started = trio.current_time()
        denied = await request(server.port(), "GET", "/denied/x")
        denied_after = trio.current_time() - started
    assert (asked.status, denied.status) == (401, 403)
    assert 2.0 <= asked_after < 2.5
    assert denied_after < 0.5
