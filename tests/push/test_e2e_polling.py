"""Polling subscribers over real sockets (PROTOCOL.md §2, §5.2-§5.4, §6.4, §10)."""

from __future__ import annotations

from urllib.parse import quote

from .wire import (
    EPOCH,
    PUBLISHER,
    Client,
    MockClock,
    RawClient,
    ServeFactory,
    align_to_second,
    assert_anti_cache,
    assert_cors,
    assert_header_only,
    config,
    http_time,
    now_of,
    publish,
    request,
    store_of,
)

CONF = config(
    PUBLISHER
    + """
        location ~ /poll/(.*) {
            push_stream_subscriber polling;
            push_stream_channels_path $1;
            push_stream_message_template "~text~";
            push_stream_allowed_origins "*";
        }
        location ~ /framed/(.*) {
            push_stream_subscriber polling;
            push_stream_channels_path $1;
            push_stream_header_template "HEAD";
            push_stream_message_template "{\\"text\\":\\"~text~\\",\\"tag\\":~tag~}";
            push_stream_footer_template "FOOT";
        }
        location ~ /qs/(.*) {
            push_stream_subscriber polling;
            push_stream_channels_path $1;
            push_stream_last_received_message_time $arg_time;
            push_stream_last_received_message_tag $arg_tag;
        }
        location ~ /stream/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
        }
"""
)


