"""Requests and responses through the proxy over real sockets: what the upstream gets, bodies
both ways, streaming, nginx's errors and timeouts."""

from __future__ import annotations

import hashlib
import json
import logging

import h11
import pytest
import trio
from helpers import Client, request
from trio.testing import MockClock

from .conftest import AppFactory, ProxyFactory
from .support import conf, echoed, eventually, raw
from .upstream_app import pattern_bytes


def at(port: int, extra: str = "", location: str = "/", target: str = "") -> str:
    return conf(f"location {location} {{ proxy_pass http://127.0.0.1:{port}{target}; {extra} }}")


async def test_request_reaches_the_upstream_as_nginx_sends_it(
    proxy: ProxyFactory, app: AppFactory
) -> None:
    upstream = await app("a")
    async with proxy(at(upstream.port)) as server:
        response = await request(
            server.port(),
            "GET",
            "/x/y?z=1",
            [("Connection", "keep-alive"), ("TE", "trailers"), ("X-Test", "yes")],
        )
    seen = echoed(response)
    assert (seen["method"], seen["target"]) == ("GET", "/x/y?z=1")
    assert seen["headers"] == [
        ["Host", f"127.0.0.1:{upstream.port}"],
        ["Connection", "close"],
        ["X-Test", "yes"],
    ]
    assert upstream.requests[0].http_version == "1.0"
    assert (response.header("Server") or "").startswith("pushproxy")


async def test_proxy_set_header_and_forwarded_for(proxy: ProxyFactory, app: AppFactory) -> None:
    upstream = await app("a")
    extra = """
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header Accept-Encoding "";
    """
    async with proxy(at(upstream.port, extra)) as server:
        response = await request(
            server.port(),
            "GET",
            "/",
            [("X-Forwarded-For", "203.0.113.7"), ("Accept-Encoding", "gzip")],
        )
    assert echoed(response)["headers"] == [
        ["Host", "localhost"],
        ["X-Real-IP", "127.0.0.1"],
        ["X-Forwarded-For", "203.0.113.7, 127.0.0.1"],
        ["Connection", "close"],
    ]


async def test_prefix_replacement(proxy: ProxyFactory, app: AppFactory) -> None:
    upstream = await app("a")
    text = conf(
        f"""
        location /api/ {{ proxy_pass http://127.0.0.1:{upstream.port}/v2/; }}
        location /raw/ {{ proxy_pass http://127.0.0.1:{upstream.port}; }}
        location = /exact {{ proxy_pass http://127.0.0.1:{upstream.port}/other; }}
        location ~ ^/re/(.*)$ {{ proxy_pass http://127.0.0.1:{upstream.port}; }}
        location /vars/ {{ proxy_pass http://127.0.0.1:{upstream.port}/fixed$is_args$args; }}
        """
    )
    cases = {
        "/api/users?id=3": "/v2/users?id=3",
        "/api/a%20b//c": "/v2/a%20b/c",
        "/raw/a%20b//c?x": "/raw/a%20b//c?x",
        "/exact?q": "/other?q",
        "/re/x/../y": "/re/x/../y",
        "/vars/ignored?k=v": "/fixed?k=v",
    }
    async with proxy(text) as server:
        client = await Client.connect(server.port())
        for sent, expected in cases.items():
            assert echoed(await client.request("GET", sent))["target"] == expected, sent
        await client.aclose()


async def test_request_bodies_small_large_and_chunked(proxy: ProxyFactory, app: AppFactory) -> None:
    upstream = await app("a")
    extra = "client_max_body_size 10m;"
    big = pattern_bytes(3 * 1024 * 1024 + 17)
    async with proxy(at(upstream.port, extra)) as server:
        client = await Client.connect(server.port())
        small = echoed(await client.request("POST", "/echo", body=b"hello"))
        assert small["body"] == "hello"
        assert ["Content-Length", "5"] in small["headers"]
        for headers in ([], [("Transfer-Encoding", "chunked")]):
            await client.send_request("POST", "/upload", headers, big)
            response = await client.read_body(await client.read_head())
            assert json.loads(response.body) == {
                "size": len(big),
                "sha256": hashlib.sha256(big).hexdigest(),
            }
        await client.aclose()
    # a chunked body reaches an HTTP/1.0 upstream with its length, as nginx sends it
    chunked = upstream.requests[-1]
    assert chunked.header("Content-Length") == str(len(big))
    assert chunked.header("Transfer-Encoding") is None


