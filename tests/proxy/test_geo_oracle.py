"""`geo` and `split_clients` against Debian's nginx: the same blocks served by nginx, then by
pushproxy; the same clients and arguments get the same values from both."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushproxy.config.check import check_file

from .conftest import ProxyFactory
from .nginx import needs_nginx, side_by_side
from .support import connect_from, read_to_end

GEO = """
geo $by_client { default d; 127.0.0.0/8 lo; 127.0.0.2 two; 127.0.1.0/24 net1; ::1 v6; }
geo $arg_ip $by_arg {
    default none; 10.0.0.0/8 ten; 10.1.0.0/16 ten-one; 2001:db8::/32 doc; 0.0.0.0/0 v4;
}
geo $arg_ip $ranged {
    ranges; default no; 10.0.0.1-10.0.0.20 low; 10.0.0.5-10.0.0.9 mid; 10.0.0.5-10.0.0.9 again;
}
geo $arg_ip $deleted { default no; 10.0.0.0/8 ten; delete 10.0.0.0/8; 10.1.0.0/16 one; }
geo $proxied { default d; proxy 127.0.0.1; 1.2.3.0/24 cdn; 127.0.0.0/8 lo; 5.6.7.8 five; }
geo $recursive {
    default d; proxy 127.0.0.0/8; proxy_recursive; 1.2.3.0/24 cdn; 127.0.0.0/8 lo;
}
split_clients "${arg_u}salt" $variant { 10% a; 20.5% b; 15.25% c; * d; }
split_clients "$arg_u" $partial { 50% half; }
"""
VALUES = "$by_client|$by_arg|$ranged|$deleted|$proxied|$recursive|$variant|$partial"
SERVER = f'location / {{ return 200 "{VALUES}"; }}'
IPS = ["10.1.2.3", "10.2.3.4", "2001:db8::1", "bogus", "", "255.255.255.255", "10.0.0.3",
       "10.0.0.7", "10.0.0.15", "10.0.0.30", "192.0.2.1", "::ffff:10.1.0.1"]  # fmt: skip
FORWARDED = [
    None, "1.2.3.4", "5.6.7.8", "9.9.9.9, 1.2.3.4", "1.2.3.4, 127.0.0.9", "5.6.7.8 127.0.0.3"
]
SOURCES = ["127.0.0.1", "127.0.0.2", "127.0.1.9", "127.9.0.1"]


async def _value(port: int, source: str, target: str, forwarded: str | None) -> str:
    stream = await connect_from(source, port)
    extra = f"X-Forwarded-For: {forwarded}\r\n" if forwarded is not None else ""
    await stream.send_all(f"GET {target} HTTP/1.0\r\nHost: h\r\n{extra}\r\n".encode())
    return (await read_to_end(stream)).partition(b"\r\n\r\n")[2].decode()


async def _values(port: int) -> list[str]:
    seen = []
    for source in SOURCES:
        for forwarded in FORWARDED:
            seen.append(await _value(port, source, "/", forwarded))
    for ip in IPS:
        seen.append(await _value(port, "127.0.0.1", f"/?ip={ip}", None))
    for user in range(300):
        seen.append(await _value(port, "127.0.0.1", f"/?u={user}", None))
    return seen


@needs_nginx
async def test_geo_and_split_clients_as_nginx_does(proxy: ProxyFactory, tmp_path: Path) -> None:
    expected, got = await side_by_side(proxy, tmp_path, SERVER, _values, http=GEO)
    assert len({value.split("|")[6] for value in expected}) == 4  # every variant comes up
    assert len({value.split("|")[4] for value in expected}) >= 3
    assert got == expected


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("default no; bogus a;", 'invalid network "bogus"'),
        ("default no; 10.0.0.1-10.0.0.5 a;", 'invalid network "10.0.0.1-10.0.0.5"'),
        ("ranges; 10.0.0.0/8 a;", 'invalid range "10.0.0.0/8"'),
        (
            "ranges; 10.0.0.5-10.0.0.7 a; 10.0.0.0-10.0.0.255 b;",
            'range "10.0.0.0-10.0.0.255" overlaps "10.0.0.5-10.0.0.7"',
        ),
        (
            "ranges; 10.0.0.5-10.0.0.9 a; 10.0.0.7-10.0.0.20 b;",
            'range "10.0.0.7-10.0.0.20" overlaps "10.0.0.5-10.0.0.9"',
        ),
    ],
)
def test_check_refuses_geo_entries_nginx_refuses(tmp_path: Path, block: str, message: str) -> None:
    path = tmp_path / "nginx.conf"
    path.write_text(f"events {{}}\nhttp {{ geo $arg_ip $g {{ {block} }} server {{ }} }}\n")
    found = [(d.code, d.message) for d in check_file(str(path)).diagnostics]
    assert found == [("E106", message)]
