"""Against Debian's nginx: pushproxy in front of nginx serving files, and nginx and pushproxy
side by side in front of the same upstream, sending it the same requests."""

from __future__ import annotations

import json
import logging
import re
import zlib
from pathlib import Path
from typing import Any

import pytest
from helpers import Client, Response, exchange_raw, request

from .conftest import AppFactory, ProxyFactory
from .nginx import needs_nginx, running_nginx
from .support import conf, raw, send_chunked
from .upstream_app import pattern_bytes

pytestmark = needs_nginx


async def test_static_files_from_nginx_through_the_proxy(
    proxy: ProxyFactory, tmp_path: Path
) -> None:
    www = tmp_path / "www"
    www.mkdir()
    big = pattern_bytes(2 * 1024 * 1024 + 5)
    (www / "big.bin").write_bytes(big)
    (www / "index.html").write_text("<p>home</p>")
    async with running_nginx(tmp_path, f"root {www};") as nginx_port:
        text = conf(f"location / {{ proxy_pass http://127.0.0.1:{nginx_port}; }}")
        async with proxy(text) as server:
            client = await Client.connect(server.port())
            whole = await client.request("GET", "/big.bin")
            head = await client.request("HEAD", "/big.bin")
            part = await client.request("GET", "/big.bin", [("Range", "bytes=100-199")])
            etag = whole.header("ETag") or ""
            cached = await client.request("GET", "/big.bin", [("If-None-Match", etag)])
            index = await client.request("GET", "/")
            missing = await client.request("GET", "/nope")
            await client.aclose()
    assert whole.status == 200
    assert whole.body == big
    assert whole.header("Content-Length") == str(len(big))
    assert whole.header("Last-Modified") is not None
    assert (whole.header("Server") or "").startswith("pushproxy")
    assert head.header("Content-Length") == str(len(big))
    assert head.body == b""
    assert part.status == 206
    assert part.body == big[100:200]
    assert part.header("Content-Range") == f"bytes 100-199/{len(big)}"
    assert cached.status == 304
    assert cached.body == b""
    assert index.body == b"<p>home</p>"
    assert missing.status == 404
    assert b"nginx" in missing.body  # nginx's own page, passed as it came


LOCATIONS = """
    location /plain/ {{ proxy_pass http://127.0.0.1:{port}; }}
    location /api/ {{ proxy_pass http://127.0.0.1:{port}/v2/; }}
    location /short {{ proxy_pass http://127.0.0.1:{port}/long/; }}
    location = /exact {{ proxy_pass http://127.0.0.1:{port}/other; }}
    location ~ ^/re/ {{ proxy_pass http://127.0.0.1:{port}; }}
    location /vars/ {{ proxy_pass http://127.0.0.1:{port}/fixed$is_args$args; }}
    location /set/ {{
        proxy_pass http://127.0.0.1:{port}/;
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header Accept-Encoding "";
        proxy_set_header X-Empty $arg_missing;
    }}
    location /bare/ {{
        proxy_pass http://127.0.0.1:{port};
        proxy_pass_request_headers off;
        proxy_set_header X-Only yes;
    }}
    location /keep/ {{
        proxy_pass http://127.0.0.1:{port};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
    }}
    location /method/ {{ proxy_pass http://127.0.0.1:{port}; proxy_method PUT; }}
    location /gz/ {{
        gzip on; gzip_types text/html; gzip_min_length 1; gzip_vary on; gzip_proxied any;
        proxy_pass http://127.0.0.1:{port};
        location /gz/own/ {{ default_type text/html; return 200 "compress me"; }}
    }}
    location /len/ {{
        proxy_pass http://127.0.0.1:{port};
        proxy_set_header X-Length $request_length;
    }}
    location /redirect/ {{ proxy_pass http://127.0.0.1:{port}/; }}
    location /cond/ {{
        proxy_pass http://127.0.0.1:{port}/base/;
        proxy_set_header X-Outer outer;
        if ($arg_flag) {{ add_header X-Flag yes; }}
    }}
    location /condpass/ {{
        proxy_pass http://127.0.0.1:{port}/base/;
        if ($arg_other) {{ proxy_pass http://127.0.0.1:{port}; }}
    }}
"""

