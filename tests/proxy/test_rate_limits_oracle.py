"""`limit_req` and `limit_conn` against Debian's nginx: the same configuration served by nginx,
then by pushproxy; the same run of requests gets the same statuses from both. The runs are
short (well under a second), so the buckets drain by less than one request meanwhile."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from pushproxy.config.check import check_file

from .conftest import AppFactory, ProxyFactory
from .nginx import at_app, needs_nginx, running_nginx, side_by_side
from .support import conf, connect_from, read_to_end

ZONE = "limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s;"
BY_ARG = "limit_req_zone $arg_k zone=byarg:1m rate=30r/m;"
CONNS = "limit_conn_zone $binary_remote_addr zone=addr:1m;"
PASS = "proxy_pass http://APP;"
# name: (http-level zones, server body, the requests: (source, target) in order)
Run = list[tuple[str, str]]
ONE = [("127.0.0.1", "/")] * 8
CASES: dict[str, tuple[str, str, Run]] = {
    "burst-nodelay": (ZONE, f"location / {{ limit_req zone=one burst=3 nodelay; {PASS} }}", ONE),
    "no-burst": (ZONE, f"location / {{ limit_req zone=one; {PASS} }}", ONE),
    "status": (ZONE, f"location / {{ limit_req zone=one; limit_req_status 429; {PASS} }}", ONE),
    "dry-run": (ZONE, f"location / {{ limit_req zone=one; limit_req_dry_run on; {PASS} }}", ONE),
    "per-client": (
        ZONE,
        f"location / {{ limit_req zone=one burst=1 nodelay; {PASS} }}",
        [(f"127.0.0.{n % 3 + 1}", "/") for n in range(9)],
    ),
    "per-key": (
        BY_ARG,
        f"location / {{ limit_req zone=byarg burst=2 nodelay; {PASS} }}",
        [("127.0.0.1", f"/?k={k}") for k in "aabbabab"] + [("127.0.0.1", "/")] * 4,
    ),
    "two-zones": (
        ZONE + BY_ARG,
        "location / { limit_req zone=one burst=5 nodelay; limit_req zone=byarg nodelay; "
        f"{PASS} }}",
        [("127.0.0.1", f"/?k={k}") for k in "abcabcab"],
    ),
    "inherited": (
        ZONE,
        f"limit_req zone=one burst=1 nodelay; location / {{ {PASS} }} "
        f"location /free/ {{ limit_req zone=one burst=6 nodelay; {PASS} }}",
        [("127.0.0.1", "/")] * 4 + [("127.0.0.2", "/free/")] * 8,
    ),
}


async def _status(port: int, source: str, target: str) -> int:
    stream = await connect_from(source, port)
    await stream.send_all(f"GET {target} HTTP/1.0\r\nHost: h\r\n\r\n".encode())
    return int((await read_to_end(stream)).split(b" ", 2)[1])


async def _statuses(port: int, run: Run) -> list[int]:
    return [await _status(port, source, target) for source, target in run]


@needs_nginx
@pytest.mark.parametrize("name", list(CASES))
async def test_limit_req_as_nginx_does(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path, name: str
) -> None:
    zones, text, run = CASES[name]
    upstream = await app("app")
    body = at_app(text, upstream)
    expected, got = await side_by_side(
        proxy, tmp_path, body, lambda port: _statuses(port, run), http=zones
    )
    assert (len(set(expected)) > 1) == (name != "dry-run"), expected
    assert got == expected


async def _together(port: int, sources: list[str]) -> list[int]:
    """Requests that each take 300 ms upstream, all sent at once: their statuses."""
    statuses = [0] * len(sources)

    async def one(index: int, source: str) -> None:
        statuses[index] = await _status(port, source, "/slow?ms=300")

    async with trio.open_nursery() as nursery:
        for index, source in enumerate(sources):
            nursery.start_soon(one, index, source)
            await trio.sleep(0.02)  # in this order
    return statuses


@needs_nginx
async def test_limit_conn_as_nginx_does(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path
) -> None:
    upstream = await app("app")
    body = at_app(f"location / {{ limit_conn addr 2; {PASS} }}", upstream)
    sources = ["127.0.0.1"] * 4 + ["127.0.0.2"] * 3
    async with running_nginx(tmp_path, body, http=CONNS) as port:
        expected = await _together(port, sources)
        later = await _status(port, "127.0.0.1", "/")  # the places are given back
    assert expected == [200, 200, 503, 503, 200, 200, 503]
    async with proxy(conf(body, http=CONNS)) as server:
        assert await _together(server.port(), sources) == expected
        assert await _status(server.port(), "127.0.0.1", "/") == later == 200


@pytest.mark.parametrize(
    ("http", "location", "message"),
    [
        (ZONE.replace("1r/s", "1x/s"), "", 'invalid rate "rate=1x/s"'),
        (ZONE.replace(":1m", ":1k"), "", 'zone "zone=one:1k" is too small'),
        (ZONE, "limit_req zone=one burst=x;", 'invalid burst value "burst=x"'),
        (ZONE, "limit_req zone=one bogus;", 'invalid parameter "bogus"'),
        (ZONE, "limit_req zone=one; limit_req zone=one;", '"limit_req" directive is duplicate'),
        (ZONE, "limit_req zone=two;", 'zero size shared memory zone "two"'),
        (CONNS, "limit_conn addr 0;", 'invalid number of connections "0"'),
        (CONNS, "limit_conn nope 1;", 'zero size shared memory zone "nope"'),
        (
            ZONE + " limit_req_zone $uri zone=one:1m rate=2r/s;",
            "",
            'limit_req_zone "one" is already bound to key "$binary_remote_addr"',
        ),
    ],
)
def test_check_refuses_what_nginx_refuses(
    tmp_path: Path, http: str, location: str, message: str
) -> None:
    path = tmp_path / "nginx.conf"
    path.write_text(f"events {{}}\nhttp {{ {http} server {{ location / {{ {location} }} }} }}\n")
    found = [d.message for d in check_file(str(path)).diagnostics if d.code.startswith("E")]
    assert found == [message]
