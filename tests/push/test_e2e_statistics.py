"""The statistics location over real sockets (PROTOCOL.md §2, §7)."""

from __future__ import annotations

import json
import os
import re

from .wire import (
    EXPLAIN,
    JSON_GROUP_HEAD,
    PUBLISHER,
    STATISTICS,
    Client,
    MockClock,
    ServeFactory,
    assert_anti_cache,
    assert_cors,
    assert_header_only,
    config,
    json_channel,
    open_stream,
    publish,
    request,
    summary_of,
    wait_connections,
)

CONF = config(
    PUBLISHER
    + STATISTICS
    + """
        location /stats-cors {
            push_stream_channels_statistics;
            push_stream_channels_path $arg_id;
            push_stream_allowed_origins "*";
        }
        location ~ /sub/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
        }
""",
    http="""
    push_stream_max_channel_id_length 10;
    push_stream_wildcard_channel_prefix "bd_";
    push_stream_events_channel_id "events";
""",
)


async def test_summary_counts(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        await publish(port, "ch1", b"a")
        await publish(port, "ch1", b"b")
        await publish(port, "bd_1", b"c")
        client, _ = await open_stream(port, "/sub/ch1/ch2")
        await wait_connections(server, 1)
        autojump_clock.jump(7)
        answer = await request(port, "GET", "/channels-stats")
        assert answer.status == 200
        assert answer.header("Content-Type") == "application/json"
        assert answer.header("Content-Length") == str(len(answer.body))
        assert answer.header("X-Nginx-PushStream-Tag") == "0.5.5"
        assert answer.header("X-Nginx-PushStream-Commit")
        assert_anti_cache(answer)
        figures = summary_of(answer.body)
        # events channel included in `channels`, excluded from the message totals
        assert figures["channels"] == 3
        assert figures["wildcard"] == 1
        assert figures["published"] == 3
        assert figures["stored"] == 3
        assert figures["subscribers"] == 1
        assert figures["worker_subscribers"] == 1
        assert figures["pid"] == os.getpid()
        assert figures["uptime"] >= 7
        assert figures["worker_uptime"] >= 7
        await client.aclose()
        await wait_connections(server, 0)
        assert summary_of((await request(port, "GET", "/channels-stats")).body)["subscribers"] == 0


async def test_summary_in_other_formats(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        plain = await request(port, "GET", "/channels-stats", [("Accept", "text/plain")])
        assert plain.header("Content-Type") == "text/plain"
        assert re.fullmatch(
            rb"hostname: \S+\r\ntime: \S+\r\nchannels: 1\r\nwildcard_channels: 0\r\n"
            rb"published_messages: 0\r\nstored_messages: 0\r\nmessages_in_trash: 0\r\n"
            rb"channels_in_delete: 0\r\nchannels_in_trash: 0\r\nsubscribers: 0\r\nuptime: \d+\r\n"
            rb"by_worker:\r\n  pid: \d+\r\n  subscribers: 0\r\n  uptime: \d+\r\n",
            plain.body,
        ), plain.body
        yaml = await request(port, "GET", "/channels-stats", [("Accept", "application/yaml")])
        assert yaml.header("Content-Type") == "application/yaml"
        assert re.fullmatch(
            rb"  hostname: \S+\r\n  time: \S+\r\n(  \w+: \d+\r\n){9}  by_worker:\r\n"
            rb"   -\r\n    pid: \d+\r\n    subscribers: 0\r\n    uptime: \d+\r\n",
            yaml.body,
        ), yaml.body
        xml = await request(port, "GET", "/channels-stats", [("Accept", "application/xml")])
        assert xml.header("Content-Type") == "application/xml"
        assert re.fullmatch(
            rb'<\?xml version="1.0" encoding="UTF-8" \?>\r\n<infos>\r\n'
            rb"  <hostname>\S+</hostname>\r\n  <time>\S+</time>\r\n(  <(\w+)>\d+</\2>\r\n){9}"
            rb"  <by_worker><worker>\r\n  <pid>\d+</pid>\r\n  <subscribers>0</subscribers>\r\n"
            rb"  <uptime>\d+</uptime>\r\n</worker>\r\n</by_worker>\r\n</infos>\r\n",
            xml.body,
        ), xml.body
        x_yaml = await request(port, "GET", "/channels-stats", [("Accept", "text/x-yaml")])
        assert x_yaml.header("Content-Type") == "text/x-yaml"
        assert x_yaml.body.startswith(b"  hostname: ")


async def test_single_channel_and_lookups(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        await publish(port, "ch1", b"a")
        await publish(port, "ch3", b"a")
        one = await request(port, "GET", "/channels-stats?id=ch1")
        assert (one.status, one.body) == (200, json_channel("ch1", 1, 1, 0) + b"\r\n")
        assert one.header("X-Nginx-PushStream-Tag") == "0.5.5"
        # one found among several asked → still the single format; `.bN` is stripped
        partial = await request(port, "GET", "/channels-stats?id=ch3/ch4")
        assert partial.body == json_channel("ch3", 1, 1, 0) + b"\r\n"
        stripped = await request(port, "GET", "/channels-stats?id=ch1.b5")
        assert stripped.body == one.body
        missing = await request(port, "GET", "/channels-stats?id=nothing")
        assert_header_only(missing, 404)
        assert_anti_cache(missing)
        too_long = await request(port, "GET", "/channels-stats?id=12345678901")
        assert_header_only(too_long, 400, "Channel id is too large.")
        two = await request(port, "GET", "/channels-stats?id=ch1/ch3")
        head = JSON_GROUP_HEAD.match(two.body)
        assert head is not None
        assert two.body[head.end() :] == (
            json_channel("ch1", 1, 1, 0) + b",\r\n" + json_channel("ch3", 1, 1, 0) + b"\r\n]}\r\n"
        )


async def test_all_and_prefix_listings(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        for channel in ("ch_1", "other", "ch_2", "bd_1"):
            await publish(port, channel, b"x")
        everything = await request(port, "GET", "/channels-stats?id=ALL")
        head = JSON_GROUP_HEAD.match(everything.body)
        assert head is not None
        assert head.groups()[:2] == (b"4", b"1")
        items = [
            json_channel(channel, published, published, 0)
            for channel, published in (("events", 4), ("ch_1", 1), ("other", 1), ("ch_2", 1))
        ] + [json_channel("bd_1", 1, 1, 0)]
        assert everything.body[head.end() :] == b",\r\n".join(items) + b"\r\n]}\r\n"
        prefixed = await request(port, "GET", "/channels-stats?id=ch_*")
        head = JSON_GROUP_HEAD.match(prefixed.body)
        assert head is not None
        assert prefixed.body[head.end() :] == (
            json_channel("ch_1", 1, 1, 0) + b",\r\n" + json_channel("ch_2", 1, 1, 0) + b"\r\n]}\r\n"
        )
        # a bare `*` lists everything; later ids are ignored
        star = await request(port, "GET", "/channels-stats?id=*/ch_1")
        assert star.body.count(b'"channel": ') == 5
        none = await request(port, "GET", "/channels-stats?id=zz*")
        head = JSON_GROUP_HEAD.match(none.body)
        assert head is not None
        assert none.body[head.end() :] == b"]}\r\n"


async def test_group_in_plain_yaml_and_xml(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(config(PUBLISHER + STATISTICS)) as server:
        port = server.port()
        await publish(port, "a", b"x")
        await publish(port, "b", b"x")
        plain = await request(port, "GET", "/channels-stats?id=ALL", [("Accept", "text/plain")])
        assert re.fullmatch(
            rb"hostname: \S+, time: \S+, channels: 2, wildcard_channels: 0, uptime: \d+, "
            rb"infos: \r\n"
            rb"channel: a\r\npublished_messages: 1\r\nstored_messages: 1\r\n"
            rb"active_subscribers: 0,\r\n"
            rb"channel: b\r\npublished_messages: 1\r\nstored_messages: 1\r\n"
            rb"active_subscribers: 0\r\n",
            plain.body,
        ), plain.body
        yaml = await request(port, "GET", "/channels-stats?id=ALL", [("Accept", "text/x-yaml")])
        assert re.fullmatch(
            rb"hostname: \S+\r\ntime: \S+\r\nchannels: 2\r\nwildcard_channels: 0\r\n"
            rb"uptime: \d+\r\ninfos: \r\n"
            rb" -\r\n  channel: a\r\n  published_messages: 1\r\n  stored_messages: 1\r\n"
            rb"  subscribers: 0\r\n"
            rb" -\r\n  channel: b\r\n  published_messages: 1\r\n  stored_messages: 1\r\n"
            rb"  subscribers: 0\r\n",
            yaml.body,
        ), yaml.body
        xml = await request(port, "GET", "/channels-stats?id=ALL", [("Accept", "text/xml")])
        assert xml.header("Content-Type") == "application/xml"
        channel = (
            b"<channel>\r\n  <name>%s</name>\r\n  <published_messages>1</published_messages>\r\n"
            b"  <stored_messages>1</stored_messages>\r\n  <subscribers>0</subscribers>\r\n"
            b"</channel>\r\n"
        )
        assert xml.body.endswith(
            b"  <infos>\r\n" + channel % b"a" + channel % b"b" + b"  </infos>\r\n</root>\r\n"
        )


async def test_only_get_is_allowed(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        for method in ("HEAD", "POST", "PUT", "DELETE", "OPTIONS"):
            for path in ("/channels-stats", "/stats-cors"):
                refused = await request(port, method, path, body=b"x" if method == "POST" else None)
                assert_header_only(refused, 405)
                assert refused.header("Allow") == "GET"
                assert_anti_cache(refused)
                assert_cors(refused, None)
                assert refused.header(EXPLAIN) is None


async def test_never_cors_and_never_creates(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        answer = await request(port, "GET", "/stats-cors?id=ch1")
        assert_header_only(answer, 404)
        assert_cors(answer, None)
        summary = await request(port, "GET", "/stats-cors")
        assert_cors(summary, None)
        assert summary_of(summary.body)["channels"] == 1


async def test_keep_alive_across_statistics_requests(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        client = await Client.connect(server.port())
        for number in range(1, 11):
            await client.request("POST", "/pub?id=ch1", body=b"x")
            one = await client.request("GET", "/channels-stats?id=ch1")
            assert one.body == json_channel("ch1", number, number, 0) + b"\r\n"
            assert (await client.request("GET", "/channels-stats")).status == 200
            assert (await client.request("GET", "/channels-stats?id=no")).status == 404
            assert (await client.request("HEAD", "/channels-stats")).status == 405
        await client.aclose()


async def test_statistics_after_a_subscriber_in_one_location_answer_there(
    serve: ServeFactory,
) -> None:
    """The module's statistics directive replaces the subscriber type set before it."""
    conf = config(
        PUBLISHER
        + """
        location /both {
            push_stream_subscriber;
            push_stream_channels_statistics;
            push_stream_channels_path $arg_id;
        }
"""
    )
    async with serve(conf) as server:
        port = server.port()
        await publish(port, "ch1", b"a")
        answer = await request(port, "GET", "/both?id=ch1")
    assert answer.status == 200
    assert json.loads(answer.body)["published_messages"] == 1  # not a subscriber's stream
