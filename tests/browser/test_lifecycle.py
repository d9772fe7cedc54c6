"""A deleted channel, as each streaming transport sees it: onchanneldeleted, the end of the
connection, a reconnection, and the channel's new messages."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio
from conftest import ServeFactory

from .support import (
    CLOSED,
    OPEN,
    BrowserThread,
    in_browser,
    open_page,
    publish,
    received,
    request,
    script_errors,
    site,
    states,
    texts,
    wait_received,
    wait_state,
)

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext


@pytest.mark.parametrize(
    ("config", "page_path"),
    [
        ("chat-websocket", "/websocket.html"),
        ("chat-eventsource", "/eventsource.html"),
        ("chat-stream", "/stream.html"),
    ],
)
async def test_deleted_channel_ends_the_stream_and_the_client_comes_back(
    serve: ServeFactory, browser: BrowserThread, config: str, page_path: str
) -> None:
    def scenario(context: BrowserContext) -> None:
        page = open_page(context, s.push_url(f"{page_path}?reconnect=1000"))
        wait_state(page, OPEN)
        publish(s.push_port, "lobby", "alice: before the delete")
        wait_received(page, 1)
        status, headers, _ = request(s.push_port, "DELETE", "/admin/pub?id=lobby")
        assert status == 200, status
        assert headers["X-Nginx-PushStream-Explain"] == "Channel deleted."
        page.wait_for_function("chat.deleted.length > 0")
        wait_state(page, CLOSED, after=2)
        wait_state(page, OPEN, after=3)
        publish(s.push_port, "lobby", "alice: after the delete")
        wait_received(page, 2)
        assert texts(page) == ["alice: before the delete", "alice: after the delete"]
        assert [m["id"] for m in received(page)] == [1, 1]  # a new channel
        assert page.evaluate("chat.deleted") == ["lobby"]
        assert states(page) == [1, 2, 0, 1, 2]
        assert page.evaluate("chat.errors") == []
        assert script_errors(page) == []

    with trio.fail_after(20):
        async with site(serve, config) as s:
            await in_browser(browser, scenario)


@pytest.mark.parametrize(
    ("config", "page_path", "location"),
    [
        ("chat-websocket", "/websocket.html", "location ~ ^/ws/(.*)$ {"),
        ("chat-eventsource", "/eventsource.html", "location ~ ^/ev/(.*)$ {"),
        ("chat-longpolling", "/longpolling.html", "location ~ ^/lp/(.*)$ {"),
        ("chat-stream", "/stream.html", "location ~ ^/sub/(.*)$ {"),
    ],
)
async def test_a_refused_channel_is_a_load_error(
    serve: ServeFactory, browser: BrowserThread, config: str, page_path: str, location: str
) -> None:
    """push_stream_authorized_channels_only and no such channel: 403 (a close frame with code
    1008 after the WebSocket handshake); onerror gets {type: "load"} and no connection opens."""
    refuse = (location, location + "\n            push_stream_authorized_channels_only on;")

    def scenario(context: BrowserContext) -> None:
        page = open_page(context, s.push_url(f"{page_path}?channel=nobody"))
        page.wait_for_function("chat.errors.length > 0")
        page.wait_for_timeout(300)
        assert page.evaluate("chat.errors") == ["load"]
        assert states(page) == [1, 0]
        assert texts(page) == []

    with trio.fail_after(20):
        async with site(serve, config, [refuse]) as s:
            await in_browser(browser, scenario)
