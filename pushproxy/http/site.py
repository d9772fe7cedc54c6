"""One configuration as the server uses it (routers, the rewrite phase, `map`s, each location's
`LocationSetup`: limits, gzip, `add_header`, types), and the checks made on a request head
before any handler runs."""

from __future__ import annotations

import contextlib
import functools
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from pushproxy.config.maps import VariableTable
from pushproxy.config.model import Config, Level, Location, walk_locations
from pushproxy.config.units import parse_msec, parse_number, parse_sec, parse_size
from pushproxy.http.access import AccessCheck, access_checks
from pushproxy.http.addheader import AddedHeaders
from pushproxy.http.auth_request import AuthRequest
from pushproxy.http.basic_auth import BasicAuth
from pushproxy.http.charset import Charset
from pushproxy.http.error_pages import ErrorPages
from pushproxy.http.file_paths import file_owners
from pushproxy.http.gzip import GzipPolicy
from pushproxy.http.mimetypes import MimeTypes
from pushproxy.http.pacing import RateLimit
from pushproxy.http.rate_limits import (
    ConnectionLimits,
    RequestLimits,
    Zone,
    connection_limits_of,
    request_limits_of,
    zones_of,
)
from pushproxy.http.realip import RealIp
from pushproxy.http.referers import ValidReferers
from pushproxy.http.rewrite import RewritePhase
from pushproxy.http.routing import ServerRouter, validate_host
from pushproxy.http.static_files import StaticFiles
from pushproxy.http.sub_filter import SubFilter
from pushproxy.http.transport import Limits
from pushproxy.http.wire import HeaderRules, HostLimits, Request

# One listening socket: the address and port as configured (port 0 binds any free port).
ListenKey = tuple[str, int]


def _seconds(level: Level, name: str, default: float) -> float:
    value = level.values.get(name)
    return value / 1000 if isinstance(value, int) else default


# A connection's limits and header rules, and the limits of a server its heads' `Host` names.
ConnectionSettings = tuple[Limits, HeaderRules, HostLimits]


def limits_of(level: Level) -> Limits:
    """The limits a level sets (its own or inherited): a connection's are its address's
    default server's (`Site.connection_settings`), a request's its location's."""
    count, size = 4, 8192
    buffers = level.last("large_client_header_buffers")
    if buffers is not None and len(buffers.args) == 2:
        with contextlib.suppress(ValueError):
            count, size = parse_number(buffers.args[0]), parse_size(buffers.args[1])
    keepalive, header = 75.0, 0
    directive = level.last("keepalive_timeout")  # `timeout [header_timeout]`
    if directive is not None and directive.args:
        with contextlib.suppress(ValueError):
            keepalive = parse_msec(directive.args[0]) / 1000
            if len(directive.args) > 1:
                header = parse_sec(directive.args[1])
    requests = level.values.get("keepalive_requests", 1000)
    return Limits(
        header_timeout=_seconds(level, "client_header_timeout", 60.0),
        body_timeout=_seconds(level, "client_body_timeout", 60.0),
        send_timeout=_seconds(level, "send_timeout", 60.0),
        keepalive_timeout=keepalive,
        keepalive_header=header,
        keepalive_requests=requests if isinstance(requests, int) else 1000,
        keepalive_time=_seconds(level, "keepalive_time", 3600.0),
        lingering_close=level.arg("lingering_close", "on") or "on",
        lingering_time=_seconds(level, "lingering_time", 30.0),
        lingering_timeout=_seconds(level, "lingering_timeout", 5.0),
        max_header_bytes=count * size,
        max_line_bytes=size,
        server_tokens=level.arg("server_tokens", "on") != "off",
        chunked=level.values.get("chunked_transfer_encoding", True) is not False,
        charset=Charset.of(level),
    )


def location_limits(level: Level, connection: Limits) -> Limits:
    """The limits once a request has found its location: the location's keep-alive, body and
    send settings (nginx reads them from the location); the head's stay the connection's."""
    own = limits_of(level)
    return replace(
        own,
        header_timeout=connection.header_timeout,
        max_header_bytes=connection.max_header_bytes,
        max_line_bytes=connection.max_line_bytes,
    )


def header_rules_of(level: Level) -> HeaderRules:
    """How header names are judged; like the head's limits, the default server's of the
    address (nginx reads a head with them, before the Host header chooses a server)."""
    return HeaderRules(
        ignore_invalid=level.arg("ignore_invalid_headers", "on") == "on",
        underscores=level.arg("underscores_in_headers", "off") == "on",
    )


