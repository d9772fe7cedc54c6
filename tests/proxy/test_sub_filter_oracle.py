"""`sub_filter` against Debian's nginx: the same answers (a `return`, a file, proxied bodies
whole and in pieces) come out with the same text replaced, letter case aside, once or
throughout, of the listed types only, and with the same headers (no length; `Last-Modified`
and `ETag` gone, or kept weak)."""

from __future__ import annotations

from pathlib import Path

from .conftest import AppFactory, ProxyFactory
from .nginx import at_app, needs_nginx, side_by_side
from .test_static_oracle import ask_row, assert_same, document_tree

HTML = "default_type text/html;"
SERVER = f"""
location /one {{ {HTML} sub_filter world there; return 200 "hello world, World, WORLD"; }}
location /all {{
    {HTML} sub_filter world there; sub_filter_once off; return 200 "hello world, World, WORLD";
}}
location /two {{
    {HTML} sub_filter_once off; sub_filter o 0; sub_filter hello bye;
    return 200 "hello world, hello";
}}
location /first {{
    {HTML} sub_filter hello bye; sub_filter hell heaven; return 200 "hello hell hello";
}}
location /vars {{ {HTML} sub_filter $arg_from "[$arg_to]"; return 200 "abc abc"; }}
location /plain {{ sub_filter world there; return 200 "hello world"; }}
location /typed {{ sub_filter_types text/plain; sub_filter world there; return 200 "hello world"; }}
location /file/ {{ alias WWW/; sub_filter "<p>" "<div>"; sub_filter_once off; }}
location /kept/ {{ alias WWW/; sub_filter "<p>" "<div>"; sub_filter_last_modified on; }}
location = /proxied {{ sub_filter etw E-T-W; sub_filter_types *; proxy_pass http://APP/chunked; }}
location = /whole {{ sub_filter app APP; sub_filter_types *; proxy_pass http://APP/typed; }}
"""
ROWS = [
    "GET /one", "GET /all", "GET /two", "GET /first", "GET /vars?from=B&to=x", "GET /vars",
    "GET /plain", "GET /typed", "GET /file/a.html", "HEAD /file/a.html", "GET /kept/a.html",
    "GET /file/notes.txt", "GET /proxied", "GET /whole?t=text/html", "GET /one HTTP/1.0",
]  # fmt: skip


def _dechunked(body: bytes) -> bytes:
    """A chunked body's bytes (where nginx and pushproxy cut the pieces differs)."""
    out = b""
    while body:
        size, _, rest = body.partition(b"\r\n")
        length = int(size, 16)
        out, body = out + rest[:length], rest[length + 2 :]
    return out


async def _observe(port: int, row: str) -> str:
    head, _, body = (await ask_row(port, row)).partition(b"\r\n\r\n")
    status, *fields = head.decode("latin-1").split("\r\n")
    kept = [f for f in fields if not f.startswith(("Server:", "Date:"))]
    if "Transfer-Encoding: chunked" in kept:
        body = _dechunked(body)
    return " | ".join([status, *kept, repr(body)])


@needs_nginx
async def test_sub_filter_as_nginx_does(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path
) -> None:
    upstream = await app("app")
    server = at_app(SERVER, upstream)
    www = str(document_tree(tmp_path))

    async def ask(port: int) -> dict[str, str]:
        return {row: (await _observe(port, row)).replace(www, "WWW") for row in ROWS}

    expected, got = await side_by_side(proxy, tmp_path, server.replace("WWW", www), ask)
    assert "hello there, World, WORLD" in expected["GET /one"]  # once, the first
    assert "| Transfer-Encoding: chunked |" in expected["GET /one"]
    assert_same(expected, got)