REQUESTS: list[tuple[str, str, list[tuple[str, str]], bytes | None]] = [
    ("GET", "/plain/a/b?c=1&d", [("X-A", "1"), ("x-a", "2")], None),
    ("GET", "/plain/a%20b//c/../d?x", [], None),
    ("GET", "/api/users/7?fields=name", [("Accept", "*/*")], None),
    ("GET", "/api/a%2Fb/%7Euser/x%3Fy", [], None),
    ("GET", "/api//double//slash", [], None),
    ("GET", "/short/x", [], None),
    ("GET", "/shortcut", [], None),
    ("GET", "/exact?q=1", [], None),
    ("GET", "/re/any/thing?x", [], None),
    ("GET", "/vars/ignored?k=v", [], None),
    ("GET", "/vars/ignored", [], None),
    (
        "GET",
        "/set/x",
        [
            ("X-Forwarded-For", "203.0.113.7"),
            ("Accept-Encoding", "gzip"),
            ("X-Empty", "from client"),
            ("Cookie", "a=1"),
        ],
        None,
    ),
    ("GET", "/bare/x", [("X-A", "1")], None),
    (
        "GET",
        "/keep/x",
        [
            ("Connection", "keep-alive"),
            ("Keep-Alive", "300"),
            ("TE", "trailers"),
            ("Upgrade", "h2c"),
            ("Proxy-Connection", "keep-alive"),
        ],
        None,
    ),
    ("POST", "/plain/form", [("Content-Type", "application/x-www-form-urlencoded")], b"a=1&b=2"),
    ("POST", "/plain/empty", [], b""),
    ("POST", "/plain/chunked", [("Transfer-Encoding", "chunked")], pattern_bytes(40_000)),
    ("PATCH", "/keep/small-chunked", [("Transfer-Encoding", "chunked")], b"tiny"),
    ("PUT", "/keep/put", [("Expect", "100-continue")], b"payload"),
    ("GET", "/method/x", [], None),
    # the request's bytes read by then: its head, and its body once read
    ("GET", "/len/x", [("X-A", "1")], None),
    ("POST", "/len/form", [], b"a=1&b=2"),
    ("POST", "/len/chunked", [("Transfer-Encoding", "chunked")], pattern_bytes(1000)),
    ("HEAD", "/plain/head", [], None),
    ("DELETE", "/plain/thing", [], None),
    ("GET", "/cond/x?flag=1", [], None),
    ("GET", "/cond/x", [], None),
    ("GET", "/condpass/x?other=1", [], None),
    ("GET", "/condpass/x", [], None),
]


async def _send(
    port: int, method: str, target: str, headers: list[tuple[str, str]], body: bytes | None
) -> Response:
    chunked = ("Transfer-Encoding", "chunked")
    if chunked not in headers:
        return await request(port, method, target, headers, body)
    client = await Client.connect(port)
    try:
        rest = [h for h in headers if h != chunked]
        return await send_chunked(client, method, target, body or b"", rest)
    finally:
        await client.aclose()


def _seen(response: Response, method: str) -> dict[str, Any]:
    assert response.status == 200, response.body[:200]
    if method == "HEAD":
        return {"status": response.status}
    data: dict[str, Any] = json.loads(response.body)
    del data["app"]
    return data


async def test_the_upstream_gets_what_nginx_sends(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path
) -> None:
    upstream = await app("a")
    locations = LOCATIONS.format(port=upstream.port)
    async with running_nginx(tmp_path, locations) as nginx_port, proxy(conf(locations)) as server:
        for method, target, headers, body in REQUESTS:
            theirs = await _send(nginx_port, method, target, headers, body)
            ours = await _send(server.port(), method, target, headers, body)
            got_theirs = upstream.requests[-2]
            got_ours = upstream.requests[-1]
            assert (got_ours.method, got_ours.target) == (got_theirs.method, got_theirs.target)
            assert got_ours.http_version == got_theirs.http_version, target
            assert got_ours.headers == got_theirs.headers, target
            assert got_ours.body == got_theirs.body, target
            assert _seen(ours, method) == _seen(theirs, method), target


async def test_responses_match_nginx(proxy: ProxyFactory, app: AppFactory, tmp_path: Path) -> None:
    upstream = await app("a")
    locations = LOCATIONS.format(port=upstream.port)
    own = f"http://127.0.0.1:{upstream.port}"
    targets = [
        f"/redirect/headers?status=302&location={own}/next",
        "/redirect/headers?status=301&location=/relative",
        "/plain/headers?location=http://elsewhere/x",
        "/plain/chunked",
        "/plain/status/503",
        "/plain/close-delimited",
        # the upstream's own order after nginx's fixed headers, Last-Modified included
        "/plain"
        + raw(
            b"HTTP/1.1 200 OK\r\nETag: \"e\"\r\nX-A: 1\r\n"
            b"Last-Modified: Thu, 01 Jan 1970 00:00:01 GMT\r\nContent-Length: 2\r\n"
            b"Content-Type: text/plain\r\n\r\nok"
        ),
    ]
    async with running_nginx(tmp_path, locations) as nginx_port, proxy(conf(locations)) as server:
        for target in targets:
            theirs = await request(nginx_port, "GET", target)
            ours = await request(server.port(), "GET", target)
            assert ours.status == theirs.status, target
            assert ours.body == theirs.body, target
            assert _names(ours) == _names(theirs), target
            location = (theirs.header("Location") or "").replace(
                f":{nginx_port}/", f":{server.port()}/"
            )
            assert ours.header("Location") == (location or None), target


def _names(response: Response) -> list[str]:
    """Header names, in order."""
    return [name.decode().lower() for name, _ in response.headers]