async def test_nothing_new_without_validators_is_a_bare_304(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        empty = await request(port, "GET", "/poll/ch1")
        assert_header_only(empty, 304)
        assert empty.header("Content-Type") == "text/plain"
        assert empty.header("Last-Modified") is None
        assert empty.header("Etag") is None
        assert_anti_cache(empty)
        assert_cors(empty, "*")
        # polling creates the channel, in every mode
        assert store_of(server).find_channel(b"ch1") is not None
        # stored messages alone are not "new": a poll needs a backtrack or validators
        await publish(port, "ch1", b"stored")
        assert_header_only(await request(port, "GET", "/poll/ch1"), 304)


async def test_backtrack_answers_with_validators(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        align_to_second(server, autojump_clock)
        for text in (b"a", b"b", b"c"):
            await publish(port, "ch1", text)
        now = now_of(server)
        answer = await request(port, "GET", "/poll/ch1.b2")
        assert answer.status == 200
        assert answer.header("Transfer-Encoding") == "chunked"
        assert answer.header("Content-Type") == "text/plain"
        assert answer.header("Last-Modified") == http_time(now)
        assert answer.header("Etag") == "W/3"
        assert_anti_cache(answer)
        assert_cors(answer, "*")
        assert answer.chunks == [b"b", b"c"]


async def test_if_modified_since_and_if_none_match(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        align_to_second(server, autojump_clock)
        first = now_of(server)
        await publish(port, "ch1", b"1")
        autojump_clock.jump(1)
        second = now_of(server)
        await publish(port, "ch1", b"2")
        await publish(port, "ch1", b"3")
        autojump_clock.jump(1)
        await publish(port, "ch1", b"4")
        third = now_of(server)
        everything = await request(port, "GET", "/poll/ch1", [("If-Modified-Since", EPOCH)])
        assert everything.chunks == [b"1", b"2", b"3", b"4"]
        assert everything.header("Last-Modified") == http_time(third)
        assert everything.header("Etag") == "W/1"
        # the second's messages after tag 1: "3" and "4"
        after = await request(
            port,
            "GET",
            "/poll/ch1",
            [("If-Modified-Since", http_time(second)), ("If-None-Match", "1")],
        )
        assert after.chunks == [b"3", b"4"]
        # a time without a tag never resends messages of that same second
        no_tag = await request(port, "GET", "/poll/ch1", [("If-Modified-Since", http_time(second))])
        assert no_tag.chunks == [b"4"]
        weak = await request(
            port,
            "GET",
            "/poll/ch1",
            [("If-Modified-Since", http_time(first)), ("If-None-Match", "W/1")],
        )
        assert weak.chunks == [b"2", b"3", b"4"]
        # the answer's validators bring the next poll to a 304 that echoes them
        echo = await request(
            port,
            "GET",
            "/poll/ch1",
            [("If-Modified-Since", http_time(third)), ("If-None-Match", "W/1")],
        )
        assert_header_only(echo, 304)
        assert echo.header("Last-Modified") == http_time(third)
        assert echo.header("Etag") == "W/1"


async def test_unparsable_validators(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        await publish(port, "ch1", b"1")
        for headers in (
            [("If-Modified-Since", "null"), ("If-None-Match", "0")],
            [("If-None-Match", '"5"')],
            [("If-Modified-Since", "yesterday")],
        ):
            answer = await request(port, "GET", "/poll/ch1", headers)
            assert_header_only(answer, 304)
            assert answer.header("Last-Modified") is None
        tag_only = await request(port, "GET", "/poll/ch1", [("If-None-Match", "W/3")])
        assert_header_only(tag_only, 304)
        assert tag_only.header("Etag") == "W/3"
        # `W/` alone is not stripped (too short) and is no number
        bare = await request(port, "GET", "/poll/ch1", [("If-None-Match", "W/")])
        assert bare.header("Etag") is None


async def test_same_second_messages_are_untied_by_the_tag(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        align_to_second(server, autojump_clock)
        now = now_of(server)
        for number in range(10):
            await publish(port, "ch1", b"msg %d" % number)
        answer = await request(
            port,
            "GET",
            "/poll/ch1",
            [("If-Modified-Since", http_time(now)), ("If-None-Match", "6")],
        )
        assert answer.chunks == [b"msg 6", b"msg 7", b"msg 8", b"msg 9"]
        assert answer.header("Etag") == "W/10"
        assert answer.header("Last-Modified") == http_time(now)


async def test_several_channels_raise_the_validators(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        align_to_second(server, autojump_clock)
        await publish(port, "a", b"a1")
        await publish(port, "b", b"b1")
        await publish(port, "a", b"a2")
        answer = await request(port, "GET", "/poll/b.b1/a.b5")
        assert answer.chunks == [b"b1", b"a1", b"a2"]
        assert answer.header("Etag") == "W/3"


async def test_templates_frame_the_answer(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        align_to_second(server, autojump_clock)
        await publish(port, "ch1", b"x")
        await publish(port, "ch1", b"y")
        answer = await request(port, "GET", "/framed/ch1.b2")
        assert answer.chunks == [b"HEAD", b'{"text":"x","tag":1}', b'{"text":"y","tag":2}', b"FOOT"]


async def test_jsonp(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        align_to_second(server, autojump_clock)
        await publish(port, "ch1", b"x")
        await publish(port, "ch1", b"y")
        answer = await request(port, "GET", "/framed/ch1.b2?callback=callback_function")
        assert answer.header("Content-Type") == "application/javascript"
        assert answer.header("Etag") == "W/2"
        assert answer.chunks == [
            b"HEAD",
            b"callback_function",
            b"([",
            b'{"text":"x","tag":1}',
            b",",
            b'{"text":"y","tag":2}',
            b"]);",
            b"FOOT",
        ]
        assert answer.body == (
            b'HEADcallback_function([{"text":"x","tag":1},{"text":"y","tag":2}]);FOOT'
        )
        # the argument name is matched case-insensitively; the value is unescaped, unchecked
        other = await request(port, "GET", "/poll/ch1.b1?CallBack=my%20cb%28")
        assert other.body == b"my cb(([y]);"
        assert other.header("Content-Type") == "application/javascript"
        # nothing to send: a 304 whatever the callback, with the polling headers
        nothing = await request(port, "GET", "/poll/ch2?callback=cb")
        assert_header_only(nothing, 304)
        assert nothing.header("Content-Type") == "application/javascript"


async def test_validators_from_directives(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        align_to_second(server, autojump_clock)
        now = now_of(server)
        for text in (b"1", b"2", b"3"):
            await publish(port, "ch1", text)
        time = quote(http_time(now))
        answer = await request(port, "GET", f"/qs/ch1?time={time}&tag=2", [("If-None-Match", "0")])
        assert answer.chunks == [b"3"]
        # empty values are absent, and then the headers are not read either
        empty = await request(
            port,
            "GET",
            "/qs/ch1?time=&tag=",
            [("If-Modified-Since", EPOCH), ("If-None-Match", "0")],
        )
        assert_header_only(empty, 304)
        assert empty.header("Etag") is None


async def test_mode_header_turns_a_stream_into_a_poll(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        await publish(port, "ch1", b"x")
        answer = await request(
            port, "GET", "/stream/ch1.b1", [("X-Nginx-PushStream-Mode", "Polling")]
        )
        assert (answer.status, answer.chunks) == (200, [b"x"])
        nothing = await request(
            port, "GET", "/stream/ch1", [("X-Nginx-PushStream-Mode", "polling")]
        )
        assert_header_only(nothing, 304)
        assert store_of(server).totals().subscribers == 0


async def test_keep_alive_across_polls(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        client = await Client.connect(port)
        etag = "0"
        modified = EPOCH
        for number in range(1, 51):
            await client.request("POST", "/pub?id=ch1", body=b"m%d" % number)
            answer = await client.request(
                "GET", "/poll/ch1", [("If-Modified-Since", modified), ("If-None-Match", etag)]
            )
            assert (answer.status, answer.chunks) == (200, [b"m%d" % number])
            etag = answer.header("Etag") or ""
            modified = answer.header("Last-Modified") or ""
            again = await client.request(
                "GET", "/poll/ch1", [("If-Modified-Since", modified), ("If-None-Match", etag)]
            )
            assert again.status == 304
            if number % 7 == 0:
                autojump_clock.jump(1)
        await client.aclose()


async def test_http_1_0_poll_is_closed_at_the_end(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        await publish(port, "ch1", b"x")
        client = await RawClient.connect(port)
        await client.send(b"GET /framed/ch1.b1 HTTP/1.0\r\nHost: localhost\r\n\r\n")
        status, headers = await client.read_head()
        assert status == b"HTTP/1.1 200 OK"
        assert "transfer-encoding" not in headers
        assert headers["etag"] == "W/1"
        assert await client.read_until_closed() == b'HEAD{"text":"x","tag":1}FOOT'
        await client.aclose()


async def test_if_none_match_alone_can_turn_an_answer_into_a_304(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        align_to_second(server, autojump_clock)
        await publish(port, "ch1", b"a")
        await publish(port, "ch1", b"b")
        # nginx's not-modified filter: the answer's Etag is named, no If-Modified-Since
        for named in ("W/2", "2", "W/1, W/2", "*"):
            answer = await request(port, "GET", "/poll/ch1.b1", [("If-None-Match", named)])
            assert (answer.status, answer.body) == (304, b""), named
            assert answer.header("Etag") == "W/2"
            assert answer.header("Last-Modified") == http_time(now_of(server))
            assert answer.header("Content-Type") is None
            assert answer.header("Content-Length") is None
            assert_anti_cache(answer)
            assert_cors(answer, "*")
        other = await request(port, "GET", "/poll/ch1.b1", [("If-None-Match", "W/1")])
        assert (other.status, other.chunks) == (200, [b"b"])
        # any If-Modified-Since, even an unparsable one, keeps the 200
        with_ims = await request(
            port, "GET", "/poll/ch1.b1", [("If-None-Match", "W/2"), ("If-Modified-Since", "x")]
        )
        assert (with_ims.status, with_ims.chunks) == (200, [b"b"])


async def test_header_names_are_spelled_like_the_module(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        await publish(port, "ch1", b"x")
        client = await RawClient.connect(port)
        await client.send(b"GET /poll/ch1.b1 HTTP/1.0\r\nHost: localhost\r\n\r\n")
        await client.read_head()
        await client.aclose()
        names = {line.split(b":")[0] for line in client.head_lines}
        assert {
            b"Etag",
            b"Last-Modified",
            b"Expires",
            b"Cache-Control",
            b"Content-Type",
            b"Access-Control-Allow-Origin",
            b"Access-Control-Allow-Methods",
            b"Access-Control-Allow-Headers",
        } <= names


async def test_tags_are_global_to_the_store(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        align_to_second(server, autojump_clock)
        await publish(port, "ch1", b"a")
        await publish(port, "ch2", b"b")
        answer = await request(port, "GET", "/poll/ch2.b1")
        assert answer.header("Etag") == "W/2"
        autojump_clock.jump(1)
        await publish(port, "ch1", b"c")
        # a new second starts the tags again
        assert (await request(port, "GET", "/poll/ch1.b1")).header("Etag") == "W/1"


IF_CONF = config(
    """
        location /pub {
            if ($arg_callback) { return 400; }
            push_stream_publisher admin;
            push_stream_channels_path $arg_id;
            push_stream_store_messages on;
        }
        location ~ /lp/(.*) {
            push_stream_subscriber polling;
            push_stream_channels_path $1;
            push_stream_message_template "~channel~:~text~";
            if ($arg_tests = "on") { push_stream_channels_path "test_$1"; }
            if ($arg_qs = "on") { push_stream_last_event_id "$arg_eventid"; }
        }
"""
)


async def test_if_blocks_in_push_locations_as_nginx_runs_them(serve: ServeFactory) -> None:
    """The reference configuration's pattern: of several `if`s that hold, the last one's block
    (inheriting from the location, not from the other `if`) serves the request; a `return` in
    an `if` answers before any push handler."""
    async with serve(IF_CONF) as server:
        port = server.port()
        await publish(port, "q", b"plain")
        await publish(port, "test_q", b"tested")
        only_tests = await request(port, "GET", "/lp/q.b1?tests=on")
        assert only_tests.body == b"test_q:tested"
        both = await request(port, "GET", "/lp/q.b1?tests=on&qs=on")
        assert both.body == b"q:plain"  # the qs block's channels path is the location's
        refused = await request(port, "POST", "/pub?id=q&callback=x", body=b"never")
        assert refused.status == 400
        again = await request(port, "GET", "/lp/q.b5")
        assert again.body == b"q:plain"  # the refused publish stored nothing
