"""PushStream's API in the browser, beyond what the chat pages use: a long-poll batch, position
options, extra parameters, removed channels, and CORS long-polling without JSONP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, urlsplit

import trio
from conftest import ServeFactory

from .support import BrowserThread, in_browser, publish, site

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

# A PushStream made by the test, recording into window.seen[name]; settings.extra becomes the
# extraParams function.
SUBSCRIBE = """([name, settings, channels]) => {
  if (settings.extra) {
    const extra = settings.extra;
    delete settings.extra;
    settings.extraParams = () => extra;
  }
  window.seen = window.seen || {};
  const seen = window.seen[name] = {messages: [], states: [], errors: []};
  const pushstream = new PushStream(Object.assign({host: location.hostname,
                                                   port: location.port}, settings));
  pushstream.onmessage = (text, id, channel, eventid, isLast, time) =>
    seen.messages.push({text, id, channel, isLast, time});
  pushstream.onstatuschange = (state) => seen.states.push(state);
  pushstream.onerror = (error) => seen.errors.push(error.type);
  for (const [channel, options] of channels) { pushstream.addChannel(channel, options); }
  window[name] = pushstream;
  pushstream.connect();
}"""


def subscribe(
    page: Page, name: str, settings: dict[str, Any], channels: list[tuple[str, dict[str, Any]]]
) -> None:
    page.evaluate(SUBSCRIBE, [name, settings, channels])


def wait_messages(page: Page, name: str, count: int) -> list[dict[str, Any]]:
    page.wait_for_function(
        "([name, n]) => window.seen[name].messages.length >= n", arg=[name, count]
    )
    return cast(list[dict[str, Any]], page.evaluate("name => window.seen[name].messages", name))


def blank_page(context: BrowserContext, url: str) -> Page:
    """A page of the application with pushstream.js and nothing else running."""
    page = context.new_page()
    page.goto(url, wait_until="domcontentloaded")
    page.add_script_tag(url="/js/pushstream.js")
    page.wait_for_function("() => window.PushStream")
    return page


async def test_longpolling_batch_and_position_options(
    serve: ServeFactory, browser: BrowserThread
) -> None:
    def scenario(context: BrowserContext) -> None:
        for n in range(1, 4):
            publish(s.push_port, "news", f"old {n}")
        polls: list[str] = []
        page = blank_page(context, s.push_url("/index.html"))
        page.on("request", lambda r: polls.append(r.url) if "/lp/" in r.url else None)
        # backtrack 3: one answer with three messages
        subscribe(page, "batch", {"modes": "longpolling"}, [("news", {"backtrack": 3})])
        batch = wait_messages(page, "batch", 3)
        assert [m["text"] for m in batch] == ["old 1", "old 2", "old 3"]
        assert [m["isLast"] for m in batch] == [False, False, True]
        # messagesPublishedAfter: what was published in the last minute, by If-Modified-Since;
        # extraParams: more arguments; a removed channel's messages are dropped
        settings = {
            "modes": "longpolling",
            "messagesPublishedAfter": 60,
            "extra": {"token": "s3cret", "lang": "pt-BR"},
        }
        subscribe(page, "recent", settings, [("news", {}), ("other", {})])
        recent = wait_messages(page, "recent", 3)
        assert [m["text"] for m in recent] == ["old 1", "old 2", "old 3"]
        page.evaluate("window.recent.removeChannel('other')")
        publish(s.push_port, "other", "dropped: other was removed")
        publish(s.push_port, "news", "new 4")
        wait_messages(page, "recent", 4)
        page.wait_for_timeout(300)  # nothing more may come
        recent = wait_messages(page, "recent", 4)
        assert [m["text"] for m in recent] == ["old 1", "old 2", "old 3", "new 4"]
        extra = [parse_qs(urlsplit(url).query) for url in polls if "token=" in url]
        assert extra
        assert all(q["token"] == ["s3cret"] and q["lang"] == ["pt-BR"] for q in extra)

    with trio.fail_after(20):
        async with site(serve, "chat-longpolling") as s:
            await in_browser(browser, scenario)


async def test_cors_longpolling_when_jsonp_is_turned_off(
    serve: ServeFactory, browser: BrowserThread
) -> None:
    """useJSONP: false, given explicitly, across origins: XHR with CORS (the location names the
    origin), the position in the tag and time arguments (Etag is not readable across origins)."""
    cors = (
        "push_stream_longpolling_connection_ttl 30s;",
        "push_stream_longpolling_connection_ttl 30s;\n"
        '            push_stream_allowed_origins "http://127.0.0.1:8000";',
    )

    def scenario(context: BrowserContext) -> None:
        polls: list[str] = []
        page = blank_page(context, s.app_url("/index.html"))
        page.on("request", lambda r: polls.append(r.url) if "/lp/" in r.url else None)
        settings = {"host": "127.0.0.1", "port": s.push_port, "modes": "longpolling",
                    "useJSONP": False}  # fmt: skip
        subscribe(page, "cors", settings, [("lobby", {})])
        page.wait_for_function("window.seen.cors.states.includes(2)")
        for n in range(1, 4):
            publish(s.push_port, "lobby", f"cors {n}")
        messages = wait_messages(page, "cors", 3)
        assert [m["text"] for m in messages] == ["cors 1", "cors 2", "cors 3"]
        assert page.evaluate("window.seen.cors.errors") == []
        queries = [parse_qs(urlsplit(url).query, keep_blank_values=True) for url in polls]
        assert not [q for q in queries if "callback" in q]
        assert queries[0]["tag"] == [""]
        assert any(q["time"][0].endswith(" GMT") for q in queries[1:])

    with trio.fail_after(20):
        async with site(serve, "chat-cross-origin", [cors]) as s:
            await in_browser(browser, scenario)
