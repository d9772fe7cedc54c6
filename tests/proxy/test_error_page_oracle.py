"""`error_page` against Debian's nginx: the same configuration served by nginx, then by
pushproxy; the same requests get the same status, `Location` and body from both, whether the
page is a named location, a URI (a GET there, with its own arguments), or a redirect, with
and without `=` and `=CODE`, for the proxy's 502, the static handler's 404, an access
refusal, a `return CODE;` and a limit's 503."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import AppFactory, ProxyFactory
from .nginx import at_app, needs_nginx, side_by_side
from .support import conf, connect_from, read_to_end

DOWN = "proxy_pass http://127.0.0.1:1;"  # nothing listens there: 502
ON = "proxy_intercept_errors on;"
HTTP = "limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;"
SERVER = f"""
location /a {{ {DOWN} error_page 502 = @down; }}
location /b {{ {DOWN} error_page 502 @down; }}
location /c {{ {DOWN} error_page 500 502 =200 @down; }}
location /d {{ error_page 404 /fallback?x=1; }}
location /fallback {{ return 200 "fb $args $request_method $uri $request_uri"; }}
location /e {{ deny all; error_page 403 http://example.com/denied; {DOWN} }}
location /f {{ deny all; error_page 403 =301 http://example.com/denied; {DOWN} }}
location /g {{ {DOWN} error_page 502 /nothing; }}
location /h {{ return 404; error_page 404 =200 @ok; }}
location /i {{ return 404 "text"; error_page 404 =200 @ok; }}
location /j {{ error_page 404 = /fallback; }}
location /k {{ limit_req zone=one; error_page 503 =429 @ok; {DOWN} }}
location /l {{ error_page 404 /int/; }}
location /int/ {{ internal; return 200 "internal $uri"; }}
location /m {{ error_page 404 @nowhere; }}
location /n {{ error_page 404 /n2; }}
location /n2 {{ error_page 404 /n3; }}
location /o {{ proxy_pass http://APP/status/404; {ON} error_page 404 @ok; }}
location /p {{ proxy_pass http://APP/status/404; error_page 404 @ok; }}
location /q {{ proxy_pass http://APP/status/418; {ON} error_page 404 @ok; }}
location /r {{ proxy_pass http://APP/status/301; {ON} error_page 301 =200 /fallback; }}
location /s1 {{ recursive_error_pages on; error_page 404 /s2; }}
location /s2 {{ recursive_error_pages on; error_page 404 =200 /fallback; }}
location /t1 {{ error_page 404 /t2; }}
location /t2 {{ recursive_error_pages on; error_page 404 /fallback; }}
location /u1 {{ recursive_error_pages on; error_page 404 /u2; }}
location /u2 {{ recursive_error_pages on; error_page 404 /u2x; }}
location @down {{ return 503 "down"; }}
location @ok {{ return 200 "ok $uri"; }}
"""
REQUESTS = [
    ("GET", t) for t in ("/a", "/b", "/c", "/d?q=2", "/e", "/f", "/g", "/h", "/i", "/j")
] + [("GET", "/k"), ("GET", "/k"), ("POST", "/d"), ("HEAD", "/d"), ("GET", "/l"),
     ("GET", "/m"), ("GET", "/n"), ("GET", "/o"), ("GET", "/p"), ("GET", "/q"),
     ("GET", "/r"), ("GET", "/s1"), ("GET", "/t1"), ("GET", "/u1")]  # fmt: skip


async def _observe(port: int, method: str, target: str) -> str:
    stream = await connect_from("127.0.0.1", port)
    body = b"x" if method == "POST" else b""
    head = f"{method} {target} HTTP/1.0\r\nHost: h\r\nContent-Length: {len(body)}\r\n\r\n"
    await stream.send_all(head.encode() + body)
    head_bytes, _, received = (await read_to_end(stream)).partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    location = [line for line in lines if line.startswith("Location")]
    page = received.decode() if not received.startswith(b"<html>") else "(nginx's page)"
    return " | ".join([lines[0].split(" ", 1)[1], *location, page])


@needs_nginx
async def test_error_page_as_nginx_does(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path
) -> None:
    upstream = await app("app")
    text = at_app(SERVER, upstream)

    async def ask(port: int) -> list[str]:
        return [await _observe(port, method, target) for method, target in REQUESTS]

    expected, got = await side_by_side(proxy, tmp_path, text, ask, http=HTTP)
    assert expected[0] == "503 Service Temporarily Unavailable | down"
    assert expected[-7] == "404 Not Found | ok /o"  # intercepted
    assert expected[-6].endswith("| status 404 from app")  # passed on
    assert expected[-3].startswith("200 OK | fb")  # recursive error pages
    assert expected[-1].startswith("500 ")  # ...within nginx's ten redirects
    assert got == expected


@pytest.mark.parametrize("status", [502, 504])
async def test_an_upstream_failure_is_not_an_error_page_twice(
    proxy: ProxyFactory, status: int
) -> None:
    text = f"location / {{ {DOWN} error_page {status} 502 /again; }} location /again {{ {DOWN} }}"
    async with proxy(conf(text)) as server:
        assert (await _observe(server.port(), "GET", "/")).startswith("502 Bad Gateway |")
