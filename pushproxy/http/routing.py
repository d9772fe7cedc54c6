"""nginx's request routing: the server block for a request, then its location.

Tables are built from the configuration once, so that per request routing is a few dict lookups
and, where the configuration has them, regex searches in configuration order.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

from pushproxy.config.model import Location, Server
from pushproxy.config.pcre import compile_regex
from pushproxy.http.captures import NO_CAPTURES, Captures, captures_of
from pushproxy.http.target import BadRequest, RequestTarget
from pushproxy.http.variables import Headers

# A location ending in `/` with one of these answers a request for its name without the slash
# with a redirect (nginx's `auto_redirect`).
_PASS_DIRECTIVES = (
    "proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "memcached_pass", "grpc_pass",
)  # fmt: skip
# ngx_escape_uri(NGX_ESCAPE_URI): controls, space, `#`, `%`, `?` and bytes from 0x7f.
_URI_UNSAFE = frozenset([*range(0x21), 0x23, 0x25, 0x3F, *range(0x7F, 0x100)])
# Hosts that need no work: lowercase labels, perhaps a port, no trailing dot.
_PLAIN_HOST = re.compile(rb"([a-z0-9\-]+(?:\.[a-z0-9\-]+)*)(?::[0-9]*)?")
_STOP, _REDIRECT, _GO_ON = range(3)


def validate_host(raw: bytes) -> str | None:
    """ngx_http_validate_host(): lowercased, without port and trailing dot; None if invalid."""
    plain = _PLAIN_HOST.fullmatch(raw)
    if plain is not None:
        return plain[1].decode("ascii")
    dot = end = len(raw)
    literal = rest = False
    for index, ch in enumerate(raw):
        if ch == 0x2E:  # `.`
            if dot == index - 1:
                return None
            dot = index
        elif ch == 0x3A:  # `:` starts the port, outside an IPv6 literal
            if not literal and not rest:
                end, rest = index, True
        elif ch == 0x5B:  # `[`
            literal = literal or index == 0
        elif ch == 0x5D:  # `]`
            if literal and not rest:
                end, rest = index + 1, True
        elif ch <= 0x20 or ch == 0x7F or ch == 0x2F:
            return None
    if dot == end - 1:
        end -= 1
    if end <= 0:
        return None
    return raw[:end].lower().decode("utf-8", "surrogateescape")  # ASCII letters only


def request_host(target: RequestTarget, headers: Headers, http_version: bytes) -> str:
    """The host nginx routes by: the request line's, else the Host header's, else "" (which
    selects the server named ""). BadRequest where nginx answers 400."""
    host = None
    if target.host is not None:
        host = validate_host(target.host)
        if host is None:
            raise BadRequest("client sent invalid host in request line")
    seen = False
    for name, value in headers:
        if len(name) == 4 and name.lower() == b"host":
            if seen:
                raise BadRequest("client sent duplicate host header")
            seen = True
            header_host = validate_host(value)
            if header_host is None:
                raise BadRequest("client sent invalid host header")
            host = header_host if host is None else host
    if not seen and http_version not in (b"1.0", b"0.9"):
        raise BadRequest('client sent HTTP/1.1 request without "Host" header')
    return host or ""


@dataclass(frozen=True, slots=True, kw_only=True)
class LocationMatch:
    """The location for a URI; `captures` None when no regex matched. `redirect_to_slash`:
    nginx answers 301 to `redirect_target` (for `/api` and a `location /api/ {proxy_pass..}`)."""

    location: Location
    captures: Captures | None = None
    redirect_to_slash: bool = False

    def redirect_target(self, args: str) -> str:
        """The `Location` of the slash redirect: the location's name escaped, then the args."""
        name = self.location.pattern.encode("utf-8", "surrogateescape")
        escaped = "".join(f"%{b:02X}" if b in _URI_UNSAFE else chr(b) for b in name)
        return f"{escaped}?{args}" if args else escaped


@dataclass(frozen=True, slots=True, kw_only=True)
class _Entry:
    location: Location
    nested: _Table | None
    noregex: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class _Table:
    """The locations directly inside one level (server or location)."""

    exact: Mapping[str, Location]
    prefixes: Mapping[str, _Entry]
    lengths: tuple[int, ...]  # the prefixes' lengths, longest first
    slash_redirects: Mapping[str, Location]  # "/api" → location "/api/" with a proxy_pass
    regexes: tuple[tuple[re.Pattern[str], _Entry], ...]


def _passes(location: Location | None) -> bool:
    return location is not None and any(d in location.level.own for d in _PASS_DIRECTIVES)


