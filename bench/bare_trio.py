"""The least a trio server can do per request: the floor `floors.py` measures pushproxy against.

    python bench/bare_trio.py respond PORT
    python bench/bare_trio.py proxy PORT UPSTREAM_PORT

`respond` answers every request head it reads with one fixed 200 (a publish's answer in size).
`proxy` gives each client connection its own upstream connection, sends the client's bytes
there with `/up/` taken off the target, reads the response whole (by its Content-Length) and
writes it back. Neither parses, routes, logs or checks anything; both wait and write as
pushproxy does (trio's `wait_readable`, then `os.read`; one `os.write`). So the figures are
trio's and the kernel's cost of a request, which any trio server pays before its HTTP work.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Awaitable, Callable
from functools import partial

import trio

RESPONSE = (
    b"HTTP/1.1 200 OK\r\nServer: bare\r\nContent-Type: application/json\r\n"
    b"Content-Length: 86\r\nConnection: keep-alive\r\n\r\n" + b"x" * 86
)
_LENGTH = re.compile(rb"\r\ncontent-length: *([0-9]+)", re.IGNORECASE)
_READ_SIZE = 65536


async def _read(sock: trio.socket.SocketType) -> bytes:
    while True:
        await trio.lowlevel.wait_readable(sock)
        try:
            return os.read(sock.fileno(), _READ_SIZE)
        except BlockingIOError:
            continue
        except ConnectionError:
            return b""


async def respond(stream: trio.SocketStream) -> None:
    sock = stream.socket
    while data := await _read(sock):
        os.write(sock.fileno(), RESPONSE * data.count(b"\r\n\r\n"))


def proxy(upstream_port: int) -> Callable[[trio.SocketStream], Awaitable[None]]:
    async def handler(stream: trio.SocketStream) -> None:
        sock = stream.socket
        async with await trio.open_tcp_stream("127.0.0.1", upstream_port) as upstream:
            up = upstream.socket
            while request := await _read(sock):
                os.write(up.fileno(), request.replace(b" /up/", b" /", 1))
                response = b""
                while True:
                    data = await _read(up)
                    if not data:
                        return
                    response += data
                    end = response.find(b"\r\n\r\n")
                    found = _LENGTH.search(response, 0, end) if end >= 0 else None
                    if found and len(response) >= end + 4 + int(found[1]):
                        break
                os.write(sock.fileno(), response)

    return handler


def main() -> None:
    mode, port = sys.argv[1], int(sys.argv[2])
    handler = respond if mode == "respond" else proxy(int(sys.argv[3]))
    trio.run(partial(trio.serve_tcp, handler, port, host="127.0.0.1"))


if __name__ == "__main__":
    main()
