"""Config text and small client helpers for the proxy tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

import h11
import trio
from helpers import Client, Response


def conf(locations: str, *, http: str = "", server: str = "") -> str:
    """An nginx.conf with one server on 127.0.0.1:0."""
    return f"""
events {{}}
http {{
    {http}
    server {{
        listen 127.0.0.1:0;
        {server}
        {locations}
    }}
}}
"""


def raw(wire: bytes) -> str:
    """The upstream app's target that answers with exactly `wire` (then closes)."""
    return "/raw?r=" + quote(wire.decode("latin-1"), safe="")


def echoed(response: Response) -> dict[str, Any]:
    """The upstream app's echo of the request it received."""
    assert response.status == 200, (response.status, response.body[:300])
    data: dict[str, Any] = json.loads(response.body)
    return data


async def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait until `condition()` holds (what the other side does takes a few scheduler turns)."""
    with trio.fail_after(seconds):
        while True:
            if condition():
                return
            await trio.sleep(0.01)


async def send_chunked(
    client: Client,
    method: str,
    target: str,
    body: bytes,
    headers: Sequence[tuple[str, str]] = (),
) -> Response:
    """A request with a chunked body (16 KiB chunks) and no Content-Length; the response."""
    conn = client.conn
    if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
        conn.start_next_cycle()
    all_headers = [("Host", "localhost"), ("Transfer-Encoding", "chunked"), *headers]
    data = conn.send(h11.Request(method=method, target=target, headers=all_headers))
    for start in range(0, len(body), 16384):
        data += conn.send(h11.Data(data=body[start : start + 16384]))
    data += conn.send(h11.EndOfMessage())
    await client.stream.send_all(data)
    return await client.read_body(await client.read_head())


async def connect_from(source: str, port: int) -> trio.SocketStream:
    """A connection to 127.0.0.1:`port` from the address `source` (of 127.0.0.0/8)."""
    sock = trio.socket.socket()
    await sock.bind((source, 0))
    await sock.connect(("127.0.0.1", port))
    return trio.SocketStream(sock)


async def read_to_end(stream: trio.SocketStream) -> bytes:
    """What the server sends until it closes the connection; then ours is closed too."""
    received = b""
    with trio.fail_after(10):
        while chunk := await stream.receive_some(65536):
            received += chunk
    await stream.aclose()
    return received


async def app_answering(stream: trio.SocketStream, target: str = "/") -> str:
    """Send `GET target` (then close) on `stream`: the name of the upstream app that
    answers, or `status NNN` for an answer that is not a 200 (the proxy's own)."""
    await stream.send_all(
        b"GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" % target.encode()
    )
    received = await read_to_end(stream)
    head, _, body = received.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        return "status " + head[9:12].decode()
    name: str = json.loads(body)["app"]
    return name
