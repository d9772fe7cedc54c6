"""`map` variables in proxied requests: nginx's WebSocket idiom (`Connection
$connection_upgrade`) and an upstream chosen by a map (`proxy_pass http://$pool`)."""

from __future__ import annotations

import trio
from helpers import request
from trio_websocket import open_websocket_url

from .conftest import AppFactory, ProxyFactory
from .support import conf, echoed
from .test_tunnel import EchoServer

CONNECTION_UPGRADE = """
    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      close;
    }
"""
IDIOM = """
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;
"""


def idiom_conf(port: int) -> str:
    location = f"location / {{ proxy_pass http://127.0.0.1:{port}; {IDIOM} }}"
    return conf(location, http=CONNECTION_UPGRADE)


async def test_plain_request_sends_connection_close(proxy: ProxyFactory, app: AppFactory) -> None:
    upstream = await app("a")
    async with proxy(idiom_conf(upstream.port)) as server:
        seen = echoed(await request(server.port(), "GET", "/plain"))
    headers = {name.lower(): value for name, value in seen["headers"]}
    assert headers["connection"] == "close"
    assert "upgrade" not in headers  # an empty value is not sent


async def test_upgrade_request_sends_connection_upgrade(
    proxy: ProxyFactory, app: AppFactory
) -> None:
    upstream = await app("a")
    async with proxy(idiom_conf(upstream.port)) as server:
        response = await request(
            server.port(), "GET", "/ws", [("Upgrade", "websocket"), ("Connection", "Upgrade")]
        )
    assert response.status == 200  # the app does not switch protocols; what it saw counts
    seen = upstream.requests[0]
    assert (seen.header("Connection"), seen.header("Upgrade")) == ("upgrade", "websocket")


async def test_websocket_through_the_idiom(proxy: ProxyFactory, nursery: trio.Nursery) -> None:
    echo = await EchoServer().start(nursery)
    async with proxy(idiom_conf(echo.port)) as server:
        url = f"ws://127.0.0.1:{server.port()}/chat"
        async with open_websocket_url(url) as ws:
            await ws.send_message("hello")
            assert await ws.get_message() == "hello"
    assert echo.paths == ["/chat"]


async def test_upstream_chosen_by_a_map(proxy: ProxyFactory, app: AppFactory) -> None:
    a, b = await app("a"), await app("b")
    http = f"""
        upstream backend_a {{ server 127.0.0.1:{a.port}; }}
        upstream backend_b {{ server 127.0.0.1:{b.port}; }}
        map $arg_b $pool {{ default backend_a; ~^(?:1|yes)$ backend_b; }}
    """
    async with proxy(conf("location / { proxy_pass http://$pool; }", http=http)) as server:
        port = server.port()
        apps = [
            echoed(await request(port, "GET", target))["app"]
            for target in ("/x", "/x?b=1", "/x?b=yes", "/x?b=no")
        ]
    assert apps == ["a", "b", "b", "a"]