_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
# Upstream heads whose reading has not changed from nginx 1.22 to 1.26.
HEADS = [
    ("GET", _OK + b"X-NoColon\r\n\r\nok"),
    ("GET", _OK + b"X-Tab:\t1\t\r\nX-Spaces:  a b  \r\n\r\nok"),
    ("GET", _OK + b"Content-Type:\r\nX-Empty:\r\n\r\nok"),
    ("GET", _OK + b"X-Crs: 1\r\r\n\r\nok"),
    ("GET", _OK + b"HTTP/1.1 200 OK\r\nX-After: 1\r\n\r\nok"),
    ("GET", _OK + b"X-A : 1\r\n\r\nok"),
    ("GET", _OK + b"X-A\t: 1\r\n\r\nok"),
    ("GET", _OK + b"X-A: 1\rZ\r\n\r\nok"),
    ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"),
]


def _head_lines(wire: bytes) -> list[bytes]:
    """The response head's lines but the ones that differ by server or by connection (Server,
    Date, Connection), in order."""
    head = wire.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    skip = (b"server:", b"date:", b"connection:")
    return [line for line in head if not line.lower().startswith(skip)]


def _invalid(text: str) -> list[str]:
    return re.findall(r"upstream sent invalid header: \"[^\n]*?\.\.\.\"", text)


async def test_upstream_heads_read_as_nginx_reads_them(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    upstream = await app("a")
    locations = LOCATIONS.format(port=upstream.port)
    async with running_nginx(tmp_path, locations) as nginx_port, proxy(conf(locations)) as server:
        answered_ok = 0
        for method, wire in HEADS:
            seen = []
            for port in (nginx_port, server.port()):
                client = await Client.connect(port)
                response = await client.request(method, "/plain" + raw(wire))
                await client.aclose()
                seen.append((response.status, bytes(client.raw_received)))
            (theirs, their_wire), (ours, our_wire) = seen
            assert ours == theirs, wire
            if theirs == 200:
                answered_ok += 1
                assert _head_lines(our_wire) == _head_lines(their_wire), wire
        assert answered_ok >= 5  # most heads are read, and their lines compared
    ours_logged = _invalid("\n".join(r.getMessage() for r in caplog.records))
    theirs_logged = _invalid((tmp_path / "nginx" / "error.log").read_text(errors="replace"))
    assert ours_logged == theirs_logged
    assert len(ours_logged) == 3
    assert logging.ERROR in {r.levelno for r in caplog.records}


_GZ_UPSTREAM = raw(
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 11\r\n"
    b'ETag: "abc"\r\nAccept-Ranges: bytes\r\nX-After: 1\r\n\r\ncompress me'
)


def _gz_answer(wire: bytes) -> tuple[list[bytes], bytes]:
    """The head's lines but Server and Date, and the body, de-chunked and decompressed."""
    head, _, body = wire.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.startswith((b"Server:", b"Date:"))]
    if b"Transfer-Encoding: chunked" in lines:
        data = b""
        while body:
            size, _, body = body.partition(b"\r\n")
            if not int(size, 16):
                break
            data, body = data + body[: int(size, 16)], body[int(size, 16) + 2 :]
        body = data
    if b"Content-Encoding: gzip" in lines and body:
        body = zlib.decompress(body, 31)
    return lines, body


async def test_gzip_as_nginx_applies_it(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path
) -> None:
    """gzip on proxied and own answers: Vary whenever the answer may be compressed (whatever
    the client takes), compression only for a client that takes it, and on a compressed
    upstream answer no Accept-Ranges and a weak ETag."""
    upstream = await app("a")
    locations = LOCATIONS.format(port=upstream.port)
    cases = [
        (method, target, version, accept)
        for target in ("/gz" + _GZ_UPSTREAM, "/gz/own/x")
        for method in ("GET", "HEAD")
        for version in ("1.1", "1.0")
        for accept in ("gzip", "gzip;q=0", "identity", "")
    ]
    seen = {}
    async with running_nginx(tmp_path, locations) as nginx_port, proxy(conf(locations)) as server:
        for method, target, version, accept in cases:
            request_head = f"{method} {target} HTTP/{version}\r\nHost: localhost\r\n"
            if accept:
                request_head += f"Accept-Encoding: {accept}\r\n"
            wire = (request_head + "Connection: close\r\n\r\n").encode()
            theirs = _gz_answer(await exchange_raw(nginx_port, wire))
            ours = _gz_answer(await exchange_raw(server.port(), wire))
            assert ours == theirs, wire
            seen[method, target, version, accept] = theirs
    # What nginx does, so that the comparison cannot pass by both doing nothing.
    lines, body = seen["GET", "/gz" + _GZ_UPSTREAM, "1.1", "gzip"]
    assert (b"Content-Encoding: gzip" in lines, body) == (True, b"compress me")
    assert b'ETag: W/"abc"' in lines
    assert b"Accept-Ranges: bytes" not in lines
    lines, body = seen["GET", "/gz" + _GZ_UPSTREAM, "1.1", "identity"]
    assert b"Vary: Accept-Encoding" in lines
    assert b"Content-Encoding: gzip" not in lines
    assert b'ETag: "abc"' in lines
    assert b"Accept-Ranges: bytes" in lines
