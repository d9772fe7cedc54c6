"""The front door over real sockets: keep-alive, pipelining, limits, timeouts, bad requests."""

from __future__ import annotations

import logging
import socket
import struct

import pytest
import trio
import trio.testing
from conftest import ServeFactory
from helpers import Client, exchange_raw, request

from pushproxy.http.connection import HttpConnection
from pushproxy.http.dispatch import Dispatcher
from pushproxy.http.wire import Request

CONF = """
events {{ worker_connections {connections}; }}
http {{
    push_stream_shared_memory_size 32m;
    keepalive_timeout 5s;
    keepalive_requests 3;
    client_header_timeout 7s;
    large_client_header_buffers 4 1k;
    client_max_body_size 100;
    server {{
        listen 127.0.0.1:0;
        location /pub {{ push_stream_publisher; push_stream_channels_path $arg_id; }}
        location /hello {{ return 200 "hi"; }}
        location /big {{ client_max_body_size 1k; push_stream_publisher;
                         push_stream_channels_path $arg_id; }}
    }}
}}
"""


def conf(connections: int = 512) -> str:
    return CONF.format(connections=connections)


async def test_keep_alive_and_pipelining(serve: ServeFactory) -> None:
    async with serve(conf()) as server:
        port = server.port()
        pipelined = b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n" * 3
        received = await exchange_raw(port, pipelined)
        # keepalive_requests 3: three answers on one connection, then nginx closes it, and the
        # third answer says so
        assert received.count(b"HTTP/1.1 200 OK") == 3
        assert received.count(b"Connection: keep-alive") == 2
        assert received.count(b"Connection: close") == 1
        assert received.endswith(b"hi")


