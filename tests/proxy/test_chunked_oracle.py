"""`chunked_transfer_encoding` against Debian's nginx: an answer of no known length (a proxied
close-delimited body, a gzipped file or `return`) goes chunked to an HTTP/1.1 client, or with
`chunked_transfer_encoding off` as it is, ended by closing the connection; and a push stream
subscriber's stream goes unchunked the same way, or through `sub_filter`, message by message."""

from __future__ import annotations

from pathlib import Path

import trio

from .conftest import AppFactory, ProxyFactory
from .nginx import at_app, needs_nginx
from .support import conf, connect_from
from .test_static_oracle import assert_same, both

GZIP = "gzip on; gzip_types text/plain; gzip_min_length 1;"
SERVER = f"""
location = /on {{ proxy_pass http://APP/close-delimited; }}
location = /off {{ chunked_transfer_encoding off; proxy_pass http://APP/close-delimited; }}
location /zip/ {{ alias WWW/; {GZIP} }}
location /zipoff/ {{ alias WWW/; {GZIP} chunked_transfer_encoding off; }}
location /said/ {{ {GZIP} chunked_transfer_encoding off; return 200 "said"; }}
"""
ROWS = [
    "GET /on", "GET /off", "HEAD /off", "GET /off HTTP/1.0",
    "GET /zip/notes.txt | Accept-Encoding: gzip", "GET /zipoff/notes.txt | Accept-Encoding: gzip",
    "GET /zipoff/notes.txt", "GET /said/x | Accept-Encoding: gzip",
]  # fmt: skip


@needs_nginx
async def test_chunked_transfer_encoding_as_nginx_does(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path
) -> None:
    upstream = await app("app")
    server = at_app(SERVER, upstream)
    expected, got = await both(proxy, tmp_path, server, ROWS)
    assert "| Transfer-Encoding: chunked |" in expected["GET /on"]
    assert "Transfer-Encoding" not in expected["GET /off"]
    assert expected["GET /off"].endswith("b'until the end'")
    assert_same(expected, got)


SUBSCRIBER = """
location /pub { push_stream_publisher; push_stream_channels_path $arg_id; }
location ~ /sub/(.*) {
    chunked_transfer_encoding off;
    push_stream_subscriber;
    push_stream_channels_path $1;
    push_stream_header_template "HEAD";
    push_stream_message_template "~text~|";
}
"""


async def _streamed(port: int, path: str, messages: int) -> bytes:
    """What a streaming subscriber at `path` receives (head and body as sent) until the
    `messages` published to its channel, each `hello`, have come."""
    stream = await connect_from("127.0.0.1", port)
    await stream.send_all(f"GET {path} HTTP/1.1\r\nHost: h\r\n\r\n".encode())
    received = b""
    with trio.fail_after(5):
        while b"HEAD" not in received:
            received += await stream.receive_some(4096)
        publisher = await connect_from("127.0.0.1", port)
        for _ in range(messages):
            await publisher.send_all(
                b"POST /pub?id=ch HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
            )
            await publisher.receive_some(4096)
        while received.count(b"|") < messages:
            received += await stream.receive_some(4096)
    await publisher.aclose()
    await stream.aclose()
    return received


async def test_a_streaming_subscriber_without_chunks(proxy: ProxyFactory) -> None:
    text = conf(SUBSCRIBER, http="push_stream_shared_memory_size 1m;")
    async with proxy(text) as server:
        received = await _streamed(server.port(), "/sub/ch", 1)
    head, _, body = received.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding" not in head
    assert b"Connection: close" in head
    assert body == b"HEADhello|"


async def test_a_streaming_subscriber_gets_its_text_replaced(proxy: ProxyFactory) -> None:
    """`sub_filter` on a push stream: each message as it goes out (the fast path to the
    socket makes way for the filter)."""
    filtered = "sub_filter hello bye; sub_filter_once off; sub_filter_types text/plain;"
    text = conf(
        SUBSCRIBER.replace("chunked_transfer_encoding off;", filtered).replace("/sub/", "/s/"),
        http="push_stream_shared_memory_size 1m;",
    )
    async with proxy(text) as server:
        received = await _streamed(server.port(), "/s/ch", 2)
    assert received.count(b"bye|") == 2
    assert b"hello" not in received
