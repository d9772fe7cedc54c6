"""WebSocket through the proxy: a trio-websocket client, pushproxy, a trio-websocket server."""

from __future__ import annotations

import trio
from helpers import request
from trio.testing import MockClock
from trio_websocket import (
    ConnectionClosed,
    WebSocketRequest,
    open_websocket_url,
    serve_websocket,
)
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Event, Message, TextMessage
from wsproto.events import Request as WsRequest

from pushproxy.http.pages import SERVER_HEADER

from .conftest import ProxyFactory
from .support import conf, eventually

UPGRADE = """
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection "upgrade";
"""


class EchoServer:
    """Echoes messages; `bye` makes it close; records how each connection ended."""

    def __init__(self) -> None:
        self.port = 0
        self.closed: list[int | None] = []
        self.paths: list[str] = []

    async def handler(self, request: WebSocketRequest) -> None:
        self.paths.append(request.path)
        ws = await request.accept()
        try:
            while True:
                message = await ws.get_message()
                if message == "bye":
                    await ws.aclose(code=4000, reason="bye")
                    self.closed.append(4000)
                    return
                await ws.send_message(message)
        except ConnectionClosed as closed:
            self.closed.append(closed.reason.code if closed.reason else None)

    async def start(self, nursery: trio.Nursery) -> EchoServer:
        server = await nursery.start(serve_websocket, self.handler, "127.0.0.1", 0, None)
        self.port = server.port
        return self


def ws_conf(port: int, extra: str = UPGRADE) -> str:
    return conf(f"location /ws/ {{ proxy_pass http://127.0.0.1:{port}/; {extra} }}")


async def test_messages_both_ways_and_client_close(
    proxy: ProxyFactory, nursery: trio.Nursery
) -> None:
    echo = await EchoServer().start(nursery)
    big = bytes(range(256)) * 3000
    async with proxy(ws_conf(echo.port)) as server:
        url = f"ws://127.0.0.1:{server.port()}/ws/chat?room=1"
        async with open_websocket_url(url) as ws:
            for message in ("hello", "wörld", big, b""):
                await ws.send_message(message)
                assert await ws.get_message() == message
        await eventually(lambda: bool(echo.closed))
    assert echo.paths == ["/chat?room=1"]
    assert echo.closed == [1000]


class RawClient:
    """A WebSocket client on wsproto: trio-websocket's client keeps its socket open when the
    other side closes the connection first, which the tests here do on purpose."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.events: list[Event] = []

    @classmethod
    async def connect(cls, port: int, target: str) -> RawClient:
        client = cls(await trio.open_tcp_stream("127.0.0.1", port))
        await client.stream.send_all(client.ws.send(WsRequest(host="localhost", target=target)))
        event = await client.next_event()
        assert isinstance(event, AcceptConnection), event
        return client

    async def next_event(self) -> Event | None:
        """The next event; None when the connection was closed."""
        while not self.events:
            data = await self.stream.receive_some(65536)
            if not data:
                return None
            self.ws.receive_data(data)
            self.events += self.ws.events()
        event = self.events.pop(0)
        if isinstance(event, CloseConnection):
            await self.stream.send_all(self.ws.send(event.response()))
        return event

    async def send(self, text: str) -> None:
        await self.stream.send_all(self.ws.send(Message(data=text)))


async def test_server_close_reaches_the_client(proxy: ProxyFactory, nursery: trio.Nursery) -> None:
    echo = await EchoServer().start(nursery)
    async with proxy(ws_conf(echo.port)) as server:
        client = await RawClient.connect(server.port(), "/ws/")
        async with client.stream:
            await client.send("bye")
            with trio.fail_after(5):
                close = await client.next_event()
                assert await client.next_event() is None  # then the proxy closed the socket
    assert isinstance(close, CloseConnection)
    assert (close.code, close.reason) == (4000, "bye")


async def test_an_idle_tunnel_closes_after_proxy_read_timeout(
    proxy: ProxyFactory, nursery: trio.Nursery, autojump_clock: MockClock
) -> None:
    echo = await EchoServer().start(nursery)
    async with proxy(ws_conf(echo.port, UPGRADE + "proxy_read_timeout 30s;")) as server:
        client = await RawClient.connect(server.port(), "/ws/")
        async with client.stream:
            await trio.sleep(20)
            await client.send("still here")
            event = await client.next_event()
            assert isinstance(event, TextMessage)
            assert event.data == "still here"
            started = trio.current_time()
            with trio.fail_after(100):
                assert await client.next_event() is None
            assert 30 <= trio.current_time() - started < 31
        await eventually(lambda: bool(echo.closed))
    assert echo.closed == [1006]  # the upstream saw its connection go, as the client did


async def test_without_upgrade_headers_there_is_no_tunnel(
    proxy: ProxyFactory, nursery: trio.Nursery
) -> None:
    echo = await EchoServer().start(nursery)
    handshake = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ]
    async with proxy(ws_conf(echo.port, extra="")) as server:
        with trio.fail_after(5):
            response = await request(server.port(), "GET", "/ws/", handshake)
        async with proxy(ws_conf(echo.port)) as upgrading:
            lines = "".join(f"{name}: {value}\r\n" for name, value in handshake)
            stream = await trio.open_tcp_stream("127.0.0.1", upgrading.port())
            async with stream:
                await stream.send_all(f"GET /ws/ HTTP/1.1\r\nHost: a\r\n{lines}\r\n".encode())
                head = b""
                with trio.fail_after(5):
                    while b"\r\n\r\n" not in head:
                        head += await stream.receive_some(4096)
    # nginx sends neither Upgrade nor Connection: upgrade unless told to
    assert response.status != 101
    assert echo.paths == ["/"]
    status, *fields = head.split(b"\r\n\r\n")[0].decode().split("\r\n")
    assert status == "HTTP/1.1 101 Switching Protocols"
    assert fields[:3] == ["Server: " + SERVER_HEADER.decode(), fields[1], "Connection: upgrade"]
    assert fields[1].startswith("Date: ")
    assert "Upgrade: websocket" in fields
    assert "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in fields