async def test_expect_continue_and_chunked_body(serve: ServeFactory) -> None:
    async with serve(conf()) as server:
        port = server.port()
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(
                b"POST /pub?id=c HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            interim = await stream.receive_some(1000)
            assert interim.startswith(b"HTTP/1.1 100 Continue\r\n")
            await stream.send_all(b"5\r\nhello\r\n0\r\n\r\n")
            with trio.fail_after(5):
                answer = await stream.receive_some(65536)
        assert answer.startswith(b"HTTP/1.1 200 OK")
        assert b'"published_messages": 1' in answer


async def test_head_and_limits(serve: ServeFactory) -> None:
    async with serve(conf()) as server:
        port = server.port()
        head = await request(port, "HEAD", "/nothing")
        assert (head.status, head.body) == (404, b"")
        too_big = await request(port, "POST", "/pub?id=c", body=b"x" * 101)
        assert too_big.status == 413
        assert b"<title>413 Request Entity Too Large</title>" in too_big.body
        fits = await request(port, "POST", "/big?id=c", body=b"x" * 1000)
        assert fits.status == 200
        long_line = b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: a\r\n\r\n"
        long_uri = await exchange_raw(port, long_line)
        assert long_uri.startswith(b"HTTP/1.1 414 ")
        long_header = await exchange_raw(
            port, b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"b" * 2000 + b"\r\n\r\n"
        )
        assert long_header.startswith(b"HTTP/1.1 400 ")
        assert b"<title>400 Request Header Or Cookie Too Large</title>" in long_header


async def test_malformed_request_gets_400_and_close(serve: ServeFactory) -> None:
    async with serve(conf()) as server:
        received = await exchange_raw(server.port(), b"NONSENSE\r\n\r\n")
        assert received.startswith(b"HTTP/1.1 400 ")
        assert b"Connection: close" in received


async def test_pipelined_posts_with_bodies_and_http10_keep_alive(serve: ServeFactory) -> None:
    async with serve(conf()) as server:
        publish = b"POST /pub?id=p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
        chunked = (
            b"POST /pub?id=p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n0\r\n\r\n"
        )
        no_host = b"GET /hello HTTP/1.1\r\n\r\n"
        received = await exchange_raw(server.port(), publish + chunked + no_host)
        # Two publishes answered on one connection, then the third request (no Host) is 400.
        assert received.count(b"HTTP/1.1 200 OK") == 2
        assert b'"published_messages": 2' in received
        assert received.count(b"HTTP/1.1 400 ") == 1
        # nginx keeps an HTTP/1.0 client that asks for keep-alive.
        ask = b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        received = await exchange_raw(server.port(), ask + b"GET /hello HTTP/1.0\r\n\r\n")
        assert received.count(b"HTTP/1.1 200 OK") == 2
        assert received.count(b"Connection: keep-alive") == 1
        assert received.count(b"Connection: close") == 1


async def test_bad_versions_and_encodings_get_nginx_statuses(serve: ServeFactory) -> None:
    async with serve(conf()) as server:
        for head, status in (
            (b"GET /hello HTTP/2.0\r\nHost: a\r\n\r\n", b"505"),
            (b"POST /pub?id=c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: br\r\n\r\n", b"501"),
            (b"GET /hello HTTP/1.1\r\nHost: a\r\nBroken header\r\n\r\n", b"400"),
        ):
            received = await exchange_raw(server.port(), head)
            assert received.startswith(b"HTTP/1.1 " + status + b" "), head
            assert b"Connection: close" in received


async def test_a_bad_chunked_body_is_400_and_closes_the_connection(serve: ServeFactory) -> None:
    async with serve(conf()) as server:
        received = await exchange_raw(
            server.port(),
            b"POST /pub?id=c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz\r\nhello\r\n0\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n",
        )
        assert received.startswith(b"HTTP/1.1 400 ")  # as nginx, when it reads the body
        assert b"Connection: close" in received
        assert b"hi" not in received  # nothing after the broken body is read as a request


async def test_trace_is_always_405_and_the_connection_goes_on(serve: ServeFactory) -> None:
    async with serve(conf()) as server:
        trace = b"TRACE /hello HTTP/1.1\r\nHost: a\r\n\r\n"
        then = b"GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        received = await exchange_raw(server.port(), trace + then)
        assert received.startswith(b"HTTP/1.1 405 ")
        assert received.endswith(b"hi")


async def test_a_request_without_version_is_answered_at_once(serve: ServeFactory) -> None:
    """HTTP/0.9 (`GET /` and its line end, no header follows): answered at once, the HTTP/0.9
    way (the body alone), then the connection ends."""
    async with serve(conf()) as server:
        assert await exchange_raw(server.port(), b"GET /hello\r\n") == b"hi"


KEEPALIVE_CONF = """
events {}
http {
    keepalive_timeout 0;
    server {
        listen 127.0.0.1:0;
        location /zero { return 200 "z"; }
        location /kept { keepalive_timeout 5s; keepalive_requests 2; return 200 "k"; }
    }
}
"""


async def test_keepalive_settings_of_the_location(serve: ServeFactory) -> None:
    """As nginx, the location's keepalive_timeout and keepalive_requests decide (0: close)."""
    async with serve(KEEPALIVE_CONF) as server:
        two = b"GET /zero HTTP/1.1\r\nHost: a\r\n\r\n" * 2
        received = await exchange_raw(server.port(), two)
        assert received.count(b"HTTP/1.1 200") == 1
        assert b"Connection: close" in received
        three = b"GET /kept HTTP/1.1\r\nHost: a\r\n\r\n" * 3
        received = await exchange_raw(server.port(), three)
        assert received.count(b"HTTP/1.1 200") == 2
        assert received.count(b"Connection: keep-alive") == 1
        assert received.count(b"Connection: close") == 1


async def test_keepalive_time_ends_a_connection_after_its_next_request(
    serve: ServeFactory, autojump_clock: trio.testing.MockClock
) -> None:
    """`keepalive_time`: past it since the connection opened, the next answer says close."""
    text = KEEPALIVE_CONF.replace("keepalive_timeout 0;", "keepalive_time 3s;")
    async with serve(text) as server:
        client = await Client.connect(server.port())
        first = await client.request("GET", "/kept")
        await trio.sleep(4)  # within the location's keepalive_timeout of 5 s
        second = await client.request("GET", "/kept")
        ended = await client.stream.receive_some(1)
        await client.aclose()
    assert dict(first.headers)[b"Connection"] == b"keep-alive"
    assert dict(second.headers)[b"Connection"] == b"close"
    assert ended == b""


async def test_length_and_chunked_together_is_400(serve: ServeFactory) -> None:
    async with serve(conf()) as server:
        received = await exchange_raw(
            server.port(),
            b"POST /pub?id=c HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        )
        assert received.startswith(b"HTTP/1.1 400 ")


async def test_an_error_page_after_a_head_request_has_its_body(serve: ServeFactory) -> None:
    """A HEAD answer has no body; the 400 for the next request on the connection has one."""
    async with serve(conf()) as server:
        received = await exchange_raw(
            server.port(), b"HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\nBROKEN\r\n\r\n"
        )
        head, _, rest = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        assert b"Content-Length: 2" in head
        error_head, _, page = rest.partition(b"\r\n\r\n")
        assert error_head.startswith(b"HTTP/1.1 400 ")
        length = int(error_head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        assert len(page) == length > 0
        assert b"<title>400 Bad Request</title>" in page


async def test_missing_host_on_http11_is_400(serve: ServeFactory) -> None:
    async with serve(conf()) as server:
        received = await exchange_raw(server.port(), b"GET /hello HTTP/1.1\r\n\r\n")
        assert received.startswith(b"HTTP/1.1 400 ")


async def _seconds_until_closed(stream: trio.SocketStream) -> float:
    """How long the server takes to close the connection, with nothing more sent."""
    start = trio.current_time()
    with trio.fail_after(60):
        assert await stream.receive_some(100) == b""
    return trio.current_time() - start


async def test_idle_keepalive_closes_keepalive_timeout_after_the_last_request(
    serve: ServeFactory, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.autojump_threshold = 0
    async with serve(conf()) as server:
        client = await Client.connect(server.port())
        assert (await client.request("GET", "/hello")).status == 200
        await trio.sleep(4)  # idle for less than 5 s: the first request's timeout passes ...
        assert (await client.request("GET", "/hello")).status == 200
        assert 5 <= await _seconds_until_closed(client.stream) < 6  # ... counted from here
        await client.aclose()


async def test_slow_request_head_times_out(
    serve: ServeFactory, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.autojump_threshold = 0
    async with serve(conf()) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port())
        await stream.send_all(b"GET /hello HTTP/1.1\r\n")  # and never the rest
        assert 7 <= await _seconds_until_closed(stream) < 8
        await stream.aclose()


async def test_worker_connections_caps_concurrent_connections(serve: ServeFactory) -> None:
    async with serve(conf(connections=2)) as server:
        port = server.port()
        first = await Client.connect(port)
        second = await Client.connect(port)
        assert (await first.request("GET", "/hello")).status == 200
        assert (await second.request("GET", "/hello")).status == 200
        third = await trio.open_tcp_stream("127.0.0.1", port)
        await third.send_all(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        with trio.fail_after(5):
            assert await third.receive_some(100) == b""  # dropped
        await third.aclose()
        await first.aclose()
        with trio.fail_after(5):  # until the server has seen the close, not a fixed sleep
            while server.connections >= 2:  # noqa: ASYNC110 (no event to wait on)
                await trio.sleep(0.001)
        assert (await request(port, "GET", "/hello")).status == 200
        await second.aclose()


async def test_a_listen_for_tls_is_served_as_plain_http_with_a_warning(
    serve: ServeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    text = (
        "events {}\nhttp { server { listen 127.0.0.1:0 ssl; ssl_certificate c.pem;\n"
        "ssl_certificate_key c.key; location / { return 204; } } }\n"
    )
    with caplog.at_level(logging.WARNING, logger="pushproxy"):
        async with serve(text) as server:
            assert (await request(server.port(), "GET", "/")).status == 204
    assert 'pushproxy serves plain HTTP/1.x on 127.0.0.1:0, not "ssl" in ' in caplog.text


async def test_server_tokens_off_hides_the_version(serve: ServeFactory) -> None:
    text = """events {}
http {
    server {
        listen 127.0.0.1:0;
        location / { return 204; }
        location /quiet { server_tokens off; return 204; }
    }
}
"""
    async with serve(text) as server:
        loud = await request(server.port(), "GET", "/")
        quiet = await request(server.port(), "GET", "/quiet")
    assert (loud.header("Server") or "").startswith("pushproxy/")
    assert quiet.header("Server") == "pushproxy"


@pytest.mark.parametrize(
    ("default", "named", "seen"),
    [
        ("merge_slashes off;", "", {"named": b"named //a//b", "other": b"default //a//b"}),
        ("", "merge_slashes off;", {"named": b"named /a/b", "other": b"default /a/b"}),
    ],
)
async def test_merge_slashes_is_the_default_servers(
    serve: ServeFactory, default: str, named: str, seen: dict[str, bytes]
) -> None:
    """nginx reads the request line with the address's default server, before `Host` picks
    one: its `merge_slashes` holds for every server there (as Debian's nginx answers)."""
    text = f"""events {{}}
http {{
    server {{ listen 127.0.0.1:0; {default} location / {{ return 200 "default $uri"; }} }}
    server {{ listen 127.0.0.1:0; server_name named; {named}
             location / {{ return 200 "named $uri"; }} }}
}}
"""
    async with serve(text) as server:
        for host, body in seen.items():
            answer = await exchange_raw(
                server.port(), f"GET //a//b HTTP/1.0\r\nHost: {host}\r\n\r\n".encode()
            )
            assert answer.endswith(b"\r\n\r\n" + body), answer


async def test_clients_that_reset_before_being_served_leave_the_server_serving(
    serve: ServeFactory,
) -> None:
    """A connection reset while it waits to be accepted has no peer address any more: it is
    dropped, as nginx drops it, and nothing else notices."""
    async with serve(conf()) as server:
        port = server.port()
        for _ in range(50):  # no checkpoint: all of them wait in the accept queue
            sock = socket.create_connection(("127.0.0.1", port))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()  # a reset
        await trio.sleep(0.1)
        answer = await request(port, "GET", "/hello")
        assert (answer.status, answer.body) == (200, b"hi")


async def test_a_fault_on_one_connection_leaves_the_others_served(
    serve: ServeFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever goes wrong outside a handler (which answers 500) ends that connection only,
    logged, as a crashed nginx worker would be replaced; the server keeps its clients."""
    real = HttpConnection.next_request
    faults = [RuntimeError("a bug")]

    async def faulty(conn: HttpConnection) -> Request | None:
        if faults:
            raise faults.pop()
        return await real(conn)

    async with serve(conf()) as server:
        port = server.port()
        monkeypatch.setattr(HttpConnection, "next_request", faulty)
        with caplog.at_level(logging.ERROR, logger="pushproxy"):
            assert await exchange_raw(port, b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n") == b""
        assert "unhandled error on a connection from 127.0.0.1" in caplog.text
        answer = await request(port, "GET", "/hello")
        assert (answer.status, answer.body) == (200, b"hi")


async def test_a_fault_in_a_handler_is_a_500_and_a_logged_traceback(
    serve: ServeFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def faulty(*_: object) -> None:
        raise RuntimeError("a bug")

    async with serve(conf()) as server:
        port = server.port()
        monkeypatch.setattr(Dispatcher, "dispatch", faulty)
        with caplog.at_level(logging.ERROR, logger="pushproxy"):
            answer = await request(port, "GET", "/hello?x=1")
        assert answer.status == 500
        assert "unhandled error for GET /hello?x=1" in caplog.text
        assert "RuntimeError: a bug" in caplog.text
