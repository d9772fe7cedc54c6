"""pushproxy in front of the sample application (samples/legacy-sidecar.conf): the pages and
/api/hello come from the application through pushproxy, the application publishes, and the
client takes the first transport that works."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio
from conftest import ServeFactory

from .support import (
    OPEN,
    BrowserThread,
    in_browser,
    open_page,
    publish,
    say,
    script_errors,
    site,
    texts,
    wait_received,
    wait_state,
)

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext


@pytest.mark.parametrize(
    ("modes", "transport"),
    [
        ("websocket", "WebSocket"),
        ("eventsource", "EventSource"),
        ("longpolling", "LongPolling"),
        ("stream", "Stream"),
    ],
)
async def test_the_application_publishes_to_its_pages(
    serve: ServeFactory, browser: BrowserThread, modes: str, transport: str
) -> None:
    def scenario(context: BrowserContext) -> None:
        page = open_page(context, s.push_url(f"/legacy.html?modes={modes}"))
        wait_state(page, OPEN)
        page.wait_for_function("document.getElementById('hello').textContent.includes('.py')")
        say(page, "alice", "through the app")
        wait_received(page, 1)
        publish(s.push_port, "lobby", "curl: straight to pushproxy")
        say(page, "bob", "through the app again")
        wait_received(page, 3)
        assert texts(page) == [
            "alice: through the app",
            "curl: straight to pushproxy",
            "bob: through the app again",
        ]
        assert page.evaluate("pushstream.wrapper.type") == transport
        assert script_errors(page) == []

    with trio.fail_after(20):
        async with site(serve, "legacy-sidecar") as s:
            await in_browser(browser, scenario)
            seen = s.app.requests
    assert "GET /legacy.html?modes=" + modes in seen
    assert "GET /js/pushstream.js" in seen
    assert "GET /api/hello" in seen
    assert seen.count("POST /say") == 2
    pushed = ("/ws/", "/ev/", "/lp/", "/sub/")  # pushproxy's own locations
    assert not [line for line in seen if line.split()[1].startswith(pushed)]


async def test_the_next_mode_is_used_when_one_fails(
    serve: ServeFactory, browser: BrowserThread
) -> None:
    """With no /ws/ location, the WebSocket handshake reaches the application (404): the client
    falls back to EventSource at once."""
    no_websocket = ("location ~ ^/ws/(.*)$ {", "location ~ ^/no-websocket/(.*)$ {")

    def scenario(context: BrowserContext) -> None:
        page = open_page(context, s.push_url("/legacy.html?modes=websocket|eventsource"))
        wait_state(page, OPEN)
        publish(s.push_port, "lobby", "curl: hello")
        wait_received(page, 1)
        assert texts(page) == ["curl: hello"]
        assert page.evaluate("pushstream.wrapper.type") == "EventSource"
        assert page.evaluate("chat.errors") == ["load"]

    with trio.fail_after(20):
        async with site(serve, "legacy-sidecar", [no_websocket]) as s:
            await in_browser(browser, scenario)
    assert any(line.startswith("GET /ws/lobby") for line in s.app.requests)