async def test_chunked_body_streams_chunked_without_request_buffering(
    proxy: ProxyFactory, app: AppFactory
) -> None:
    upstream = await app("a")
    extra = """client_max_body_size 0; proxy_request_buffering off; proxy_http_version 1.1;"""
    big = pattern_bytes(200_000)
    async with proxy(at(upstream.port, extra)) as server:
        client = await Client.connect(server.port())
        await client.send_request("POST", "/upload", [("Transfer-Encoding", "chunked")], big)
        response = await client.read_body(await client.read_head())
        await client.aclose()
    assert json.loads(response.body)["size"] == len(big)
    assert upstream.requests[-1].header("Transfer-Encoding") == "chunked"


async def test_chunked_body_over_client_max_body_size_is_413(
    proxy: ProxyFactory, app: AppFactory
) -> None:
    upstream = await app("a")
    async with proxy(at(upstream.port, "client_max_body_size 1k;")) as server:
        client = await Client.connect(server.port())
        await client.send_request(
            "POST", "/upload", [("Transfer-Encoding", "chunked")], b"x" * 5000
        )
        response = await client.read_head()
        await client.aclose()
        by_length = await request(server.port(), "POST", "/upload", body=b"x" * 5000)
    assert response.status == 413
    assert response.header("Connection") == "close"
    assert by_length.status == 413
    assert upstream.connections == 0


async def test_responses_stream_back_framed_for_the_client(
    proxy: ProxyFactory, app: AppFactory
) -> None:
    upstream = await app("a")
    size = 5 * 1024 * 1024 + 3
    async with proxy(at(upstream.port)) as server:
        port = server.port()
        chunked = await request(port, "GET", "/chunked")
        big = await request(port, "GET", f"/big?size={size}")
        head = await request(port, "HEAD", f"/big?size={size}")
        delimited = await request(port, "GET", "/close-delimited")
        old_client = await request(port, "GET", "/chunked", http_version="1.0")
    assert chunked.body == b"onetwothree"
    assert chunked.header("Transfer-Encoding") == "chunked"
    assert big.header("Content-Length") == str(size)
    assert big.body == pattern_bytes(size)
    assert head.header("Content-Length") == str(size)
    assert head.body == b""
    assert delimited.body == b"until the end"
    assert delimited.header("Transfer-Encoding") == "chunked"
    assert old_client.body == b"onetwothree"
    assert old_client.header("Transfer-Encoding") is None


async def test_an_endless_response_streams(proxy: ProxyFactory, app: AppFactory) -> None:
    upstream = await app("a")
    async with proxy(at(upstream.port, "proxy_buffering on;")) as server:
        client = await Client.connect(server.port())
        await client.send_request("GET", "/endless")
        head = await client.read_head()
        received = b""
        with trio.fail_after(5):
            while received.count(b"\n") < 5:
                chunk = await client.read_chunk()
                assert chunk is not None
                received += chunk
        await client.aclose()
        await eventually(lambda: upstream.open_streams == 0)  # the proxy lets go of it too
    assert head.status == 200
    assert received.startswith(b"tick 1\ntick 2\n")


