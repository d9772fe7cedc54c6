"""`allow`/`deny` values (ngx_http_access_module), `set_real_ip_from` ones (the realip
module's) and the methods `limit_except` takes, as nginx reads them, and how nginx reads a
client's address and a forwarding header; `http.access`, `http.realip` and `geo` apply
them."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
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


def client_address(remote_addr: str) -> Address | None:
    """The client's address as the rules see it: an IPv4-mapped IPv6 address as IPv4;
    None for a UNIX-socket client."""
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def forwarded_address(
    values: Sequence[bytes], peer: str, trusts: Callable[[str], bool], *, recursive: bool
) -> tuple[str, int] | None:
    """ngx_http_get_forwarded_addr(): the client's address and port (0: none given) in the
    values of a forwarding header (X-Forwarded-For, X-Real-IP...) a trusted `peer` sent, or
    None. The last entry counts; `recursive`: entries from the right that `trusts` are
    passed over, and the first it does not (or the leftmost) counts; an entry that is no
    address ends the walk."""
    found: tuple[str, int] | None = None
    current = peer
    for value in reversed(values):
        text = value.decode("latin-1")
        while True:
            if found is not None and not trusts(current):
                return found
            text = text.rstrip(" ,")
            start = max(text.rfind(" "), text.rfind(",")) + 1
            parsed = parse_address_port(text[start:])
            if parsed is None:
                return found
            found, current = parsed, parsed[0]
            text = text[: max(start - 1, 0)]
            if not recursive or not text:
                break
        if not recursive:
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
