"""nginx's realip module: the client's address as a trusted proxy in front reports it.

`set_real_ip_from` names the trusted proxies (addresses, networks, `unix:`). When the peer is
one of them, `real_ip_header` (`X-Real-IP` by default, `X-Forwarded-For`, or any header) gives
the client's address, which `$remote_addr`, `$remote_port`, the access rules, `ip_hash`,
`X-Forwarded-For` and the logs then use; `$realip_remote_addr` and `$realip_remote_port` keep
the peer's. As ngx_http_get_forwarded_addr() reads a header:
- the last address in it counts (entries are separated by commas or spaces; an entry may end
  in `:port`, an IPv6 one is then written `[addr]:port`);
- with `real_ip_recursive on`, addresses from the right that are trusted too are passed over:
  the first one that is not (or the leftmost) counts;
- an entry that is no address ends the walk (nothing changes when it is the first);
- several X-Forwarded-For headers are one list; of other headers, the first counts.
The server's settings apply when the request head has been read; a location's apply before
its handler runs, when the server's changed nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from pushproxy.config.access_rules import Rule, trusted_proxies
from pushproxy.config.model import Level
from pushproxy.http.access import client_address

Headers = Sequence[tuple[bytes, bytes]]
_SEPARATORS = " ,"


@dataclass(frozen=True, slots=True)
class RealIp:
    """A level's realip settings; `header` is the header's lower-case name."""

    trusted: tuple[Rule, ...]
    header: bytes
    recursive: bool

    @classmethod
    def of(cls, level: Level) -> RealIp | None:
        """The level's settings in effect; None without `set_real_ip_from`."""
        trusted = tuple(
            rule for d in level.all("set_real_ip_from") for rule in trusted_proxies(d) or ()
        )
        if not trusted:
            return None
        header = level.arg("real_ip_header", "X-Real-IP") or "X-Real-IP"
        return cls(
            trusted=trusted,
            header=header.lower().encode("latin-1"),
            recursive=level.arg("real_ip_recursive", "off") == "on",
        )

    def _trusts(self, address: str) -> bool:
        client = client_address(address)
        return any(rule.matches(client) for rule in self.trusted)

    def client(self, peer: str, headers: Headers) -> tuple[str, int] | None:
        """The client's address and port (0: none given) by the header when `peer` is a
        trusted proxy; None when nothing changes."""
        if not self._trusts(peer):
            return None
        values = [value for name, value in headers if name == self.header]
        if not values:
            return None
        if self.header != b"x-forwarded-for":
            values = values[:1]
        elif not self.recursive:
            values = values[-1:]
        found: tuple[str, int] | None = None
        current = peer
        for value in reversed(values):
            text = value.decode("latin-1")
            while True:
                if found is not None and not self._trusts(current):
                    return found
                text = text.rstrip(_SEPARATORS)
                start = max(text.rfind(" "), text.rfind(",")) + 1
                parsed = parse_address_port(text[start:])
                if parsed is None:
                    return found
                found, current = parsed, parsed[0]
                text = text[: max(start - 1, 0)]
                if not self.recursive or not text:
                    break
            if not self.recursive:
                break
        return found


def parse_address_port(text: str) -> tuple[str, int] | None:
    """ngx_parse_addr_port(): `addr`, `addr:port` or `[addr6]:port`, as nginx prints the
    address (an IPv4-mapped IPv6 address with its IPv4 part dotted); None for anything else."""
    port_text = None
    if text.startswith("["):
        close = text.find("]")
        if close < 0 or text[close + 1 : close + 2] != ":":
            return None
        text, port_text = text[1:close], text[close + 2 :]
    elif text.count(":") == 1:
        text, port_text = text.split(":")
    port = 0
    if port_text is not None:
        if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
            return None
        port = int(port_text)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return _printed(address), port


def _printed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)

