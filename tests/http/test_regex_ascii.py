"""Regexes match as nginx's PCRE matches them, without its UTF mode: `\\w`, `\\d`, `\\s` and
`~*` case-folding know ASCII only. Checked side by side with nginx."""

from __future__ import annotations

from pathlib import Path

from conftest import ServeFactory
from helpers import exchange_raw
from proxy.nginx import needs_nginx, side_by_side

LOCATIONS = """
    location / { return 200 "root"; }
    location ~ ^/w/(\\w+)$ { return 200 "w $1"; }
    location ~ ^/d/\\d+$ { return 200 "d"; }
    location ~ ^/s/a\\sb$ { return 200 "s"; }
    location ~* ^/ci/secret$ { return 200 "ci"; }
    location /rw/ { rewrite ^/rw/(\\w+)$ /w/$1 last; return 200 "not rewritten"; }
"""
TARGETS = [
    "/w/abc", "/w/%C3%A9", "/d/42", "/d/%D9%A3", "/s/a%20b", "/s/a%C2%A0b", "/s/a%1Cb",
    "/ci/SECRET", "/ci/%C5%BFecret", "/rw/abc", "/rw/%C3%A9",
]  # fmt: skip


async def _bodies(port: int) -> dict[str, bytes]:
    found = {}
    for target in TARGETS:
        wire = f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        found[target] = (await exchange_raw(port, wire)).partition(b"\r\n\r\n")[2]
    return found


@needs_nginx
async def test_as_nginx_matches(serve: ServeFactory, tmp_path: Path) -> None:
    expected, answered = await side_by_side(serve, tmp_path, LOCATIONS, _bodies)
    assert answered == expected
    # What nginx 1.22 does, so that the comparison cannot pass by both matching Unicode.
    assert expected["/w/abc"] == b"w abc"
    assert expected["/w/%C3%A9"] == b"root"
    assert expected["/ci/SECRET"] == b"ci"
    assert expected["/ci/%C5%BFecret"] == b"root"
    assert expected["/rw/%C3%A9"] == b"not rewritten"
