"""What a client connection's reading and writing share: nginx's limits for the connection
(`Limits`), the write that rarely waits (`send_soon`), and the ways a request ends early
(`ClientGone`, `BodyTooLarge`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import trio

from pushproxy.http.charset import Charset


async def send_soon(
    stream: trio.SocketStream, data: bytes, within: float, then: Callable[[], None] | None = None
) -> None:
    """Write `data` to a socket stream. Most writes fit in the socket buffer: they go out with
    one non-blocking write, without a timeout scope or trio's wait machinery (a request's
    largest fixed cost). Only what the socket does not take waits, for `within` seconds at most.
    trio.TooSlowError past it; OSError or trio's stream errors when the peer is gone.

    `then` runs right after that first write, whatever came of it, and before any wait: no
    other task runs in between."""
    try:  # a closed socket's fileno() is -1: EBADF, never someone else's descriptor
        sent = os.write(stream.socket.fileno(), data)
    except BlockingIOError:
        sent = 0
    finally:
        if then is not None:
            then()
    if sent < len(data):
        with trio.fail_after(within):
            await stream.send_all(data[sent:])


class ClientGone(Exception):
    """The client closed the connection, broke the protocol or timed out."""


class BodyTooLarge(Exception):
    """The request body exceeds `client_max_body_size` (nginx answers 413)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Timeouts in seconds and sizes in bytes, from the server's configuration (then the
    location's), and what the location's answers say of the server and their charset."""

    header_timeout: float = 60.0
    body_timeout: float = 60.0
    send_timeout: float = 60.0
    keepalive_timeout: float = 75.0
    keepalive_header: int = 0  # `keepalive_timeout`'s second value: `Keep-Alive: timeout=N`
    keepalive_requests: int = 1000
    keepalive_time: float = 3600.0  # seconds a connection takes requests for, from its start
    lingering_close: str = "on"  # "on": when a body nobody read may still come; "always", "off"
    lingering_time: float = 30.0
    lingering_timeout: float = 5.0
    max_header_bytes: int = 4 * 8192
    max_line_bytes: int = 8192  # one of the large_client_header_buffers
    server_tokens: bool = True  # the version in the `Server` header
    chunked: bool = True  # `chunked_transfer_encoding`: else a body of no length ends by closing
    charset: Charset | None = None  # what `Content-Type`s name (`charset`)
