"""`X-Accel-Redirect` against Debian's nginx: an upstream's answer naming a file, a URI or a
named location is replaced by what the server answers there, with the upstream's type, cookies,
disposition and caching headers kept, a GET in place of the client's method (HEAD stays),
`%` escapes decoded, `..` refused (404), `internal` locations reachable, ranges and
conditions applied to the file, and `proxy_ignore_headers X-Accel-Redirect` honoured."""

from __future__ import annotations

from pathlib import Path

from .conftest import AppFactory, ProxyFactory
from .nginx import at_app, needs_nginx
from .support import raw
from .test_static_oracle import TAG, assert_same, both

KEPT = (
    "Content-Type: application/x-kept\r\nSet-Cookie: sid=1; Path=/\r\n"
    "Content-Disposition: attachment; filename=notes.txt\r\nCache-Control: private\r\n"
    "Expires: Thu, 01 Jan 2037 00:00:00 GMT\r\nX-Dropped: yes\r\n"
)


def _answer(target: str, headers: str = "", status: str = "200 OK") -> str:
    """An upstream answer that hands the request back to the server."""
    redirect = f"X-Accel-Redirect: {target}\r\n"
    wire = f"HTTP/1.1 {status}\r\n{redirect}{headers}Content-Length: 4\r\n\r\nbody"
    return raw(wire.encode())


ANSWERS = {
    "file": _answer("/protected/notes.txt", KEPT),
    "plain": _answer("/protected/a.html"),
    "named": _answer("@named", "Set-Cookie: n=2\r\n"),
    "args": _answer("/show?x=1&y=2"),
    "escaped": _answer("/protected/a%2ehtml"),
    "unsafe": _answer("/protected/../notes.txt"),
    "missing": _answer("/protected/nothere"),
    "dir": _answer("/protected/sub/"),
    "status": _answer("/protected/a.html", status="404 Not Found"),
    "loop": _answer("/fetch/plain"),
    "ignored": _answer("/protected/a.html", "X-Other: 1\r\n"),
}
SERVER = """
location /protected/ { internal; alias WWW/; }
location = /show { return 200 "show $uri $args $request_method"; }
location @named { return 200 "named $uri $request_method"; }
""" + "".join(
    f"location = /fetch/{name} {{ proxy_pass http://APP{target}; "
    + ("proxy_ignore_headers X-Accel-Redirect; " if name == "ignored" else "")
    + "}\n"
    for name, target in ANSWERS.items()
)
ROWS = [
    "GET /fetch/file", "HEAD /fetch/file", "POST /fetch/file", "GET /fetch/plain",
    "GET /fetch/named", "POST /fetch/named", "GET /fetch/args", "POST /fetch/args",
    "GET /fetch/escaped", "GET /fetch/unsafe", "GET /fetch/missing", "GET /fetch/dir",
    "GET /fetch/status", "GET /fetch/loop", "GET /fetch/ignored", "GET /protected/a.html",
    "GET /fetch/file | Range: bytes=0-3", f"GET /fetch/file | If-None-Match: {TAG}",
]  # fmt: skip


@needs_nginx
async def test_accel_redirect_as_nginx_does(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path
) -> None:
    upstream = await app("app")
    server = at_app(SERVER, upstream)
    expected, got = await both(proxy, tmp_path, server, ROWS)
    assert expected["GET /fetch/file"].startswith(
        "200 OK | Content-Type: application/x-kept | Content-Length: 21 | Last-Modified:"
    )
    assert expected["POST /fetch/args"].endswith("b'show /show x=1&y=2 GET'")
    assert expected["GET /fetch/unsafe"].startswith("404 ")
    assert_same(expected, got)
