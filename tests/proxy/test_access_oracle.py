"""`allow`, `deny` and `limit_except` against Debian's nginx: the same configuration served by
nginx, then by pushproxy; clients from several addresses of 127.0.0.0/8, with several methods,
get the same statuses from both. Plus what only pushproxy can show: the error line, a push
publisher behind the rules, and `check`'s findings."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pushproxy.config.check import check_file

from .conftest import AppFactory, ProxyFactory
from .nginx import at_app, needs_nginx, side_by_side
from .support import conf, connect_from, read_to_end

SOURCES = ("127.0.0.1", "127.0.0.2", "127.0.1.9", "127.9.0.1")
METHODS = ("GET", "HEAD", "POST", "DELETE")

PASS = "proxy_pass http://APP;"  # a content handler: the access phase comes before it
CASES = {
    "allow-one-deny-all": f"location / {{ allow 127.0.0.1; deny all; {PASS} }}",
    "deny-network-allow-all": f"location / {{ deny 127.0.0.0/24; allow all; {PASS} }}",
    "first-match-wins": f"location / {{ allow 127.0.0.2; deny 127.0.0.0/8; allow all; {PASS} }}",
    "low-bits": f"location / {{ allow 127.0.0.9/24; deny all; {PASS} }}",
    "ipv6-rules-only": f"location / {{ deny ::1; {PASS} }}",
    "server-level": f"allow 127.0.0.1; deny all; location / {{ {PASS} }}",
    "location-replaces-server": f"deny all; location / {{ allow 127.0.0.2; deny all; {PASS} }}",
    "nested-inherits": f"location /a/ {{ deny 127.0.0.2; location /a/b/ {{ {PASS} }} }}",
    "if-inherits": f"location / {{ deny 127.0.0.2; if ($request_method) {{ set $x 1; }} {PASS} }}",
    "return-comes-first": "location / { deny all; return 204; }",
    "limit-except": f"location / {{ limit_except GET {{ allow 127.0.0.1; deny all; }} {PASS} }}",
    "limit-except-inherits": f"location / {{ deny 127.0.0.2; limit_except GET POST {{ }} {PASS} }}",
    "limit-except-lower-case": f"location / {{ limit_except post {{ deny all; }} {PASS} }}",
    "rewrite-into-denied": (
        "location /open/ { rewrite ^/open/(.*)$ /closed/$1 last; } "
        f"location /closed/ {{ deny all; {PASS} }} location / {{ {PASS} }}"
    ),
}
# What each case requests (the rest of the cases ask for `/`).
TARGETS = {"nested-inherits": "/a/b/", "rewrite-into-denied": "/open/x"}


async def _status(port: int, source: str, method: str, target: str) -> int:
    stream = await connect_from(source, port)
    body = b"x" if method in ("POST", "DELETE") else b""
    head = f"{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
    await stream.send_all(head.encode() + b"Content-Length: %d\r\n\r\n%b" % (len(body), body))
    return int((await read_to_end(stream)).split(b" ", 2)[1])


async def _statuses(port: int, target: str) -> dict[str, int]:
    return {
        f"{method} from {source}": await _status(port, source, method, target)
        for source in SOURCES
        for method in METHODS
    }


@needs_nginx
@pytest.mark.parametrize("name", list(CASES))
async def test_access_as_nginx_does(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path, name: str
) -> None:
    upstream = await app("app")
    body = at_app(CASES[name], upstream)
    target = TARGETS.get(name, "/")
    expected, got = await side_by_side(proxy, tmp_path, body, lambda p: _statuses(p, target))
    assert (403 in expected.values()) == (name not in ("ipv6-rules-only", "return-comes-first"))
    assert got == expected


PUBLISHER = """
location /pub {
    push_stream_publisher admin;
    push_stream_channels_path $arg_id;
    allow 127.0.0.1;
    deny all;
}
"""


async def test_a_publisher_behind_the_rules(
    proxy: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="pushproxy"):
        async with proxy(conf(PUBLISHER, http="push_stream_shared_memory_size 32m;")) as server:
            port = server.port()
            assert await _status(port, "127.0.0.1", "POST", "/pub?id=a") == 200
            assert await _status(port, "127.0.0.2", "POST", "/pub?id=a") == 403
            assert await _status(port, "127.0.0.2", "DELETE", "/pub?id=a") == 403
    assert (
        'access forbidden by rule, client: 127.0.0.2, server: , request: "POST /pub?id=a '
        'HTTP/1.1", host: "t"'
    ) in caplog.text


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("allow 10.0.0.0/33;", "E106", 'invalid parameter "10.0.0.0/33"'),
        ("deny bogus;", "E106", 'invalid parameter "bogus"'),
        ("allow 10.1.2.3/8;", "N403", "low address bits of 10.1.2.3/8 are meaningless"),
        ("deny fe80::1/10;", "N403", "low address bits of fe80::1/10 are meaningless"),
        ("limit_except GET TRACE { deny all; }", "E106", 'invalid method "TRACE"'),
    ],
)
def test_check_judges_rules_as_nginx_does(
    tmp_path: Path, text: str, code: str, message: str
) -> None:
    path = tmp_path / "nginx.conf"
    path.write_text(f"events {{}}\nhttp {{ server {{ location / {{ {text} }} }} }}\n")
    found = [(d.code, d.message) for d in check_file(str(path)).diagnostics if d.code != "N401"]
    assert found == [(code, message)]
