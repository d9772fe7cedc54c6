"""`return` answered as nginx 1.22 answers it, byte for byte (checked against /usr/sbin/nginx):
status lines, framing, types, redirect pages and absolute `Location`; `$request_length`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio
from conftest import ServeFactory
from helpers import exchange_raw
from proxy.nginx import needs_nginx, side_by_side

CONF = """
events {{}}
http {{
    default_type application/x-dflt;
    log_format rl '$request_length $status';
    server {{
        listen 127.0.0.1:0;
        server_name localhost first.example;
        access_log {dir}/rl.log rl;
        location = /r204t {{ return 204 "txt"; }}
        location = /r204 {{ return 204; }}
        location = /r200 {{ return 200; }}
        location = /r301 {{ return 301; }}
        location = /r418 {{ return 418; }}
        location = /r418t {{ return 418 "tea"; }}
        location = /r497 {{ return 497; }}
        location = /r408 {{ return 408; }}
        location = /r404e {{ return 404 ""; }}
        location = /rel {{ return 301 /target; }}
        location = /rel2 {{ return 302 target; }}
        location /t/ {{ return 200 "text"; }}
        location /typed/ {{ types {{ text/x-foo foo; }} return 200 "text"; }}
        location /named/ {{ server_name_in_redirect on; return 301 /x; }}
        location /noport/ {{ port_in_redirect off; return 301 /x; }}
        location /relative/ {{ absolute_redirect off; return 301 /x; }}
        location /slash/ {{ proxy_pass http://127.0.0.1:9; }}
    }}
}}
"""


async def _get(port: int, target: str, host: str = "localhost") -> bytes:
    request = f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    wire = await exchange_raw(port, request.encode())
    return re.sub(rb"(Server|Date): [^\r]*\r\n", b"", wire)  # the same in every answer


def _page(title: str) -> bytes:
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>pushproxy</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


def _head(line: str, *headers: str) -> bytes:
    return "".join(f"{h}\r\n" for h in (f"HTTP/1.1 {line}", *headers, "")).encode()


async def test_return_framing_and_status_lines(serve: ServeFactory, tmp_path: Path) -> None:
    async with serve(CONF.format(dir=tmp_path)) as server:
        port = server.port()
        close = "Connection: close"
        # 204: no type and no length, text or not.
        for target in ("/r204t", "/r204"):
            assert await _get(port, target) == _head("204 No Content", close)
        assert await _get(port, "/r200") == _head(
            "200 OK", "Content-Type: application/x-dflt", "Content-Length: 0", close
        )
        # A redirect without a URL: the page and an empty Location.
        page = _page("301 Moved Permanently")
        assert (
            await _get(port, "/r301")
            == _head(
                "301 Moved Permanently",
                "Content-Type: text/html",
                f"Content-Length: {len(page)}",
                close,
                "Location: ",
            )
            + page
        )
        # A code nginx has no text and no page for.
        assert await _get(port, "/r418") == _head("418 ", "Content-Length: 0", close)
        assert (
            await _get(port, "/r418t")
            == _head("418 ", "Content-Type: application/x-dflt", "Content-Length: 3", close)
            + b"tea"
        )
        wire = await _get(port, "/r497")
        assert wire.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert b"<title>400 The plain HTTP request was sent to HTTPS port</title>" in wire
        assert await _get(port, "/r408") == b""  # nginx closes without an answer
        assert (await _get(port, "/r404e")).endswith(_page("404 Not Found"))


async def test_return_content_type_by_extension(serve: ServeFactory, tmp_path: Path) -> None:
    async with serve(CONF.format(dir=tmp_path)) as server:
        port = server.port()
        expected = {
            "/t/a.html": b"text/html",
            "/t/a.HTML": b"text/html",
            "/t/a.jpg": b"image/jpeg",
            "/t/a.css": b"application/x-dflt",  # not one of nginx's built-in types
            "/t/a": b"application/x-dflt",
            "/t/a.js?x.png": b"application/x-dflt",
            "/typed/a.foo": b"text/x-foo",
            "/typed/a.html": b"application/x-dflt",  # a `types` block replaces the built-in
        }
        for target, content_type in expected.items():
            assert b"\r\nContent-Type: %b\r\n" % content_type in await _get(port, target)


@pytest.mark.parametrize(
    ("target", "host", "location"),
    [
        ("/rel", "localhost", "http://localhost:{port}/target"),
        ("/rel", "other:99", "http://other:{port}/target"),  # $host, the server's port
        ("/rel2", "localhost", "target"),
        ("/named/", "other", "http://localhost:{port}/x"),  # the server's first name
        ("/noport/", "other", "http://other/x"),
        ("/relative/", "other", "/x"),
        ("/slash", "other", "http://other:{port}/slash/"),  # the trailing-slash redirect
    ],
)
async def test_redirect_location_is_absolute(
    serve: ServeFactory, tmp_path: Path, target: str, host: str, location: str
) -> None:
    async with serve(CONF.format(dir=tmp_path)) as server:
        port = server.port()
        wire = await _get(port, target, host)
        code = b"302 Moved Temporarily" if target == "/rel2" else b"301 Moved Permanently"
        assert wire.startswith(b"HTTP/1.1 %b\r\n" % code)
        assert b"\r\nLocation: %b\r\n" % location.format(port=port).encode() in wire
        assert wire.endswith(_page("302 Found" if target == "/rel2" else code.decode()))


async def test_request_length_counts_what_was_received(serve: ServeFactory, tmp_path: Path) -> None:
    head = b"GET /t/a HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    post = b"POST /t/a HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\n"
    async with serve(CONF.format(dir=tmp_path)) as server:
        port = server.port()
        await exchange_raw(port, head)
        # blank lines before the request are not counted
        await exchange_raw(port, b"\r\n\r\n" + head)
        # A body `return` does not read (nginx discards it) is not counted; the pipelined
        # request after it is counted on its own.
        await exchange_raw(port, post + b"hello" + head)
    assert (tmp_path / "rl.log").read_text().splitlines() == [
        f"{len(head)} 200",
        f"{len(head)} 200",
        f"{len(post)} 200",
        f"{len(head)} 200",
    ]


# Own answers whose header order nginx's header filter decides: the fixed headers (type,
# length, a Location it made absolute), `Connection`, then the rest and the `add_header`s.
ORDERED = """
    location = /r301 { return 301; }
    location = /r418t { return 418 "tea"; }
    location = /rel { return 301 /target; }
    location = /rel2 { return 302 target; }
    location = /abs { return 302 http://other.example/x; }
    location /ah/ { add_header X-A a; add_header X-B b always; return 200 "text"; }
    location /ahr/ { add_header X-A a; return 302 /x; }
    location /ahe/ { add_header X-B b always; return 404; }
    location /noabs/ { absolute_redirect off; return 301 /x; }
    location /slash/ { proxy_pass http://127.0.0.1:9; }
    location /ka/ { keepalive_timeout 75s 20s; return 200 "kept"; }
    location /untyped/ { default_type ""; return 200 "no type"; }
    location /gz/ {
        gzip on; gzip_vary on; gzip_min_length 1; gzip_types text/plain;
        default_type text/plain; add_header X-A a; return 200 "compressed";
    }
"""


def _head_lines(wire: bytes, port: int) -> list[bytes]:
    """The head's lines as both servers write them: no Server or Date, the port as PORT and
    no length for the error pages (their footers name the server)."""
    head = wire.split(b"\r\n\r\n", 1)[0].replace(b":%d/" % port, b":PORT/").split(b"\r\n")
    page = b"Content-Type: text/html" in head
    drop = (b"Server:", b"Date:", b"Content-Length:" if page else b"Server:")
    return [line for line in head if not line.startswith(drop)]


async def _head_of(port: int, request: str) -> bytes:
    """The response head (a keep-alive connection stays open after it)."""
    with trio.fail_after(5):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(request.encode())
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = await stream.receive_some(65536)
                assert chunk, received
                received += chunk
    return received


@needs_nginx
async def test_header_order_as_nginx_writes_it(serve: ServeFactory, tmp_path: Path) -> None:
    targets = ["/r301", "/r418t", "/rel", "/rel2", "/abs", "/ah/", "/ahr/", "/ahe/", "/noabs/"]
    targets += ["/slash", "/untyped/", "/ka/", "/gz/"]

    async def heads(port: int) -> list[list[bytes]]:
        found = []
        for target in targets:
            for connection in ("close", "keep-alive"):
                request = (
                    f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: {connection}"
                    "\r\nAccept-Encoding: gzip"
                )
                found.append(_head_lines(await _head_of(port, request + "\r\n\r\n"), port))
        return found

    expected, answered = await side_by_side(serve, tmp_path, ORDERED, heads)
    assert answered == expected
    assert expected[-1][-4:] == [  # /gz/, kept alive: Vary after Connection, the coding last
        b"Connection: keep-alive",
        b"Vary: Accept-Encoding",
        b"X-A: a",
        b"Content-Encoding: gzip",
    ]
    assert expected[-3][-2:] == [b"Connection: keep-alive", b"Keep-Alive: timeout=20"]
    assert expected[-6][1:] == [b"Content-Length: 7", b"Connection: close"]  # no type at all
    assert expected[4][1:] == [  # /rel: the Location nginx made absolute, before Connection
        b"Content-Type: text/html",
        b"Location: http://localhost:PORT/target",
        b"Connection: close",
    ]


@needs_nginx
async def test_a_location_without_handler_answers_as_nginx_static(
    serve: ServeFactory, tmp_path: Path
) -> None:
    """No push, proxy or return: nginx's static handler with nothing to serve, 404 for GET,
    HEAD and POST, 405 for any other method."""
    methods = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "PROPFIND")

    async def statuses(port: int) -> list[bytes]:
        found = []
        for method in methods:
            for target in ("/empty/x", "/unmatched"):
                request = f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close"
                wire = await exchange_raw(port, (request + "\r\n\r\n").encode())
                found.append(wire.split(b"\r\n", 1)[0])
        return found

    expected, answered = await side_by_side(
        serve, tmp_path, "location /empty/ { }\nlocation = /x { return 200; }", statuses
    )
    assert answered == expected
    assert expected[:2] == [b"HTTP/1.1 404 Not Found"] * 2
    assert expected[6:8] == [b"HTTP/1.1 405 Not Allowed"] * 2


@needs_nginx
async def test_return_drops_the_body_received_with_the_head(
    serve: ServeFactory, tmp_path: Path
) -> None:
    """`return` drops the body before answering (ngx_http_discard_request_body()): what came
    with the head goes at once, so a broken chunk there is a 400; a whole body lets the
    pipelined request after it be served."""
    then = "GET /r HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    requests = [
        "POST /r HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "POST /r HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
        f"3\r\nabc\r\n0\r\n\r\n{then}",
        f"POST /r HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc{then}",
    ]

    async def statuses(port: int) -> list[list[bytes]]:
        found = []
        for request in requests:
            wire = await exchange_raw(port, request.encode())
            found.append(re.findall(rb"HTTP/1\.1 ([0-9]{3}) ", wire))
        return found

    expected, answered = await side_by_side(
        serve, tmp_path, 'location /r { return 200 "r"; }', statuses
    )
    assert answered == expected
    assert expected == [[b"400"], [b"200", b"200"], [b"200", b"200"]]
