"""`$upstream_connect_time`, `$upstream_header_time`, `$upstream_response_length` and
`$upstream_http_NAME` in the access log, against Debian's nginx: the same requests through the
same configuration log the same lengths and headers, and times (which differ) where nginx logs
times, `-` where it logs `-`."""

from __future__ import annotations

import re
from pathlib import Path

from .conftest import AppFactory, ProxyFactory
from .nginx import at_app, needs_nginx, running_nginx
from .support import conf, connect_from, read_to_end

LOG = (
    "log_format up '$upstream_status|$upstream_response_length|$upstream_http_x_custom|"
    "$upstream_http_content_type|$upstream_connect_time|$upstream_header_time';"
)
PAIR = "upstream pair { server 127.0.0.1:1; server 127.0.0.1:APP_PORT; }"
SERVER = """
location /a { proxy_pass http://APP/headers; access_log LOG up; }
location /b { proxy_pass http://127.0.0.1:1; access_log LOG up; }
location /c { proxy_pass http://pair/headers; access_log LOG up; }
location /d { proxy_pass http://APP/big?size=3000; access_log LOG up; }
location /e { return 204; access_log LOG up; }
"""
TIME = re.compile(r"\d+\.\d{3}")


async def _requests(port: int) -> None:
    for target in ("/a", "/b", "/c", "/d", "/e"):
        stream = await connect_from("127.0.0.1", port)
        await stream.send_all(f"GET {target} HTTP/1.0\r\nHost: h\r\n\r\n".encode())
        await read_to_end(stream)


def _shape(line: str) -> list[str]:
    """A log line with each time written `T` (its value differs from server to server)."""
    fields = line.split("|")
    times = [", ".join("T" if TIME.fullmatch(t) else t for t in f.split(", ")) for f in fields[4:]]
    return fields[:4] + times


@needs_nginx
async def test_upstream_variables_as_nginx_logs_them(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path
) -> None:
    upstream = await app("app")

    def text(log: Path) -> str:
        with_app = at_app(SERVER, upstream)
        return with_app.replace("LOG", str(log))

    http = LOG + PAIR.replace("APP_PORT", str(upstream.port))
    async with running_nginx(tmp_path, text(tmp_path / "nginx.log"), http=http) as port:
        await _requests(port)
    async with proxy(conf(text(tmp_path / "ours.log"), http=http)) as server:
        await _requests(server.port())
    nginx = [_shape(line) for line in (tmp_path / "nginx.log").read_text().splitlines()]
    ours = [_shape(line) for line in (tmp_path / "ours.log").read_text().splitlines()]
    assert nginx[0][:3] == ["200", "7", "kept"]  # /headers: "headers", 7 bytes, X-Custom
    assert ours == nginx, nginx
