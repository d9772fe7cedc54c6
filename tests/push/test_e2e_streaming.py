"""Streaming subscribers over real sockets (PROTOCOL.md §2, §5, §6.1, §6.2, §9.4)."""

from __future__ import annotations

import trio
import trio.testing

from pushproxy.http.server import HttpServer
from pushproxy.push.memory import TRASH_TTL

from .wire import (
    EPOCH,
    PUBLISHER,
    STATISTICS,
    Client,
    MockClock,
    RawClient,
    ServeFactory,
    assert_anti_cache,
    assert_cors,
    assert_header_only,
    config,
    http_time,
    now_of,
    open_stream,
    publish,
    read_chunks,
    request,
    store_of,
    wait_connections,
    wait_subscribers,
)

MEGABYTE = 1024 * 1024
CONF = config(
    PUBLISHER
    + STATISTICS
    + """
        location ~ /sub/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_header_template "HEADER";
            push_stream_message_template "~id~:~text~";
            push_stream_footer_template "FOOTER";
        }
        location ~ /plain/(.*) {
            push_stream_subscriber streaming;
            push_stream_channels_path $1;
        }
        location ~ /html/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            default_type "text/html; charset=utf-8";
            push_stream_allowed_origins "*";
        }
        location ~ /ping/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_message_template "~id~:~text~";
            push_stream_ping_message_interval 1s;
        }
        location ~ /ttl/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_header_template "HEADER";
            push_stream_footer_template "FOOTER";
            push_stream_subscriber_connection_ttl 3s;
        }
        location ~ /tokens/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_message_template "~ID~|~channel~|~text~|~size~|~time~|~tag~|~x~|~";
        }
"""
)