def _table(locations: Sequence[Location]) -> _Table | None:
    exact: dict[str, Location] = {}
    prefixes: dict[str, _Entry] = {}
    regexes: list[tuple[re.Pattern[str], _Entry]] = []
    for location in locations:
        name, modifier = location.pattern, location.modifier
        nested = _table(location.locations)
        if modifier == "=":
            exact.setdefault(name, location)
        elif modifier in ("", "^~"):
            entry = _Entry(location=location, nested=nested, noregex=modifier == "^~")
            prefixes.setdefault(name, entry)
        elif location.regex is not None:
            regexes.append((location.regex, _Entry(location=location, nested=nested)))
    if not (exact or prefixes or regexes):
        return None
    inclusive = {name: entry.location for name, entry in prefixes.items()}
    redirects = {
        name[:-1]: exact.get(name) or inclusive[name]  # nginx reports the exact one if both
        for name in {*exact, *inclusive}
        if name.endswith("/") and (_passes(exact.get(name)) or _passes(inclusive.get(name)))
    }
    return _Table(
        exact=MappingProxyType(exact),
        prefixes=MappingProxyType(prefixes),
        lengths=tuple(sorted({len(name) for name in prefixes}, reverse=True)),
        slash_redirects=MappingProxyType(redirects),
        regexes=tuple(regexes),
    )


def _find(table: _Table, uri: str, found: list[re.Match[str]]) -> tuple[int, Location | None]:
    """One level of ngx_http_core_find_location(): `_STOP` with the location when an exact or
    regex location matched, `_REDIRECT` for the slash redirect, else `_GO_ON` with the deepest
    prefix location matched so far (or None) and the enclosing level tries its regexes."""
    location = table.exact.get(uri)
    if location is not None:
        return _STOP, location
    if table.slash_redirects and uri not in table.prefixes:
        location = table.slash_redirects.get(uri)
        if location is not None:
            return _REDIRECT, location  # before any regex, as nginx does
    size = len(uri)
    for length in table.lengths:
        if length <= size:
            prefix = table.prefixes.get(uri[:length])
            if prefix is not None:
                location = prefix.location
                if prefix.nested is not None:
                    status, inner = _find(prefix.nested, uri, found)
                    if status != _GO_ON:
                        return status, inner
                    location = inner or location
                if prefix.noregex:  # `^~` stops the regexes of this level only
                    return _GO_ON, location
                break
    for regex, entry in table.regexes:
        match = regex.search(uri)
        if match is not None:
            found.append(match)
            # nginx looks into a matched regex location's nested ones; whatever they say
            # (a slash redirect included), the regex location's match stands
            inner = _find(entry.nested, uri, found)[1] if entry.nested else None
            return _STOP, inner or entry.location
    return _GO_ON, location


@dataclass(frozen=True, slots=True, kw_only=True)
class LocationRouter:
    """The locations of one server. A URI no location matches gets the server's own level."""

    server_level: Location
    table: _Table | None
    named_locations: Mapping[str, Location]

    @classmethod
    def for_server(cls, server: Server) -> LocationRouter:
        level = server.own
        named = {loc.pattern: loc for loc in server.locations if loc.modifier == "@"}
        return cls(
            server_level=level,
            table=_table(server.locations),
            named_locations=MappingProxyType(named),
        )

    def match(self, uri: str) -> LocationMatch:
        """The location for a normalized URI (`$uri`), as nginx chooses it."""
        if self.table is None:
            return LocationMatch(location=self.server_level)
        found: list[re.Match[str]] = []
        status, location = _find(self.table, uri, found)
        captures = None
        for match in found:
            captures = (captures or NO_CAPTURES).then(captures_of(match))
        return LocationMatch(
            location=location or self.server_level,
            captures=captures,
            redirect_to_slash=status == _REDIRECT,
        )

    def named(self, name: str) -> Location | None:
        """A named location (`@fallback`): only `error_page`, `try_files`... reach it."""
        return self.named_locations.get(name)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerMatch:
    """The server for a request: `name` is `$server_name`, `captures` come from a regex name.
    A request's captures: `server_match.captures.then(location_match.captures)`."""

    server: Server
    name: str
    locations: LocationRouter
    captures: Captures = NO_CAPTURES


@dataclass(frozen=True, slots=True, kw_only=True)
class _Names:
    """The server names on one address:port, as nginx's hashes and regex list hold them."""

    default: ServerMatch
    exact: Mapping[str, ServerMatch]
    heads: Mapping[str, ServerMatch]  # `*.example.com` (and `.example.com`) by "example.com"
    tails: Mapping[str, ServerMatch]  # `www.example.*` by "www.example"
    regexes: tuple[tuple[re.Pattern[str], ServerMatch], ...]

    def find(self, host: str) -> ServerMatch:
        found = self.exact.get(host)
        if found is not None:
            return found
        if not host:
            return self.default
        if self.heads:  # the longest suffix first
            dot = host.find(".")
            while dot >= 0:
                found = self.heads.get(host[dot + 1 :])
                if found is not None:
                    return found
                dot = host.find(".", dot + 1)
        if self.tails:  # the longest prefix first
            dot = host.rfind(".")
            while dot > 0:
                found = self.tails.get(host[:dot])
                if found is not None:
                    return found
                dot = host.rfind(".", 0, dot)
        for regex, server in self.regexes:
            match = regex.search(host)
            if match is not None:
                return replace(server, captures=captures_of(match))
        return self.default


