"""Pages from the application's origin talking to pushproxy on another port: JSONP long-polling
(no CORS needed), EventSource and the publisher's POST (CORS, push_stream_allowed_origins)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
import trio
from conftest import ServeFactory

from .support import (
    OPEN,
    BrowserThread,
    in_browser,
    open_page,
    publish,
    received,
    say,
    script_errors,
    site,
    states,
    texts,
    wait_received,
    wait_state,
)

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

TEST_TIMEOUT = 20
LP_TTL_2S = (
    "push_stream_longpolling_connection_ttl 30s;",
    "push_stream_longpolling_connection_ttl 2s;",
)


@pytest.mark.parametrize("timeout_with_body", ["on", "off"])
async def test_jsonp_longpolling_from_another_origin(
    serve: ServeFactory, browser: BrowserThread, timeout_with_body: str
) -> None:
    """Each poll is a <script> with a callback; the position is in the tag and time arguments
    (empty on the first poll); a timed-out poll (2 s: the -3 message, or an empty 304 with
    timeout_with_body off) is asked again; the page's POST to /pub crosses origins thanks to
    push_stream_allowed_origins."""

    def scenario(context: BrowserContext) -> None:
        polls: list[str] = []
        page = context.new_page()
        page.on("request", lambda r: polls.append(r.url) if "/lp/" in r.url else None)
        page.goto(
            s.app_url(f"/jsonp.html?push=127.0.0.1:{s.push_port}&timeout=2000&reconnect=500"),
            wait_until="domcontentloaded",
        )
        wait_state(page, OPEN)
        publish(s.push_port, "lobby", "alice: one")
        publish(s.push_port, "lobby", "alice: two")
        wait_received(page, 2)
        page.wait_for_timeout(2500)  # a poll times out
        say(page, "bob", "from another origin & back")
        wait_received(page, 3)
        publish(s.push_port, "lobby", "alice: three")
        wait_received(page, 4)
        page.wait_for_timeout(200)
        assert texts(page) == [
            "alice: one",
            "alice: two",
            "bob: from another origin & back",
            "alice: three",
        ]
        assert [m["id"] for m in received(page)] == [1, 2, 3, 4]
        assert states(page) == [1, 2]
        assert page.evaluate("chat.errors") == []
        assert script_errors(page) == []
        queries = [parse_qs(urlsplit(url).query, keep_blank_values=True) for url in polls]
        assert all(q["callback"][0].startswith("PushStreamManager_") for q in queries)
        assert queries[0]["tag"] == [""]
        assert queries[0]["time"] == [""]
        assert all(q["time"][0].endswith(" GMT") for q in queries[1:])
        assert all(q["tag"][0].isdigit() for q in queries[1:])

    with trio.fail_after(TEST_TIMEOUT):
        changes = [
            LP_TTL_2S,
            ("push_stream_timeout_with_body               on;",
             f"push_stream_timeout_with_body {timeout_with_body};"),
        ]  # fmt: skip
        async with site(serve, "chat-cross-origin", changes) as s:
            await in_browser(browser, scenario)


async def test_eventsource_from_another_origin_with_allowed_origins(
    serve: ServeFactory, browser: BrowserThread
) -> None:
    def scenario(context: BrowserContext) -> None:
        page = open_page(context, s.app_url(f"/eventsource.html?push=127.0.0.1:{s.push_port}"))
        wait_state(page, OPEN)
        publish(s.push_port, "lobby", "alice: across origins")
        wait_received(page, 1)
        say(page, "bob", "and back")
        wait_received(page, 2)
        assert texts(page) == ["alice: across origins", "bob: and back"]
        assert page.evaluate("chat.errors") == []
        assert script_errors(page) == []

    with trio.fail_after(TEST_TIMEOUT):
        async with site(serve, "chat-cross-origin") as s:
            await in_browser(browser, scenario)


async def test_eventsource_from_another_origin_without_allowed_origins_fails(
    serve: ServeFactory, browser: BrowserThread
) -> None:
    """chat-eventsource.conf names no origin: the browser refuses the stream (CORS)."""

    def scenario(context: BrowserContext) -> None:
        page = open_page(context, s.app_url(f"/eventsource.html?push=127.0.0.1:{s.push_port}"))
        page.wait_for_function("chat.errors.length > 0")
        publish(s.push_port, "lobby", "alice: nobody hears this")
        page.wait_for_timeout(300)
        assert page.evaluate("chat.errors") == ["load"]
        assert texts(page) == []
        assert OPEN not in states(page)

    with trio.fail_after(TEST_TIMEOUT):
        async with site(serve, "chat-eventsource") as s:
            await in_browser(browser, scenario)
