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

from collections.abc import Sequence
from dataclasses import dataclass

from pushproxy.config.access_rules import (
    Rule,
    client_address,
    forwarded_address,
    trusted_proxies,
)
from pushproxy.config.model import Level

Headers = Sequence[tuple[bytes, bytes]]


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
        return forwarded_address(values, peer, self._trusts, recursive=self.recursive)
