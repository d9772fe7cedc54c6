"""An idle upstream connection's look before reuse: one the peer closed, broke or sent
anything on is not taken again."""

from __future__ import annotations

import trio

from pushproxy.proxy.address import Endpoint
from pushproxy.proxy.connect import UpstreamConnection


async def _pair() -> tuple[UpstreamConnection, trio.socket.SocketType]:
    ours, theirs = trio.socket.socketpair()
    return UpstreamConnection(trio.SocketStream(ours), Endpoint(host="peer", port=80), 0.0), theirs


async def test_an_idle_connection_looks_alive_until_the_peer_closes() -> None:
    conn, peer = await _pair()
    assert conn.looks_alive()
    peer.close()
    assert not conn.looks_alive()
    conn.close_now()


async def test_bytes_nobody_asked_for_make_it_unusable() -> None:
    conn, peer = await _pair()
    await peer.send(b"HTTP/1.1 200 OK\r\n")  # a second answer, or junk
    assert not conn.looks_alive()
    conn.close_now()
    peer.close()
