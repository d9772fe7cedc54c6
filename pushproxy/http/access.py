"""nginx's access module (`allow`, `deny`) with `limit_except`, worked out once at load.

A request that reaches a location's handler is first judged by the location's rules, in
configuration order: the first rule that matches the client's address decides, and a request
no rule matches gets in (ngx_http_access_handler()). A level with rules of its own uses only
those; one without takes its parent's (http, server, location, nested location; an `if` block
keeps its location's). `limit_except METHOD ... { ... }`: a request with a method not listed
(GET brings HEAD along) is judged by the block's rules instead, or by the location's when the
block has none. A refused request gets nginx's 403.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pushproxy.config.access_rules import Rule, client_address, parse_rule
from pushproxy.config.model import Http, Location
from pushproxy.config.tree import Directive


def packed_address(remote_addr: str) -> str:
    """`$binary_remote_addr`: the client's address in 4 or 16 bytes (as text, one character a
    byte); the address as it is for a UNIX-socket client."""
    address = client_address(remote_addr)
    return remote_addr if address is None else address.packed.decode("latin-1")


def allows(rules: Sequence[Rule], remote_addr: str) -> bool:
    address = client_address(remote_addr)
    for rule in rules:
        if rule.matches(address):
            return rule.allow
    return True


@dataclass(frozen=True, slots=True)
class AccessCheck:
    """A location's rules, and those of its `limit_except` block for the other methods."""

    rules: tuple[Rule, ...]
    kept_methods: frozenset[str] = frozenset()  # those `limit_except` names; empty: none
    other_rules: tuple[Rule, ...] = ()

    def allows(self, method: str, remote_addr: str) -> bool:
        rules = self.rules
        if self.kept_methods and method not in self.kept_methods:
            rules = self.other_rules
        return allows(rules, remote_addr)


def _own_rules(block: Sequence[Directive] | None) -> tuple[Rule, ...] | None:
    """The rules a block states, in order; None when it states none."""
    directives = [d for d in block or () if d.name in ("allow", "deny")]
    if not directives:
        return None
    return tuple(rule for d in directives if (rule := parse_rule(d)) is not None)


def _check(location: Location, rules: tuple[Rule, ...]) -> AccessCheck | None:
    block = location.directive.block if location.directive is not None else None
    limit = next((d for d in block or () if d.name == "limit_except" and d.block), None)
    if limit is None:
        return AccessCheck(rules) if rules else None
    kept = frozenset(method.upper() for method in limit.args)
    if "GET" in kept:
        kept |= {"HEAD"}
    other = _own_rules(limit.block)
    return AccessCheck(rules, kept, rules if other is None else other)


def access_checks(http: Http) -> dict[int, AccessCheck]:
    """The check of every location (by id(), `if` blocks and servers' own levels included)
    that has any rules; a location missing here lets every request in."""
    found: dict[int, AccessCheck] = {}

    def walk(location: Location, inherited: tuple[Rule, ...]) -> None:
        own = _own_rules(location.directive.block if location.directive is not None else None)
        rules = inherited if own is None else own
        check = _check(location, rules)
        if check is not None:
            _keep(location, check)
        for nested in location.locations:
            walk(nested, rules)

    def _keep(location: Location, check: AccessCheck) -> None:
        """`location` and its `if` blocks (which state no rules of their own)."""
        found[id(location)] = check
        for condition in location.conditions:
            _keep(condition, check)

    http_rules = _own_rules(http.directive.block) or ()
    for server in http.servers:
        walk(server.own, http_rules)
    return found
