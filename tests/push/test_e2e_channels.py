"""Channels over real sockets: subscriber checks and limits (§5.1), the events channel (§9.7),
wildcard channels, deletion (§9.4), message expiry, inactivity and the trash (§9.2, §9.3),
and running out of shared memory (§9.5).
"""

from __future__ import annotations

import re

import trio

from .wire import (
    PUBLISHER,
    STATISTICS,
    Client,
    MockClock,
    ServeFactory,
    align_to_second,
    assert_anti_cache,
    assert_header_only,
    config,
    open_stream,
    publish,
    read_chunks,
    request,
    start_request,
    store_of,
    summary,
    wait_connections,
    wait_subscribers,
)

CHECKS = config(
    PUBLISHER
    + STATISTICS
    + """
        location ~ /sub/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_wildcard_channel_max_qtd 2;
        }
        location ~ /auth/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_authorized_channels_only on;
        }
        location ~ /poll/(.*) {
            push_stream_subscriber polling;
            push_stream_channels_path $1;
            push_stream_authorized_channels_only on;
        }
        location ~ /events/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_allow_connections_to_events_channel on;
            push_stream_message_template "~text~|~event-type~|~event-id~";
        }
        location ~ /ev/(.*) {
            push_stream_subscriber eventsource;
            push_stream_channels_path $1;
            push_stream_allow_connections_to_events_channel on;
        }
""",
    http="""
    push_stream_max_channel_id_length 10;
    push_stream_max_subscribers_per_channel 2;
    push_stream_max_number_of_channels 8;
    push_stream_max_number_of_wildcard_channels 3;
    push_stream_wildcard_channel_prefix "bd_";
    push_stream_events_channel_id "events";
    push_stream_message_ttl 12s;
    push_stream_channel_inactivity_time 5s;
""",
)


async def test_forbidden_and_too_long_ids(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CHECKS) as server:
        port = server.port()
        for target in ("/sub/ALL", "/sub/ch*", "/sub/ok/ALL", "/auth/ALL"):
            refused = await request(port, "GET", target)
            assert_header_only(refused, 403, "Channel id not authorized for this method.")
            assert_anti_cache(refused)
        long = await request(port, "GET", "/sub/12345678901")
        assert_header_only(long, 400, "Channel id is too large.")
        # the first failing id decides
        first = await request(port, "GET", "/sub/12345678901/ALL")
        assert_header_only(first, 400, "Channel id is too large.")
        assert store_of(server).find_channel(b"ok") is None


async def test_authorized_channels_only(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CHECKS) as server:
        port = server.port()
        for target in ("/auth/ch1", "/poll/ch1"):
            refused = await request(port, "GET", target)
            assert_header_only(refused, 403, "Subscriber could not create channels.")
        assert store_of(server).find_channel(b"ch1") is None
        await publish(port, "ch1", b"x")
        client, head = await open_stream(port, "/auth/ch1")
        assert head.status == 200
        await client.aclose()
        # a channel without stored messages does not count
        await request(port, "POST", "/pub?id=empty", body=b"x")
        assert (await request(port, "DELETE", "/pub?id=empty")).status == 200
        created = await open_stream(port, "/sub/empty")
        await created[0].aclose()
        refused = await request(port, "GET", "/auth/empty")
        assert_header_only(refused, 403, "Subscriber could not create channels.")
        # wildcard channels are exempt, but not alone
        mixed, head = await open_stream(port, "/auth/ch1/bd_1")
        assert head.status == 200
        await mixed.aclose()


async def test_authorized_channels_only_after_messages_expire(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CHECKS) as server:
        port = server.port()
        await publish(port, "ch1", b"x")
        await trio.sleep(6)
        assert (await request(port, "GET", "/poll/ch1.b1")).status == 200
        await trio.sleep(10)  # expired at 12 s, collected by the buffer cleanup at 15 s
        refused = await request(port, "GET", "/poll/ch1.b1")
        assert_header_only(refused, 403, "Subscriber could not create channels.")


async def test_subscribers_per_channel_limit(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CHECKS) as server:
        port = server.port()
        first, _ = await open_stream(port, "/sub/ch1")
        second, _ = await open_stream(port, "/sub/ch1")
        await wait_subscribers(server, b"ch1", 2)
        refused = await request(port, "GET", "/sub/ch2/ch1")
        assert_header_only(refused, 403, "Subscribers limit per channel has been exceeded.")
        polled = await request(port, "GET", "/sub/ch1", [("X-Nginx-PushStream-Mode", "polling")])
        assert_header_only(polled, 403, "Subscribers limit per channel has been exceeded.")
        await first.aclose()
        await wait_subscribers(server, b"ch1", 1)
        third, head = await open_stream(port, "/sub/ch1")
        assert head.status == 200
        await second.aclose()
        await third.aclose()


