"""The hashes of nginx's hashing balancers, bit for bit (ngx_http_upstream_ip_hash_module.c
and ngx_http_upstream_hash_module.c): what `ip_hash` reads of a client address and how it
moves on, `hash KEY`'s CRC-32 based step, and `hash KEY consistent`'s circle of points. Pure;
balancing.py walks the peers with them.
"""

from __future__ import annotations

import bisect
import ipaddress
import zlib
from collections.abc import Sequence


def ip_hash_key(address: str | None) -> bytes:
    """The bytes of a client address `ip_hash` hashes: three of IPv4, sixteen of IPv6."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return b"\0\0\0"  # nginx's pseudo address, for a unix socket's clients
    return ip.packed[:3] if ip.version == 4 else ip.packed


def ip_hash_step(value: int, key: bytes) -> int:
    """`ip_hash`'s hash moved on once (it starts at 89)."""
    for byte in key:
        value = (value * 113 + byte) % 6271
    return value


def hash_step(value: int, moves: int, key: bytes) -> int:
    """`hash KEY`'s hash moved on once, compatible with Cache::Memcached: the top half of the
    key's CRC-32 (after the number of earlier moves, from the second on) added up."""
    again = b"%d" % moves if moves else b""
    return value + ((zlib.crc32(again + key) >> 16) & 0x7FFF)


class Points:
    """The circle of `hash ... consistent` (ngx_http_upstream_init_chash()): 160 points per
    unit of weight for each server (with its weight), at the CRC-32 of its host, a NUL, its
    port and the point before (Cache::Memcached::Fast's), sorted, one per hash value."""

    __slots__ = ("hashes", "servers")

    def __init__(self, servers: Sequence[tuple[str, int]]) -> None:
        points: list[tuple[int, int, str]] = []
        for order, (server, weight) in enumerate(servers):
            host, port = _host_and_port(server)
            base = host + b"\0" + port
            previous = 0
            for _ in range(weight * 160):
                previous = zlib.crc32(base + previous.to_bytes(4, "little"))
                points.append((previous, order, server))
        points.sort()
        self.hashes: list[int] = []
        self.servers: list[str] = []
        for value, _, server in points:
            if not self.hashes or self.hashes[-1] != value:
                self.hashes.append(value)
                self.servers.append(server)

    def first_at(self, value: int) -> int:
        """The index of the first point at or after `value` (the number of points past the
        last one: the circle's start, by the modulo of its reader)."""
        return bisect.bisect_left(self.hashes, value)


def _host_and_port(server: str) -> tuple[bytes, bytes]:
    """A server's host and port as the circle hashes them: `unix:` off a socket path; the
    port only when the address ends in `:digits`."""
    data = server.encode("utf-8", "surrogateescape")
    if data[:5].lower() == b"unix:":
        return data[5:], b""
    host, colon, port = data.rpartition(b":")
    if colon and port.isdigit():
        return host, port
    return data, b""