def worker_connections(config: Config) -> int:
    """`events { worker_connections }`, 512 when absent."""
    value = config.events.arg("worker_connections", "512") or "512"
    return int(value) if value.isdigit() else 512


def body_too_large(request: Request, level: Level) -> bool:
    """`client_max_body_size` (0: no limit) against the announced Content-Length."""
    limit = level.values.get("client_max_body_size", 1024 * 1024)
    if not isinstance(limit, int) or not limit or request.content_length is None:
        return False
    return request.content_length > limit


def length_and_chunked(request: Request) -> bool:
    return request.chunked and request.content_length is not None


def _answers_status(level: Level) -> bool:
    """`stub_status;` (or the old `stub_status on;`) in the location itself."""
    found = level.own.get("stub_status")
    return found is not None and found[-1].args in ((), ("on",))


@dataclass(frozen=True, slots=True, kw_only=True)
class LocationSetup:
    """What a location's requests need besides its handler, worked out once at load: its gzip
    policy (`gzip on`), its `add_header`s, its keep-alive, body and send limits, the types it
    labels its own answers with, its `limit_req`s and `limit_conn`s, and its access phase:
    realip settings, `allow`/`deny` rules, `auth_basic`, `auth_request`, and whether one of
    those suffices (`satisfy any`)."""

    limits: Limits
    mime_types: MimeTypes
    static: StaticFiles  # how the static handler serves it (when no other handler does)
    gzip: GzipPolicy | None = None
    added: AddedHeaders | None = None
    access: AccessCheck | None = None
    realip: RealIp | None = None
    auth: BasicAuth | None = None
    auth_request: AuthRequest | None = None
    auth_delay: float = 0.0  # seconds a 401 of the access phase waits (`auth_delay`)
    satisfy_any: bool = False
    request_limits: RequestLimits | None = None
    connection_limits: ConnectionLimits | None = None
    error_pages: ErrorPages | None = None
    recursive_error_pages: bool = False  # an error page's own errors get error pages too
    merge_slashes: bool = True  # (a server's) `//` in a URI is one `/`
    sub_filter: SubFilter | None = None  # text replaced in the answers' bodies
    # Whether the location has a preaccess phase of its own (limits, or realip settings,
    # which apply there when the server's changed nothing), and whether it has any phase
    # between the location's choice and its handler (worked out once: every request asks).
    preaccess: bool = False
    direct: bool = True
    stub_status: bool = False  # the location answers with `stub_status`
    referers: ValidReferers | None = None  # `valid_referers`, for `$invalid_referer`
    rate_limit: RateLimit | None = None  # `limit_rate`, `limit_rate_after`

    @classmethod
    def of(
        cls,
        location: Location,
        connection: Limits,
        access: AccessCheck | None = None,
        folder: str = "",
        zones: tuple[dict[str, Zone], dict[str, Zone]] = ({}, {}),
        owner: Location | None = None,
    ) -> LocationSetup:
        """`owner`: where the location's `root` or `alias` is set (`file_owners`)."""
        level = location.level
        realip, auth = RealIp.of(level), BasicAuth.of(level, folder)
        auth_request = AuthRequest.of(level)
        request_limits = request_limits_of(level, zones[0])
        connection_limits = connection_limits_of(level, zones[1])
        preaccess = bool(realip or request_limits or connection_limits)
        mime_types = MimeTypes.of(location)
        return cls(
            gzip=GzipPolicy.of(level),
            added=AddedHeaders.of(level),
            limits=location_limits(level, connection),
            mime_types=mime_types,
            static=StaticFiles.of(location, folder, mime_types, owner),
            access=access,
            realip=realip,
            auth=auth,
            auth_request=auth_request,
            auth_delay=_seconds(level, "auth_delay", 0.0),
            satisfy_any=level.arg("satisfy", "all") == "any",
            request_limits=request_limits,
            connection_limits=connection_limits,
            preaccess=preaccess,
            direct=not (preaccess or access or auth or auth_request),
            error_pages=ErrorPages.of(level),
            recursive_error_pages=level.values.get("recursive_error_pages") is True,
            merge_slashes=level.values.get("merge_slashes") is not False,
            sub_filter=SubFilter.of(level),
            stub_status=_answers_status(level),
            referers=ValidReferers.of(level),
            rate_limit=RateLimit.of(level),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    """One configuration as the server uses it; a reload swaps it whole."""

    config: Config
    router: ServerRouter
    limits: Limits
    header_rules: HeaderRules
    listens: tuple[ListenKey, ...]
    setups: Mapping[int, LocationSetup]  # by id() of the location (`if` blocks included)
    rewrite: RewritePhase
    max_connections: int  # worker_connections
    maps: Mapping[str, VariableTable]  # `map`, `geo`, `split_clients` variables, compiled
    realip: bool = False  # whether any level has realip settings
    keeps_slashes: bool = False  # whether any server says `merge_slashes off`
    # Each server's limits and header rules, by id() of its level (`connection_settings`).
    server_settings: Mapping[int, tuple[Limits, HeaderRules]] = field(default_factory=dict)
    # `connection_settings` by local address and port, worked out on the first connection.
    _by_address: dict[tuple[str, int], ConnectionSettings] = field(default_factory=dict)

    def connection_settings(self, address: str, port: int) -> ConnectionSettings:
        """A connection's limits and header rules: those of the default server of its local
        end `address`:`port`, as nginx reads every request head of a connection with them
        (`client_header_timeout`, `large_client_header_buffers`, `ignore_invalid_headers`,
        `underscores_in_headers` of the default server); and the line and head limits of the
        server a `Host` line names, which nginx reads the lines after it with."""
        found = self._by_address.get((address, port))
        if found is None:
            default = self._server_settings(address, port, "")
            host_limits = functools.partial(self._host_limits, address, port)
            found = self._by_address[address, port] = (*default, host_limits)
        return found

    def merges_slashes(self, address: str, port: int) -> bool:
        """`merge_slashes` of the default server of the local end `address`:`port`: nginx
        reads the request line with it, before the `Host` header chooses a server."""
        default = self.router.default_for(address, port).server.own
        return self.setups[id(default)].merge_slashes

    def _server_settings(self, address: str, port: int, host: str) -> tuple[Limits, HeaderRules]:
        try:
            server = self.router.select(address, port, host) if host else None
            if server is None:
                server = self.router.default_for(address, port)
        except LookupError:
            return self.limits, self.header_rules
        return self.server_settings.get(id(server.server.own), (self.limits, self.header_rules))

    def _host_limits(self, address: str, port: int, raw: bytes) -> tuple[int, int]:
        limits = self._server_settings(address, port, validate_host(raw) or "")[0]
        return limits.max_line_bytes, limits.max_header_bytes

    @classmethod
    def build(cls, config: Config) -> Site:
        http = config.http
        if http is None:
            return cls(
                config=config,
                router=ServerRouter.build(()),
                limits=Limits(),
                header_rules=HeaderRules(),
                listens=(),
                setups={},
                rewrite=RewritePhase(),
                max_connections=worker_connections(config),
                maps={},
            )
        listens: dict[ListenKey, None] = {}
        for server in http.servers:
            for listen in server.listens:
                listens.setdefault((listen.host, listen.port), None)
        limits = limits_of(http.level)
        checks = access_checks(http)
        zones = zones_of(http.level)
        owners = {key: owner for s in http.servers for key, owner in file_owners(s.own).items()}
        setups = {
            id(location): LocationSetup.of(
                location,
                limits,
                checks.get(id(location)),
                config.prefix,
                zones,
                owner=owners.get(id(location)),
            )
            for server in http.servers
            for location in walk_locations([server.own])
        }
        return cls(
            config=config,
            router=ServerRouter.build(http.servers, hostname=socket.gethostname()),
            limits=limits,
            header_rules=header_rules_of(http.level),
            listens=tuple(listens),
            setups=setups,
            rewrite=RewritePhase(),
            max_connections=worker_connections(config),
            maps=http.maps,
            realip=any(setup.realip is not None for setup in setups.values()),
            keeps_slashes=not all(setup.merge_slashes for setup in setups.values()),
            server_settings={
                id(server.own): (limits_of(server.own.level), header_rules_of(server.own.level))
                for server in http.servers
            },
        )


def bind_address(key: ListenKey) -> tuple[socket.AddressFamily, tuple[str, int]]:
    """The socket family and address a listen entry binds (`*` is every IPv4 address)."""
    host, port = key
    if host in ("*", ""):
        return socket.AF_INET, ("0.0.0.0", port)
    if host.startswith("[") and host.endswith("]"):
        return socket.AF_INET6, (host[1:-1], port)
    return socket.AF_INET, (host, port)
