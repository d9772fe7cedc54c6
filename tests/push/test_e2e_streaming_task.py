"""A streaming subscriber's one task: what wakes it and what its client's socket says (§6.1).

The task waits, bounded by the next ping or the TTL if any; the runtime's client watch, the
leftover bytes of a direct write, a deletion and a stop wake it. Bytes from the client are
dropped; an end of file or a broken connection means the client is gone.
"""

from __future__ import annotations

import socket

import pytest
import trio

from .wire import (
    PUBLISHER,
    MockClock,
    RawClient,
    ServeFactory,
    config,
    open_stream,
    publish,
    read_chunks,
    request,
    wait_connections,
    wait_subscribers,
)

CONF = config(
    PUBLISHER
    + """
        location ~ /sub/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_header_template "HEADER";
            push_stream_message_template "~id~:~text~";
            push_stream_footer_template "FOOTER";
            push_stream_ping_message_interval 10s;
        }
        location ~ /quiet/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_header_template "HEADER";
            push_stream_footer_template "FOOTER";
        }
"""
)
# With a ping interval the task waits in a cancel scope; without (the default), parked bare.
WAITS = pytest.mark.parametrize("path", ["/sub/", "/quiet/"])


@WAITS
async def test_bytes_then_close_is_a_client_gone(
    serve: ServeFactory, autojump_clock: MockClock, path: str
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        client, _ = await open_stream(port, path + "ch1")
        await wait_subscribers(server, b"ch1", 1)
        await client.stream.send_all(b"GET /sub/ch1 HTTP/1.1\r\n\r\n")  # dropped, not served
        await trio.sleep(1)
        await wait_subscribers(server, b"ch1", 1)
        await client.aclose()
        await wait_subscribers(server, b"ch1", 0)
        await wait_connections(server, 0)


@WAITS
async def test_half_close_ends_the_stream_without_footer(
    serve: ServeFactory, autojump_clock: MockClock, path: str
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        client = await RawClient.connect(port)
        await client.send(b"GET %bch1 HTTP/1.1\r\nHost: localhost\r\n\r\n" % path.encode())
        await client.read_head()
        await wait_subscribers(server, b"ch1", 1)
        await client.stream.send_eof()  # the client is done: gone, as nginx sees it
        await wait_subscribers(server, b"ch1", 0)
        assert await client.read_until_closed() == b"6\r\nHEADER\r\n"
        await client.aclose()


async def test_pings_go_on_while_the_client_talks(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        client, _ = await open_stream(port, "/sub/ch1")
        assert await read_chunks(client, 1) == [b"HEADER"]
        start = trio.current_time()
        for _ in range(2):
            await trio.sleep(4)
            await client.stream.send_all(b"noise")
        assert await read_chunks(client, 1) == [b"-1: "]
        assert trio.current_time() - start == 10  # the bytes did not move the ping
        await publish(port, "ch1", b"live")
        assert await read_chunks(client, 1) == [b"1:live"]
        await client.aclose()


@WAITS
async def test_a_stop_wakes_an_idle_stream_for_its_footer(
    serve: ServeFactory, autojump_clock: MockClock, path: str
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        client, _ = await open_stream(port, path + "ch1")
        await wait_subscribers(server, b"ch1", 1)
        await publish(port, "ch1", b"before")
        with trio.fail_after(5):
            await server.stop(grace=1.0)
        before = b"1:before" if path == "/sub/" else b"before"
        assert await read_chunks(client, 3) == [b"HEADER", before, b"FOOTER"]
        assert await client.read_chunk() is None
        await client.aclose()


async def test_a_slow_reader_gets_every_message_in_order(
    serve: ServeFactory, mock_clock: MockClock
) -> None:
    # Bytes the socket does not take wait for the task, which the store wakes; later messages
    # queue behind them. Megabytes cross the sockets: the mock clock runs at real speed.
    mock_clock.rate = 1
    conf = config(
        PUBLISHER
        + """
        location ~ /sub/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_message_template "~id~:~text~";
            push_stream_footer_template "FOOTER";
        }
""",
        http="    send_timeout 1h;",
    )
    async with serve(conf) as server:
        port = server.port()
        sock = trio.socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the server's writes stall
        await sock.connect(("127.0.0.1", port))
        slow = RawClient(trio.SocketStream(sock))
        await slow.send(b"GET /sub/ch1 HTTP/1.0\r\nHost: localhost\r\n\r\n")
        await wait_subscribers(server, b"ch1", 1)
        bodies = [bytes([ord("a") + number]) * 512 * 1024 for number in range(5)]
        for body in [*bodies, b"last"]:
            await publish(port, "ch1", body)
        assert (await request(port, "DELETE", "/pub?id=ch1")).status == 200
        await slow.read_head()
        expected = [b"%d:%b" % (number, body) for number, body in enumerate(bodies, 1)]
        expected += [b"6:last", b"-2:Channel deleted", b"FOOTER"]
        assert await slow.read_until_closed() == b"".join(expected)
        await slow.aclose()
