"""Long-polling subscribers over real sockets (PROTOCOL.md §5.2, §6.5, §9.4, §10)."""

from __future__ import annotations

import os
from urllib.parse import quote

import trio

from .wire import (
    EPOCH,
    PUBLISHER,
    STATISTICS,
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
    start_request,
    store_of,
    wait_connections,
    wait_subscribers,
)

LOCATIONS = (
    PUBLISHER
    + STATISTICS
    + """
        location ~ /lp/(.*) {
            push_stream_subscriber long-polling;
            push_stream_channels_path $1;
            push_stream_header_template "HEAD";
            push_stream_message_template "~id~:~channel~:~text~";
            push_stream_footer_template "FOOT";
            push_stream_longpolling_connection_ttl 5s;
            push_stream_ping_message_interval 1s;
            push_stream_allowed_origins "*";
        }
        location ~ /bare/(.*) {
            push_stream_subscriber long-polling;
            push_stream_channels_path $1;
            push_stream_subscriber_connection_ttl 3s;
        }
        location ~ /poll/(.*) {
            push_stream_subscriber polling;
            push_stream_channels_path $1;
            push_stream_longpolling_connection_ttl 2s;
        }
        location ~ /stream/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_longpolling_connection_ttl 2s;
        }
        location ~ /jsonp/(.*) {
            push_stream_subscriber long-polling;
            push_stream_channels_path $1;
            push_stream_message_template "@json@";
            push_stream_longpolling_connection_ttl 2s;
            push_stream_last_received_message_time $arg_time;
            push_stream_last_received_message_tag $arg_tag;
        }
"""
)
JSON_TEMPLATE = (
    r"{\"id\":\"~id~\", \"message\":\"~text~\", \"channel\":\"~channel~\", "
    r"\"tag\":\"~tag~\", \"time\":\"~time~\"}"
)
CONF = config(LOCATIONS, json=JSON_TEMPLATE)
CONF_WITH_BODY = config(LOCATIONS, http="    push_stream_timeout_with_body on;", json=JSON_TEMPLATE)
TIMED_OUT = (
    b'{"id":"-3", "message":"Timed out", "channel":"", "tag":"0", '
    b'"time":"Thu, 01 Jan 1970 00:00:00 GMT"}'
)


