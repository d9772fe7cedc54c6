"""Heads sent again: what the proxy remembers of a head never stands in for what a request or a
location makes of it (`proxy/remembered.py`)."""

from __future__ import annotations

from helpers import Client, request

from pushproxy.proxy.remembered import ByIdentity

from .conftest import AppFactory, ProxyFactory
from .support import conf, echoed


def test_a_remembered_value_is_kept_with_what_its_key_names() -> None:
    memo: ByIdentity[str] = ByIdentity(2)
    first, second, third = object(), object(), object()
    memo.put((id(first), "a"), (first,), "one")
    memo.put((id(second), "a"), (second,), "two")
    assert memo.get((id(first), "a")) == "one"
    assert memo.get((id(first), "b")) is None
    memo.put((id(third), "a"), (third,), "three")  # over the bound: the oldest goes
    assert len(memo) == 2
    assert memo.get((id(first), "a")) is None
    assert [memo.get((id(second), "a")), memo.get((id(third), "a"))] == ["two", "three"]


async def test_the_same_head_again_goes_upstream_with_each_requests_own_values(
    proxy: ProxyFactory, app: AppFactory
) -> None:
    upstream = await app("a")
    extra = """
        proxy_set_header X-Request $connection_requests;
        proxy_set_header X-Port $remote_port;
    """
    text = conf(f"location / {{ proxy_pass http://127.0.0.1:{upstream.port}; {extra} }}")
    seen = []
    async with proxy(text) as server:
        for _ in range(2):
            client = await Client.connect(server.port())
            port = client.stream.socket.getsockname()[1]
            for _ in range(2):  # the same head twice on one connection
                headers = dict(echoed(await client.request("GET", "/same"))["headers"])
                seen.append((headers["X-Request"], headers["X-Port"] == str(port)))
            await client.aclose()
    assert seen == [("1", True), ("2", True), ("1", True), ("2", True)]


async def test_the_same_upstream_head_is_answered_as_each_location_says(
    proxy: ProxyFactory, app: AppFactory
) -> None:
    upstream = await app("a")
    to = f"http://127.0.0.1:{upstream.port}/cookies?c=x=1"
    text = conf(
        f"""
        location = /hidden {{ proxy_pass {to}; proxy_hide_header Set-Cookie; }}
        location = /shown {{ proxy_pass {to}; }}
        """
    )
    async with proxy(text) as server:
        answers = [
            (await request(server.port(), "GET", path)).header("Set-Cookie")
            for path in ("/hidden", "/shown", "/hidden", "/shown")
        ]
    assert answers == [None, "x=1", None, "x=1"]


async def test_rewrite_rules_with_variables_rewrite_each_answer_of_the_same_head(
    proxy: ProxyFactory, app: AppFactory
) -> None:
    upstream = await app("a")
    text = conf(
        f"""
        location = /moved {{
            proxy_pass http://127.0.0.1:{upstream.port}/headers?location=http://old/x;
            proxy_redirect http://old/ http://$host/;
        }}
        location = /cookie {{
            proxy_pass "http://127.0.0.1:{upstream.port}/cookies?c=a=1;%20Domain=old";
            proxy_cookie_domain old $host;
        }}
        """
    )
    async with proxy(text) as server:
        port = server.port()
        moved = [
            (await request(port, "GET", f"http://{host}/moved")).header("Location")
            for host in ("a.test", "b.test")
        ]
        cookies = [
            (await request(port, "GET", f"http://{host}/cookie")).header("Set-Cookie")
            for host in ("a.test", "b.test")
        ]
    assert moved == ["http://a.test/x", "http://b.test/x"]
    assert cookies == ["a=1; Domain=a.test", "a=1; Domain=b.test"]