async def test_refused_connection_is_502_and_logged(
    proxy: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # a port nobody listens on
    async with proxy(at(port)) as server:
        response = await request(server.port(), "GET", "/x")
    assert response.status == 502
    assert b"<title>502 Bad Gateway</title>" in response.body
    [record] = [r for r in caplog.records if "connect() failed" in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert "(111: Connection refused) while connecting to upstream" in record.getMessage()
    assert f'upstream: "http://127.0.0.1:{port}/x"' in record.getMessage()


async def test_read_timeout_is_504(
    proxy: ProxyFactory, app: AppFactory, autojump_clock: MockClock
) -> None:
    upstream = await app("a")
    async with proxy(at(upstream.port, "proxy_read_timeout 5s;")) as server:
        started = trio.current_time()
        response = await request(server.port(), "GET", "/hang")
        waited = trio.current_time() - started
        slow = await request(server.port(), "GET", "/slow?ms=4000")
    assert response.status == 504
    assert 5 <= waited < 6
    assert slow.status == 200


async def test_read_timeout_between_body_reads_cuts_the_response(
    proxy: ProxyFactory, app: AppFactory, autojump_clock: MockClock
) -> None:
    upstream = await app("a")
    # ticks come every 10 ms: a 5 ms timeout cuts the stream after the first one
    async with proxy(at(upstream.port, "proxy_read_timeout 5ms;")) as server:
        client = await Client.connect(server.port())
        await client.send_request("GET", "/endless")
        head = await client.read_head()
        first = await client.read_chunk()
        with pytest.raises(h11.RemoteProtocolError, match="incomplete chunked read"):
            await client.read_chunk()  # no last chunk: the response was cut
        await client.aclose()
    assert head.status == 200
    assert first == b"tick 1\n"


async def test_invalid_upstream_head_is_502(proxy: ProxyFactory, app: AppFactory) -> None:
    upstream = await app("a")
    async with proxy(at(upstream.port)) as server:
        invalid = await request(server.port(), "GET", "/invalid")
    assert invalid.status == 502


async def test_upstream_closing_mid_body_closes_the_client(
    proxy: ProxyFactory, app: AppFactory
) -> None:
    upstream = await app("a")
    async with proxy(at(upstream.port)) as server:
        client = await Client.connect(server.port())
        await client.send_request("GET", "/close-after-head")
        head = await client.read_head()
        assert await client.read_chunk() == b"partial"
        with trio.fail_after(5), pytest.raises(h11.RemoteProtocolError, match="received 7 bytes"):
            await client.read_chunk()  # then the connection closed, as nginx does
        await client.aclose()
    assert head.status == 200
    assert head.header("Content-Length") == "100"


async def test_hidden_headers_and_default_redirect(proxy: ProxyFactory, app: AppFactory) -> None:
    upstream = await app("a")
    own = f"http://127.0.0.1:{upstream.port}"
    async with proxy(at(upstream.port)) as server:
        port = server.port()
        response = await request(port, "GET", f"/headers?status=302&location={own}/next")
        relative = await request(port, "GET", "/headers?location=/kept")
    names = [name.lower() for name in response.header_names()]
    assert (response.header("Server") or "").startswith("pushproxy")
    assert response.header("Date") != "Thu, 01 Jan 1970 00:00:00 GMT"
    assert b"x-accel-buffering" not in names
    assert b"x-pad" not in names
    assert b"keep-alive" not in names
    assert names.count(b"set-cookie") == 2
    assert response.header("X-Custom") == "kept"
    assert response.header("Location") == f"http://localhost:{port}/next"
    assert relative.header("Location") == "/kept"


async def test_proxy_pass_header_server(proxy: ProxyFactory, app: AppFactory) -> None:
    upstream = await app("a")
    async with proxy(at(upstream.port, "proxy_pass_header Server;")) as server:
        response = await request(server.port(), "GET", "/headers")
    servers = [v for k, v in response.headers if k.lower() == b"server"]
    assert servers == [b"legacy/1.0"]


async def test_client_too_slow_with_its_body(
    proxy: ProxyFactory, app: AppFactory, autojump_clock: MockClock
) -> None:
    upstream = await app("a")
    text = conf(
        f"location / {{ proxy_pass http://127.0.0.1:{upstream.port}; }}",
        http="client_body_timeout 10s;",
    )
    async with proxy(text) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port())
        await stream.send_all(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc")
        started = trio.current_time()
        with trio.fail_after(30):
            assert await stream.receive_some(1000) == b""  # closed, nothing answered
        await stream.aclose()
    assert 10 <= trio.current_time() - started < 11
    assert upstream.connections == 0


async def test_a_client_that_goes_away_releases_the_upstream(
    proxy: ProxyFactory, app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "pushproxy")
    upstream = await app("a")
    async with proxy(at(upstream.port)) as server:
        client = await Client.connect(server.port())
        await client.send_request("GET", "/hang")
        await eventually(lambda: bool(upstream.requests))
        await client.aclose()
        await eventually(lambda: upstream.open_streams == 0)
    [line] = [r.getMessage() for r in caplog.records if "prematurely" in r.getMessage()]
    assert line.startswith("client prematurely closed connection while waiting for upstream")
    # nginx names the peer on every line about a try
    assert f'upstream: "http://127.0.0.1:{upstream.port}/hang"' in line


async def test_a_client_that_stops_reading_and_leaves_releases_the_upstream(
    proxy: ProxyFactory, app: AppFactory
) -> None:
    """The proxy is blocked writing a big response to a client that no longer reads; the
    client goes: the write ends and so does the upstream connection, with no timeout."""
    upstream = await app("a")
    async with proxy(at(upstream.port)) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port())
        await stream.send_all(b"GET /big?size=50000000 HTTP/1.1\r\nHost: a\r\n\r\n")
        first = await stream.receive_some(65536)
        await eventually(lambda: bool(upstream.requests))
        await trio.sleep(0.2)  # the socket buffers fill: the proxy's write waits
        await stream.aclose()
        await eventually(lambda: upstream.open_streams == 0)
    assert first.startswith(b"HTTP/1.1 200")


async def test_a_pipelined_request_is_not_taken_for_an_abort(
    proxy: ProxyFactory, app: AppFactory
) -> None:
    upstream = await app("a")
    async with proxy(at(upstream.port)) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port())
        # The second request arrives while the first waits on the upstream.
        await stream.send_all(
            b"GET /slow?ms=200 HTTP/1.1\r\nHost: a\r\n\r\n"
            b"GET /second HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
        received = b""
        with trio.fail_after(10):
            while chunk := await stream.receive_some(65536):
                received += chunk
        await stream.aclose()
    # The upstream app (h11) sends `HTTP/1.1 200 `, passed on as it is, as nginx does.
    assert received.count(b"HTTP/1.1 200 \r\n") == 2
    assert received.index(b"/slow") < received.index(b"/second")


async def test_unix_socket_upstream(proxy: ProxyFactory, app: AppFactory, tmp_path: object) -> None:
    path = f"{tmp_path}/app.sock"
    await app("u", unix=path)
    text = conf(f"location /u/ {{ proxy_pass http://unix:{path}:/; }}")
    async with proxy(text) as server:
        seen = echoed(await request(server.port(), "GET", "/u/x"))
    assert seen["target"] == "/x"
    assert ["Host", "localhost"] in seen["headers"]


async def test_default_upstream_serves_every_other_location(
    proxy: ProxyFactory, app: AppFactory
) -> None:
    upstream = await app("a")
    text = conf(
        """
        location /hello { return 200 "hi"; }
        location /static/ { }
        """
    )
    async with proxy(text, default_upstream=f"http://127.0.0.1:{upstream.port}") as server:
        port = server.port()
        hello = await request(port, "GET", "/hello")
        static = echoed(await request(port, "GET", "/static/a?b"))
        other = echoed(await request(port, "GET", "/nothing/matches"))
    assert hello.body == b"hi"
    assert static["target"] == "/static/a?b"
    assert other["target"] == "/nothing/matches"


async def test_proxy_pass_with_variables_names_an_upstream_block(
    proxy: ProxyFactory, app: AppFactory
) -> None:
    upstream = await app("a")
    text = conf(
        "location / { proxy_pass http://$arg_to; }",
        http=f"upstream backend {{ server 127.0.0.1:{upstream.port}; }}",
    )
    async with proxy(text) as server:
        found = echoed(await request(server.port(), "GET", "/p?to=backend"))
        unknown = await request(server.port(), "GET", "/p?to=nowhere.invalid")
    assert found["target"] == "/p?to=backend"
    assert ["Host", "backend"] in found["headers"]
    assert unknown.status == 502


async def test_add_header_on_proxied_responses(proxy: ProxyFactory, app: AppFactory) -> None:
    upstream = await app("a")
    extra = "add_header X-Added yes; add_header X-Always yes always;"
    text = conf(
        f"location / {{ proxy_pass http://127.0.0.1:{upstream.port}; {extra} }}"
        f"location /down/ {{ proxy_pass http://127.0.0.1:1/; {extra} }}"
    )
    async with proxy(text) as server:
        ok = await request(server.port(), "GET", "/x")
        assert ok.status == 200
        assert (ok.header("X-Added"), ok.header("X-Always")) == ("yes", "yes")
        failed = await request(server.port(), "GET", "/down/x")
        assert failed.status == 502
        assert (failed.header("X-Added"), failed.header("X-Always")) == (None, "yes")


async def test_errors_before_any_upstream_end_with_the_request_context(
    proxy: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """As nginx's error lines: `, client: ..., server: ..., request: "...", host: "..."`."""
    text = conf(
        "location /name/ { proxy_pass http://$arg_host; }"
        "location /empty/ { proxy_pass http://$arg_none; }"
    )
    async with proxy(text) as server:
        assert (await request(server.port(), "GET", "/name/?host=app.invalid")).status == 502
        referred = await request(server.port(), "GET", "/empty/", [("Referer", "http://r/")])
        assert referred.status == 500
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert lines[0].startswith("no resolver defined to resolve app.invalid, client: 127.0.0.1,")
    assert 'request: "GET /name/?host=app.invalid HTTP/1.1"' in lines[0]
    assert lines[0].endswith('host: "localhost"')
    # nginx ends the line with the request's Referer, when it has one
    assert 'request: "GET /empty/ HTTP/1.1"' in lines[1]
    assert lines[1].endswith('host: "localhost", referrer: "http://r/"')


FRAMED_TWICE = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (FRAMED_TWICE + b"2\r\nok\r\n0\r\n\r\n",
         'upstream sent "Content-Length" and "Transfer-Encoding" headers at the same time'),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nokk",
         'upstream sent duplicate header line: "Content-Length: 3", '
         'previous value: "Content-Length: 2"'),
        (b"HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 2\r\n\r\nok",
         'upstream sent invalid header: "X-A\\x20..."'),
    ],
    ids=["framed-twice", "two-lengths", "space-in-name"],
)  # fmt: skip
async def test_a_head_nginx_refuses_is_502_and_the_client_stays_in_step(
    proxy: ProxyFactory,
    app: AppFactory,
    caplog: pytest.LogCaptureFixture,
    wire: bytes,
    message: str,
) -> None:
    """Current nginx's checks: 502 and its error line, never a body read one way and announced
    another (the client would wait for bytes that never come, or take them as a response)."""
    upstream = await app("a")
    target = raw(wire)
    async with proxy(at(upstream.port)) as server:
        client = await Client.connect(server.port())
        refused = await client.request("GET", target)
        after = await client.request("GET", "/next")  # the same connection, still in step
        await client.aclose()
    assert refused.status == 502
    assert echoed(after)["target"] == "/next"
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == (
        f"{message} while reading response header from upstream, client: 127.0.0.1, "
        f'server: , request: "GET {target} HTTP/1.1", '
        f'upstream: "http://127.0.0.1:{upstream.port}{target}", host: "localhost"'
    )


