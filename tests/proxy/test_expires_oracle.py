"""`expires` against Debian's nginx: the same configuration served by nginx, then by
pushproxy; the answers carry the same `Cache-Control` and an `Expires` as far from their
`Date` (to the minute), on our own answers and on proxied ones whose headers it replaces."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from pathlib import Path

from .conftest import AppFactory, ProxyFactory
from .nginx import at_app, needs_nginx, side_by_side
from .support import connect_from, read_to_end

SERVER = """
location /access { expires 1h; return 200 "x"; }
location /negative { expires -1; return 200 "x"; }
location /epoch { expires epoch; return 200 "x"; }
location /max { expires max; return 200 "x"; }
location /off { expires off; return 200 "x"; }
location /daily { expires @3h30m; return 200 "x"; }
location /error { expires 1h; return 404; }
location /created { expires 30d; return 201 "x"; }
location /proxied { expires 2h; proxy_pass http://APP/cached?age=600; }
location /modified { expires modified +1h; proxy_pass http://APP/cached?age=600; }
location /stale { expires modified +5m; proxy_pass http://APP/cached?age=600; }
location /plain { proxy_pass http://APP/cached?age=600; }
location /nested { expires 1d; location /nested/in { return 200 "x"; } }
"""
TARGETS = ["/access", "/negative", "/epoch", "/max", "/off", "/daily", "/error", "/created",
           "/proxied", "/modified", "/stale", "/plain", "/nested/in"]  # fmt: skip


def _seconds(http_date: str) -> float:
    try:
        return parsedate_to_datetime(http_date).timestamp()
    except (TypeError, ValueError):
        return float("nan")


async def _observe(port: int, target: str) -> list[str]:
    stream = await connect_from("127.0.0.1", port)
    await stream.send_all(f"GET {target} HTTP/1.0\r\nHost: h\r\n\r\n".encode())
    head = (await read_to_end(stream)).partition(b"\r\n\r\n")[0].decode("latin-1")
    lines = head.split("\r\n")
    fields = [line.partition(": ") for line in lines[1:]]
    date = next(_seconds(v) for k, _, v in fields if k == "Date")
    seen = [lines[0].split(" ")[1]]
    for name, _, value in fields:
        if name == "Expires":
            offset = _seconds(value) - date
            seen.append(f"Expires {round(offset / 60) if offset == offset else value}")
        elif name == "Cache-Control":
            age = value.removeprefix("max-age=")
            seen.append(f"Cache-Control {round(int(age) / 60) if age.isdigit() else value}")
    return seen


@needs_nginx
async def test_expires_as_nginx_does(proxy: ProxyFactory, app: AppFactory, tmp_path: Path) -> None:
    upstream = await app("app")
    text = at_app(SERVER, upstream)

    async def ask(port: int) -> list[list[str]]:
        return [await _observe(port, target) for target in TARGETS]

    expected, got = await side_by_side(proxy, tmp_path, text, ask)
    assert expected[0] == ["200", "Expires 60", "Cache-Control 60"]
    assert got == expected