async def test_wildcard_quota(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CHECKS) as server:
        port = server.port()
        polling = [("X-Nginx-PushStream-Mode", "polling")]
        alone = await request(port, "GET", "/sub/bd_", polling)
        assert_header_only(alone, 403, "Subscribed too much wildcard channels.")
        assert (await request(port, "GET", "/sub/bd1", polling)).status == 304
        assert (await request(port, "GET", "/sub/bd1/bd2/bd_1/bd_2", polling)).status == 304
        too_many = await request(port, "GET", "/sub/bd1/bd2/bd_1/bd_2/bd_3", polling)
        assert_header_only(too_many, 403, "Subscribed too much wildcard channels.")
        figures = await summary(port)
        # bd1, bd2 and the events channel; bd_1 and bd_2
        assert (figures["channels"], figures["wildcard"]) == (3, 2)


async def test_channel_limits_on_subscriber_creation(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CHECKS) as server:
        port = server.port()
        polling = [("X-Nginx-PushStream-Mode", "polling")]
        assert (await request(port, "GET", "/sub/c1/bd_1/bd_2", polling)).status == 304
        assert (await request(port, "GET", "/sub/c2/bd_3", polling)).status == 304
        refused = await request(port, "GET", "/sub/c3/bd_4", polling)
        assert_header_only(refused, 403, "Number of channels were exceeded.")
        # the events channel is one of the eight normal channels
        for number in range(3, 9):
            await request(port, "GET", f"/sub/c{number}", polling)
        refused = await request(port, "GET", "/sub/c9", polling)
        assert_header_only(refused, 403, "Number of channels were exceeded.")
        published = await request(port, "POST", "/pub?id=c9", body=b"x")
        assert_header_only(published, 403, "Number of channels were exceeded.")


async def test_events_channel(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CHECKS) as server:
        port = server.port()
        refused = await request(port, "GET", "/sub/events")
        assert_header_only(refused, 403, "Subscription to events channel is not allowed.")
        events, _ = await open_stream(port, "/events/events")
        await wait_subscribers(server, b"events", 1)
        await publish(port, "ch1", b"x")
        subscriber, _ = await open_stream(port, "/sub/ch1")
        await wait_subscribers(server, b"ch1", 1)
        await subscriber.aclose()
        await wait_subscribers(server, b"ch1", 0)
        assert (await request(port, "DELETE", "/pub?id=ch1")).status == 200
        assert await read_chunks(events, 3) == [
            b'{"type": "channel_created", "channel": "ch1"}|channel_created|',
            b'{"type": "client_subscribed", "channel": "ch1"}|client_subscribed|',
            b'{"type": "client_unsubscribed", "channel": "ch1"}|client_unsubscribed|',
        ]
        # the deleted channel leaves the delete queue at the next memory cleanup
        assert await read_chunks(events, 1) == [
            b'{"type": "channel_destroyed", "channel": "ch1"}|channel_destroyed|'
        ]
        # events are stored whatever store_messages says, and are in the channel's own figures
        info = await request(port, "GET", "/pub?id=events")
        assert info.body.startswith(b'{"channel": "events", "published_messages": 4, ')
        figures = await summary(port)
        assert (figures["published"], figures["stored"]) == (1, 0)
        await events.aclose()


async def test_events_in_eventsource(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CHECKS) as server:
        port = server.port()
        events, _ = await open_stream(port, "/ev/events")
        await wait_subscribers(server, b"events", 1)
        await publish(port, "ch1", b"x")
        assert await read_chunks(events, 3) == [
            b": \n",
            b"event: channel_created\n",
            b'data: {"type": "channel_created", "channel": "ch1"}\n\n',
        ]
        await events.aclose()


async def test_long_poll_subscriptions_are_events(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CHECKS) as server:
        port = server.port()
        await publish(port, "ch1", b"x")
        async with trio.open_nursery() as nursery:
            poll = start_request(
                nursery, port, "/sub/ch1", [("X-Nginx-PushStream-Mode", "long-polling")]
            )
            await wait_subscribers(server, b"ch1", 1)
            await publish(port, "ch1", b"y")
            assert (await poll.result()).body == b"y"
        await wait_connections(server, 0)
        answer = await request(
            port, "GET", "/events/events.b3", [("X-Nginx-PushStream-Mode", "polling")]
        )
        assert answer.chunks == [
            b'{"type": "channel_created", "channel": "ch1"}|channel_created|',
            b'{"type": "client_subscribed", "channel": "ch1"}|client_subscribed|',
            b'{"type": "client_unsubscribed", "channel": "ch1"}|client_unsubscribed|',
        ]


