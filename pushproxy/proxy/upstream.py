"""The upstreams a configuration names: `upstream` blocks and the groups `proxy_pass` makes
for a `host:port`, their peers resolved once at load by an injected function. How a request
picks a peer: balancing.py; addresses and URLs: address.py.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from pushproxy.config import units
from pushproxy.config.model import Http, Upstream, compile_complex
from pushproxy.errors import ConfigError
from pushproxy.proxy.address import (
    Endpoint,
    ProxyUrl,
    Resolve,
    endpoints,
    resolve_host,
)
from pushproxy.proxy.balancing import Balancer, Method, PeerSpec
from pushproxy.proxy.pool import KeepaliveSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamGroup:
    """A balancer and what its connections may be kept for. `name` is the block's name or,
    for a `proxy_pass` without a block, the `host:port` it names."""

    name: str
    balancer: Balancer
    keepalive: KeepaliveSettings


def _seconds(text: str, default: float) -> float:
    try:
        return float(units.parse_sec(text))
    except ValueError:
        return default


def _peer_specs(block: Upstream, resolve: Resolve) -> list[PeerSpec]:
    """ConfigError (nginx's words) for an address that does not parse or resolve."""
    specs: list[PeerSpec] = []
    for server in block.servers:
        try:
            found = endpoints(server.address, 80, resolve)
        except (OSError, ValueError):
            directive = server.directive
            raise ConfigError(
                f'host not found in upstream "{server.address}"',
                file=directive.file,
                line=directive.end_line,
            ) from None
        specs.extend(
            PeerSpec(
                endpoint=endpoint,
                server=server.address,
                weight=server.weight,
                max_fails=server.max_fails,
                fail_timeout=_seconds(server.fail_timeout, 10.0),
                max_conns=server.max_conns,
                backup=server.backup,
                down=server.down,
            )
            for endpoint in found
        )
    return specs


# The balancing directives; nginx takes the last one of a block ("load balancing method
# redefined").
_METHODS = {
    "ip_hash": Method.IP_HASH,
    "least_conn": Method.LEAST_CONN,
    "hash": Method.HASH,
    "random": Method.RANDOM,
}


def _balancer(name: str, block: Upstream, resolve: Resolve) -> Balancer:
    """ConfigError for a peer that does not resolve, or a `hash` key that does not compile."""
    found = [d for d in block.directive.block or () if d.name in _METHODS]
    method, key = Method.ROUND_ROBIN, None
    if found:
        chosen = found[-1]
        method = _METHODS[chosen.name]
        if method is Method.HASH:
            key = compile_complex(chosen)
            if chosen.args[1:] == ("consistent",):
                method = Method.CONSISTENT_HASH
        elif method is Method.RANDOM and chosen.args[:1] == ("two",):
            method = Method.RANDOM_TWO
    return Balancer(name, _peer_specs(block, resolve), method, key)


def _keepalive(block: Upstream) -> KeepaliveSettings:
    level = block.level

    def number(name: str, default: int) -> int:
        text = level.arg(name)
        return int(text) if text is not None and text.isdigit() else default

    def seconds(name: str, default: float) -> float:
        text = level.arg(name)
        if text is None:
            return default
        try:
            return units.parse_msec(text) / 1000
        except ValueError:
            return default

    return KeepaliveSettings(
        connections=number("keepalive", 0),
        timeout=seconds("keepalive_timeout", 60.0),
        requests=number("keepalive_requests", 1000),
        max_age=seconds("keepalive_time", 3600.0),
    )


_NO_POOL = KeepaliveSettings()


class Upstreams:
    """Every upstream a configuration names: blocks by name, and one implicit group per
    `host:port` that a `proxy_pass` names directly (resolved once, at load)."""

    __slots__ = ("_resolve", "blocks", "implicit")

    def __init__(self, blocks: Mapping[str, UpstreamGroup], resolve: Resolve) -> None:
        self.blocks = MappingProxyType(dict(blocks))
        self.implicit: dict[str, UpstreamGroup] = {}
        self._resolve = resolve

    @classmethod
    def build(cls, http: Http | None, resolve: Resolve = resolve_host) -> Upstreams:
        """ConfigError when a peer's name does not resolve."""
        groups: dict[str, UpstreamGroup] = {}
        if http is not None:
            for name, block in http.upstreams.items():
                groups[name.lower()] = UpstreamGroup(
                    name=name,
                    balancer=_balancer(name, block, resolve),
                    keepalive=_keepalive(block),
                )
        return cls(groups, resolve)

    @staticmethod
    def resolved(url: ProxyUrl, addresses: Sequence[str]) -> UpstreamGroup:
        """A name resolved for one request: its addresses, round-robin from the first, as
        nginx makes a peer list per request for it (no health kept, no idle connections)."""
        specs = [PeerSpec(endpoint=Endpoint(host=a, port=url.effective_port)) for a in addresses]
        return UpstreamGroup(
            name=url.authority, balancer=Balancer(url.authority, specs), keepalive=_NO_POOL
        )

    def for_url(self, url: ProxyUrl, *, resolve: bool = True) -> UpstreamGroup | None:
        """The group a URL names: a block (when no port is written), else the implicit group
        for its `host:port`, made on first use when `resolve` allows (at load). None when the
        name would need resolving and may not be (nginx: "no resolver defined")."""
        if url.unix is None and url.port is None:
            block = self.blocks.get(url.host.lower())
            if block is not None:
                return block
        key = f"{url.scheme}://{url.unix or url.host.lower()}:{url.effective_port}"
        group = self.implicit.get(key)
        if group is not None:
            return group
        if url.unix is not None:
            found: tuple[Endpoint, ...] = (Endpoint(unix=url.unix),)
        else:
            try:
                found = (
                    Endpoint(host=str(ipaddress.ip_address(url.host)), port=url.effective_port),
                )
            except ValueError:
                if not resolve:
                    return None
                found = tuple(
                    Endpoint(host=ip, port=url.effective_port) for ip in self._resolve(url.host)
                )
        name = url.authority if url.unix is None else f"unix:{url.unix}"
        group = UpstreamGroup(
            name=name,
            balancer=Balancer(name, (PeerSpec(endpoint=e) for e in found)),
            keepalive=_NO_POOL,
        )
        self.implicit[key] = group
        return group