async def test_first_live_message_answers(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        async with trio.open_nursery() as nursery:
            poll = start_request(nursery, port, "/lp/ch1/ch2")
            await wait_subscribers(server, b"ch2", 1)
            assert store_of(server).totals().subscribers == 1
            assert not poll.done.is_set()
            await publish(port, "ch2", b"news")
            now = now_of(server)
            tag = store_of(server).find_channel(b"ch2").last_message_tag  # type: ignore[union-attr]
            answer = await poll.result()
        assert answer.status == 200
        assert answer.header("Transfer-Encoding") == "chunked"
        assert answer.header("Content-Type") == "text/plain"
        assert answer.header("Last-Modified") == http_time(now)
        assert answer.header("Etag") == f"W/{tag}"
        assert_anti_cache(answer)
        assert_cors(answer, "*")
        assert answer.chunks == [b"HEAD", b"1:ch2:news", b"FOOT"]
        await wait_connections(server, 0)
        assert store_of(server).find_channel(b"ch1").subscribers == 0  # type: ignore[union-attr]


async def test_stored_messages_answer_at_once_like_polling(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        align_to_second(server, autojump_clock)
        await publish(port, "ch1", b"a")
        await publish(port, "ch1", b"b")
        answer = await request(port, "GET", "/lp/ch1", [("If-Modified-Since", EPOCH)])
        assert answer.chunks == [b"HEAD", b"1:ch1:a", b"2:ch1:b", b"FOOT"]
        assert answer.header("Etag") == "W/2"
        assert answer.header("Last-Modified") == http_time(now_of(server))
        backtrack = await request(port, "GET", "/lp/ch1.b1")
        assert backtrack.chunks == [b"HEAD", b"2:ch1:b", b"FOOT"]


async def test_timeout_is_a_304_with_now_and_w_0(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        start = trio.current_time()
        answer = await request(port, "GET", "/lp/ch1?callback=cb")
        assert trio.current_time() - start == 5.0
        assert_header_only(answer, 304)
        assert answer.header("Last-Modified") == http_time(now_of(server))
        assert answer.header("Etag") == "W/0"
        # the module's 304 keeps the polling headers, the content type included
        assert answer.header("Content-Type") == "application/javascript"
        assert_anti_cache(answer)
        # no ping ever goes to a long-poll, whatever the interval
        assert answer.chunks == []
        await wait_connections(server, 0)


async def test_ttl_falls_back_to_the_subscriber_ttl(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        start = trio.current_time()
        answer = await request(server.port(), "GET", "/bare/ch1")
        assert trio.current_time() - start == 3.0
        assert_header_only(answer, 304)
        assert answer.header("Etag") == "W/0"


async def test_timeout_with_body(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF_WITH_BODY) as server:
        port = server.port()
        answer = await request(port, "GET", "/lp/ch1")
        assert answer.status == 200
        assert answer.chunks == [b"HEAD", b"-3::Timed out", b"FOOT"]
        assert answer.header("Etag") == "W/0"
        assert answer.header("Last-Modified") == http_time(now_of(server))
        jsonp = await request(port, "GET", "/jsonp/ch1?callback=callback_function")
        assert jsonp.status == 200
        assert jsonp.header("Content-Type") == "application/javascript"
        assert jsonp.body == b"callback_function([" + TIMED_OUT + b"]);"


async def test_jsonp_live_message(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        async with trio.open_nursery() as nursery:
            poll = start_request(nursery, port, "/lp/ch1?callback=cb")
            await wait_subscribers(server, b"ch1", 1)
            await publish(port, "ch1", b"x")
            answer = await poll.result()
        assert answer.header("Content-Type") == "application/javascript"
        assert answer.chunks == [b"HEAD", b"cb", b"([", b"1:ch1:x", b"]);", b"FOOT"]


async def test_jsonp_with_stored_messages(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        align_to_second(server, autojump_clock)
        now = now_of(server)
        await publish(port, "ch1", b"body")
        await publish(port, "ch1", b"body1")
        answer = await request(
            port, "GET", f"/jsonp/ch1?callback=callback_function&time={quote(http_time(now))}&tag=0"
        )
        time = http_time(now).encode()
        message = b'{"id":"%d", "message":"%s", "channel":"ch1", "tag":"%d", "time":"%s"}'
        assert answer.body == (
            b"callback_function(["
            + message % (1, b"body", 1, time)
            + b","
            + message % (2, b"body1", 2, time)
            + b"]);"
        )


async def test_channel_deleted_while_waiting(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        async with trio.open_nursery() as nursery:
            plain = start_request(nursery, port, "/lp/ch1/ch2")
            jsonp = start_request(nursery, port, "/jsonp/ch1?callback=cb")
            await wait_subscribers(server, b"ch1", 2)
            assert (await request(port, "DELETE", "/pub?id=ch1")).status == 200
            now = now_of(server)
            answer = await plain.result()
            wrapped = await jsonp.result()
        assert answer.status == 200
        assert answer.chunks == [b"HEAD", b"-2:ch1:Channel deleted", b"FOOT"]
        assert answer.header("Etag") == "W/0"
        assert answer.header("Last-Modified") == http_time(now)
        assert wrapped.body == (
            b'cb([{"id":"-2", "message":"Channel deleted", "channel":"ch1", "tag":"0", '
            b'"time":"Thu, 01 Jan 1970 00:00:00 GMT"}]);'
        )
        await wait_connections(server, 0)


async def test_mode_header(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        # a long-polling location stays long-polling whatever the header says
        start = trio.current_time()
        answer = await request(port, "GET", "/bare/ch1", [("X-Nginx-PushStream-Mode", "polling")])
        assert (answer.status, answer.header("Etag")) == (304, "W/0")
        assert trio.current_time() - start == 3.0
        for path in ("/poll/ch2", "/stream/ch2"):
            start = trio.current_time()
            waited = await request(port, "GET", path, [("X-Nginx-PushStream-Mode", "LONG-polling")])
            assert (waited.status, waited.header("Etag")) == (304, "W/0")
            assert trio.current_time() - start == 2.0
        # other values are ignored
        polled = await request(port, "GET", "/poll/ch2", [("X-Nginx-PushStream-Mode", "long")])
        assert_header_only(polled, 304)
        assert polled.header("Etag") is None


async def test_client_leaving_while_waiting_unsubscribes(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        client = await Client.connect(port)
        await client.send_request("GET", "/lp/ch1")
        await wait_subscribers(server, b"ch1", 1)
        await client.aclose()
        await wait_subscribers(server, b"ch1", 0)
        assert store_of(server).totals().subscribers == 0


async def test_a_pipelined_request_does_not_end_the_wait(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        client = await RawClient.connect(port)
        # The second request arrives while the first waits: it is the next request, not a
        # client that left.
        await client.send(
            b"GET /lp/ch1 HTTP/1.1\r\nHost: localhost\r\n\r\n"
            b"GET /lp/ch1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        await wait_subscribers(server, b"ch1", 1)
        await publish(port, "ch1", b"x")
        answers = await client.read_until_closed()
        # The first gets the message; the second waits for the next one in its turn, and
        # its TTL answers it.
        assert answers.startswith(b"HTTP/1.1 200 OK")
        assert b"1:ch1:x" in answers
        assert answers.count(b"HTTP/1.1 304 Not Modified") == 1
        await client.aclose()


async def test_follow_up_polls_with_the_validators(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        align_to_second(server, autojump_clock)
        client = await Client.connect(port)
        # what the JavaScript client sends first: wait for the next message
        validators = [("If-Modified-Since", "null"), ("If-None-Match", "0")]
        async with trio.open_nursery() as nursery:
            poll = start_request(nursery, client, "/lp/ch1", validators)
            await wait_subscribers(server, b"ch1", 1)
            await publish(port, "ch1", b"m1")
            first = await poll.result()
        assert first.chunks == [b"HEAD", b"1:ch1:m1", b"FOOT"]
        await publish(port, "ch1", b"m2")
        await publish(port, "ch1", b"m3")
        follow = [
            ("If-Modified-Since", first.header("Last-Modified") or ""),
            ("If-None-Match", first.header("Etag") or ""),
        ]
        second = await client.request("GET", "/lp/ch1", follow)
        assert second.chunks == [b"HEAD", b"2:ch1:m2", b"3:ch1:m3", b"FOOT"]
        assert second.header("Etag") == "W/3"
        await client.aclose()


async def test_five_hundred_long_polls_on_one_socket(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        subscriber = await Client.connect(port)
        publisher = await Client.connect(port)
        modified, etag = EPOCH, "0"
        for number in range(1, 501):
            text = b"m%d" % number
            headers = [("If-Modified-Since", modified), ("If-None-Match", etag)]
            if number % 50:
                await publisher.request("POST", "/pub?id=ka", body=text)
                answer = await subscriber.request("GET", "/lp/ka", headers)
            else:  # every 50th waits for the message
                async with trio.open_nursery() as nursery:
                    poll = start_request(nursery, subscriber, "/lp/ka", headers)
                    await wait_subscribers(server, b"ka", 1)
                    await publisher.request("POST", "/pub?id=ka", body=text)
                    answer = await poll.result()
            assert answer.chunks == [b"HEAD", b"%d:ka:%s" % (number, text), b"FOOT"], number
            modified = answer.header("Last-Modified") or ""
            etag = answer.header("Etag") or ""
            if number % 100 == 0:
                autojump_clock.jump(1)
        # and a timeout on the same socket
        timed_out = await subscriber.request("GET", "/lp/ka", [("If-None-Match", etag)])
        assert timed_out.status == 304
        assert (await subscriber.request("GET", "/pub?id=ka")).status == 200
        await subscriber.aclose()
        await publisher.aclose()


async def test_http_1_0_long_poll(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        client = await RawClient.connect(port)
        await client.send(b"GET /lp/ch1 HTTP/1.0\r\nHost: localhost\r\n\r\n")
        await wait_subscribers(server, b"ch1", 1)
        await publish(port, "ch1", b"x")
        status, headers = await client.read_head()
        assert status == b"HTTP/1.1 200 OK"
        assert "transfer-encoding" not in headers
        assert await client.read_until_closed() == b"HEAD1:ch1:xFOOT"
        await client.aclose()


async def test_not_modified_filter_applies_to_long_poll_answers(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF_WITH_BODY) as server:
        port = server.port()
        # the timeout answer carries `Etag: W/0`, which `If-None-Match: 0` names
        answer = await request(port, "GET", "/lp/ch1", [("If-None-Match", "0")])
        assert (answer.status, answer.body, answer.header("Etag")) == (304, b"", "W/0")
        with_ims = await request(
            port, "GET", "/lp/ch1", [("If-None-Match", "0"), ("If-Modified-Since", "null")]
        )
        assert (with_ims.status, with_ims.chunks) == (200, [b"HEAD", b"-3::Timed out", b"FOOT"])


async def test_one_socket_serves_every_kind_of_request(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        client = await Client.connect(port)
        assert (await client.request("POST", "/pub?id=ch1", body=b"x")).status == 200
        assert (await client.request("GET", "/channels-stats")).status == 200
        assert (await client.request("GET", "/channels-stats?id=ch1")).status == 200
        assert (await client.request("GET", "/poll/ch1.b1")).chunks == [b"x"]
        assert (await client.request("GET", "/poll/ch1")).status == 304
        assert (await client.request("GET", "/lp/ch1.b1")).chunks == [b"HEAD", b"1:ch1:x", b"FOOT"]
        async with trio.open_nursery() as nursery:
            poll = start_request(nursery, client, "/lp/ch1")
            await wait_subscribers(server, b"ch1", 1)
            await publish(port, "ch1", b"y")
            assert (await poll.result()).chunks == [b"HEAD", b"2:ch1:y", b"FOOT"]
        assert (await client.request("GET", "/bare/ch1")).status == 304
        assert (await client.request("OPTIONS", "/lp/ch1")).status == 200
        assert (await client.request("HEAD", "/lp/ch1")).status == 405
        assert (await client.request("GET", "/lp/")).status == 400
        assert (await client.request("GET", "/lp/ALL")).status == 403
        assert (await client.request("DELETE", "/pub?id=ch1")).status == 200
        assert (await client.request("GET", "/pub?id=ch1")).status == 404
        await client.aclose()


async def test_a_long_poll_sent_just_before_a_publish_gets_its_message(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    """The module's keep-alive spec: on one keep-alive connection a long-poll, and at once
    on another a publish of a message that is not stored. nginx takes the requests of one
    turn of its event loop in the order they came, so the subscriber is there when the
    message lands; every time, not just when the scheduler happens to pick that order."""
    locations = """
        location /pub { push_stream_publisher; push_stream_channels_path $arg_id;
                        push_stream_store_messages off; }
        location ~ /lp/(.*) { push_stream_subscriber long-polling; push_stream_channels_path $1;
                              push_stream_message_template "~text~"; }
    """
    async with serve(config(locations)) as server:
        port = server.port()
        subscriber, publisher = await RawClient.connect(port), await RawClient.connect(port)
        for n in range(40):
            text = b"message %d" % n
            # Both sent with no turn of the loop between them: they land together.
            os.write(subscriber.stream.socket.fileno(), b"GET /lp/ch HTTP/1.1\r\nHost: h\r\n\r\n")
            os.write(
                publisher.stream.socket.fileno(),
                b"POST /pub?id=ch HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%b"
                % (len(text), text),
            )
            status, published = await publisher.read_head()
            assert status == b"HTTP/1.1 200 OK"
            while len(publisher.received) < int(published["content-length"]):
                publisher.received += await publisher.stream.receive_some(65536)
            assert b'"subscribers": 1' in publisher.received  # found the long-poll there
            publisher.received = b""
            _, headers = await subscriber.read_head()
            assert headers["transfer-encoding"] == "chunked"
            while not subscriber.received.endswith(b"0\r\n\r\n"):
                with trio.fail_after(1):
                    subscriber.received += await subscriber.stream.receive_some(65536)
            assert subscriber.received == b"%x\r\n%b\r\n0\r\n\r\n" % (len(text), text), n
            subscriber.received = b""
        await subscriber.aclose()
        await publisher.aclose()
