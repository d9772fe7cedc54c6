"""The sample chat pages in Chromium, one transport each: messages published with plain HTTP (and
from the page) arrive in order, and a connection the server ends is resumed without losses."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import trio
from conftest import ServeFactory

from .support import (
    CLOSED,
    CONNECTING,
    OPEN,
    SCREENSHOT,
    BrowserThread,
    env_flag,
    in_browser,
    open_page,
    publish,
    received,
    request,
    say,
    script_errors,
    site,
    states,
    subscribers,
    texts,
    wait_received,
    wait_state,
)

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

TEST_TIMEOUT = 20


async def test_websocket_chat_receives_and_publishes_over_the_socket(
    serve: ServeFactory, browser: BrowserThread, tmp_path: Path
) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with site(serve, "chat-websocket") as s:

            def scenario(context: BrowserContext) -> None:
                # published before the page opens: the page's backtrack brings it
                publish(s.push_port, "lobby", "alice: Morning! The new build is on staging.")
                page = open_page(context, s.push_url("/websocket.html"))
                wait_received(page, 1)
                wait_state(page, OPEN)
                publish(s.push_port, "lobby", "bob: Great, running the smoke tests now")
                # sent by the page over the WebSocket, escaped, and unescaped on arrival
                say(page, "carol", "Crème brûlée & 'quotes' \"survive\": 100% {json-safe}")
                wait_received(page, 3)
                publish(s.push_port, "lobby", "alice: Welcome, carol!")
                say(page, "carol", "Thanks! Every message arrives once, in order.")
                wait_received(page, 5)
                messages = received(page)
                assert [m["text"] for m in messages] == [
                    "alice: Morning! The new build is on staging.",
                    "bob: Great, running the smoke tests now",
                    "carol: Crème brûlée & 'quotes' \"survive\": 100% {json-safe}",
                    "alice: Welcome, carol!",
                    "carol: Thanks! Every message arrives once, in order.",
                ]
                assert [m["id"] for m in messages] == [1, 2, 3, 4, 5]
                assert {m["channel"] for m in messages} == {"lobby"}
                assert all(str(m["time"]).endswith(" GMT") for m in messages)
                assert states(page) == [1, 2]  # CONNECTING, OPEN
                assert script_errors(page) == []
                shot = tmp_path / "chat.png"
                page.screenshot(path=str(shot))
                if env_flag("PUSHPROXY_SCREENSHOT") or not SCREENSHOT.exists():
                    shutil.copyfile(shot, SCREENSHOT)

            await in_browser(browser, scenario)


def resume_after_server_ends(context: BrowserContext, url: str, push_port: int) -> None:
    """The page gets a message, the server ends its connection (TTL 2 s), messages are published
    while it is away, and the reconnection (1.5 s later) brings them, once each, in order."""
    page = open_page(context, url)
    wait_state(page, OPEN)
    publish(push_port, "lobby", "alice: before the cut")
    publish(push_port, "lobby", "bob: still before")
    wait_received(page, 2)
    wait_state(page, CLOSED, after=2)  # the TTL ended the connection
    assert subscribers(push_port, "lobby") == 0
    publish(push_port, "lobby", "alice: while away 1")
    publish(push_port, "lobby", "alice: while away 2")
    wait_state(page, OPEN, after=3)
    publish(push_port, "lobby", "bob: after the return")
    wait_received(page, 5)
    page.wait_for_timeout(300)  # nothing more may come
    assert texts(page) == [
        "alice: before the cut",
        "bob: still before",
        "alice: while away 1",
        "alice: while away 2",
        "bob: after the return",
    ]
    assert [m["id"] for m in received(page)] == [1, 2, 3, 4, 5]
    assert states(page)[:5] == [1, 2, 0, 1, 2]
    assert page.evaluate("chat.errors") == []
    assert script_errors(page) == []


TTL_2S = ("push_stream_subscriber_connection_ttl 15m;", "push_stream_subscriber_connection_ttl 2s;")


async def test_websocket_reconnects_and_resumes_after_the_ttl(
    serve: ServeFactory, browser: BrowserThread
) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with site(serve, "chat-websocket", [TTL_2S]) as s:
            url = s.push_url("/websocket.html?reconnect=1500")
            await in_browser(browser, lambda c: resume_after_server_ends(c, url, s.push_port))


def chat_in_order(context: BrowserContext, url: str, push_port: int) -> None:
    """Messages from curl and from the page's form (POST /pub) arrive once each, in order."""
    page = open_page(context, url)
    wait_state(page, OPEN)
    for n in range(1, 4):
        publish(push_port, "lobby", f"alice: message {n}")
    say(page, "bob", "from the form, 100% sure & 'quoted'")
    wait_received(page, 4)
    for n in range(4, 7):
        publish(push_port, "lobby", f"alice: message {n}")
    wait_received(page, 7)
    page.wait_for_timeout(200)
    assert texts(page) == [
        "alice: message 1",
        "alice: message 2",
        "alice: message 3",
        "bob: from the form, 100% sure & 'quoted'",
        "alice: message 4",
        "alice: message 5",
        "alice: message 6",
    ]
    assert [m["id"] for m in received(page)] == list(range(1, 8))
    assert page.evaluate("chat.errors") == []
    assert script_errors(page) == []


