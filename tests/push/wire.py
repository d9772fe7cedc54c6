"""Shared pieces of the end-to-end push tests: configurations, clients, waits on the store.

End-to-end tests run under trio's MockClock (autojump): TTLs, pings and sweeps pass in virtual
time, and the store's wall clock moves with it, so message times and tags are exact. (A test
that moves megabytes runs the mock clock at real speed: autojump would leap while every task
waits on the kernel.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import trio
from conftest import ServeFactory
from helpers import Client, Response, request
from trio.testing import MockClock

from pushproxy.http.server import HttpServer
from pushproxy.push.channels import Channel
from pushproxy.push.messages import http_date
from pushproxy.push.store import Store

__all__ = ["Client", "MockClock", "Response", "ServeFactory", "request"]

ANTI_CACHE = {
    "Expires": "Thu, 01 Jan 1970 00:00:01 GMT",
    "Cache-Control": "no-cache, no-store, must-revalidate",
}
CORS_HEADERS = "If-Modified-Since,If-None-Match,Etag,Event-Id,Event-Type,Last-Event-Id"
EXPLAIN = "X-Nginx-PushStream-Explain"
EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"

PUBLISHER = """
        location /pub {
            push_stream_publisher admin;
            push_stream_channels_path $arg_id;
            push_stream_store_messages on;
        }
"""
STATISTICS = """
        location /channels-stats {
            push_stream_channels_statistics;
            push_stream_channels_path $arg_id;
        }
"""


def config(locations: str, http: str = "", **values: str) -> str:
    """A whole nginx.conf: one server on a free port with these locations; `@name@` in the
    text is replaced by `values[name]` (long template strings stay readable)."""
    text = f"""
events {{}}
http {{
    push_stream_shared_memory_size 32m;
{http}
    server {{
        listen 127.0.0.1:0;
{locations}
    }}
}}
"""
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    return text


def store_of(server: HttpServer) -> Store:
    assert server.push is not None
    store = server.push.store
    assert store is not None
    return store


def now_of(server: HttpServer) -> int:
    """The store's clock in whole seconds (message times)."""
    return store_of(server).now()


def http_time(seconds: int) -> str:
    return http_date(seconds).decode()


def align_to_second(server: HttpServer, clock: MockClock) -> None:
    """Move virtual time just past a wall-clock second, so what follows shares one second."""
    assert server.push is not None
    fraction = server.push.clock() % 1
    clock.jump(1 - fraction + 0.001)


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll a store condition (a few virtual milliseconds per try): the store has no event
    to wait on, and a test must not reach into the server's tasks."""
    with trio.fail_after(5):
        while not condition():  # noqa: ASYNC110
            await trio.sleep(0.001)


async def wait_subscribers(server: HttpServer, channel_id: bytes, count: int) -> None:
    """Until the channel has `count` subscriptions (a subscriber is registered)."""

    def ready() -> bool:
        channel: Channel | None = store_of(server).find_channel(channel_id)
        return channel is not None and channel.subscribers == count

    await wait_until(ready)


async def wait_connections(server: HttpServer, count: int) -> None:
    await wait_until(lambda: store_of(server).totals().subscribers == count)


async def publish(
    port: int,
    channel: str,
    body: bytes,
    headers: Sequence[tuple[str, str]] = (),
    *,
    path: str = "/pub",
) -> Response:
    answer = await request(port, "POST", f"{path}?id={channel}", headers, body)
    assert answer.status == 200, answer
    return answer


async def open_stream(
    port: int,
    target: str,
    headers: Sequence[tuple[str, str]] = (),
    *,
    http_version: str = "1.1",
) -> tuple[Client, Response]:
    """A subscriber connection with its response head read."""
    client = await Client.connect(port, http_version=http_version)
    await client.send_request("GET", target, headers)
    return client, await client.read_head()


async def read_chunks(client: Client, count: int) -> list[bytes]:
    chunks: list[bytes] = []
    for _ in range(count):
        chunk = await client.read_chunk()
        assert chunk is not None, chunks
        chunks.append(chunk)
    return chunks


def assert_anti_cache(response: Response, *, present: bool = True) -> None:
    for name, value in ANTI_CACHE.items():
        assert response.header(name) == (value if present else None), name


