"""`charset` and `charset_types` against Debian's nginx: the same configuration served by
nginx, then by pushproxy; our own answers, error pages, push responses and proxied ones get the
same `Content-Type`."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from .conftest import AppFactory, ProxyFactory
from .nginx import at_app, needs_nginx, side_by_side
from .support import connect_from, read_to_end

SERVER = """
charset utf-8;
location /text { return 200 "x"; }
location /missing { return 404; }
location /octets { default_type application/octet-stream; return 200 "x"; }
location /off { charset off; return 200 "x"; }
location /json { charset_types application/json; proxy_pass http://APP/typed; }
location /all { charset_types *; default_type application/octet-stream; return 200 "x"; }
location /koi { charset koi8-r; return 200 "x"; }
location /up/ { proxy_pass http://APP/typed; }
"""
TYPES = ["text/html", "text/html; charset=iso-8859-1", "text/html;charset=x", "application/json",
         "text/plain", "application/javascript", "text/css", "TEXT/HTML", ""]  # fmt: skip
TARGETS = ["/text", "/missing", "/octets", "/off", "/all", "/koi"]
TARGETS += [f"/json?t={quote(t)}" for t in ("application/json", "text/html")]
TARGETS += [f"/up/?t={quote(t)}" for t in TYPES]
TARGETS += ["/up/?t=text/html&e=gzip", "/up/?t=text/plain&e=br"]


async def _content_type(port: int, target: str) -> str:
    stream = await connect_from("127.0.0.1", port)
    await stream.send_all(f"GET {target} HTTP/1.0\r\nHost: h\r\n\r\n".encode())
    head = (await read_to_end(stream)).partition(b"\r\n\r\n")[0].decode("latin-1")
    found = [line for line in head.split("\r\n") if line.lower().startswith("content-type")]
    return f"{head.split(' ')[1]} {found}"


@needs_nginx
async def test_charset_as_nginx_sets_it(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path
) -> None:
    upstream = await app("app")
    text = at_app(SERVER, upstream)

    async def ask(port: int) -> list[str]:
        return [await _content_type(port, target) for target in TARGETS]

    expected, got = await side_by_side(proxy, tmp_path, text, ask)
    assert expected[0] == "200 ['Content-Type: text/plain; charset=utf-8']"
    assert got == expected
