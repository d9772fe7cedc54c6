"""gzip as nginx's filter applies it: which responses, and streams flushed piece by piece."""

from __future__ import annotations

import zlib

import pytest
from conftest import ServeFactory
from helpers import Client, request

from pushproxy.http.gzip import GzipPolicy, accepts_gzip

CONF = """
events {}
http {
    push_stream_shared_memory_size 32m;
    gzip on;
    gzip_types application/json text/plain;
    gzip_min_length 5;
    gzip_vary on;
    server {
        listen 127.0.0.1:0;
        location /pub { push_stream_publisher; push_stream_channels_path $arg_id; }
        location ~ /sub/(.*) {
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_message_template "<~text~>";
            default_type text/plain;
        }
        location /tiny { default_type text/plain; return 200 "abc"; }
        location /html { default_type text/html; return 200 "<p>hello hello hello</p>"; }
        location /other { default_type image/png; return 200 "not text at all"; }
        location /off { gzip off; default_type text/html; return 200 "plain plain plain"; }
    }
}
"""
GZIP = [("Accept-Encoding", "gzip, deflate")]


def _gunzip(data: bytes) -> bytes:
    return zlib.decompress(data, 16 + zlib.MAX_WBITS)


async def test_which_responses_are_compressed(serve: ServeFactory) -> None:
    async with serve(CONF) as server:
        port = server.port()
        html = await request(port, "GET", "/html", GZIP)
        assert html.header("Content-Encoding") == "gzip"
        assert html.header("Vary") == "Accept-Encoding"
        assert html.header("Content-Length") is None
        assert _gunzip(html.body) == b"<p>hello hello hello</p>"
        plain = await request(port, "GET", "/html")
        assert (plain.header("Content-Encoding"), plain.body) == (None, b"<p>hello hello hello</p>")
        for path in ("/tiny", "/other", "/off"):
            response = await request(port, "GET", path, GZIP)
            assert response.header("Content-Encoding") is None, path
        proxied = await request(port, "GET", "/html", [*GZIP, ("Via", "1.1 cache")])
        assert proxied.header("Content-Encoding") is None  # gzip_proxied off
        old = await request(port, "GET", "/html", GZIP, http_version="1.0")
        assert old.header("Content-Encoding") is None  # gzip_http_version 1.1


async def test_publisher_and_stream_are_compressed(serve: ServeFactory) -> None:
    async with serve(CONF) as server:
        port = server.port()
        subscriber = await Client.connect(port)
        await subscriber.send_request("GET", "/sub/ch", GZIP)
        head = await subscriber.read_head()
        assert head.header("Content-Encoding") == "gzip"
        published = await request(port, "POST", "/pub?id=ch", GZIP, body=b"first message")
        assert published.header("Content-Encoding") == "gzip"
        assert b'"published_messages": 1' in _gunzip(published.body)
        # each message is flushed: it can be inflated before the stream ends
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        chunk = await subscriber.read_chunk()
        assert chunk is not None
        assert inflate.decompress(chunk) == b"<first message>"
        await request(port, "POST", "/pub?id=ch", body=b"second")
        chunk = await subscriber.read_chunk()
        assert chunk is not None
        assert inflate.decompress(chunk) == b"<second>"
        await subscriber.aclose()


# What nginx 1.22's ngx_http_gzip_ok() decided for each value (the same code in 1.25/1.26).
@pytest.mark.parametrize(
    ("accept", "gzip"),
    [
        (b"gzip", True), (b"GZIP", True), (b"gzip,", True), (b"deflate,gzip", True),
        (b"deflate, gzip", True), (b"xgzip, gzip", True), (b"gzip;q=0.5", True),
        (b"gzip;q=1.000", True), (b"gzip;q=1", True), (b"gzip; Q=0.001", True), (b"gzip;", True),
        (b"gzip;q=0", False), (b"gzip; q=0.000", False), (b"gzip ;q=0", False),
        (b"gzip;q=0 ,deflate", False), (b"deflate, gzip;q=0", False), (b"gzip;q=0, gzip", False),
        (b"gzip;q=1.5", False), (b"gzip;q=1.001", False), (b"gzip;q=0.0001", False),
        (b"gzip;q=", False), (b"gzip;q=0.5x", False), (b"gzip;level=1", False),
        (b"x-gzip", False), (b"gzipx", False), (b"identity;q=1, *;q=0", False), (b"", False),
    ],
)  # fmt: skip
def test_accept_encoding_as_nginx_reads_it(accept: bytes, gzip: bool) -> None:
    assert accepts_gzip(accept) is gzip


async def test_zero_quality_and_the_first_accept_encoding_only(serve: ServeFactory) -> None:
    async with serve(CONF) as server:
        port = server.port()
        for refused in ("gzip;q=0", "gzip; q=0.000"):
            response = await request(port, "GET", "/html", [("Accept-Encoding", refused)])
            assert response.header("Content-Encoding") is None, refused
        first = [("Accept-Encoding", "identity"), ("Accept-Encoding", "gzip")]
        response = await request(port, "GET", "/html", first)
        assert response.header("Content-Encoding") is None  # nginx reads the first one only


async def test_a_head_response_is_not_framed_chunked(serve: ServeFactory) -> None:
    async with serve(CONF) as server:
        client = await Client.connect(server.port())
        head = await client.request("HEAD", "/html", GZIP)
        after = await client.request("GET", "/html", GZIP)  # the same connection serves on
        await client.aclose()
    assert head.header("Content-Encoding") == "gzip"
    assert head.header("Transfer-Encoding") is None
    assert head.header("Content-Length") is None
    assert head.body == b""
    assert _gunzip(after.body) == b"<p>hello hello hello</p>"


@pytest.mark.parametrize(
    ("length", "compressed"),
    [(b"4", False), (b"0" * 5000 + b"4", False), (b"0" * 5000 + b"50", True)],
)
def test_gzip_min_length_reads_any_number_of_digits(length: bytes, compressed: bool) -> None:
    policy = GzipPolicy(
        types=frozenset({b"text/html"}),
        any_type=False,
        min_length=5,
        level=1,
        http_version=b"1.1",
        proxied=frozenset(),
        vary=False,
    )
    headers = [(b"Content-Type", b"text/html"), (b"Content-Length", length)]
    assert policy.compresses(200, headers) is compressed
