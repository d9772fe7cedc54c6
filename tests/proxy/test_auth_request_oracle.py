"""`auth_request` against Debian's nginx: the subrequest's answer lets the request in (2xx),
refuses it (401 with its `WWW-Authenticate` headers, 403) or fails it (500); with
`satisfy any` an `allow` suffices and a 401 wins over a 403; `auth_request_set` keeps the
subrequest's values; `error_page` takes over the refusals; the authorization service gets a
GET with the client's headers and no body."""

from __future__ import annotations

from pathlib import Path

from .conftest import AppFactory, ProxyFactory
from .nginx import at_app, needs_nginx
from .support import raw
from .test_static_oracle import assert_same, both


def _answer(status: str, headers: str = "") -> str:
    return raw(f"HTTP/1.1 {status}\r\n{headers}Content-Length: 0\r\n\r\n".encode())


# (lowercase: the document tree stands for WWW in the configuration)
CHALLENGES = 'www-authenticate: Bearer realm="api"\r\nwww-authenticate: Basic realm="x"\r\n'
SERVICE = {
    "ok": _answer("200 OK", "X-User: alice\r\nX-Role: admin\r\n"),
    "created": _answer("201 Created"),
    "deny": _answer("403 Forbidden"),
    "challenge": _answer("401 Unauthorized", CHALLENGES),
    "bare401": _answer("401 Unauthorized"),
    "boom": _answer("500 Internal Server Error"),
    "moved": _answer("302 Found", "Location: /login\r\n"),
}
SERVER = (
    "".join(
        f"location = /auth/{name} {{ internal; proxy_pass http://APP{target}; }}\n"
        for name, target in SERVICE.items()
    )
    + """
location = /auth/echo {
    internal;
    proxy_pass http://APP/seen;
    proxy_pass_request_body off;
    proxy_set_header Content-Length "";
    proxy_set_header X-Original-URI $request_uri;
}
location = /auth/down { internal; proxy_pass http://127.0.0.1:1; }
location = /auth/local { return 204; }
location = /auth/nofile { root WWW; }
location /ok/ {
    alias WWW/;
    auth_request /auth/ok;
    auth_request_set $user $upstream_http_x_user;
    auth_request_set $who "$upstream_http_x_role/$upstream_status";
    add_header X-Seen "$user $who $uri";
}
location /created/ { auth_request /auth/created; alias WWW/; }
location /deny/ { auth_request /auth/deny; alias WWW/; }
location /challenge/ { auth_request /auth/challenge; alias WWW/; }
location /bare/ { auth_request /auth/bare401; alias WWW/; }
location /boom/ { auth_request /auth/boom; alias WWW/; }
location /moved/ { auth_request /auth/moved; alias WWW/; }
location /down/ { auth_request /auth/down; alias WWW/; }
location /local/ { auth_request /auth/local; alias WWW/; }
location /nofile/ { auth_request /auth/nofile; alias WWW/; }
location /echo/ { auth_request /auth/echo; alias WWW/; }
location /anyallow/ { satisfy any; allow 127.0.0.1; deny all; auth_request /auth/deny; alias WWW/; }
location /anyok/ { satisfy any; deny all; auth_request /auth/ok; alias WWW/; }
location /anyboth/ { satisfy any; deny all; auth_request /auth/challenge; alias WWW/; }
location /alldeny/ { deny all; auth_request /auth/ok; alias WWW/; }
location /page/ { auth_request /auth/challenge; error_page 401 = @login; alias WWW/; }
location @login { return 200 "login $uri"; }
location /proxied/ { auth_request /auth/ok; proxy_pass http://APP/status-free/; }
location /inherit/ {
    auth_request /auth/deny;
    location /inherit/off/ { auth_request off; alias WWW/; }
    location /inherit/on/ { alias WWW/; }
}
"""
)
ROWS = [
    f"{method} /{where}/a.html"
    for where in ("ok", "created", "deny", "challenge", "bare", "boom", "moved", "down", "local",
                  "nofile", "anyallow", "anyok", "anyboth", "alldeny", "page", "inherit/off",
                  "inherit/on", "proxied")
    for method in ("GET", "HEAD")
] + ["GET /ok/missing", "GET /echo/a.html?q=1", "POST /echo/a.html"]


@needs_nginx
async def test_auth_request_as_nginx_does(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path
) -> None:
    upstream = await app("app")
    server = at_app(SERVER, upstream)
    expected, got = await both(proxy, tmp_path, server, ROWS)
    assert "| X-Seen: alice admin/200 /ok/a.html |" in expected["GET /ok/a.html"]
    assert expected["GET /challenge/a.html"].startswith(
        '401 Unauthorized | Content-Type: text/html | Content-Length: (page) | Connection: close'
        ' | www-authenticate: Bearer realm="api" | (page)'
    )
    assert expected["GET /boom/a.html"].startswith("500 ")
    assert_same(expected, got)
    # What the service saw, from nginx and then from pushproxy: the same requests.
    seen = [(r.method, r.headers, r.body) for r in upstream.requests if r.target == "/seen"]
    assert len(seen) == 4  # two rows, each through nginx and then pushproxy
    assert seen[:2] == seen[2:]
    assert {method for method, *_ in seen} == {"GET"}
    assert (b"X-Original-URI", b"/echo/a.html?q=1") in seen[0][1]
