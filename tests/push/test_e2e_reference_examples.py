"""The reference documentation's examples, run against pushproxy over real sockets.

`REFERENCE` holds the location blocks and http settings of the module's own test nginx.conf
(listening on a free port; the WebSocket and proxy locations left out); the other
configurations are the examples' server blocks (curl, long polling, JSONP, EventSource and
forever iframe).
"""

from __future__ import annotations

import re
from urllib.parse import quote

import trio
from helpers import EventSourceParser

from .wire import (
    EPOCH,
    MockClock,
    ServeFactory,
    align_to_second,
    assert_anti_cache,
    assert_cors,
    assert_header_only,
    config,
    http_time,
    json_channel,
    now_of,
    open_stream,
    publish,
    read_chunks,
    request,
    start_request,
    store_of,
    summary,
    wait_subscribers,
)

HEADER_TEMPLATE = (
    r"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n"
    r"<meta http-equiv=\"Cache-Control\" content=\"no-store\">\r\n"
    r"<meta http-equiv=\"Cache-Control\" content=\"no-cache\">\r\n"
    r"<meta http-equiv=\"Pragma\" content=\"no-cache\">\r\n"
    r"<meta http-equiv=\"Expires\" content=\"Thu, 1 Jan 1970 00:00:00 GMT\">\r\n"
    r"<script type=\"text/javascript\">\r\nwindow.onError = null;\r\n"
    r"try{ document.domain = (window.location.hostname.match(/^(\d{1,3}\.){3}\d{1,3}$/)) ? "
    r"window.location.hostname : window.location.hostname.split('.').slice(-1 * "
    r"Math.max(window.location.hostname.split('.').length - 1, "
    r"(window.location.hostname.match(/(\w{4,}\.\w{2}|\.\w{3,})$/) ? 2 : 3))).join('.');}"
    r"catch(e){}\r\nparent.PushStream.register(this);\r\n</script>\r\n</head>\r\n<body>"
)
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}


def nginx_unescaped(text: str) -> bytes:
    """A quoted config string as nginx reads it: known escapes resolved, others kept."""
    resolved = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), text)
    return resolved.encode()


SCRIPT_TEMPLATE = "<script>p(~id~,'~channel~','~text~','~event-id~', '~time~', '~tag~');</script>"
REFERENCE_JSON_TEMPLATE = (
    r"{\"id\":~id~,\"channel\":\"~channel~\",\"text\":\"~text~\", \"tag\":\"~tag~\", "
    r"\"time\":\"~time~\", \"eventid\":\"~event-id~\"}"
)
CURL_JSON_TEMPLATE = r"{\"id\":~id~,\"channel\":\"~channel~\",\"text\":\"~text~\"}"
CURL_TIME_TEMPLATE = CURL_JSON_TEMPLATE[:-1] + r", \"time\":\"~time~\", \"tag\":\"~tag~\"}"
TAGGED_JSON_TEMPLATE = CURL_JSON_TEMPLATE[:-1] + r",\"tag\":\"~tag~\",\"time\":\"~time~\"}"

REFERENCE = config(
    """
        location /channels-stats {
            push_stream_channels_statistics;
            push_stream_channels_path               $arg_id;
        }

        location /pub {
            push_stream_publisher admin;
            push_stream_channels_path               $arg_id;
            push_stream_store_messages              on;
            client_max_body_size                    32k;
            client_body_buffer_size                 32k;
        }

        location ~ /sub/(.*) {
            push_stream_subscriber;
            push_stream_channels_path                   $1;
            if ($arg_tests = "on") {
              push_stream_channels_path                 "test_$1";
            }
            push_stream_header_template                 "@header@";
            push_stream_message_template                "@script@";
            push_stream_footer_template                 "</body></html>";
            default_type                                "text/html; charset=utf-8";
            if ($arg_qs = "on") {
              push_stream_last_received_message_time "$arg_time";
              push_stream_last_received_message_tag  "$arg_tag";
              push_stream_last_event_id              "$arg_eventid";
            }
        }

        location ~ /ev/(.*) {
            push_stream_subscriber eventsource;
            push_stream_channels_path                   $1;
            if ($arg_tests = "on") {
              push_stream_channels_path                 "test_$1";
            }
            if ($arg_qs = "on") {
              push_stream_last_received_message_time "$arg_time";
              push_stream_last_received_message_tag  "$arg_tag";
              push_stream_last_event_id              "$arg_eventid";
            }
        }

        location ~ /lp/(.*) {
            push_stream_subscriber      long-polling;
            push_stream_channels_path         $1;
            if ($arg_tests = "on") {
              push_stream_channels_path                 "test_$1";
            }
            if ($arg_qs = "on") {
              push_stream_last_received_message_time "$arg_time";
              push_stream_last_received_message_tag  "$arg_tag";
              push_stream_last_event_id              "$arg_eventid";
            }
        }

        location ~ /jsonp/(.*) {
            push_stream_subscriber      long-polling;
            push_stream_last_received_message_time "$arg_time";
            push_stream_last_received_message_tag  "$arg_tag";
            push_stream_last_event_id              "$arg_eventid";
            push_stream_channels_path         $1;
            if ($arg_tests = "on") {
              push_stream_channels_path                 "test_$1";
            }
        }
""",
    http="""
    postpone_output 1;
    push_stream_max_channel_id_length             200;
    push_stream_max_messages_stored_per_channel   20;
    push_stream_message_ttl                       5m;
    push_stream_ping_message_interval             30s;
    push_stream_subscriber_connection_ttl         15m;
    push_stream_longpolling_connection_ttl        30s;
    push_stream_timeout_with_body                 off;
    push_stream_wildcard_channel_prefix         "broad_";
    push_stream_wildcard_channel_max_qtd        3;
    push_stream_message_template                "@json@";
    push_stream_authorized_channels_only        off;
    push_stream_allowed_origins                 "*";
""",
    header=HEADER_TEMPLATE,
    script=SCRIPT_TEMPLATE,
    json=REFERENCE_JSON_TEMPLATE,
)


