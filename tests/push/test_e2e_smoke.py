"""Publisher, statistics and the subscriber modes over real sockets: the main paths."""

from __future__ import annotations

import trio
from conftest import ServeFactory
from helpers import Client, request

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
        location /stats {
            push_stream_channels_statistics;
            push_stream_channels_path $arg_id;
        }
        location ~ /sub/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_header_template "HEADER";
            push_stream_message_template "~id~:~text~";
            push_stream_footer_template "FOOTER";
        }
        location ~ /lp/(.*) {
            push_stream_subscriber long-polling;
            push_stream_channels_path $1;
        }
        location /text { return 200 "x=$arg_x"; }
    }
}
"""


async def test_publish_then_stream_old_and_live_messages(serve: ServeFactory) -> None:
    async with serve(CONF) as server:
        port = server.port()
        published = await request(port, "POST", "/pub?id=ch1", body=b"first")
        assert published.status == 200
        assert published.body == (
            b'{"channel": "ch1", "published_messages": 1, "stored_messages": 1, '
            b'"subscribers": 0}\r\n'
        )
        subscriber = await Client.connect(port)
        await subscriber.send_request("GET", "/sub/ch1.b1")
        head = await subscriber.read_head()
        assert head.status == 200
        assert head.header("Transfer-Encoding") == "chunked"
        assert [await subscriber.read_chunk(), await subscriber.read_chunk()] == [
            b"HEADER",
            b"1:first",
        ]
        assert (await request(port, "POST", "/pub?id=ch1", body=b"second")).status == 200
        assert await subscriber.read_chunk() == b"2:second"
        deleted = await request(port, "DELETE", "/pub?id=ch1")
        assert (deleted.status, deleted.header("X-Nginx-PushStream-Explain")) == (
            200,
            "Channel deleted.",
        )
        assert await subscriber.read_chunk() == b"-2:Channel deleted"
        assert await subscriber.read_chunk() == b"FOOTER"
        assert await subscriber.read_chunk() is None
        await subscriber.aclose()


async def test_long_poll_waits_for_the_next_message(serve: ServeFactory) -> None:
    async with serve(CONF) as server:
        port = server.port()
        answers = []

        async def poll() -> None:
            answers.append(await request(port, "GET", "/lp/ch2"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(poll)
            with trio.fail_after(5):
                while True:  # wait until the poll is subscribed
                    stats = await request(port, "GET", "/stats?id=ch2")
                    if b'"subscribers": 1' in stats.body:
                        break
                    await trio.sleep(0.01)
            await request(port, "POST", "/pub?id=ch2", body=b"news")
        (answer,) = answers
        assert (answer.status, answer.body, answer.header("Etag")) == (200, b"news", "W/1")


async def test_return_and_unknown_path(serve: ServeFactory) -> None:
    async with serve(CONF) as server:
        port = server.port()
        found = await request(port, "GET", "/text?x=1")
        assert (found.status, found.body) == (200, b"x=1")
        missing = await request(port, "GET", "/nothing")
        assert missing.status == 404
