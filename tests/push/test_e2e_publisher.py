"""The publisher location over real sockets (PROTOCOL.md §2, §4, §7.2, §10)."""

from __future__ import annotations

import socket
import zlib

import pytest
import trio

from pushproxy.push.explain import Explain
from pushproxy.push.messages import Message

from .wire import (
    EXPLAIN,
    JSON_GROUP_HEAD,
    STATISTICS,
    Client,
    MockClock,
    RawClient,
    ServeFactory,
    assert_anti_cache,
    assert_cors,
    assert_header_only,
    config,
    json_channel,
    open_stream,
    publish,
    read_chunks,
    request,
    store_of,
    wait_subscribers,
)

CONF = config(
    """
        location /pub {
            push_stream_publisher admin;
            push_stream_channels_path $arg_id;
            push_stream_store_messages on;
            client_max_body_size 1k;
        }
        location /pub-normal {
            push_stream_publisher;
            push_stream_channels_path $arg_id;
        }
        location /pub-quiet {
            push_stream_publisher;
            push_stream_channels_path $arg_id;
            push_stream_channel_info_on_publish off;
        }
        location /pub-cors {
            push_stream_publisher admin;
            push_stream_channels_path $arg_id;
            push_stream_allowed_origins "$arg_origin";
        }
        location /pub-cors-normal {
            push_stream_publisher normal;
            push_stream_channels_path $arg_id;
            push_stream_allowed_origins "*";
        }
        location ~ /sub/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_message_template "~id~|~channel~|~text~|~event-id~|~event-type~";
        }
"""
    + STATISTICS,
    http="""
    push_stream_max_channel_id_length 10;
    push_stream_max_number_of_channels 5;
    push_stream_max_messages_stored_per_channel 3;
    push_stream_events_channel_id events;
""",
)


def single(channel: str, published: int, stored: int, subscribers: int) -> bytes:
    return json_channel(channel, published, stored, subscribers) + b"\r\n"


