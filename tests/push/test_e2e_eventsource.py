"""EventSource subscribers over real sockets (PROTOCOL.md §5.3-§5.6, §6.3)."""

from __future__ import annotations

import trio
from helpers import EventSourceParser

from .wire import (
    PUBLISHER,
    MockClock,
    ServeFactory,
    assert_anti_cache,
    config,
    open_stream,
    publish,
    read_chunks,
    request,
    wait_subscribers,
)

EVENT_STREAM = "text/event-stream; charset=utf-8"

CONF = config(
    PUBLISHER
    + """
        location ~ /ev/(.*) {
            push_stream_subscriber eventsource;
            push_stream_channels_path $1;
        }
        location ~ /ev-json/(.*) {
            push_stream_subscriber eventsource;
            push_stream_channels_path $1;
            push_stream_message_template "@json@";
        }
        location ~ /ev-lines/(.*) {
            push_stream_subscriber eventsource;
            push_stream_channels_path $1;
            push_stream_header_template "@lines@";
            push_stream_footer_template "footer";
            push_stream_subscriber_connection_ttl 2s;
        }
        location ~ /ev-raw/(.*) {
            push_stream_subscriber eventsource;
            push_stream_channels_path $1;
            push_stream_header_template ": already a comment";
            push_stream_message_template "data: ~text~|";
            push_stream_ping_message_interval 1s;
        }
        location ~ /ev-qs/(.*) {
            push_stream_subscriber eventsource;
            push_stream_channels_path $1;
            push_stream_last_event_id $arg_last;
        }
""",
    json=r"{\"id\":~id~,\"text\":\"~text~\",\"size\":~size~}",
    lines=r"header line 1\nheader line 2\rheader line 3\r\nheader line 4",
)