async def test_eventsource_chat(serve: ServeFactory, browser: BrowserThread) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with site(serve, "chat-eventsource") as s:
            url = s.push_url("/eventsource.html")
            await in_browser(browser, lambda c: chat_in_order(c, url, s.push_port))


async def test_eventsource_reconnects_and_resumes_after_the_ttl(
    serve: ServeFactory, browser: BrowserThread
) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with site(serve, "chat-eventsource", [TTL_2S]) as s:
            url = s.push_url("/eventsource.html?reconnect=1500")
            await in_browser(browser, lambda c: resume_after_server_ends(c, url, s.push_port))


async def test_stream_iframe_chat(serve: ServeFactory, browser: BrowserThread) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with site(serve, "chat-stream") as s:
            url = s.push_url("/stream.html")
            await in_browser(browser, lambda c: chat_in_order(c, url, s.push_port))


async def test_stream_iframe_reconnects_and_resumes_after_the_ttl(
    serve: ServeFactory, browser: BrowserThread
) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with site(serve, "chat-stream", [TTL_2S]) as s:
            url = s.push_url("/stream.html?reconnect=1500")
            await in_browser(browser, lambda c: resume_after_server_ends(c, url, s.push_port))


async def test_longpolling_chat(serve: ServeFactory, browser: BrowserThread) -> None:
    with trio.fail_after(TEST_TIMEOUT):
        async with site(serve, "chat-longpolling") as s:
            url = s.push_url("/longpolling.html")
            await in_browser(browser, lambda c: chat_in_order(c, url, s.push_port))


LP_TTL_2S = (
    "push_stream_longpolling_connection_ttl 30s;",
    "push_stream_longpolling_connection_ttl 2s;",
)


async def test_longpolling_by_headers_across_timeouts(
    serve: ServeFactory, browser: BrowserThread
) -> None:
    """Same origin: the first poll sends If-Modified-Since: null and If-None-Match: 0, the next
    ones the Etag (W/<tag>) and Last-Modified of the last answer; a poll that times out (304
    after 2 s) is asked again, and what is published between two polls is not lost."""

    def scenario(context: BrowserContext) -> None:
        polls: list[dict[str, str]] = []
        page = context.new_page()
        page.on(
            "request",
            lambda request: polls.append(request.headers) if "/lp/" in request.url else None,
        )
        page.goto(s.push_url("/longpolling.html?reconnect=500"), wait_until="domcontentloaded")
        wait_state(page, OPEN)
        publish(s.push_port, "lobby", "alice: one")
        wait_received(page, 1)
        page.wait_for_timeout(2500)  # a poll times out: 304
        publish(s.push_port, "lobby", "alice: two")
        publish(s.push_port, "lobby", "alice: three")
        wait_received(page, 3)
        assert texts(page) == ["alice: one", "alice: two", "alice: three"]
        assert states(page) == [1, 2]  # timeouts are no errors
        first, *later = polls
        assert first["if-modified-since"] == "null"
        assert first["if-none-match"] == "0"
        assert len(later) >= 3
        assert all(poll["if-none-match"].startswith("W/") for poll in later)
        assert all(poll["if-modified-since"].endswith(" GMT") for poll in later)

    with trio.fail_after(TEST_TIMEOUT):
        async with site(serve, "chat-longpolling", [LP_TTL_2S]) as s:
            await in_browser(browser, scenario)


async def test_eventsource_resumes_by_last_event_id(
    serve: ServeFactory, browser: BrowserThread
) -> None:
    """With no ~time~ in the template the browser's own EventSource reconnection resumes: it
    sends Last-Event-ID, the id of the last message published with an Event-Id header."""
    template = (
        r'"{\"id\":~id~,\"channel\":\"~channel~\",\"text\":\"~text~\",\"tag\":\"~tag~\",'
        r'\"time\":\"~time~\"}"'
    )
    no_time = (
        r'"{\"id\":~id~,\"channel\":\"~channel~\",\"text\":\"~text~\",\"eventid\":\"~event-id~\"}"'
    )

    def publish_event(text: str, event_id: str) -> None:
        status, _, _ = request(s.push_port, "POST", "/pub?id=lobby", text.encode(),
                               {"Event-Id": event_id})  # fmt: skip
        assert status == 200

    def scenario(context: BrowserContext) -> None:
        # no backtrack: the browser reconnects to the same URL, which would ask for it again
        page = open_page(context, s.push_url("/eventsource.html?backtrack=0"))
        wait_state(page, OPEN)
        publish_event("alice: one", "e1")
        publish_event("alice: two", "e2")
        wait_received(page, 2)
        wait_state(page, CONNECTING, after=2)  # the TTL ended the stream
        assert subscribers(s.push_port, "lobby") == 0
        publish_event("alice: while away", "e3")
        wait_state(page, OPEN, after=3)
        publish_event("alice: back", "e4")
        wait_received(page, 4)
        page.wait_for_timeout(200)
        assert texts(page) == ["alice: one", "alice: two", "alice: while away", "alice: back"]
        assert [m["eventid"] for m in received(page)] == ["e1", "e2", "e3", "e4"]
        assert states(page) == [1, 2, 1, 2]
        assert page.evaluate("chat.errors") == []

    with trio.fail_after(TEST_TIMEOUT):
        async with site(serve, "chat-eventsource", [TTL_2S, (template, no_time)]) as s:
            await in_browser(browser, scenario)
