"""`proxy_cookie_domain`, `proxy_cookie_path` and `proxy_cookie_flags` against Debian's
nginx: the same upstream `Set-Cookie` headers through nginx, then through pushproxy, reach the
client alike."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from .conftest import AppFactory, ProxyFactory
from .nginx import needs_nginx, side_by_side
from .support import connect_from, read_to_end

RULES = {
    "/plain/": "proxy_cookie_domain backend.internal example.com; proxy_cookie_path /app/ /;",
    "/dots/": "proxy_cookie_domain .backend.internal .example.com; proxy_cookie_path / /x/;",
    "/regex/": (
        "proxy_cookie_domain ~^(?<sub>\\w+)\\.backend\\.internal$ $sub.example.com; "
        "proxy_cookie_path ~*^/APP(/.*)$ /shop$1;"
    ),
    "/first/": "proxy_cookie_path /a/ /one/; proxy_cookie_path /a/b/ /two/;",
    "/off/": "proxy_cookie_path off;",
    "/inherit/": "proxy_cookie_domain backend.internal inherited.test;",
    "/vars/": "proxy_cookie_domain backend.internal $host; proxy_cookie_path /app/ /$arg_to/;",
    "/flags/": "proxy_cookie_flags SID secure httponly samesite=strict;",
    "/unflag/": (
        "proxy_cookie_flags ~^s nosecure nohttponly nosamesite; proxy_cookie_flags sid secure;"
    ),
    "/both/": (
        "proxy_cookie_flags flag samesite=none; proxy_cookie_flags ~. secure nosecure "
        "samesite=lax; proxy_cookie_path /app/ /p/;"
    ),
    "/odd/": "proxy_cookie_flags ~. samesite=lax samesite=strict bogus;",
    "/vals/": "proxy_cookie_flags ~. $arg_to samesite=$arg_name;",
    "/flagoff/": "proxy_cookie_flags off;",
    "/case/": "proxy_cookie_flags ~^SID httponly;",
    "/flagname/": "proxy_cookie_flags $arg_name httponly samesite=lax;",
}
COOKIES = [
    "sid=1; Domain=backend.internal; Path=/app/cart; HttpOnly",
    "sid=2;domain=.Backend.Internal;path=/app/",
    "sid=3; Path=/APP/x; Domain=shop.backend.internal; Secure",
    "sid=4; path=/a/b/c",
    "sid=5; Path=/other; Domain=elsewhere.test",
    "sid=6;  Path = /app/ ;Domain=backend.internal ; SameSite=Lax",
    "flag; Path=/app/",
    "sid=7; Expires=Thu, 01 Jan 2037 00:00:00 GMT; Path=/app/; ",
]


def _server(app_port: int) -> str:
    query = "&".join(f"c={quote(cookie)}" for cookie in COOKIES)
    inherited = "proxy_cookie_path /app/ /server/; proxy_cookie_flags ~^sid=?6 secure; "
    return inherited + "".join(
        f"location {prefix} {{ {rules} proxy_pass http://127.0.0.1:{app_port}/cookies?{query}; }}"
        for prefix, rules in RULES.items()
    )


async def _cookies(port: int, target: str) -> list[str]:
    stream = await connect_from("127.0.0.1", port)
    await stream.send_all(f"GET {target} HTTP/1.0\r\nHost: front.test\r\n\r\n".encode())
    head = (await read_to_end(stream)).partition(b"\r\n\r\n")[0].decode("latin-1")
    return [line for line in head.split("\r\n") if line.lower().startswith("set-cookie")]


@needs_nginx
async def test_cookies_as_nginx_rewrites_them(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path
) -> None:
    upstream = await app("app")

    async def ask(port: int) -> list[list[str]]:
        return [await _cookies(port, f"{prefix}x?to=t&name=flag") for prefix in RULES]

    expected, got = await side_by_side(proxy, tmp_path, _server(upstream.port), ask)
    assert expected[0][0] == "Set-Cookie: sid=1; Domain=example.com; Path=/cart; HttpOnly"
    by_prefix = dict(zip(RULES, expected, strict=True))
    assert by_prefix["/case/"][1].endswith("; HttpOnly")  # a flags regex ignores letter case
    flagged = "Set-Cookie: sid=4; path=/a/b/c; Secure; HttpOnly; SameSite=Strict"
    assert by_prefix["/flags/"][3] == flagged
    for want, have in zip(expected, got, strict=True):
        assert have == want
