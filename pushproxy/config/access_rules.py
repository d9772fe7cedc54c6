"""`allow`/`deny` values (ngx_http_access_module), `set_real_ip_from` ones (the realip
module's) and the methods `limit_except` takes, as nginx reads them; `http.access` and
`http.realip` apply them to requests."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from pushproxy.config.tree import Directive

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# The methods `limit_except` takes (ngx_http_core_limit_except()), matched in any case.
LIMIT_EXCEPT_METHODS = frozenset(
    {
        "GET", "HEAD", "POST", "PUT", "DELETE", "MKCOL", "COPY", "MOVE", "OPTIONS", "PROPFIND",
        "PROPPATCH", "LOCK", "UNLOCK", "PATCH",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rule:
    """One `allow` or `deny`: a network, every client (`all`), or UNIX-socket clients."""

    allow: bool
    network: Network | None = None  # None: `all`, or `unix:` when `unix` is set
    unix: bool = False

    def matches(self, address: Address | None) -> bool:
        """`address`: the client's; None for a UNIX-socket client."""
        if self.network is None:
            return not self.unix or address is None
        if address is None or address.version != self.network.version:
            return False
        return address in self.network


def parse_rule(directive: Directive) -> Rule | None:
    """The rule an `allow`/`deny` directive states; None for a value `check` refuses.
    `strict=False`: nginx takes a network with host bits set (it warns of them)."""
    if len(directive.args) != 1:
        return None
    value, allow = directive.args[0], directive.name == "allow"
    if value == "all":
        return Rule(allow)
    if value == "unix:":
        return Rule(allow, unix=True)
    try:
        return Rule(allow, ipaddress.ip_network(value, strict=False))
    except ValueError:
        return None


def low_bits_set(value: str) -> bool:
    """Whether a network given as `allow`/`deny` has bits set past its prefix (nginx warns:
    "low address bits of ... are meaningless"); False for what is no network."""
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            return False
        return True
    return False


def trusted_proxies(directive: Directive) -> tuple[Rule, ...] | None:
    """The peers a `set_real_ip_from` trusts: `unix:`, an address or a network, or a host
    name's addresses, found at load as nginx finds them; None when the name does not resolve
    (nginx: `host not found in set_real_ip_from "x"`)."""
    value = directive.args[0] if len(directive.args) == 1 else ""
    if value == "unix:":
        return (Rule(True, unix=True),)
    if value != "all":
        try:
            return (Rule(True, ipaddress.ip_network(value, strict=False)),)
        except ValueError:
            pass
    try:
        found = socket.getaddrinfo(value, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        return None
    addresses = dict.fromkeys(str(entry[4][0]).partition("%")[0] for entry in found)
    return tuple(Rule(True, ipaddress.ip_network(address)) for address in addresses)