def assert_header_only(response: Response, status: int, explain: str | None = None) -> None:
    """`send_only_header_response()`: no body, `Content-Length: 0`, the explain if any."""
    assert (response.status, response.body) == (status, b""), response
    assert response.header("Content-Length") == "0"
    assert response.header(EXPLAIN) == explain
    if explain is not None:
        assert EXPLAIN.encode() in response.header_names()


def assert_cors(response: Response, origin: str | None, methods: str = "GET") -> None:
    assert response.header("Access-Control-Allow-Origin") == origin
    if origin is None:
        assert response.header("Access-Control-Allow-Methods") is None
        assert response.header("Access-Control-Allow-Headers") is None
    else:
        assert response.header("Access-Control-Allow-Methods") == methods
        assert response.header("Access-Control-Allow-Headers") == CORS_HEADERS


JSON_GROUP_HEAD = re.compile(
    rb'\{"hostname": "[^"]+", "time": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", "channels": (\d+), '
    rb'"wildcard_channels": (\d+), "uptime": (\d+), "infos": \[\r\n'
)


SUMMARY = re.compile(
    rb'\{"hostname": "(?P<host>[^"]+)", "time": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", '
    rb'"channels": (?P<channels>\d+), "wildcard_channels": (?P<wildcard>\d+), '
    rb'"published_messages": (?P<published>\d+), "stored_messages": (?P<stored>\d+), '
    rb'"messages_in_trash": (?P<trash>\d+), "channels_in_delete": (?P<deleting>\d+), '
    rb'"channels_in_trash": (?P<channels_trash>\d+), "subscribers": (?P<subscribers>\d+), '
    rb'"uptime": (?P<uptime>\d+), "by_worker": \[\r\n'
    rb'\{"pid": "(?P<pid>\d+)", "subscribers": (?P<worker_subscribers>\d+), '
    rb'"uptime": (?P<worker_uptime>\d+)\}\r\n\]\}\r\n\Z'
)


def summary_of(body: bytes) -> dict[str, int]:
    """The JSON statistics summary's figures by name (pid included)."""
    match = SUMMARY.match(body)
    assert match is not None, body
    return {key: int(value) for key, value in match.groupdict().items() if key != "host"}


async def summary(port: int, path: str = "/channels-stats") -> dict[str, int]:
    answer = await request(port, "GET", path)
    assert answer.status == 200, answer
    return summary_of(answer.body)


def json_channel(channel: str, published: int, stored: int, subscribers: int) -> bytes:
    return (
        b'{"channel": "%s", "published_messages": %d, "stored_messages": %d, "subscribers": %d}'
        % (channel.encode(), published, stored, subscribers)
    )


class RawClient:
    """Bytes in, bytes out: for HTTP/1.0 (h11 only sends HTTP/1.1) and exact wire checks."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.received = b""
        self.head_lines: list[bytes] = []  # header lines of the last head, as sent

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        return cls(await trio.open_tcp_stream("127.0.0.1", port))

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def read_head(self) -> tuple[bytes, dict[str, str]]:
        """The status line and headers (names lower-cased); the rest stays in `received`."""
        while b"\r\n\r\n" not in self.received:
            data = await self.stream.receive_some(65536)
            assert data, self.received
            self.received += data
        head, self.received = self.received.split(b"\r\n\r\n", 1)
        self.head_lines = head.split(b"\r\n")[1:]
        status, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.lower()] = value.strip()
        return status.encode(), headers

    async def read_until_closed(self) -> bytes:
        while data := await self.stream.receive_some(65536):
            self.received += data
        body, self.received = self.received, b""
        return body

    async def aclose(self) -> None:
        await self.stream.aclose()


class Pending:
    """A request answered in the background (a long-poll); `response` once `done`."""

    def __init__(self) -> None:
        self.response: Response | None = None
        self.done = trio.Event()

    async def _run(
        self,
        client: Client | int,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]],
    ) -> None:
        if isinstance(client, int):
            self.response = await request(client, method, target, headers)
        else:
            self.response = await client.request(method, target, headers)
        self.done.set()

    async def result(self) -> Response:
        await self.done.wait()
        assert self.response is not None
        return self.response


def start_request(
    nursery: trio.Nursery,
    client: Client | int,
    target: str,
    headers: Sequence[tuple[str, str]] = (),
    method: str = "GET",
) -> Pending:
    """On `client`, or on a connection of its own to a port (closed after the answer)."""
    pending = Pending()
    nursery.start_soon(pending._run, client, method, target, headers)
    return pending
