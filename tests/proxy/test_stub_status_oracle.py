"""`stub_status` against Debian's nginx: the same connections in the same states (one idle,
one sending its head, one kept alive after two requests) give the same page, the same
`$connections_*` variables, and the same answers to HEAD and POST."""

from __future__ import annotations

from pathlib import Path

import trio

from .conftest import ProxyFactory
from .nginx import needs_nginx, side_by_side
from .support import connect_from, read_to_end

SERVER = """
location = /status { stub_status; }
location = /old { stub_status on; }
location = /vars {
    return 200 "$connections_active $connections_reading $connections_writing $connections_waiting";
}
location / { return 200 "ok"; }
"""


async def _ask(port: int, head: str) -> str:
    stream = await connect_from("127.0.0.1", port)
    await stream.send_all(head.encode())
    answer = await read_to_end(stream)
    status_line, _, rest = answer.decode("latin-1").partition("\r\n")
    fields = rest.partition("\r\n\r\n")[0].split("\r\n")
    body = answer.partition(b"\r\n\r\n")[2].decode()
    page = body.startswith("<html>")  # an error page, whose signature line is the server's
    names = ("Content-Type",) if page else ("Content-Type", "Content-Length")
    kept = [f for f in fields if f.split(":")[0] in names]
    return " | ".join([status_line, *kept, "(page)" if page else body])


async def _observe(port: int, *, probe: bool = False) -> list[str]:
    if probe:  # as `running_nginx` does once before asking nginx: one more connection counted
        await (await connect_from("127.0.0.1", port)).aclose()
        await trio.sleep(0.1)
    idle = await connect_from("127.0.0.1", port)
    arriving = await connect_from("127.0.0.1", port)
    await arriving.send_all(b"GET / HTTP/1.1\r\nHost: h\r\n")  # the head's end never comes
    kept = await connect_from("127.0.0.1", port)
    for _ in range(2):
        await kept.send_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        assert (await kept.receive_some(4096)).endswith(b"ok")
    await trio.sleep(0.1)  # both servers have taken the first two connections by then
    seen = [
        await _ask(port, f"{method} {target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        for method, target in (("GET", "/status"), ("HEAD", "/status"), ("POST", "/status"),
                               ("GET", "/old"), ("GET", "/vars"))
    ]  # fmt: skip
    for stream in (idle, arriving, kept):
        await stream.aclose()
    return seen


@needs_nginx
async def test_stub_status_as_nginx_does(proxy: ProxyFactory, tmp_path: Path) -> None:
    asked: list[int] = []

    async def ask(port: int) -> list[str]:
        asked.append(port)
        return await _observe(port, probe=len(asked) == 2)  # nginx first, then pushproxy

    expected, got = await side_by_side(proxy, tmp_path, SERVER, ask)
    assert expected[0] == (
        "HTTP/1.1 200 OK | Content-Type: text/plain | Content-Length: 97 | Active connections: 4 \n"
        "server accepts handled requests\n 5 5 4 \nReading: 1 Writing: 1 Waiting: 2 \n"
    )
    assert got == expected