def _names(servers: Sequence[ServerMatch], default: ServerMatch, hostname: str) -> _Names:
    """Index names as ngx_http_server_names() does; a name taken already is ignored (nginx
    warns "conflicting server name"), and `.example.com` takes both forms or neither."""
    exact: dict[str, ServerMatch] = {}
    heads: dict[str, ServerMatch] = {}
    tails: dict[str, ServerMatch] = {}
    taken: set[str] = set()  # nginx's exact-name check also holds the `.example.com` ones
    regexes: list[tuple[re.Pattern[str], ServerMatch]] = []
    for match in servers:
        for name in match.server.names:
            if name.startswith("~"):
                pattern = name[1:]  # any capital letter makes nginx compile it caseless
                caseless = any("A" <= char <= "Z" for char in pattern)
                regex = compile_regex(match.server.directive, pattern, caseless=caseless)
                regexes.append((regex, match))
                continue
            name = hostname if name.lower() == "$hostname" else name.lower()
            if name.startswith("*."):
                heads.setdefault(name[2:], match)
            elif name.startswith("."):
                if name[1:] not in taken:
                    taken.add(name[1:])
                    if name[1:] not in heads:
                        heads[name[1:]] = exact[name[1:]] = match
            elif name.endswith(".*"):
                tails.setdefault(name[:-2], match)
            elif "*" not in name and name not in taken:
                taken.add(name)
                exact[name] = match
    return _Names(
        default=default,
        exact=MappingProxyType(exact),
        heads=MappingProxyType(heads),
        tails=MappingProxyType(tails),
        regexes=tuple(regexes),
    )


def _server_name(server: Server, hostname: str) -> str:
    """`$server_name`: the first name, a leading dot dropped (a regex name keeps its `~`)."""
    first = server.names[0] if server.names else ""
    if first.startswith("~"):
        return first
    if first.lower() == "$hostname":
        return hostname
    return first.removeprefix(".").lower()


def resolve_static(name: str) -> tuple[str, ...]:
    """Listen host names without a resolver: only `localhost` is known."""
    return ("127.0.0.1", "::1") if name.lower() == "localhost" else ()


def _addresses(host: str, resolve: Callable[[str], Sequence[str]]) -> tuple[str, ...]:
    """A listen host as the addresses sockets report: "0.0.0.0" for `*`, IPv6 unbracketed."""
    if host == "*":
        return ("0.0.0.0",)
    if host.startswith("unix:"):
        return (host,)
    try:
        return (str(ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))),)
    except ValueError:
        return tuple(str(ipaddress.ip_address(address)) for address in resolve(host))


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerRouter:
    """Server selection. The candidates are the servers listening on the request's very
    address:port, else those on `*:port` (`[::]:port`), as nginx binds. Among them: the exact
    name, the longest `*.` wildcard, the longest `.*` wildcard, regex names in configuration
    order, else the `default_server`, else the first server listening there."""

    by_address: Mapping[tuple[str, int], _Names]

    @classmethod
    def build(
        cls,
        servers: Sequence[Server],
        *,
        hostname: str = "",
        resolve: Callable[[str], Sequence[str]] = resolve_static,
    ) -> ServerRouter:
        """`hostname` stands for `$hostname` in names; `resolve` gives a listen host name's
        addresses (nginx resolves them when it reads the configuration)."""
        hostname = hostname.lower()
        listening: dict[tuple[str, int], list[ServerMatch]] = {}
        defaults: dict[tuple[str, int], ServerMatch] = {}
        for server in servers:
            match = ServerMatch(
                server=server,
                name=_server_name(server, hostname),
                locations=LocationRouter.for_server(server),
            )
            for listen in server.listens:
                for address in _addresses(listen.host, resolve):
                    key = (address, listen.port)
                    here = listening.setdefault(key, [])
                    if not any(other is match for other in here):
                        here.append(match)
                    if listen.default_server:
                        defaults.setdefault(key, match)
        names = {
            key: _names(here, defaults.get(key, here[0]), hostname)
            for key, here in listening.items()
        }
        return cls(by_address=MappingProxyType(names))

    def default_for(self, address: str, port: int) -> ServerMatch:
        """The default server of the local end `address`:`port` (see `select`), which nginx
        reads a request line with, before the `Host` header chooses one."""
        return self._names(address, port).default

    def select(self, address: str, port: int, host: str) -> ServerMatch:
        """The server for `host` (see `request_host`) on the local end `address`:`port` as the
        socket reports it (a unix socket: "unix:PATH", port 0); LookupError if none listens."""
        return self._names(address, port).find(host)

    def _names(self, address: str, port: int) -> _Names:
        names = self.by_address.get((address, port))
        if names is None:
            names = self.by_address.get(("::" if ":" in address else "0.0.0.0", port))
            if names is None:
                raise LookupError(f"no server listens on {address}:{port}")
        return names
