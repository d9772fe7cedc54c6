"""realip (`set_real_ip_from`, `real_ip_header`, `real_ip_recursive`) against Debian's nginx:
the same configuration served by nginx, then by pushproxy, in front of the same upstream app;
requests from trusted and untrusted addresses of 127.0.0.0/8 with the headers a proxy in front
sends. Compared: the status, `$remote_addr` as the location's `add_header` reports it, and
what the app receives (`$remote_addr`, `$remote_port`, `$realip_remote_addr` and
X-Forwarded-For as `proxy_set_header` sends them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pushproxy.config.check import check_file

from .conftest import AppFactory, ProxyFactory
from .nginx import at_app, needs_nginx, side_by_side
from .support import connect_from, read_to_end

PASS = (
    'proxy_set_header X-Client "$remote_addr|$remote_port|$realip_remote_addr"; '
    "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; "
    "add_header X-A $remote_addr always; proxy_pass http://APP;"
)
REAL_IP = [
    "1.2.3.4", "1.2.3.4, 5.6.7.8", "bogus", "::1", "[::1]:80", "[::1]", "1.2.3.4:80",
    "1.2.3.4:abc", " 1.2.3.4 ", "::ffff:1.2.3.4",
]  # fmt: skip
FORWARDED = [
    "1.1.1.1, 2.2.2.2, 127.0.0.5", "1.1.1.1, 127.0.0.6, 127.0.0.5", "127.0.0.7, 127.0.0.6",
    "1.1.1.1,2.2.2.2", "1.1.1.1, bogus, 127.0.0.5", "1.1.1.1,   127.0.0.5  ",
    "1.1.1.1, , 127.0.0.5", "1.1.1.1 127.0.0.5", "bogus",
]  # fmt: skip
# (source address, headers) of each request a case sends
Requests = list[tuple[str, list[tuple[str, str]]]]
FROM_PROXY: Requests = [("127.0.0.1", [("X-Real-IP", v)]) for v in REAL_IP] + [
    ("127.0.0.2", [("X-Real-IP", "1.2.3.4")]),
    ("127.0.0.1", []),
]
XFF: Requests = [("127.0.0.1", [("X-Forwarded-For", v)]) for v in FORWARDED] + [
    ("127.0.0.1", [("X-Forwarded-For", "1.1.1.1"), ("X-Forwarded-For", "127.0.0.6")]),
    ("127.0.0.9", [("X-Forwarded-For", "9.9.9.9")]),
]
CASES: dict[str, tuple[str, Requests]] = {
    "x-real-ip": (f"set_real_ip_from 127.0.0.1; location / {{ {PASS} }}", FROM_PROXY),
    "forwarded-for": (
        "set_real_ip_from 127.0.0.0/30; real_ip_header X-Forwarded-For; "
        f"location / {{ {PASS} }}",
        XFF,
    ),
    "forwarded-for-recursive": (
        "set_real_ip_from 127.0.0.0/29; real_ip_header X-Forwarded-For; real_ip_recursive on; "
        f"location / {{ {PASS} }}",
        XFF,
    ),
    "own-header": (
        f"set_real_ip_from 127.0.0.1; real_ip_header CF-IP; location / {{ {PASS} }}",
        [("127.0.0.1", [("CF-IP", "9.9.9.9")]), ("127.0.0.1", [("X-Real-IP", "9.9.9.9")])],
    ),
    "location-level": (
        f"location / {{ set_real_ip_from 127.0.0.1; {PASS} }} "
        "location /r { set_real_ip_from 127.0.0.1; add_header X-A $remote_addr always; "
        "return 204; }",
        FROM_PROXY[:2],
    ),
    "access-by-real-address": (
        f"set_real_ip_from 127.0.0.1; location / {{ deny 1.2.3.4; {PASS} }}",
        [("127.0.0.1", [("X-Real-IP", v)]) for v in ("1.2.3.4", "1.2.3.5")],
    ),
    "unix-only": (f"set_real_ip_from unix:; location / {{ {PASS} }}", FROM_PROXY[:1]),
}


async def _observe(port: int, source: str, headers: list[tuple[str, str]], target: str) -> Any:
    stream = await connect_from(source, port)
    peer_port = str(stream.socket.getsockname()[1])
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers)
    await stream.send_all(f"GET {target} HTTP/1.0\r\nHost: t\r\n{lines}\r\n".encode())
    received = await read_to_end(stream)
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    seen: dict[str, Any] = {"status": status_line.split(" ")[1]}
    seen |= {k: v for k, _, v in (h.partition(": ") for h in header_lines) if k == "X-A"}
    if body.startswith(b"{"):
        echo = json.loads(body)
        sent = {name.lower(): value for name, value in echo["headers"]}
        seen |= {k: v for k, v in sent.items() if k in ("x-client", "x-forwarded-for")}
    return json.loads(json.dumps(seen).replace(peer_port, "PEER"))


@needs_nginx
@pytest.mark.parametrize("name", list(CASES))
async def test_realip_as_nginx_does(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path, name: str
) -> None:
    upstream = await app("app")
    text, requests = CASES[name]
    body = at_app(text, upstream)
    targets = ["/", "/r"] if name == "location-level" else ["/"]
    asked = [(source, headers, target) for source, headers in requests for target in targets]
    async def ask(port: int) -> list[Any]:
        return [await _observe(port, *one) for one in asked]

    expected, got = await side_by_side(proxy, tmp_path, body, ask)
    assert any("PEER" not in json.dumps(seen) for seen in expected) != (name == "unix-only")
    assert got == expected, expected


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("bogus.invalid", [("E106", 'host not found in set_real_ip_from "bogus.invalid"')]),
        ("all", [("E106", 'host not found in set_real_ip_from "all"')]),
        ("10.1.2.3/8", [("N403", "low address bits of 10.1.2.3/8 are meaningless")]),
        ("unix:", []),
        ("localhost", []),
    ],
)
def test_check_judges_trusted_proxies_as_nginx_does(
    tmp_path: Path, value: str, found: list[tuple[str, str]]
) -> None:
    path = tmp_path / "nginx.conf"
    path.write_text(f"events {{}}\nhttp {{ server {{ set_real_ip_from {value}; }} }}\n")
    assert [(d.code, d.message) for d in check_file(str(path)).diagnostics] == found
