"""Names in a `proxy_pass` with variables, resolved at request time as nginx's resolver does
(`resolver ADDRESS ... [valid=TIME] [ipv4=on|off] [ipv6=on|off]`, `resolver_timeout`).

A and AAAA queries (each unless switched off) go to the configured name servers; an answer
is kept for its TTL, or for `valid`; the addresses come in a random rotation, as nginx hands
them out. A name that cannot be resolved is nginx's `NAME could not be resolved (CODE: TEXT)`
(a 502). dnspython speaks DNS: the wire format and its retries are no code of ours to keep.
"""

from __future__ import annotations

import ipaddress
import random
from collections import OrderedDict
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver
import trio

from pushproxy.config import units
from pushproxy.config.model import Level
from pushproxy.errors import ConfigError
from pushproxy.proxy.address import Resolve

_CACHED_NAMES = 1024  # the least recently resolved go first past this
_RCODE_TEXTS = {1: "Format error", 2: "Server failure", 3: "Host not found",
                4: "Unimplemented", 5: "Operation refused"}  # fmt: skip
_TIMED_OUT = 110


class ResolveError(Exception):
    """nginx's words for a name it could not resolve."""

    def __init__(self, name: str, code: int) -> None:
        text = "Operation timed out" if code == _TIMED_OUT else _RCODE_TEXTS.get(code, "Error")
        super().__init__(f"{name} could not be resolved ({code}: {text})")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolverSettings:
    servers: tuple[tuple[str, int], ...]
    valid: float | None = None  # `valid=`: how long an answer is kept, instead of its TTL
    ipv4: bool = True
    ipv6: bool = True
    timeout: float = 30.0  # `resolver_timeout`

    @classmethod
    def of(cls, level: Level, resolve: Resolve) -> ResolverSettings | None:
        """From a level's `resolver` and `resolver_timeout`; None without a resolver.
        ConfigError for what nginx refuses (a name server's name is resolved now, as nginx
        resolves it at load)."""
        directive = level.last("resolver")
        if directive is None:
            return None
        servers: list[tuple[str, int]] = []
        options: dict[str, str] = {}
        for arg in directive.args:
            key, equals, value = arg.partition("=")
            if equals and key in ("valid", "ipv4", "ipv6", "status_zone"):
                options[key] = value
                continue
            try:
                servers.extend(_server(arg, resolve))
            except (OSError, ValueError):
                raise ConfigError(
                    f'host not found in resolver "{arg}"',
                    file=directive.file,
                    line=directive.end_line,
                ) from None
        timeout = level.arg("resolver_timeout")
        try:
            valid = units.parse_sec(options["valid"]) if "valid" in options else None
        except units.InvalidValue:
            message = f'invalid parameter "valid={options["valid"]}"'
            raise ConfigError(message, file=directive.file, line=directive.end_line) from None
        return cls(
            servers=tuple(servers),
            valid=valid,
            ipv4=options.get("ipv4", "on") != "off",
            ipv6=options.get("ipv6", "on") != "off",
            timeout=units.parse_msec(timeout) / 1000 if timeout is not None else 30.0,
        )


def _server(text: str, resolve: Resolve) -> list[tuple[str, int]]:
    """`address[:port]` (`[v6]:port` for IPv6); a name is resolved to its addresses."""
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, number = text.partition(":")
        port = int(number)
    try:
        return [(str(ipaddress.ip_address(host)), port)]
    except ValueError:
        return [(address, port) for address in resolve(host)]


class _Asking:
    """A query under way: done, with its error if it failed."""

    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.error: ResolveError | None = None


class NameResolver:
    """One `resolver`'s answers and queries; `resolve` is what a request awaits."""

    __slots__ = ("_answers", "_asking", "_dns", "settings")

    def __init__(self, settings: ResolverSettings) -> None:
        self.settings = settings
        self._dns = dns.asyncresolver.Resolver(configure=False)
        self._dns.nameservers = [
            dns.nameserver.Do53Nameserver(host, port) for host, port in settings.servers
        ]
        self._answers: OrderedDict[str, tuple[float, tuple[str, ...]]] = OrderedDict()
        # names being asked for: the requests that need one meanwhile wait for that answer
        self._asking: dict[str, _Asking] = {}

    async def resolve(self, name: str) -> list[str]:
        """The addresses of `name`, rotated; ResolveError when it has none."""
        key = name.lower()
        kept = self._answers.get(key)
        if kept is None or kept[0] <= trio.current_time():
            asking = self._asking.get(key)
            if asking is not None:
                await asking.done.wait()
                if asking.error is not None:
                    raise asking.error
                return await self.resolve(name)  # the answer it kept
            kept = await self._ask(name, key)
        self._answers.move_to_end(key)
        addresses = kept[1]
        turn = random.randrange(len(addresses))
        return [*addresses[turn:], *addresses[:turn]]

    async def _ask(self, name: str, key: str) -> tuple[float, tuple[str, ...]]:
        """One query for `name` at a time; its answer kept for the others."""
        asking = self._asking[key] = _Asking()
        try:
            now = trio.current_time()
            addresses, ttl = await self._query(name)
        except ResolveError as error:
            asking.error = error
            raise
        finally:
            del self._asking[key]
            asking.done.set()
        lasts = self.settings.valid if self.settings.valid is not None else ttl
        kept = self._answers[key] = (now + lasts, addresses)
        if len(self._answers) > _CACHED_NAMES:
            self._answers.popitem(last=False)
        return kept

    async def _query(self, name: str) -> tuple[tuple[str, ...], float]:
        """Addresses (IPv4 first) and the shortest TTL among their answers."""
        wanted = [t for t, on in (("A", self.settings.ipv4), ("AAAA", self.settings.ipv6)) if on]
        found: dict[str, tuple[list[str], float]] = {}
        failure: list[int] = []

        async def ask(rdtype: str) -> None:
            try:
                answer = await self._dns.resolve(
                    name, rdtype, lifetime=self.settings.timeout, search=False
                )
            except dns.resolver.NXDOMAIN:
                failure.append(3)
            except dns.resolver.NoAnswer:
                found[rdtype] = ([], 0.0)
            except dns.exception.Timeout:
                failure.append(_TIMED_OUT)
            except dns.exception.DNSException:
                failure.append(2)
            else:
                ttl = float(answer.rrset.ttl) if answer.rrset is not None else 0.0
                found[rdtype] = ([record.address for record in answer], ttl)

        with trio.move_on_after(self.settings.timeout):
            async with trio.open_nursery() as nursery:
                for rdtype in wanted:
                    nursery.start_soon(ask, rdtype)
        addresses = [a for rdtype in wanted for a in found.get(rdtype, ([], 0.0))[0]]
        if not addresses:
            code = failure[0] if failure else 3
            if len(found) + len(failure) < len(wanted):
                code = _TIMED_OUT
            raise ResolveError(name, code)
        ttls = [found[rdtype][1] for rdtype in wanted if found.get(rdtype, ([], 0.0))[0]]
        return tuple(addresses), min(ttls)
