"""A server stop ends subscribers as the module does: footers, close frames, timeout answers."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

import trio
from conftest import ServeFactory
from helpers import Client, request

from pushproxy.config.model import build
from pushproxy.config.parse import parse_text
from pushproxy.http.server import HttpServer

from .wire import wait_connections, wait_subscribers

CONF = """
events {}
http {
    push_stream_shared_memory_size 32m;
    server {
        listen 127.0.0.1:0;
        location /pub {
            push_stream_publisher admin;
            push_stream_channels_path $arg_id;
            push_stream_store_messages on;
        }
        location ~ /sub/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_header_template "HEAD";
            push_stream_footer_template "FOOT";
        }
        location ~ /lp/(.*) { push_stream_subscriber long-polling; push_stream_channels_path $1; }
    }
}
"""


async def _subscribers_ended_by(server: HttpServer, end: Callable[[], Awaitable[None]]) -> None:
    """A streaming subscriber of /sub/a and a long-poll of /lp/b, then `end()`: the stream
    gets its footer and its end, the long-poll the timeout answer."""
    port = server.port()
    stream = await Client.connect(port)
    await stream.send_request("GET", "/sub/a")
    assert (await stream.read_head()).status == 200
    assert await stream.read_chunk() == b"HEAD"
    answers = []

    async def long_poll() -> None:
        answers.append(await request(port, "GET", "/lp/b"))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(long_poll)
        await wait_subscribers(server, b"b", 1)
        await end()
    assert await stream.read_chunk() == b"FOOT"  # the configuration it came with
    assert await stream.read_chunk() is None  # the chunked body ended properly
    await stream.aclose()
    (answer,) = answers
    assert (answer.status, answer.header("Etag")) == (304, "W/0")


async def test_stop_sends_footers_and_timeout_answers(serve: ServeFactory) -> None:
    async with serve(CONF) as server:
        with trio.fail_after(5):
            await _subscribers_ended_by(server, lambda: server.stop(grace=1.0))


async def test_a_reload_ends_subscribers_as_the_old_workers_do(serve: ServeFactory) -> None:
    """nginx's old workers end their subscribers on a reload (their footer, the long-poll
    timeout answer), and the clients reconnect to the new configuration; channels and
    stored messages stay."""
    new = CONF.replace('"HEAD"', '"HEAD2"').replace('"FOOT"', '"FOOT2"')
    with trio.fail_after(10):
        async with serve(CONF) as server:
            port = server.port()
            await request(port, "POST", "/pub?id=a", body=b"kept")
            await _subscribers_ended_by(
                server, lambda: server.reload(build(parse_text(new, file="nginx.conf")))
            )
            await wait_connections(server, 0)
            again = await Client.connect(port)
            await again.send_request("GET", "/sub/a.b1")
            assert (await again.read_head()).status == 200
            assert await again.read_chunk() == b"HEAD2"
            assert await again.read_chunk() == b"kept"  # the stored message survived
            await again.aclose()


async def test_a_reload_lets_a_slow_subscriber_have_what_was_queued_for_it(
    serve: ServeFactory,
) -> None:
    """nginx's old workers write what they queued before they end: a subscriber that reads
    slowly gets every message, then the footer and the end of the chunked body."""
    bodies = [bytes([65 + n]) * 100_000 for n in range(5)]
    with trio.fail_after(20):
        async with serve(CONF) as server:
            port = server.port()
            sock = trio.socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the server must queue
            await sock.connect(("127.0.0.1", port))
            stream = trio.SocketStream(sock)
            await stream.send_all(b"GET /sub/slow HTTP/1.1\r\nHost: a\r\n\r\n")
            await wait_subscribers(server, b"slow", 1)
            for body in bodies:
                await request(port, "POST", "/pub?id=slow", body=body)
            await server.reload(build(parse_text(CONF, file="nginx.conf")))
            got = b""
            while chunk := await stream.receive_some(65536):
                got += chunk
            await stream.aclose()
    assert got.endswith(b"\r\n4\r\nFOOT\r\n0\r\n\r\n")
    positions = [got.find(body) for body in bodies]
    assert -1 not in positions
    assert positions == sorted(positions)


async def test_after_a_reload_the_old_connections_end_as_old_workers_end_them(
    serve: ServeFactory,
) -> None:
    """nginx's old workers close their idle keep-alive connections at once and the others
    after the answer they give (a long-poll its timeout answer): every client comes back to
    the new configuration on a new connection."""
    with trio.fail_after(10):
        async with serve(CONF) as server:
            port = server.port()
            idle = await Client.connect(port)
            assert (await idle.request("POST", "/pub?id=a", body=b"m")).status == 200
            polling = await Client.connect(port)
            await polling.send_request("GET", "/lp/b")
            await wait_subscribers(server, b"b", 1)
            await server.reload(build(parse_text(CONF, file="nginx.conf")))
            assert await idle.stream.receive_some(1000) == b""  # closed at once
            answer = await polling.read_head()
            assert answer.status == 304  # the long-poll's timeout answer, then the end
            await polling.read_body(answer)
            assert await polling.stream.receive_some(1000) == b""
            again = await Client.connect(port)
            assert (await again.request("POST", "/pub?id=a", body=b"n")).status == 200
            for client in (idle, polling, again):
                await client.aclose()