async def test_one_content_type_reaches_the_client(proxy: ProxyFactory, app: AppFactory) -> None:
    """Of several Content-Types from an upstream, the first (as nginx 1.23+ keeps it)."""
    upstream = await app("a")
    wire = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/a\r\nX-A: 1\r\nContent-type: text/b\r\n"
        b"Content-Length: 2\r\n\r\nok"
    )
    async with proxy(at(upstream.port)) as server:
        client = await Client.connect(server.port())
        response = await client.request("GET", raw(wire))
        await client.aclose()
    assert [v for n, v in response.headers if n.lower() == b"content-type"] == [b"text/a"]
    assert response.header("X-A") == "1"


async def test_header_lines_pass_as_nginx_reads_them(proxy: ProxyFactory, app: AppFactory) -> None:
    upstream = await app("a")
    wire = (
        b"HTTP/1.1 200 OK\r\nX-NoColon\r\nContent-Type:\r\nX-Tab:\tv\r\nContent-Length: 2\r\n\r\nok"
    )
    async with proxy(at(upstream.port)) as server:
        client = await Client.connect(server.port())
        response = await client.request("GET", raw(wire))
        await client.aclose()
    assert response.status == 200
    assert response.body == b"ok"
    assert response.header("X-NoColon") == ""  # a name alone: an empty value
    assert b"\r\nX-NoColon: \r\n" in client.raw_received
    assert response.header("Content-Type") is None  # an empty one is left out
    assert b"\r\nX-Tab: \tv\r\n" in client.raw_received  # only spaces are dropped


async def test_a_head_response_is_never_framed_chunked(
    proxy: ProxyFactory, app: AppFactory
) -> None:
    upstream = await app("a")
    wire = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
    async with proxy(at(upstream.port)) as server:
        client = await Client.connect(server.port())
        head = await client.request("HEAD", raw(wire))
        after = await client.request("GET", "/next")
        old = await request(server.port(), "HEAD", raw(wire), http_version="1.0")
        await client.aclose()
    assert head.status == 200
    assert head.header("Transfer-Encoding") is None
    assert head.header("Connection") == "keep-alive"
    assert b"chunked" not in client.raw_received
    assert echoed(after)["target"] == "/next"
    assert old.header("Transfer-Encoding") is None