async def test_post_answers_channel_info_with_exact_length(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        answer = await request(server.port(), "POST", "/pub?id=ch1", body=b"hello")
        assert answer.status == 200
        assert answer.body == single("ch1", 1, 1, 0)
        assert answer.header("Content-Type") == "application/json"
        assert answer.header("Content-Length") == str(len(answer.body))
        assert answer.header("Transfer-Encoding") is None
        assert_anti_cache(answer)
        assert_cors(answer, None)
        assert answer.header(EXPLAIN) is None


async def test_put_publishes_like_post(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        await publish(port, "ch1", b"one")
        answer = await request(port, "PUT", "/pub?id=ch1", body=b"two")
        assert (answer.status, answer.body) == (200, single("ch1", 2, 2, 0))


async def test_get_reads_info_and_never_creates(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        missing = await request(port, "GET", "/pub?id=nothing")
        assert_header_only(missing, 404)
        assert_anti_cache(missing)
        assert store_of(server).find_channel(b"nothing") is None
        await publish(port, "ch1", b"x")
        found = await request(port, "GET", "/pub?id=ch1")
        assert (found.status, found.body) == (200, single("ch1", 1, 1, 0))
        assert_anti_cache(found)


async def test_get_of_several_channels_uses_the_group_format(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        await publish(port, "ch1", b"x")
        await publish(port, "ch2", b"y")
        group = await request(port, "GET", "/pub?id=ch1/missing/ch2")
        assert group.status == 200
        head = JSON_GROUP_HEAD.match(group.body)
        assert head is not None, group.body
        # the events channel counts as a channel
        assert head.groups()[:2] == (b"3", b"0")
        assert group.body[head.end() :] == (
            json_channel("ch1", 1, 1, 0) + b",\r\n" + json_channel("ch2", 1, 1, 0) + b"\r\n]}\r\n"
        )
        one = await request(port, "GET", "/pub?id=ch1/missing")
        assert one.body == single("ch1", 1, 1, 0)


async def test_missing_path_and_forbidden_ids(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        for method in ("GET", "POST", "DELETE"):
            body = b"x" if method == "POST" else None
            missing = await request(port, method, "/pub", body=body)
            assert_header_only(missing, 400, "No channel id provided.")
            assert_anti_cache(missing)
            for target in ("/pub?id=ALL", "/pub?id=ch*", "/pub?id=ok/ALL", "/pub?id=*"):
                refused = await request(port, method, target, body=body)
                assert_header_only(refused, 403, "Channel id not authorized for this method.")
        # `all` is an ordinary id; only the exact `ALL` is refused
        assert (await request(port, "POST", "/pub?id=all", body=b"x")).status == 200


async def test_channel_id_too_large(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        for method in ("GET", "POST", "DELETE"):
            body = b"x" if method == "POST" else None
            answer = await request(port, method, "/pub?id=12345678901", body=body)
            assert_header_only(answer, 400, "Channel id is too large.")
        assert (await request(port, "POST", "/pub?id=1234567890", body=b"x")).status == 200


async def test_empty_and_oversized_bodies(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        empty = await request(port, "POST", "/pub?id=ch1", body=b"")
        assert_header_only(empty, 400, "Empty post requests are not allowed.")
        empty_put = await request(port, "PUT", "/pub?id=ch1", body=b"")
        assert_header_only(empty_put, 400, "Empty post requests are not allowed.")
        too_big = await request(port, "POST", "/pub?id=ch1", body=b"x" * 1025)
        assert too_big.status == 413
        assert (await request(port, "POST", "/pub?id=ch1", body=b"x" * 1024)).status == 200


async def test_methods_allowed_per_mode(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        for path, allow in (("/pub", "GET, POST, PUT, DELETE"), ("/pub-normal", "GET, POST, PUT")):
            for method in ("HEAD", "PATCH"):
                refused = await request(port, method, f"{path}?id=ch1")
                assert_header_only(refused, 405)
                assert refused.header("Allow") == allow
                assert_anti_cache(refused)
            # nginx itself refuses TRACE, before any module: its 405 page, no Allow
            trace = await request(port, "TRACE", f"{path}?id=ch1")
            assert trace.status == 405
            assert b"<title>405 Not Allowed</title>" in trace.body
            assert trace.header("Allow") is None
        delete = await request(port, "DELETE", "/pub-normal?id=ch1")
        assert_header_only(delete, 405)
        assert delete.header("Allow") == "GET, POST, PUT"


async def test_options_is_200_header_only_for_any_path(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        for target in ("/pub", "/pub?id=ALL", "/pub?id=ch1"):
            answer = await request(port, "OPTIONS", target)
            assert_header_only(answer, 200)
            assert_anti_cache(answer)
            assert_cors(answer, None)
        assert store_of(server).find_channel(b"ch1") is None


async def test_cors_headers_when_allowed_origins_has_a_value(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        options = await request(port, "OPTIONS", "/pub-cors?origin=http://a.example")
        assert_header_only(options, 200)
        assert_anti_cache(options)
        assert_cors(options, "http://a.example", "GET, POST, PUT, DELETE")
        posted = await request(port, "POST", "/pub-cors?id=ch1&origin=x", body=b"m")
        assert posted.status == 200
        assert_cors(posted, "x", "GET, POST, PUT, DELETE")
        refused = await request(port, "HEAD", "/pub-cors?id=ch1&origin=x")
        assert refused.status == 405
        assert_cors(refused, "x", "GET, POST, PUT, DELETE")
        # the Origin request header is never checked; an empty value means no CORS
        no_value = await request(port, "POST", "/pub-cors?id=ch1", [("Origin", "y")], b"m")
        assert_cors(no_value, None)
        normal = await request(port, "GET", "/pub-cors-normal?id=ch1")
        assert_cors(normal, "*", "GET, POST, PUT")
        # the value is URL-unescaped, as every complex value of the module
        escaped = await request(port, "OPTIONS", "/pub-cors?origin=http%3A%2F%2Fb.example")
        assert_cors(escaped, "http://b.example", "GET, POST, PUT, DELETE")
        # an escaped line break would split the response: no CORS headers instead
        split = await request(port, "OPTIONS", "/pub-cors?origin=a%0D%0AX-Injected:%201")
        assert split.status == 200
        assert_cors(split, None)
        assert split.header("X-Injected") is None


async def test_channel_info_on_publish_off(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        answer = await request(server.port(), "POST", "/pub-quiet?id=ch1", body=b"x")
        assert_header_only(answer, 200)
        assert answer.header("Content-Type") is None
        assert_anti_cache(answer)


async def test_store_off_counts_but_keeps_nothing(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        await publish(port, "ch1", b"x", path="/pub-normal")
        answer = await publish(port, "ch1", b"y", path="/pub-normal")
        assert answer.body == single("ch1", 2, 0, 0)


async def test_max_messages_stored_per_channel(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        for number in range(5):
            answer = await publish(port, "ch1", b"m%d" % number)
        assert answer.body == single("ch1", 5, 3, 0)
        client, _ = await open_stream(port, "/sub/ch1.b10")
        assert await read_chunks(client, 3) == [b"3|ch1|m2||", b"4|ch1|m3||", b"5|ch1|m4||"]
        await client.aclose()


async def test_number_of_channels_is_limited(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        # the events channel is one of the five
        for number in range(4):
            await publish(port, f"c{number}", b"x")
        refused = await request(port, "POST", "/pub?id=c9", body=b"x")
        assert_header_only(refused, 403, "Number of channels were exceeded.")
        assert (await request(port, "POST", "/pub?id=c0", body=b"x")).status == 200


async def test_channels_created_before_a_refusal_stay(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        refused = await request(port, "POST", "/pub?id=new1/ALL", body=b"x")
        assert refused.status == 403
        assert (await request(port, "GET", "/pub?id=new1")).body == single("new1", 0, 0, 0)


async def test_events_channel_is_read_only(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        for method in ("POST", "PUT", "DELETE"):
            body = b"x" if method != "DELETE" else None
            refused = await request(port, method, "/pub?id=events", body=body)
            assert_header_only(refused, 403, "Only internal routines can change events channel.")
        assert (await request(port, "GET", "/pub?id=events")).status == 200


async def test_backtrack_suffix_is_stripped_and_duplicates_publish_twice(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        assert (await publish(port, "ch.b2", b"x")).body == single("ch", 1, 1, 0)
        twice = await publish(port, "dup/dup", b"x")
        head = JSON_GROUP_HEAD.match(twice.body)
        assert head is not None
        item = json_channel("dup", 2, 2, 0)
        assert twice.body[head.end() :] == item + b",\r\n" + item + b"\r\n]}\r\n"


async def test_body_bytes_and_event_headers_reach_subscribers(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        client, head = await open_stream(port, "/sub/ch1")
        assert head.status == 200
        await wait_subscribers(server, b"ch1", 1)
        every_byte = bytes(range(256))
        await publish(port, "ch1", every_byte)
        await publish(port, "ch1", b"e", [("Event-Id", "ev-1"), ("Event-Type", "kind")])
        await publish(port, "ch1", b"f", [("event-id", "lower"), ("EVENT-TYPE", "UP")])
        # the whole name must match; an empty value is a value
        await publish(port, "ch1", b"g", [("Event-Ids", "no"), ("Event-I", "no")])
        await publish(port, "ch1", b"h", [("Event-Id", "")])
        await publish(port, "ch1", b"i", [("Event-Id", "first"), ("Event-Id", "second")])
        assert await read_chunks(client, 6) == [
            b"1|ch1|" + every_byte + b"||",
            b"2|ch1|e|ev-1|kind",
            b"3|ch1|f|lower|UP",
            b"4|ch1|g||",
            b"5|ch1|h||",
            b"6|ch1|i|first|",
        ]
        await client.aclose()


async def test_info_formats_follow_accept(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        await publish(port, "ch1", b"x")
        cases = {
            "text/plain": (
                "text/plain",
                b"channel: ch1\r\npublished_messages: 1\r\nstored_messages: 1\r\n"
                b"active_subscribers: 0\r\n",
            ),
            "application/yaml": (
                "application/yaml",
                b"  channel: ch1\r\n  published_messages: 1\r\n  stored_messages: 1\r\n"
                b"  subscribers: 0\r\n",
            ),
            "text/xml": (
                "application/xml",
                b'<?xml version="1.0" encoding="UTF-8" ?>\r\n<channel>\r\n  <name>ch1</name>\r\n'
                b"  <published_messages>1</published_messages>\r\n"
                b"  <stored_messages>1</stored_messages>\r\n  <subscribers>0</subscribers>\r\n"
                b"</channel>\r\n\r\n",
            ),
            "text/x-json": ("text/x-json", single("ch1", 1, 1, 0)),
            "text/html, */*": ("application/json", single("ch1", 1, 1, 0)),
        }
        for accept, (content_type, body) in cases.items():
            answer = await request(port, "GET", "/pub?id=ch1", [("Accept", accept)])
            assert (answer.header("Content-Type"), answer.body) == (content_type, body), accept
            assert answer.header("Content-Length") == str(len(body))


async def test_delete_answers_and_ends_subscribers(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        await publish(port, "ch1", b"x")
        await publish(port, "ch3", b"x")
        client, _ = await open_stream(port, "/sub/ch1")
        await wait_subscribers(server, b"ch1", 1)
        deleted = await request(port, "DELETE", "/pub?id=ch3/ch4/ch1", body=b"custom bye")
        assert_header_only(deleted, 200, "Channel deleted.")
        assert_anti_cache(deleted)
        assert await read_chunks(client, 1) == [b"-2|ch1|custom bye||"]
        assert await client.read_chunk() is None
        await client.aclose()
        again = await request(port, "DELETE", "/pub?id=ch1/ch3")
        assert_header_only(again, 404)
        assert (await request(port, "GET", "/pub?id=ch1")).status == 404
        # a publish to the same id creates a new channel whose ids restart at 1
        assert (await publish(port, "ch1", b"new")).body == single("ch1", 1, 1, 0)


async def test_keep_alive_across_publisher_requests(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        client = await Client.connect(server.port())
        for number in range(1, 21):
            posted = await client.request("POST", "/pub?id=ka", body=b"m")
            assert posted.body == single("ka", number, min(number, 3), 0)
        assert (await client.request("GET", "/pub?id=nothing")).status == 404
        assert (await client.request("POST", "/pub?id=ka", body=b"")).status == 400
        assert (await client.request("HEAD", "/pub?id=ka")).status == 405
        assert (await client.request("OPTIONS", "/pub?id=ka")).status == 200
        assert (await client.request("DELETE", "/pub?id=ka")).status == 200
        assert (await client.request("GET", "/pub?id=ka")).status == 404
        await client.aclose()


async def test_gzip_applies_to_publisher_statistics_and_subscriber_answers(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    conf = config(
        """
        gzip on;
        gzip_min_length 1;
        gzip_types application/json text/plain;
        location /pub {
            push_stream_publisher admin;
            push_stream_channels_path $arg_id;
            push_stream_store_messages on;
        }
        location /channels-stats {
            push_stream_channels_statistics;
            push_stream_channels_path $arg_id;
        }
        location ~ /sub/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_header_template "HEADER";
        }
"""
    )
    gzip = [("Accept-Encoding", "gzip")]
    async with serve(conf) as server:
        port = server.port()
        posted = await request(port, "POST", "/pub?id=ch1", gzip, b"x")
        assert posted.header("Content-Encoding") == "gzip"
        assert zlib.decompress(posted.body, 16 + zlib.MAX_WBITS) == single("ch1", 1, 1, 0)
        stats = await request(port, "GET", "/channels-stats?id=ch1", gzip)
        assert stats.header("Content-Encoding") == "gzip"
        assert zlib.decompress(stats.body, 16 + zlib.MAX_WBITS) == single("ch1", 1, 1, 0)
        client, head = await open_stream(port, "/sub/ch1.b1", gzip)
        assert head.header("Content-Encoding") == "gzip"
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        # each piece is flushed on its own, so it can be inflated as it arrives
        assert [inflate.decompress(chunk) for chunk in await read_chunks(client, 2)] == [
            b"HEADER",
            b"x",
        ]
        await client.aclose()


async def test_explain_and_allow_header_names(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        for raw in (
            b"GET /pub HTTP/1.0\r\nHost: localhost\r\n\r\n",
            b"HEAD /pub-cors?id=ch1&origin=o HTTP/1.0\r\nHost: localhost\r\n\r\n",
        ):
            client = await RawClient.connect(port)
            await client.send(raw)
            await client.read_head()
            await client.aclose()
            names = {line.split(b":")[0] for line in client.head_lines}
            assert {b"Expires", b"Cache-Control"} <= names
            assert names & {b"X-Nginx-PushStream-Explain", b"Allow"}
        assert b"Allow" in names
        assert {
            b"Access-Control-Allow-Origin",
            b"Access-Control-Allow-Methods",
            b"Access-Control-Allow-Headers",
        } <= names


class _IdRecorder:
    """A subscriber registered in the store itself: the ids it is handed, in order."""

    def __init__(self) -> None:
        self.ids: list[int] = []

    def deliver(self, message: Message) -> None:
        self.ids.append(message.id)

    def channel_deleted(self, message: Message, remaining: int) -> None:
        raise AssertionError("no channel is deleted here")


async def test_messages_keep_their_order_when_a_publisher_is_slow_to_read(
    serve: ServeFactory,
) -> None:
    """A publisher that sends many publishes and reads none of its answers blocks the
    server's write of one answer. The message of that publish goes out before the server
    waits, so another publisher's later message does not overtake it."""
    requests = 3000
    one = b"POST /pub?id=order HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na"
    conf = config(
        "location /pub { push_stream_publisher; push_stream_channels_path $arg_id; }",
        http=f"keepalive_requests {requests + 1};",
    )
    async with serve(conf) as server:
        store = store_of(server)
        channel = store.get_or_create_channel(b"order")
        assert not isinstance(channel, Explain)
        recorder = _IdRecorder()
        assert store.subscribe(store.register(recorder), channel)
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", server.port()))
        slow.setblocking(False)
        pending = one * requests
        with trio.fail_after(30):
            while pending:
                await trio.lowlevel.wait_writable(slow)
                pending = pending[slow.send(pending) :]
            published = -1
            while channel.published_messages != published:  # until the server is stuck
                published = channel.published_messages
                await trio.sleep(0.2)
            assert published < requests  # its answers fill the sockets: a write waits
            answer = await request(server.port(), "POST", "/pub?id=order", body=b"b")
            assert answer.status == 200
            while channel.published_messages < requests + 1:  # read the answers: unstuck
                await trio.lowlevel.wait_readable(slow)
                slow.recv(1 << 20)
        slow.close()
    assert len(recorder.ids) == requests + 1
    assert recorder.ids == sorted(recorder.ids)


async def test_a_delete_the_full_zone_refuses_is_a_header_only_500(
    serve: ServeFactory, autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The module's `error while deleting channel` answer: header-only, the connection kept
    (its cleanup spec deletes on, a 500 at a time, until memory comes back)."""
    small = CONF.replace(
        "push_stream_shared_memory_size 32m;", "push_stream_shared_memory_size 128k;"
    )
    async with serve(small) as server:
        client = await Client.connect(server.port())
        for _ in range(5000):  # until the zone is full: the module's 500 page for a publish
            if (await client.request("POST", "/pub?id=full", body=b"x")).status == 500:
                break
        else:
            raise AssertionError("the zone never filled")
        # (the publisher's 500 page ends the connection, as nginx's error pages do)
        await client.aclose()
        client = await Client.connect(server.port())
        refused = await client.request("DELETE", "/pub?id=full")
        assert_header_only(refused, 500)
        assert_anti_cache(refused)
        assert store_of(server).find_channel(b"full") is not None
        assert (await client.request("GET", "/pub?id=full")).status == 200  # kept alive
        await client.aclose()
    assert "push stream module: error while deleting channel 'full', client: 127.0.0.1" in (
        caplog.text
    )
