"""An upstream's status line goes to the client as the upstream wrote it (nginx keeps
`status_line`: no reason stays no reason); `$request_length` of a proxied request counts the
body as received, chunk framing included. Checked against nginx 1.22."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from helpers import exchange_raw

from .conftest import ProxyFactory
from .support import conf


async def _upstream(task_status: trio.TaskStatus[int]) -> None:
    """Answers each request with the status line its path names, then closes."""
    lines = {
        b"/none": b"HTTP/1.1 200",
        b"/space": b"HTTP/1.1 200 ",
        b"/custom": b"HTTP/1.1 200 Fine Thanks",
        b"/teapot": b"HTTP/1.1 418",
        b"/found": b"HTTP/1.1 302 Found",
        b"/old": b"HTTP/1.0 200 OK",
    }

    async def answer(stream: trio.SocketStream) -> None:
        async with stream:
            data = b""
            while b"\r\n\r\n" not in data:
                data += await stream.receive_some(4096)
            body = b"x" * 5 if data.startswith(b"POST") else b""  # the test's bodies: 5 bytes
            while len(data) - data.index(b"\r\n\r\n") - 4 < len(body):
                data += await stream.receive_some(4096)
            line = lines.get(data.split(b" ")[1], b"HTTP/1.1 200 OK")
            await stream.send_all(line + b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(answer, listeners)


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("/none", b"200"),
        ("/space", b"200 "),
        ("/custom", b"200 Fine Thanks"),
        ("/teapot", b"418"),
        ("/found", b"302 Found"),  # not nginx's own `302 Moved Temporarily`
        ("/old", b"200 OK"),
    ],
)
async def test_the_upstream_status_line_passes_as_sent(
    proxy: ProxyFactory, nursery: trio.Nursery, path: str, line: bytes
) -> None:
    up = await nursery.start(_upstream)
    async with proxy(conf(f"location / {{ proxy_pass http://127.0.0.1:{up}; }}")) as server:
        request = f"GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode()
        wire = await exchange_raw(server.port(), request)
        assert wire.startswith(b"HTTP/1.1 %b\r\n" % line), wire[:60]
        assert wire.endswith(b"\r\n\r\nok")


async def test_request_length_of_proxied_bodies(
    proxy: ProxyFactory, nursery: trio.Nursery, tmp_path: Path
) -> None:
    up = await nursery.start(_upstream)
    text = conf(
        f"location / {{ proxy_pass http://127.0.0.1:{up}; }}",
        http=f"log_format rl '$request_length'; access_log {tmp_path}/rl.log rl;",
    )
    length = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\nxxxxx"
    chunked = (
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"5\r\nxxxxx\r\n0\r\n\r\n"
    )
    async with proxy(text) as server:
        await exchange_raw(server.port(), length)
        await exchange_raw(server.port(), chunked)
    assert (tmp_path / "rl.log").read_text().split() == [str(len(length)), str(len(chunked))]


async def _switching_upstream(task_status: trio.TaskStatus[int]) -> None:
    """Answers /switch with a 101 nobody asked for, bytes after it, then closes; anything
    else with a 200."""

    async def answer(stream: trio.SocketStream) -> None:
        async with stream:
            data = b""
            while b"\r\n\r\n" not in data:
                data += await stream.receive_some(4096)
            if data.startswith(b"GET /switch "):
                head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nX-A: 1\r\n\r\n"
                await stream.send_all(head + b"after the 101")
            else:
                await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain")

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(answer, listeners)


async def test_a_101_the_request_did_not_ask_for_is_relayed_as_nginx_relays_it(
    proxy: ProxyFactory, nursery: trio.Nursery
) -> None:
    """Checked against nginx 1.22: the 101 goes to the client with `Connection: upgrade` and
    the upstream's headers, then what the upstream sends until it closes, unframed; the
    client's connection then serves its next request."""
    up = await nursery.start(_switching_upstream)
    async with proxy(conf(f"location / {{ proxy_pass http://127.0.0.1:{up}; }}")) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port())
        async with stream:
            await stream.send_all(b"GET /switch HTTP/1.1\r\nHost: a\r\n\r\n")
            got = b""
            with trio.fail_after(5):
                while not got.endswith(b"after the 101"):
                    got += await stream.receive_some(4096)
            head, body = got.split(b"\r\n\r\n", 1)
            status, *fields = head.split(b"\r\n")
            assert status == b"HTTP/1.1 101 Switching Protocols"
            assert fields[0].startswith(b"Server: ")
            assert fields[1].startswith(b"Date: ")
            assert fields[2:] == [b"Connection: upgrade", b"Upgrade: foo", b"X-A: 1"]
            assert body == b"after the 101"
            await stream.send_all(b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
            with trio.fail_after(5):
                while not got.endswith(b"again"):
                    got += await stream.receive_some(4096)
            assert b"\r\n\r\nafter the 101HTTP/1.1 200 OK\r\n" in got