async def test_delete_lifecycle_in_statistics(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(config(PUBLISHER + STATISTICS)) as server:
        port = server.port()
        await publish(port, "ch1", b"x")
        await publish(port, "ch2", b"x")
        assert (await request(port, "DELETE", "/pub?id=ch1")).status == 200
        figures = await summary(port)
        assert (figures["channels"], figures["deleting"], figures["channels_trash"]) == (1, 1, 0)
        # a publish to the same id makes a new channel at once
        assert (await publish(port, "ch1", b"again")).body.startswith(
            b'{"channel": "ch1", "published_messages": 1, '
        )
        await trio.sleep(4)  # memory cleanup: delete queue → trash
        figures = await summary(port)
        assert (figures["channels"], figures["deleting"], figures["channels_trash"]) == (2, 0, 1)
        await trio.sleep(12)  # freed about 10 s after trashing
        figures = await summary(port)
        assert (figures["deleting"], figures["channels_trash"]) == (0, 0)


async def test_delete_waits_for_subscribers_to_leave(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    conf = config(
        PUBLISHER
        + STATISTICS
        + """
        location ~ /sub/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
        }
"""
    )
    async with serve(conf) as server:
        port = server.port()
        client, _ = await open_stream(port, "/sub/ch1/ch2")
        await wait_subscribers(server, b"ch1", 1)
        assert (await request(port, "DELETE", "/pub?id=ch1")).status == 200
        await trio.sleep(9)
        figures = await summary(port)
        assert (figures["channels"], figures["deleting"], figures["channels_trash"]) == (1, 0, 1)
        await client.aclose()


async def test_message_ttl_and_trash(serve: ServeFactory, autojump_clock: MockClock) -> None:
    conf = config(
        PUBLISHER
        + STATISTICS
        + """
        location ~ /sub/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
        }
""",
        http="    push_stream_message_ttl 12s;",
    )
    async with serve(conf) as server:
        port = server.port()
        await publish(port, "ch1", b"x")
        await trio.sleep(6)
        client, _ = await open_stream(port, "/sub/ch1.b1")
        assert await read_chunks(client, 1) == [b"x"]
        await client.aclose()
        figures = await summary(port)
        assert (figures["stored"], figures["trash"]) == (1, 0)
        await trio.sleep(10)  # 16 s: expired at 12 s, moved by the buffer cleanup at 15 s
        figures = await summary(port)
        assert (figures["stored"], figures["trash"], figures["published"]) == (0, 1, 1)
        polled = await request(port, "GET", "/sub/ch1.b1", [("X-Nginx-PushStream-Mode", "polling")])
        assert polled.status == 304
        await trio.sleep(12)  # freed about 10 s after trashing
        assert (await summary(port))["trash"] == 0


async def test_inactive_channels_are_collected(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    conf = config(
        PUBLISHER.replace("push_stream_store_messages on;", "")
        + STATISTICS
        + """
        location ~ /sub/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
        }
""",
        http="""
    push_stream_channel_inactivity_time 5s;
    push_stream_events_channel_id "events";
""",
    )
    async with serve(conf) as server:
        port = server.port()
        await publish(port, "gone", b"x")
        await publish(port, "gone", b"y")
        client, _ = await open_stream(port, "/sub/kept")
        await wait_subscribers(server, b"kept", 1)
        await trio.sleep(3)
        assert (await summary(port))["channels"] == 3
        await trio.sleep(6)
        figures = await summary(port)
        # a channel with a subscriber stays; the events channel is never collected
        assert (figures["channels"], figures["channels_trash"]) == (2, 1)
        assert (await request(port, "GET", "/pub?id=gone")).status == 404
        assert (await publish(port, "gone", b"z")).body.startswith(
            b'{"channel": "gone", "published_messages": 1, '
        )
        await client.aclose()
        await wait_subscribers(server, b"kept", 0)
        await trio.sleep(10)
        assert (await request(port, "GET", "/pub?id=kept")).status == 404


async def test_running_out_of_shared_memory(serve: ServeFactory, autojump_clock: MockClock) -> None:
    conf = config(
        PUBLISHER
        + """
        location ~ /sub/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
        }
""",
        http="    push_stream_message_ttl 10s;",
    ).replace("push_stream_shared_memory_size 32m;", "push_stream_shared_memory_size 128k;")
    async with serve(conf) as server:
        port = server.port()
        client = await Client.connect(port)
        for size in (1000, 10):
            while (await client.request("POST", "/pub?id=full", body=b"x" * size)).status == 200:
                pass
            await client.aclose()  # the 500 page closed the connection (see below)
            client = await Client.connect(port)
        refused = await client.request("POST", "/pub?id=full", body=b"x")
        assert refused.status == 500
        assert refused.header("Content-Type") == "text/html"
        assert b"500 Internal Server Error" in refused.body
        # nginx's own 500 page ends a keep-alive connection (its special response handler)
        assert refused.header("Connection") == "close"
        await client.aclose()
        # New channels (each smaller than a message) until one finds no room either.
        for n in range(100):
            client = await Client.connect(port)
            created = await client.request("POST", f"/pub?id=new{n}", body=b"x")
            if not created.body:
                break
            assert created.status == 500  # its channel was made, then its message refused
            await client.aclose()
        assert_header_only(created, 500)
        assert_anti_cache(created)
        subscriber = await client.request("GET", f"/sub/new{n}")
        assert_header_only(subscriber, 500, "")
        deleted = await client.request("DELETE", "/pub?id=full")
        assert deleted.status == 500
        await client.aclose()
        client = await Client.connect(port)
        # memory comes back only through the trash: expiry at 10 s, freed about 10 s later
        await trio.sleep(25)
        assert (await client.request("POST", f"/pub?id=new{n}", body=b"x")).status == 200
        await client.aclose()


async def test_channel_paths(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(config(PUBLISHER + STATISTICS)) as server:
        port = server.port()
        # `/ch1` is the empty id and `ch1`; `a//b` has an empty id between; `%2F` splits too
        await publish(port, "/ch1", b"x")
        await publish(port, "a//b", b"x")
        await publish(port, "c%2Fd", b"x")
        await publish(port, "room.b18.beautiful.b3", b"x")
        await publish(port, "ch.b", b"x")
        listed = await request(port, "GET", "/channels-stats?id=ALL")
        names = re.findall(rb'"channel": "([^"]*)"', listed.body)
        assert names == [b"", b"ch1", b"a", b"b", b"c", b"d", b"room.b18.beautiful", b"ch.b"]
        empty = await request(port, "GET", "/pub?id=/")
        assert empty.body.startswith(b'{"channel": "", "published_messages": 2, ')


async def test_events_take_tags_from_the_same_counter(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CHECKS) as server:
        port = server.port()
        align_to_second(server, autojump_clock)
        # the channel_created event is published first and takes tag 1
        await publish(port, "ch1", b"x")
        answer = await request(
            port, "GET", "/poll/ch1.b1", [("X-Nginx-PushStream-Mode", "polling")]
        )
        assert answer.header("Etag") == "W/2"


async def test_store_off_messages_go_to_the_trash(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    conf = config(
        PUBLISHER.replace("push_stream_store_messages on;", "")
        + STATISTICS
        + """
        location ~ /sub/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
        }
"""
    )
    async with serve(conf) as server:
        port = server.port()
        client, _ = await open_stream(port, "/sub/ch1")
        await wait_subscribers(server, b"ch1", 1)
        await publish(port, "ch1", b"x")
        await publish(port, "ch1", b"y")
        assert await read_chunks(client, 2) == [b"x", b"y"]
        figures = await summary(port)
        assert (figures["published"], figures["stored"], figures["trash"]) == (2, 0, 2)
        await trio.sleep(16)
        assert (await summary(port))["trash"] == 0
        await client.aclose()


async def test_deleted_message_uses_each_location_templates(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    conf = config(
        PUBLISHER
        + """
        location ~ /sub/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_message_template "~id~:~text~";
        }
        location ~ /sub2/(.*) {
            push_stream_subscriber long-polling;
            push_stream_channels_path $1;
            push_stream_header_template "<html><body>";
            push_stream_message_template "|~text~|";
            push_stream_footer_template "</body></html>";
        }
"""
    )
    async with serve(conf) as server:
        port = server.port()
        stream, _ = await open_stream(port, "/sub/ch1")
        async with trio.open_nursery() as nursery:
            poll = start_request(nursery, port, "/sub2/ch1")
            await wait_subscribers(server, b"ch1", 2)
            assert (await request(port, "DELETE", "/pub?id=ch1")).status == 200
            answer = await poll.result()
        assert answer.body == b"<html><body>|Channel deleted|</body></html>"
        assert await read_chunks(stream, 1) == [b"-2:Channel deleted"]
        assert await stream.read_chunk() is None
        await stream.aclose()