def reference_json(
    message_id: int, channel: str, text: str, tag: int, time: str, event_id: str = ""
) -> bytes:
    return (
        f'{{"id":{message_id},"channel":"{channel}","text":"{text}", "tag":"{tag}", '
        f'"time":"{time}", "eventid":"{event_id}"}}'
    ).encode()


def iframe_script(
    message_id: int, channel: str, text: str, event_id: str, time: str, tag: int
) -> bytes:
    arguments = f"{message_id},'{channel}','{text}','{event_id}', '{time}', '{tag}'"
    return f"<script>p({arguments});</script>".encode()


async def test_reference_forever_iframe(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(REFERENCE) as server:
        port = server.port()
        align_to_second(server, autojump_clock)
        client, head = await open_stream(port, "/sub/ch1")
        assert head.status == 200
        assert head.header("Content-Type") == "text/html; charset=utf-8"
        assert_cors(head, "*")
        assert_anti_cache(head)
        assert await read_chunks(client, 1) == [nginx_unescaped(HEADER_TEMPLATE)]
        await wait_subscribers(server, b"ch1", 1)
        await publish(port, "ch1", b"Some Text", [("Event-Id", "e1")])
        now = http_time(now_of(server))
        assert await read_chunks(client, 1) == [iframe_script(1, "ch1", "Some Text", "e1", now, 1)]
        await trio.sleep(30)
        assert await read_chunks(client, 1) == [iframe_script(-1, "", " ", "", EPOCH, 0)]
        await trio.sleep(15 * 60)
        chunks = []
        while (chunk := await client.read_chunk()) is not None:
            chunks.append(chunk)
        assert chunks[-1] == b"</body></html>"
        assert set(chunks[:-1]) == {iframe_script(-1, "", " ", "", EPOCH, 0)}
        await client.aclose()


async def test_reference_eventsource(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(REFERENCE) as server:
        port = server.port()
        align_to_second(server, autojump_clock)
        client, head = await open_stream(port, "/ev/ch1")
        assert head.header("Content-Type") == "text/event-stream; charset=utf-8"
        assert await read_chunks(client, 1) == [b": \n"]
        await wait_subscribers(server, b"ch1", 1)
        await publish(port, "ch1", b"Some Text", [("Event-Id", "e1"), ("Event-Type", "t")])
        now = http_time(now_of(server))
        chunks = await read_chunks(client, 3)
        assert chunks == [
            b"id: e1\n",
            b"event: t\n",
            b"data: " + reference_json(1, "ch1", "Some Text", 1, now, "e1") + b"\n\n",
        ]
        (event,) = EventSourceParser().feed(b"".join(chunks).decode())
        assert (event.id, event.event) == ("e1", "t")
        await trio.sleep(30)
        assert await read_chunks(client, 1) == [b": -1\n"]
        await client.aclose()


async def test_reference_long_polling(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(REFERENCE) as server:
        port = server.port()
        align_to_second(server, autojump_clock)
        async with trio.open_nursery() as nursery:
            poll = start_request(nursery, port, "/lp/ch1")
            await wait_subscribers(server, b"ch1", 1)
            await publish(port, "ch1", b"Some Text")
            answer = await poll.result()
        now = http_time(now_of(server))
        assert answer.chunks == [reference_json(1, "ch1", "Some Text", 1, now)]
        assert (answer.header("Etag"), answer.header("Last-Modified")) == ("W/1", now)
        assert_cors(answer, "*")
        start = trio.current_time()
        timed_out = await request(
            port, "GET", "/lp/ch1", [("If-Modified-Since", now), ("If-None-Match", "W/1")]
        )
        assert trio.current_time() - start == 30
        assert_header_only(timed_out, 304)
        assert timed_out.header("Etag") == "W/0"


async def test_reference_jsonp(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(REFERENCE) as server:
        port = server.port()
        align_to_second(server, autojump_clock)
        first = "/jsonp/ch1?callback=PushStreamManager_0.wrapper.onmessage&tag=&time=&eventid="
        async with trio.open_nursery() as nursery:
            poll = start_request(nursery, port, first)
            await wait_subscribers(server, b"ch1", 1)
            await publish(port, "ch1", b"Some Text")
            answer = await poll.result()
        now = http_time(now_of(server))
        assert answer.header("Content-Type") == "application/javascript"
        assert answer.body == (
            b"PushStreamManager_0.wrapper.onmessage(["
            + reference_json(1, "ch1", "Some Text", 1, now)
            + b"]);"
        )
        await publish(port, "ch1", b"second")
        await publish(port, "ch1", b"third", [("Event-Id", "ev3")])
        await publish(port, "ch1", b"fourth")
        # the next poll resumes from what the client read, by arguments (headers ignored)
        follow = f"/jsonp/ch1?callback=cb&tag=1&time={quote(now)}"
        resumed = await request(port, "GET", follow, [("If-None-Match", "W/99")])
        assert resumed.body == (
            b"cb(["
            + reference_json(2, "ch1", "second", 2, now)
            + b","
            + reference_json(3, "ch1", "third", 3, now, "ev3")
            + b","
            + reference_json(4, "ch1", "fourth", 4, now)
            + b"]);"
        )
        by_event = await request(port, "GET", "/jsonp/ch1?callback=cb&eventid=ev3")
        assert by_event.body == b"cb([" + reference_json(4, "ch1", "fourth", 4, now) + b"]);"


async def test_reference_statistics_and_limits(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(REFERENCE) as server:
        port = server.port()
        for number in range(25):
            await publish(port, "ch1", b"m%d" % number)
        info = await request(port, "GET", "/channels-stats?id=ch1")
        assert info.body == json_channel("ch1", 25, 20, 0) + b"\r\n"
        figures = await summary(port)
        assert (figures["channels"], figures["published"], figures["stored"]) == (1, 25, 20)
        assert figures["trash"] == 5
        too_big = await request(port, "POST", "/pub?id=ch1", body=b"x" * (32 * 1024 + 1))
        assert too_big.status == 413
        long_id = "c" * 201
        refused = await request(port, "POST", f"/pub?id={long_id}", body=b"x")
        assert_header_only(refused, 400, "Channel id is too large.")
        posted = await request(port, "POST", "/pub?id=ch1", body=b"x")
        assert_cors(posted, "*", "GET, POST, PUT, DELETE")
        polling = [("X-Nginx-PushStream-Mode", "polling")]
        alone = await request(port, "GET", "/sub/broad_1", polling)
        assert_header_only(alone, 403, "Subscribed too much wildcard channels.")
        three = await request(port, "GET", "/sub/ch1/broad_1/broad_2/broad_3", polling)
        assert three.status == 304
        four = await request(port, "GET", "/sub/ch1/broad_1/broad_2/broad_3/broad_4", polling)
        assert_header_only(four, 403, "Subscribed too much wildcard channels.")


async def test_reference_if_blocks(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(REFERENCE) as server:
        port = server.port()
        await publish(port, "test_ch1", b"Some Text", [("Event-Id", "e1")])
        await publish(port, "test_ch1", b"more")
        polled = await request(port, "GET", "/lp/ch1.b1?tests=on")
        assert polled.status == 200
        resumed = await request(port, "GET", "/lp/test_ch1?qs=on&eventid=e1")
        assert resumed.status == 200


CURL = config(
    """
    location /channels-stats {
        push_stream_channels_statistics;
        push_stream_channels_path               $arg_id;
    }

    location /pub {
        push_stream_publisher admin;
        push_stream_channels_path               $arg_id;
        push_stream_store_messages              on;
    }

    location ~ /sub/(.*) {
        push_stream_subscriber      long-polling;
        push_stream_channels_path         $1;
        push_stream_message_template                "@curl@";
        push_stream_longpolling_connection_ttl        30s;
    }

    location ~ /sub-qs/(.*) {
        push_stream_subscriber      long-polling;
        push_stream_channels_path         $1;
        push_stream_last_received_message_time $arg_time;
        push_stream_last_received_message_tag  $arg_tag;
        push_stream_last_event_id $arg_last_id;
        push_stream_message_template           "@curl_time@";
        push_stream_longpolling_connection_ttl        30s;
    }
""",
    curl=CURL_JSON_TEMPLATE,
    curl_time=CURL_TIME_TEMPLATE,
)


def curl_json(message_id: int, channel: str, text: str) -> bytes:
    return f'{{"id":{message_id},"channel":"{channel}","text":"{text}"}}'.encode()


async def test_curl_common_operations(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CURL) as server:
        port = server.port()
        channels = ("my_channel_1", "your_channel_1", "your_channel_2")
        texts = ("Hello World!", "Hi everybody!", "Goodbye!")
        async with trio.open_nursery() as nursery:
            polls = [start_request(nursery, port, f"/sub/{channel}") for channel in channels]
            for channel in channels:
                await wait_subscribers(server, channel.encode(), 1)
            for channel, text in zip(channels, texts, strict=True):
                await publish(port, channel, text.encode())
            answers = [await poll.result() for poll in polls]
        for answer, channel, text in zip(answers, channels, texts, strict=True):
            assert answer.body == curl_json(1, channel, text)
        info = await request(port, "GET", "/pub?id=my_channel_1")
        assert info.body == json_channel("my_channel_1", 1, 1, 0) + b"\r\n"
        assert (await summary(port))["channels"] == 3
        detailed = await request(port, "GET", "/channels-stats?id=ALL")
        assert detailed.body.count(b'"channel": ') == 3
        prefixed = await request(port, "GET", "/channels-stats?id=your_channel_*")
        assert prefixed.body.count(b'"channel": "your_channel_') == 2
        assert b"my_channel_1" not in prefixed.body
        single = await request(port, "GET", "/channels-stats?id=my_channel_1")
        assert single.body == info.body
        deleted = await request(port, "DELETE", "/pub?id=my_channel_1")
        assert_header_only(deleted, 200, "Channel deleted.")
        assert (await request(port, "GET", "/channels-stats?id=my_channel_1")).status == 404


async def test_curl_getting_old_messages(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CURL) as server:
        port = server.port()
        for number in range(1, 6):
            await publish(port, "channelA", b"a%d" % number)
        await publish(port, "channelC", b"c1")
        await publish(port, "channelC", b"c2")
        await publish(port, "channelC", b"c3")
        backtrack = await request(port, "GET", "/sub/channelA.b4/channelB/channelC.b2")
        assert backtrack.chunks == [
            *(curl_json(n, "channelA", f"a{n}") for n in range(2, 6)),
            curl_json(2, "channelC", "c2"),
            curl_json(3, "channelC", "c3"),
        ]
        align_to_second(server, autojump_clock)
        await publish(port, "channelT", b"1")
        autojump_clock.jump(1)
        t2 = http_time(now_of(server))
        await publish(port, "channelT", b"2")
        await publish(port, "channelT", b"3")
        autojump_clock.jump(1)
        await publish(port, "channelT", b"4")
        by_headers = await request(
            port, "GET", "/sub/channelT", [("If-Modified-Since", t2), ("If-None-Match", "1")]
        )
        assert by_headers.chunks == [curl_json(3, "channelT", "3"), curl_json(4, "channelT", "4")]
        by_args = await request(port, "GET", f"/sub-qs/channelT?tag=2&time={quote(t2)}")
        assert by_args.body.startswith(b'{"id":4,"channel":"channelT","text":"4", "time":"')
        await publish(port, "channelE", b"1")
        await publish(port, "channelE", b"2", [("Event-Id", "some_special_event")])
        await publish(port, "channelE", b"3")
        await publish(port, "channelE", b"4")
        by_event = await request(
            port, "GET", "/sub/channelE", [("Last-Event-Id", "some_special_event")]
        )
        assert by_event.chunks == [curl_json(3, "channelE", "3"), curl_json(4, "channelE", "4")]
        by_arg = await request(port, "GET", "/sub-qs/channelE?last_id=some_special_event")
        assert [chunk[:30] for chunk in by_arg.chunks] == [
            b'{"id":3,"channel":"channelE","',
            b'{"id":4,"channel":"channelE","',
        ]


BY_ARGUMENT = config(
    """
    location /pub {
        push_stream_publisher admin;
        push_stream_channels_path               $arg_id;
        push_stream_store_messages              on;
    }

    location /lp {
        push_stream_subscriber      long-polling;
        push_stream_channels_path         $arg_channels;
        push_stream_message_template                "@curl@";
        push_stream_longpolling_connection_ttl        30s;
    }

    location /ev {
        push_stream_subscriber eventsource;
        push_stream_channels_path                   $arg_channels;
        push_stream_message_template                "@curl@";
        push_stream_ping_message_interval           10s;
    }

    location /sub {
        push_stream_subscriber;
        push_stream_channels_path                   $arg_channels;
        push_stream_header_template                 "<html><head></head><body>";
        push_stream_message_template    "<script>p(~id~,'~channel~','~text~');</script>";
        push_stream_footer_template                 "</body></html>";
        default_type                                "text/html; charset=utf-8";
        push_stream_ping_message_interval           10s;
    }
""",
    curl=CURL_JSON_TEMPLATE,
)


async def test_channels_by_argument(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(BY_ARGUMENT) as server:
        port = server.port()
        iframe, head = await open_stream(port, "/sub?channels=ch1")
        assert head.header("Content-Type") == "text/html; charset=utf-8"
        eventsource, _ = await open_stream(port, "/ev?channels=ch1")
        async with trio.open_nursery() as nursery:
            poll = start_request(nursery, port, "/lp?channels=ch1")
            await wait_subscribers(server, b"ch1", 3)
            await publish(port, "ch1", b"Some Text")
            answer = await poll.result()
        assert answer.body == curl_json(1, "ch1", "Some Text")
        assert await read_chunks(iframe, 2) == [
            b"<html><head></head><body>",
            b"<script>p(1,'ch1','Some Text');</script>",
        ]
        assert await read_chunks(eventsource, 2) == [
            b": \n",
            b"data: " + curl_json(1, "ch1", "Some Text") + b"\n\n",
        ]
        await trio.sleep(10)
        assert await read_chunks(iframe, 1) == [b"<script>p(-1,'',' ');</script>"]
        assert await read_chunks(eventsource, 1) == [b": -1\n"]
        empty = await request(port, "GET", "/lp")
        assert_header_only(empty, 400, "No channel id provided.")
        await iframe.aclose()
        await eventsource.aclose()
        assert store_of(server).find_channel(b"ch1") is not None


OLD_MESSAGES = config(
    """
    location /pub {
        push_stream_publisher admin;
        push_stream_channels_path               $arg_id;
        push_stream_store_messages              on;
    }

    location ~ /ev/(.*) {
        push_stream_subscriber eventsource;
        push_stream_channels_path                   $1;
        push_stream_last_received_message_time      "$arg_time";
        push_stream_last_received_message_tag       "$arg_tag";
        push_stream_message_template                "@tagged@";
        push_stream_ping_message_interval           10s;
    }

    location ~ /sub/(.*) {
        push_stream_subscriber;
        push_stream_channels_path                   $1;
        push_stream_last_received_message_time      "$arg_time";
        push_stream_last_received_message_tag       "$arg_tag";
        push_stream_message_template                "@script@";
        default_type                                "text/html; charset=utf-8";
    }
""",
    tagged=TAGGED_JSON_TEMPLATE,
    script=SCRIPT_TEMPLATE,
)


async def test_reconnecting_with_time_and_tag(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(OLD_MESSAGES) as server:
        port = server.port()
        align_to_second(server, autojump_clock)
        now = http_time(now_of(server))
        for text in (b"one", b"two", b"three"):
            await publish(port, "ch1", text)
        # what pushstream.js sends after reading the message with tag 1
        resume = f"?tag=1&time={quote(now)}"
        eventsource, _ = await open_stream(port, "/ev/ch1" + resume)
        assert await read_chunks(eventsource, 3) == [
            b": \n",
            b'data: {"id":2,"channel":"ch1","text":"two","tag":"2","time":"%s"}\n\n' % now.encode(),
            b'data: {"id":3,"channel":"ch1","text":"three","tag":"3","time":"%s"}\n\n'
            % now.encode(),
        ]
        iframe, _ = await open_stream(port, "/sub/ch1" + resume.replace("tag=1", "tag=2"))
        assert await read_chunks(iframe, 1) == [iframe_script(3, "ch1", "three", "", now, 3)]
        # the first connection sends empty values: no old messages
        fresh, _ = await open_stream(port, "/sub/ch1?tag=&time=")
        await wait_subscribers(server, b"ch1", 3)
        await publish(port, "ch1", b"four")
        assert await read_chunks(fresh, 1) == [iframe_script(4, "ch1", "four", "", now, 4)]
        for client in (eventsource, iframe, fresh):
            await client.aclose()
