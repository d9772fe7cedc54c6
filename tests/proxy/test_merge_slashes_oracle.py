"""`merge_slashes off` against Debian's nginx: the URI keeps its empty segments (raw or
`%2F`), which then choose the location, as in nginx; on (the default), they are one."""

from __future__ import annotations

from pathlib import Path

from .conftest import ProxyFactory
from .nginx import needs_nginx, side_by_side
from .support import connect_from, read_to_end

SERVER = """
merge_slashes off;
location /a/ { return 200 "a $uri"; }
location /a//b { return 200 "ab $uri"; }
location / { return 200 "root $uri"; }
"""
TARGETS = ["//a//b", "/a//b", "/a/b", "/a/%2F/b", "/a/./b//c", "/a/b/..//c", "///"]


async def _observe(port: int, target: str) -> str:
    stream = await connect_from("127.0.0.1", port)
    await stream.send_all(f"GET {target} HTTP/1.0\r\nHost: h\r\n\r\n".encode())
    head, _, body = (await read_to_end(stream)).partition(b"\r\n\r\n")
    return f"{head.split(b' ')[1].decode()} {body.decode()}"


@needs_nginx
async def test_merge_slashes_off_as_nginx_does(proxy: ProxyFactory, tmp_path: Path) -> None:
    async def ask(port: int) -> list[str]:
        return [await _observe(port, target) for target in TARGETS]

    kept, got = await side_by_side(proxy, tmp_path, SERVER, ask)
    assert kept[1] == "200 ab /a//b"
    assert got == kept
    merged, got = await side_by_side(proxy, tmp_path, SERVER.replace("merge_slashes off;", ""), ask)
    assert merged[1] == "200 a /a/b"  # the default
    assert got == merged
