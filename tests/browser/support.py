"""Browser tests' plumbing: Chromium driven by Playwright's sync API in a thread of its own,
the sample application and sample configurations, and plain-HTTP publishing.

Playwright's async API runs on asyncio, not trio, so the browser lives in one thread that takes
jobs (`BrowserThread.run`), while the test's trio loop serves pushproxy and the application. A
job is a scenario: it drives pages and publishes with blocking HTTP, and returns or raises.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import queue
import sys
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast
from urllib.parse import quote

import trio
from conftest import ServeFactory

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
SCREENSHOT = ROOT / "docs" / "product.png"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ACTION_TIMEOUT_MS = 8000  # any one Playwright wait
JOB_TIMEOUT = 30.0  # one scenario, as the browser thread sees it

T = TypeVar("T")


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is missing (pip install playwright)"
    return None


class BrowserThread:
    """One headless Chromium (fresh profile) for the session, run by one thread."""

    def __init__(self, profile: Path) -> None:
        self._profile = profile
        self._jobs: queue.Queue[tuple[Callable[[BrowserContext], Any], Future[Any]] | None] = (
            queue.Queue()
        )
        self._ready: Future[None] = Future()
        self._thread = threading.Thread(target=self._main, name="chromium", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.result(timeout=60)

    def stop(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=15)

    def run(self, job: Callable[[BrowserContext], T]) -> T:
        """Run job(context) in the browser thread; pages it opens are closed afterwards."""
        future: Future[T] = Future()
        self._jobs.put((job, future))
        return future.result(timeout=JOB_TIMEOUT)

    def _main(self) -> None:
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:
                context = playwright.chromium.launch_persistent_context(
                    str(self._profile),
                    executable_path=CHROMIUM,
                    headless=True,
                    args=CHROMIUM_ARGS,
                    viewport={"width": 1100, "height": 490},
                )
                context.set_default_timeout(ACTION_TIMEOUT_MS)
                self._ready.set_result(None)
                while (item := self._jobs.get()) is not None:
                    job, future = item
                    if future.set_running_or_notify_cancel():
                        self._one(context, job, future)
                context.close()
        except BaseException as error:
            if not self._ready.done():
                self._ready.set_exception(error)
            raise

    @staticmethod
    def _one(
        context: BrowserContext, job: Callable[[BrowserContext], Any], future: Future[Any]
    ) -> None:
        before = set(context.pages)
        try:
            future.set_result(job(context))
        except BaseException as error:
            future.set_exception(error)
        finally:
            for page in context.pages:
                if page not in before:
                    page.close()


async def in_browser(browser: BrowserThread, job: Callable[[BrowserContext], T]) -> T:
    """Run a scenario in the browser thread while this trio loop keeps serving."""
    return await trio.to_thread.run_sync(browser.run, job, abandon_on_cancel=True)


# ---- the sample application (samples/legacy_app.py) ------------------------------------------


class LegacyApp(Protocol):
    port: int
    publisher: str
    requests: list[str]

    async def serve(self, *, task_status: trio.TaskStatus[Any]) -> None: ...


_legacy_module: ModuleType | None = None


def _legacy() -> ModuleType:
    global _legacy_module
    if _legacy_module is None:
        name = "pushproxy_samples_legacy_app"
        spec = importlib.util.spec_from_file_location(name, SAMPLES / "legacy_app.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
        _legacy_module = module
    return _legacy_module


def new_app() -> LegacyApp:
    factory = cast(Callable[..., LegacyApp], _legacy().LegacyApp)
    return factory(host="127.0.0.1", port=0)


# ---- sample configurations ---------------------------------------------------------------------


def sample_config(name: str, app_port: int, changes: Sequence[tuple[str, str]] = ()) -> str:
    """samples/<name>.conf with each (old, new) of changes applied (old must be there), then
    listening on a free port, and 127.0.0.1:8000 (the application) made the app's port."""
    text = (SAMPLES / f"{name}.conf").read_text()
    for old, new in [
        *changes,
        ("listen 127.0.0.1:9080;", "listen 127.0.0.1:0;"),
        ("daemon off;", ""),
        ("127.0.0.1:8000", f"127.0.0.1:{app_port}"),
    ]:
        assert old in text, f"{old!r} is not in samples/{name}.conf"
        text = text.replace(old, new)
    return text


@dataclass
class Site:
    """The application and pushproxy in front of it, both on free ports."""

    app: LegacyApp
    push_port: int

    @property
    def app_port(self) -> int:
        return self.app.port

    def push_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.push_port}{path}"

    def app_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.app.port}{path}"


@asynccontextmanager
async def site(
    serve: ServeFactory, name: str, changes: Sequence[tuple[str, str]] = ()
) -> AsyncIterator[Site]:
    """The sample application, then pushproxy on samples/<name>.conf (see sample_config)."""
    async with trio.open_nursery() as nursery:
        app: LegacyApp = await nursery.start(new_app().serve)
        async with serve(sample_config(name, app.port, changes)) as server:
            app.publisher = f"http://127.0.0.1:{server.port()}/pub"
            yield Site(app=app, push_port=server.port())
        nursery.cancel_scope.cancel()


# ---- plain HTTP, from the browser thread -------------------------------------------------------


def request(
    port: int, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request(method, target, body=body or None, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def publish(port: int, channel: str, text: str | bytes, path: str = "/pub") -> None:
    body = text.encode() if isinstance(text, str) else text
    status, _, answer = request(port, "POST", f"{path}?id={quote(channel)}", body)
    assert status == 200, (status, answer)


def subscribers(port: int, channel: str) -> int:
    status, _, body = request(port, "GET", f"/channels-stats?id={quote(channel)}")
    if status == 404:
        return 0
    assert status == 200, (status, body)
    return int(json.loads(body)["subscribers"])


# ---- what a sample page received (samples/pages/chat.js keeps it in window.chat) ---------------

CLOSED, CONNECTING, OPEN = 0, 1, 2


def wait_received(page: Page, count: int) -> None:
    page.wait_for_function("n => window.chat && chat.received.length >= n", arg=count)


def received(page: Page) -> list[dict[str, Any]]:
    return cast(list[dict[str, Any]], page.evaluate("chat.received"))


def texts(page: Page) -> list[str]:
    return [str(message["text"]) for message in received(page)]


def states(page: Page) -> list[int]:
    return cast(list[int], page.evaluate("chat.states"))


def wait_state(page: Page, state: int, *, after: int = 0) -> None:
    """Until the page's PushStream reached state after its first `after` state changes."""
    page.wait_for_function(
        "([state, after]) => window.chat && chat.states.slice(after).includes(state)",
        arg=[state, after],
    )


def open_page(context: BrowserContext, url: str) -> Page:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_function("() => window.PushStream && window.chat")
    setattr(page, "script_errors", errors)  # noqa: B010 - read back by script_errors()
    return page


def script_errors(page: Page) -> list[str]:
    return cast(list[str], getattr(page, "script_errors", []))


def say(page: Page, nick: str, text: str) -> None:
    """Type into the chat form and send it."""
    page.fill("#say .nick", nick)
    page.fill("#say .text", text)
    page.click("#say button")


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")
