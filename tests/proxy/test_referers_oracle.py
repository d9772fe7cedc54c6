"""`valid_referers` and `$invalid_referer` against Debian's nginx: the same `Referer` headers
(none, blocked, host names exact and wildcard, URI prefixes, the server's names, regexes, a
port, letter case) give the same verdict from both, in locations with their own list, one
inherited from the server, and none at all."""

from __future__ import annotations

from pathlib import Path

from .conftest import ProxyFactory
from .nginx import needs_nginx, side_by_side
from .support import connect_from, read_to_end

SERVER = r"""
server_name front.test *.front.test ~^re\d+\.test$;
valid_referers none example.net;
location /r/ {
    valid_referers none blocked server_names *.example.com .example.org www.example.*
                   good.test/galleries/ ~\.goodregex\.;
    return 200 "[$invalid_referer]";
}
location /strict/ { valid_referers example.com; return 200 "[$invalid_referer]"; }
location /inherited/ { return 200 "[$invalid_referer]"; }
location /guarded/ {
    valid_referers server_names;
    if ($invalid_referer) { return 403; }
    return 200 "in";
}
"""
REFERERS = [
    None, "", "blocked by a proxy", "http://example.com", "http://EXAMPLE.com/x",
    "http://a.example.com/", "http://a.b.example.com/", "http://example.com.evil/",
    "https://example.org", "http://x.example.org:8080/p", "http://www.example.co.uk/",
    "http://good.test/galleries/a", "http://good.test/other", "http://good.test",
    "http://good.test:81/galleries/", "http://front.test/", "http://sub.front.test",
    "http://re12.test/", "http://z.goodregex.net/", "https://Z.GOODREGEX.net",
    "http://evil.com/", "ftp://example.com", "http://i.r", "http://i.ru", "https://i.ru",
    "HTTP://example.net/", "http://example.net:80", "http://example.netx/",
    "http://" + "a" * 300 + ".example.com/",  # nginx gives up on a host of 256 or more
]  # fmt: skip
TARGETS = ["/r/x", "/strict/x", "/inherited/x", "/guarded/x"]


async def _observe(port: int, target: str, referer: str | None) -> str:
    stream = await connect_from("127.0.0.1", port)
    extra = "" if referer is None else f"Referer: {referer}\r\n"
    await stream.send_all(f"GET {target} HTTP/1.0\r\nHost: front.test\r\n{extra}\r\n".encode())
    head, _, body = (await read_to_end(stream)).partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1].decode()
    return f"{status} {body.decode() if status == '200' else ''}"


@needs_nginx
async def test_referers_as_nginx_judges_them(proxy: ProxyFactory, tmp_path: Path) -> None:
    async def ask(port: int) -> dict[str, str]:
        return {
            f"{target} {referer!r}": await _observe(port, target, referer)
            for target in TARGETS
            for referer in REFERERS
        }

    expected, got = await side_by_side(proxy, tmp_path, SERVER, ask)
    assert expected["/r/x 'http://a.b.example.com/'"] == "200 []"
    assert expected["/strict/x 'http://evil.com/'"] == "200 [1]"
    assert expected["/guarded/x 'http://evil.com/'"] == "403 "
    wrong = {row: (want, got[row]) for row, want in expected.items() if got[row] != want}
    assert not wrong