async def test_response_head_and_chunk_per_piece(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        await publish(port, "ch1", b"old")
        client, head = await open_stream(port, "/sub/ch1.b1")
        assert head.status == 200
        assert head.header("Transfer-Encoding") == "chunked"
        assert head.header("Content-Length") is None
        assert head.header("Content-Type") == "text/plain"
        assert head.header("Last-Modified") is None
        assert head.header("Etag") is None
        assert_anti_cache(head)
        assert_cors(head, None)
        assert await read_chunks(client, 2) == [b"HEADER", b"1:old"]
        await wait_subscribers(server, b"ch1", 1)
        await publish(port, "ch1", b"live 1")
        await publish(port, "ch1", b"live 2")
        assert await read_chunks(client, 2) == [b"2:live 1", b"3:live 2"]
        await client.aclose()
        await wait_connections(server, 0)


async def test_default_template_and_content_type(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        client, head = await open_stream(port, "/html/ch1")
        assert head.header("Content-Type") == "text/html; charset=utf-8"
        assert_cors(head, "*")
        await wait_subscribers(server, b"ch1", 1)
        await publish(port, "ch1", b"just the text")
        assert await read_chunks(client, 1) == [b"just the text"]
        await client.aclose()
        # `.b1` is the extension nginx sees: no such MIME type, so the default type
        other, head = await open_stream(port, "/plain/page.html")
        assert head.header("Content-Type") == "text/html"
        await other.aclose()
        backtrack, head = await open_stream(port, "/html/ch.b1")
        assert head.header("Content-Type") == "text/html; charset=utf-8"
        await backtrack.aclose()


async def test_template_tokens(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        client, _ = await open_stream(port, "/tokens/ch1")
        await wait_subscribers(server, b"ch1", 1)
        await publish(port, "ch1", b"~channel~~text~")
        now = now_of(server)
        (chunk,) = await read_chunks(client, 1)
        prefix = b"1|ch1|~channel~~text~|15|%s|" % http_time(now).encode()
        assert chunk.startswith(prefix), chunk
        assert chunk[len(prefix) :].split(b"|")[1:] == [b"~x~", b"~"]
        await client.aclose()


async def test_old_messages_then_live_per_channel_in_path_order(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        for number in range(1, 4):
            await publish(port, "a", b"a%d" % number)
            await publish(port, "b", b"b%d" % number)
        client, _ = await open_stream(port, "/sub/b.b2/a.b5/c")
        assert await read_chunks(client, 6) == [
            b"HEADER",
            b"2:b2",
            b"3:b3",
            b"1:a1",
            b"2:a2",
            b"3:a3",
        ]
        await wait_subscribers(server, b"c", 1)
        await publish(port, "c", b"c1")
        await publish(port, "a", b"a4")
        assert await read_chunks(client, 2) == [b"1:c1", b"4:a4"]
        await client.aclose()


async def test_duplicate_channel_delivers_twice(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        client, _ = await open_stream(port, "/sub/a/a")
        await wait_subscribers(server, b"a", 2)
        await publish(port, "a", b"x")
        assert await read_chunks(client, 3) == [b"HEADER", b"1:x", b"1:x"]
        await client.aclose()


async def test_pings_follow_the_interval_and_live_messages_reset_them(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        await publish(port, "ch1", b"old")
        client, _ = await open_stream(port, "/ping/ch1.b1")
        start = trio.current_time()
        assert await read_chunks(client, 1) == [b"1:old"]
        assert await read_chunks(client, 1) == [b"-1: "]
        assert trio.current_time() - start == 1.0
        await trio.sleep(0.5)
        await publish(port, "ch1", b"live")
        assert await read_chunks(client, 1) == [b"2:live"]
        published = trio.current_time()
        assert await read_chunks(client, 1) == [b"-1: "]
        assert trio.current_time() - published == 1.0
        assert await read_chunks(client, 1) == [b"-1: "]
        assert trio.current_time() - published == 2.0
        await client.aclose()


async def test_custom_ping_text(serve: ServeFactory, autojump_clock: MockClock) -> None:
    conf = config(
        """
        location ~ /sub/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_message_template "~id~:~text~:~channel~:~tag~:~time~";
            push_stream_ping_message_interval 2s;
        }
""",
        http='    push_stream_ping_message_text "pinging you!!!";',
    )
    async with serve(conf) as server:
        client, _ = await open_stream(server.port(), "/sub/ch1")
        assert await read_chunks(client, 1) == [b"-1:pinging you!!!::0:" + EPOCH.encode()]
        await client.aclose()


async def test_connection_ttl_ends_with_footer(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        start = trio.current_time()
        client, _ = await open_stream(port, "/ttl/ch1")
        assert await read_chunks(client, 1) == [b"HEADER"]
        await wait_subscribers(server, b"ch1", 1)
        await publish(port, "ch1", b"msg")
        assert await read_chunks(client, 2) == [b"msg", b"FOOTER"]
        assert await client.read_chunk() is None
        assert trio.current_time() - start == 3.0
        await wait_subscribers(server, b"ch1", 0)
        await client.aclose()


async def test_delete_of_one_channel_keeps_the_stream(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        client, _ = await open_stream(port, "/sub/ch1/ch2")
        await wait_subscribers(server, b"ch2", 1)
        assert (await request(port, "DELETE", "/pub?id=ch1")).status == 200
        assert await read_chunks(client, 2) == [b"HEADER", b"-2:Channel deleted"]
        await publish(port, "ch2", b"still here")
        assert await read_chunks(client, 1) == [b"1:still here"]
        assert (await request(port, "DELETE", "/pub?id=ch2")).status == 200
        assert await read_chunks(client, 2) == [b"-2:Channel deleted", b"FOOTER"]
        assert await client.read_chunk() is None
        await client.aclose()
        await wait_connections(server, 0)


async def test_client_leaving_unsubscribes(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        clients = []
        for _ in range(3):
            client, _ = await open_stream(port, "/sub/ch1")
            clients.append(client)
        await wait_subscribers(server, b"ch1", 3)
        for client in clients:
            await client.aclose()
        await wait_subscribers(server, b"ch1", 0)
        assert store_of(server).totals().subscribers == 0


async def test_client_sending_bytes_keeps_the_stream(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        client, _ = await open_stream(port, "/sub/ch1")
        await wait_subscribers(server, b"ch1", 1)
        await client.stream.send_all(b"garbage after the request")
        await publish(port, "ch1", b"x")
        assert await read_chunks(client, 2) == [b"HEADER", b"1:x"]
        await client.aclose()


async def test_http_1_0_stream_is_unchunked_and_closed(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        client = await RawClient.connect(port)
        await client.send(b"GET /ttl/ch1 HTTP/1.0\r\nHost: localhost\r\n\r\n")
        status, headers = await client.read_head()
        assert status == b"HTTP/1.1 200 OK"
        assert "transfer-encoding" not in headers
        assert "content-length" not in headers
        await wait_subscribers(server, b"ch1", 1)
        await publish(port, "ch1", b"msg")
        assert await client.read_until_closed() == b"HEADERmsgFOOTER"
        await client.aclose()


async def test_http_1_0_and_1_1_subscribers_of_one_channel_get_their_own_framing(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        old = await RawClient.connect(port)
        await old.send(b"GET /ttl/ch1 HTTP/1.0\r\nHost: localhost\r\n\r\n")
        await old.read_head()
        new, _ = await open_stream(port, "/ttl/ch1")
        await wait_subscribers(server, b"ch1", 2)
        for text in (b"m1", b"m2"):  # each framed once per framing, shared by its subscribers
            await publish(port, "ch1", text)
        assert await read_chunks(new, 3) == [b"HEADER", b"m1", b"m2"]
        assert await old.read_until_closed() == b"HEADERm1m2FOOTER"
        await new.aclose()
        await old.aclose()


async def test_status_line_has_the_reason_phrase(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        client = await RawClient.connect(server.port())
        await client.send(b"GET /sub/ch1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        status, _ = await client.read_head()
        await client.aclose()
        assert status == b"HTTP/1.1 200 OK"


async def test_options_head_and_mode_header(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        options = await request(port, "OPTIONS", "/html/ch1")
        assert_header_only(options, 200)
        assert_anti_cache(options, present=False)
        assert_cors(options, "*")
        no_path = await request(port, "OPTIONS", "/sub/")
        assert_header_only(no_path, 200)
        for method in ("HEAD", "POST", "DELETE"):
            refused = await request(port, method, "/html/ch1")
            assert_header_only(refused, 405)
            assert refused.header("Allow") == "GET"
            assert_anti_cache(refused)
            assert_cors(refused, "*")
        empty = await request(port, "GET", "/sub/")
        assert_header_only(empty, 400, "No channel id provided.")
        assert_anti_cache(empty)
        await publish(port, "ch1", b"stored")
        polled = await request(port, "GET", "/sub/ch1.b1", [("X-Nginx-PushStream-Mode", "POLLING")])
        assert (polled.status, polled.chunks) == (200, [b"HEADER", b"1:stored", b"FOOTER"])
        assert polled.header("Etag") == "W/1"


async def test_padding_by_user_agent(serve: ServeFactory, autojump_clock: MockClock) -> None:
    conf = config(
        PUBLISHER
        + """
        location ~ /sub/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_header_template "0123456789";
            push_stream_padding_by_user_agent "[T|t]est 1,1024,508:[T|t]est 2,4097,0";
            push_stream_user_agent $arg_ua;
        }
"""
    )
    async with serve(conf) as server:
        port = server.port()
        one, _ = await open_stream(port, "/sub/ch1?ua=test%201")
        assert await read_chunks(one, 2) == [b"0123456789", b"\r\n" * 550]
        two, _ = await open_stream(port, "/sub/ch1?ua=my%20Test%202")
        header, padding = await read_chunks(two, 2)
        assert (header, len(padding), padding[:3]) == (b"0123456789", 4097, b"\n\r\n")
        # without the directive's value (empty) the User-Agent header is not read either
        none, _ = await open_stream(port, "/sub/ch1", [("User-Agent", "test 1")])
        await wait_subscribers(server, b"ch1", 3)
        await publish(port, "ch1", b"x" * 105)
        assert await read_chunks(one, 2) == [b"x" * 105, b"\r\n" * 250]
        assert await read_chunks(two, 1) == [b"x" * 105]
        assert await read_chunks(none, 2) == [b"0123456789", b"x" * 105]
        for client in (one, two, none):
            await client.aclose()


async def test_padding_up_to_the_largest_minimum(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    conf = config(
        PUBLISHER
        + """
        location ~ /sub/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_padding_by_user_agent "[T|t]est 3,0,545";
        }
"""
    )
    async with serve(conf) as server:
        port = server.port()
        client, _ = await open_stream(port, "/sub/ch2", [("User-Agent", "a Test 3")])
        await wait_subscribers(server, b"ch2", 1)
        await publish(port, "ch2", b"1")
        await publish(port, "ch2", b"y" * 105)
        await publish(port, "ch2", b"z" * 545)
        await publish(port, "ch2", b"w")
        first, pad1, second, pad2, third, last = await read_chunks(client, 6)
        # odd sizes start with the LF of the repeated CRLF
        assert (first, len(pad1), pad1[:3]) == (b"1", 545, b"\n\r\n")
        assert (second, len(pad2)) == (b"y" * 105, 500)
        assert (third, last) == (b"z" * 545, b"w")
        await client.aclose()


async def test_ping_and_deleted_messages_are_padded(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    conf = config(
        PUBLISHER
        + """
        location ~ /sub/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_padding_by_user_agent "agent,0,150";
            push_stream_ping_message_interval 1s;
        }
"""
    )
    async with serve(conf) as server:
        port = server.port()
        client, _ = await open_stream(port, "/sub/ch1", [("User-Agent", "agent")])
        assert await read_chunks(client, 2) == [b" ", b"\r\n" * 75]
        assert (await request(port, "DELETE", "/pub?id=ch1")).status == 200
        assert await read_chunks(client, 2) == [b"Channel deleted", b"\r\n" * 75]
        assert await client.read_chunk() is None
        await client.aclose()


async def test_many_subscribers_share_one_publish(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        clients: list[Client] = []
        for _ in range(50):
            client, _ = await open_stream(port, "/sub/fan")
            clients.append(client)
        await wait_subscribers(server, b"fan", 50)
        for number in range(1, 4):
            await publish(port, "fan", b"m%d" % number)
        store = store_of(server)
        channel = store.find_channel(b"fan")
        assert channel is not None
        # rendered once, for the one template with subscribers, whatever their number (the
        # configuration's other templates are charged for but never rendered), and framed
        # once for all of them: one rendering and one framed copy per message
        assert len(store.templates) > 1
        for message in channel.messages:
            assert len(message.rendered) == 2
            framed = [v for k, v in message.rendered.items() if isinstance(k, tuple)]
            assert framed == [
                b"%x\r\n%b\r\n" % (len(message.text) + 2, b"%d:%b" % (message.id, message.text))
            ]
        for client in clients:
            assert await read_chunks(client, 4) == [b"HEADER", b"1:m1", b"2:m2", b"3:m3"]
            await client.aclose()
        await wait_connections(server, 0)


def _slow_conf(zone: str) -> str:
    return config(
        PUBLISHER.replace("push_stream_store_messages on;", "client_max_body_size 2m;")
        + """
        location ~ /sub/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_footer_template "FOOTER";
        }
""",
        http="    send_timeout 1h;",
    ).replace("push_stream_shared_memory_size 32m;", f"push_stream_shared_memory_size {zone};")


async def _reader_and_publisher(server: HttpServer) -> tuple[RawClient, Client]:
    """A subscriber of /sub/ch1 that reads nothing yet, and a publisher's connection."""
    port = server.port()
    slow = await RawClient.connect(port)
    await slow.send(b"GET /sub/ch1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
    await wait_subscribers(server, b"ch1", 1)
    return slow, await Client.connect(port)


async def test_a_subscriber_that_cannot_keep_up_is_dropped(
    serve: ServeFactory, mock_clock: MockClock
) -> None:
    """Past the zone's size queued (8 MiB here), not by the send timeout (an hour). The clock
    runs at real speed (megabytes cross the sockets) and leaps to let the trash give the
    zone's memory back."""
    mock_clock.rate = 1
    async with serve(_slow_conf("8m")) as server:
        slow, publisher = await _reader_and_publisher(server)
        published = 0
        while store_of(server).find_channel(b"ch1").subscriptions:  # type: ignore[union-attr]
            assert published < 60
            # (a message is charged once per template: one a turn fits in the zone)
            answer = await publisher.request("POST", "/pub?id=ch1", body=b"x" * MEGABYTE)
            assert answer.status == 200  # publishers never wait
            published += 1
            mock_clock.jump(TRASH_TTL + 1)
            await trio.testing.wait_all_tasks_blocked()
        assert published > 8  # more than the bound and the socket's buffers
        received = await slow.read_until_closed()
        assert not received.endswith(b"FOOTER\r\n0\r\n\r\n")
        assert len(received) < published * MEGABYTE
        await publisher.aclose()
        await slow.aclose()


async def test_a_slow_subscriber_gets_all_that_was_queued_for_it(
    serve: ServeFactory, mock_clock: MockClock
) -> None:
    """The M-JPEG example: images of a megabyte posted faster than the client reads them all
    arrive once it reads, as nginx keeps them (only its send timeout ends a client)."""
    mock_clock.rate = 1  # megabytes cross the sockets: timers at real speed
    async with serve(_slow_conf("256m")) as server:
        slow, publisher = await _reader_and_publisher(server)
        images = [bytes([65 + n]) * MEGABYTE for n in range(8)]
        for image in images:
            assert (await publisher.request("POST", "/pub?id=ch1", body=image)).status == 200
        await slow.read_head()
        expected = b"".join(b"%x\r\n%b\r\n" % (len(image), image) for image in images)
        with trio.fail_after(30):
            while len(slow.received) < len(expected):
                slow.received += await slow.stream.receive_some(1 << 20)
        assert slow.received == expected
        assert store_of(server).find_channel(b"ch1").subscriptions  # type: ignore[union-attr]
        await publisher.aclose()
        await slow.aclose()