async def test_head_default_header_and_messages(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        client, head = await open_stream(port, "/ev/ch1")
        assert head.status == 200
        assert head.header("Content-Type") == EVENT_STREAM
        assert head.header("Transfer-Encoding") == "chunked"
        assert_anti_cache(head)
        assert await read_chunks(client, 1) == [b": \n"]
        await wait_subscribers(server, b"ch1", 1)
        await publish(port, "ch1", b"test message")
        await publish(port, "ch1", b"line 1\nline 2\rline 3\r\nline 4")
        await publish(port, "ch1", b"\n\r\n")
        assert await read_chunks(client, 3) == [
            b"data: test message\n\n",
            b"data: line 1\ndata: line 2\ndata: line 3\ndata: line 4\n\n",
            b"\n",
        ]
        await client.aclose()


async def test_event_id_and_type_lines_are_pieces_of_their_own(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        client, _ = await open_stream(port, "/ev/ch1")
        await wait_subscribers(server, b"ch1", 1)
        await publish(port, "ch1", b"a", [("Event-Id", "ev1"), ("Event-Type", "news")])
        await publish(port, "ch1", b"b", [("Event-Id", "")])
        await publish(port, "ch1", b"c", [("Event-Type", "only")])
        chunks = await read_chunks(client, 8)
        assert chunks == [
            b": \n",
            b"id: ev1\n",
            b"event: news\n",
            b"data: a\n\n",
            b"id: \n",
            b"data: b\n\n",
            b"event: only\n",
            b"data: c\n\n",
        ]
        parser = EventSourceParser()
        events = parser.feed(b"".join(chunks).decode())
        assert [(e.event, e.data, e.id) for e in events] == [
            ("news", "a", "ev1"),
            ("message", "b", ""),
            ("only", "c", None),
        ]
        await client.aclose()


async def test_message_template_applies_per_line(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        client, _ = await open_stream(port, "/ev-json/ch1")
        await wait_subscribers(server, b"ch1", 1)
        await publish(port, "ch1", b"one\ntwo!")
        assert await read_chunks(client, 2) == [
            b": \n",
            b'data: {"id":1,"text":"one","size":3}\ndata: {"id":1,"text":"two!","size":4}\n\n',
        ]
        await client.aclose()


async def test_header_and_footer_become_comment_lines(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        start = trio.current_time()
        client, _ = await open_stream(port, "/ev-lines/ch1")
        assert await read_chunks(client, 1) == [
            b": header line 1\n: header line 2\n: header line 3\n: header line 4\n"
        ]
        assert await read_chunks(client, 1) == [b": footer\n"]
        assert await client.read_chunk() is None
        assert trio.current_time() - start == 2.0
        await client.aclose()


async def test_prefixed_templates_are_kept_and_pings_are_comments(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        client, _ = await open_stream(port, "/ev-raw/ch1")
        assert await read_chunks(client, 1) == [b": already a comment"]
        await wait_subscribers(server, b"ch1", 1)
        await publish(port, "ch1", b"x")
        # `data: ` templates get no newline added; the event still ends with one
        assert await read_chunks(client, 1) == [b"data: x|\n"]
        assert await read_chunks(client, 2) == [b": -1\n", b": -1\n"]
        await client.aclose()


async def test_last_event_id_resumes_after_that_event(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        await publish(port, "ch1", b"1")
        await publish(port, "ch1", b"2", [("Event-Id", "some_special_event")])
        await publish(port, "ch1", b"3")
        await publish(port, "ch1", b"4", [("Event-Id", "")])
        await publish(port, "ch1", b"5")
        client, _ = await open_stream(port, "/ev/ch1", [("Last-Event-Id", "some_special_event")])
        assert await read_chunks(client, 5) == [
            b": \n",
            b"data: 3\n\n",
            b"id: \n",
            b"data: 4\n\n",
            b"data: 5\n\n",
        ]
        await client.aclose()
        # an empty Last-Event-Id is present and matches the empty event id
        empty, _ = await open_stream(port, "/ev/ch1", [("Last-Event-Id", "")])
        assert await read_chunks(empty, 2) == [b": \n", b"data: 5\n\n"]
        await empty.aclose()
        # an unknown id (and no If-Modified-Since) sends nothing old
        unknown, _ = await open_stream(port, "/ev/ch1", [("Last-Event-Id", "nope")])
        assert await read_chunks(unknown, 1) == [b": \n"]
        await wait_subscribers(server, b"ch1", 1)
        await publish(port, "ch1", b"6")
        assert await read_chunks(unknown, 1) == [b"data: 6\n\n"]
        await unknown.aclose()
        # from the directive, URL-unescaped; the header is then ignored
        by_arg, _ = await open_stream(
            port, "/ev-qs/ch1?last=some%5Fspecial_event", [("Last-Event-Id", "")]
        )
        assert await read_chunks(by_arg, 2) == [b": \n", b"data: 3\n\n"]
        await by_arg.aclose()


async def test_padding_is_a_comment(serve: ServeFactory, autojump_clock: MockClock) -> None:
    conf = config(
        PUBLISHER
        + """
        location ~ /ev/(.*) {
            push_stream_subscriber eventsource;
            push_stream_channels_path $1;
            push_stream_padding_by_user_agent "agent,110,150";
            push_stream_ping_message_interval 1s;
        }
"""
    )
    async with serve(conf) as server:
        port = server.port()
        client, _ = await open_stream(port, "/ev/ch1", [("User-Agent", "agent")])
        assert await read_chunks(client, 2) == [b": \n", b":" * 149 + b"\n"]
        # pings are never padded
        assert await read_chunks(client, 1) == [b": -1\n"]
        await publish(port, "ch1", b"m", [("Event-Id", "1")])
        assert await read_chunks(client, 3) == [b"id: 1\n", b"data: m\n\n", b":" * 149 + b"\n"]
        await client.aclose()


async def test_mode_header_keeps_templates_with_polling_content_type(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        await publish(port, "ch1", b"m", [("Event-Id", "e1")])
        answer = await request(port, "GET", "/ev/ch1.b1", [("X-Nginx-PushStream-Mode", "polling")])
        assert answer.status == 200
        assert answer.header("Content-Type") == "text/plain"
        assert answer.chunks == [b": \n", b"id: e1\n", b"data: m\n\n"]
        assert answer.header("Etag") == "W/1"
