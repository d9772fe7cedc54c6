"""`geo` and `split_clients` blocks: variables whose value depends on an address or a hash.

`geo [$address] $name { ... }` (ngx_http_geo_module): the value of the network that holds the
address, the longest prefix winning (`10.0.0.0/8 a; 10.1.0.0/16 b;`), or with `ranges` of the
last range written that holds it (`10.0.0.1-10.0.0.9 a;`); `default` (else empty) when none
does. The address is the client's (`$remote_addr`) unless a variable is given; a value that is
no address counts as 255.255.255.255. `delete NET` takes a network out again. With `proxy NET`
and a client in NET, the address is the last one of X-Forwarded-For (with `proxy_recursive`,
the last one that is no trusted proxy). Values are text, never variables.

`split_clients STRING $name { 0.5% a; 20% b; * c; }` (ngx_http_split_clients_module): the
32-bit MurmurHash2 of STRING falls in one of the percentages, taken in order (`*`: the rest;
none: empty).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

from pushproxy.config.access_rules import client_address, forwarded_address
from pushproxy.config.complex import ComplexValue, ComplexValueError, Lookup, compile_value
from pushproxy.config.tree import Directive

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_NONE = ipaddress.IPv4Address("255.255.255.255")
_REMOTE_ADDR = compile_value("$remote_addr")


def _literal(text: str) -> ComplexValue:
    return ComplexValue(text, (text,))


def _address(text: str) -> Address:
    """The address a geo looks up: 255.255.255.255 for what is no address, as in nginx."""
    address = client_address(text.strip())
    return _NONE if address is None else address


@dataclass(frozen=True, slots=True)
class GeoMap:
    """A compiled `geo` block (see the module's text)."""

    name: str
    source: ComplexValue | None  # None: the client's address
    default: ComplexValue  # with `ranges` (else it is among the networks)
    # By address family: (prefix length, {network bits: value}), longest prefix first.
    by_prefix: dict[int, tuple[tuple[int, dict[int, ComplexValue]], ...]] = field(
        default_factory=dict
    )
    ranges: tuple[tuple[int, int, ComplexValue], ...] = ()  # last written first
    proxies: tuple[Network, ...] = ()
    recursive: bool = False
    volatile: bool = False

    def source_text(self, lookup: Lookup) -> str:
        if self.source is not None:
            return self.source.evaluate(lookup)
        client = lookup("remote_addr") or ""
        if not self.proxies or not self._trusts(client):
            return client
        forwarded = (lookup("http_x_forwarded_for") or "").encode("latin-1", "replace")
        found = forwarded_address([forwarded], client, self._trusts, recursive=self.recursive)
        return client if found is None else found[0]

    def _trusts(self, text: str) -> bool:
        address = _address(text)
        return any(address.version == n.version and address in n for n in self.proxies)

    def find(self, text: str) -> tuple[ComplexValue, None]:
        address = _address(text)
        if self.ranges:
            if address.version == 4:
                number = int(address)
                for start, end, value in self.ranges:
                    if start <= number <= end:
                        return value, None
            return self.default, None
        by_prefix = self.by_prefix.get(address.version, ())
        number = int(address)
        bits = address.max_prefixlen
        for prefix, networks in by_prefix:  # longest first: a dict look-up per length
            found = networks.get(number >> (bits - prefix))
            if found is not None:
                return found, None
        return _literal(""), None


def compile_geo(directive: Directive) -> GeoMap | None:
    """The map of a `geo` block; None for one `check` refuses."""
    args = directive.args
    try:
        source = compile_value(args[0]) if len(args) == 2 else None
    except ComplexValueError:
        return None
    name = args[-1].lstrip("$").lower()
    entries = directive.block or ()
    ranges_mode = any(e.name == "ranges" and not e.args for e in entries)
    default = _literal("")  # with `ranges`; else `default` is 0.0.0.0/0 and ::/0
    networks: dict[Network, ComplexValue] = {}
    ranges: list[tuple[int, int, ComplexValue]] = []
    proxies: list[Network] = []
    for entry in entries:
        word = entry.name
        value = entry.args[0] if len(entry.args) == 1 else None
        if word == "default" and value is not None:
            default = _literal(value)
            if not ranges_mode:
                networks[ipaddress.IPv4Network("0.0.0.0/0")] = default
                networks[ipaddress.IPv6Network("::/0")] = default
        elif word == "proxy" and value is not None:
            network = _network(value)
            if network is not None:
                proxies.append(network)
        elif word == "delete" and value is not None:
            _delete(value, networks, ranges)
        elif value is not None and ranges_mode:
            span = _range(word)
            if span is not None:
                ranges.append((*span, _literal(value)))
        elif value is not None:
            network = _network(word)
            if network is not None:
                networks[network] = _literal(value)
    return GeoMap(
        name=name,
        source=source,
        default=default,
        by_prefix=_by_prefix(networks),
        ranges=tuple(reversed(ranges)),
        proxies=tuple(proxies),
        recursive=any(e.name == "proxy_recursive" and not e.args for e in entries),
    )


def _by_prefix(
    networks: dict[Network, ComplexValue],
) -> dict[int, tuple[tuple[int, dict[int, ComplexValue]], ...]]:
    """The networks as `GeoMap.by_prefix` keeps them."""
    tables: dict[int, dict[int, dict[int, ComplexValue]]] = {}
    for network, value in networks.items():
        bits = network.max_prefixlen - network.prefixlen
        family = tables.setdefault(network.version, {})
        family.setdefault(network.prefixlen, {})[int(network.network_address) >> bits] = value
    return {
        version: tuple(sorted(family.items(), reverse=True))
        for version, family in tables.items()
    }


def _network(text: str) -> Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def geo_findings(entries: Sequence[Directive]) -> list[tuple[Directive, str]]:
    """ngx_http_geo_cidr() / ngx_http_geo_range(): networks nginx cannot read, and a range
    that takes in one written before it (one inside an earlier range is fine)."""
    ranges_mode = any(e.name == "ranges" and not e.args for e in entries)
    found: list[tuple[Directive, str]] = []
    seen: list[tuple[int, int, str]] = []
    for entry in entries:
        word = entry.name
        if len(entry.args) != 1 or word in ("default", "proxy", "include"):
            continue
        target = entry.args[0] if word == "delete" else word
        if ranges_mode:
            span = _range(target)
            if span is None:
                found.append((entry, f'invalid range "{target}"'))
            elif word != "delete":
                for start, end, text in seen:
                    if span[0] <= start and end <= span[1] and span != (start, end):
                        found.append((entry, f'range "{target}" overlaps "{text}"'))
                        break
                    if start < span[0] <= end < span[1] or span[0] < start <= span[1] < end:
                        found.append((entry, f'range "{target}" overlaps "{text}"'))
                        break
                seen.append((*span, target))
        elif _network(target) is None:
            found.append((entry, f'invalid network "{target}"'))
    return found


def _range(text: str) -> tuple[int, int] | None:
    first, dash, last = text.partition("-")
    try:
        start, end = int(ipaddress.IPv4Address(first)), int(ipaddress.IPv4Address(last))
    except ValueError:
        return None
    return (start, end) if dash and start <= end else None


def _delete(
    text: str, networks: dict[Network, ComplexValue], ranges: list[tuple[int, int, ComplexValue]]
) -> None:
    network = _network(text)
    if network is not None:
        networks.pop(network, None)
    span = _range(text)
    if span is not None:
        ranges[:] = [r for r in ranges if (r[0], r[1]) != span]


def murmur_hash2(data: bytes) -> int:
    """ngx_murmur_hash2(): 32-bit MurmurHash2, seed 0 ^ length."""
    m = 0x5BD1E995
    h = len(data) & 0xFFFFFFFF
    length = len(data)
    index = 0
    while length >= 4:
        k = int.from_bytes(data[index : index + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
        index += 4
        length -= 4
    if length >= 3:
        h ^= data[index + 2] << 16
    if length >= 2:
        h ^= data[index + 1] << 8
    if length >= 1:
        h ^= data[index]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


@dataclass(frozen=True, slots=True)
class SplitClients:
    """A compiled `split_clients` block: (upper bound of the hash, value) in order."""

    name: str
    source: ComplexValue
    parts: tuple[tuple[int, ComplexValue], ...]
    volatile: bool = False

    def source_text(self, lookup: Lookup) -> str:
        return self.source.evaluate(lookup)

    def find(self, text: str) -> tuple[ComplexValue, None]:
        hashed = murmur_hash2(text.encode("utf-8", "surrogateescape"))
        for bound, value in self.parts:
            if hashed < bound or bound == 0:
                return value, None
        return _literal(""), None


def compile_split_clients(directive: Directive) -> SplitClients | None:
    """ngx_http_split_clients(): percentages to hundredths, summed; `*` takes the rest."""
    if len(directive.args) != 2:
        return None
    try:
        source = compile_value(directive.args[0])
    except ComplexValueError:
        return None
    parts: list[tuple[int, ComplexValue]] = []
    last = 0
    for entry in directive.block or ():
        value = _literal(entry.args[0] if entry.args else "")
        if entry.name == "*":
            parts.append((0, value))
            continue
        whole, _, fraction = entry.name.rstrip("%").partition(".")
        percent = int(whole or "0") * 100 + int((fraction + "00")[:2])
        last += percent * 0xFFFFFFFF // 10000  # each part rounded down, as nginx sums them
        parts.append((last, value))
    return SplitClients(directive.args[1].lstrip("$").lower(), source, tuple(parts))


def compile_tables(entries: Sequence[Directive]) -> list[GeoMap | SplitClients]:
    """The http block's `geo` and `split_clients` blocks, compiled, in order."""
    found: list[GeoMap | SplitClients] = []
    for directive in entries:
        if directive.block is None:
            continue
        compiled = (
            compile_geo(directive)
            if directive.name == "geo" and directive.args
            else compile_split_clients(directive)
            if directive.name == "split_clients"
            else None
        )
        if compiled is not None:
            found.append(compiled)
    return found
