"""The typed configuration: main → events, http → server → location (nested), upstream.

Each level keeps its own directives and the ones in effect after nginx's merge: a directive not
set at a level comes from the enclosing one, and list-like directives (`add_header`,
`proxy_set_header`) come whole from the innermost level that has any. Handlers (`proxy_pass`,
`return`, push stream location types) belong to their own location only.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from pushproxy.config import units
from pushproxy.config.complex import ComplexValue, ComplexValueError, compile_value
from pushproxy.config.directive_spec import Merge, ValueType
from pushproxy.config.directives import specs_for
from pushproxy.config.maps import VariableTable, compile_maps
from pushproxy.config.pcre import compile_regex
from pushproxy.config.tree import Directive
from pushproxy.errors import ConfigError

# Directives that configure the location they stand in and are never inherited: nginx keeps
# them in a location's handler or in per-location script code.
_NOT_INHERITED = frozenset(
    {
        "location", "if", "limit_except", "proxy_pass", "return", "rewrite", "set", "break",
        "fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass", "memcached_pass",
        "push_stream_publisher", "push_stream_subscriber", "push_stream_channels_statistics",
        "include", "server", "upstream", "map", "geo", "split_clients",
    }
)  # fmt: skip

Settings = Mapping[str, tuple[Directive, ...]]
_EMPTY: Settings = MappingProxyType({})
NO_MAPS: Mapping[str, VariableTable] = MappingProxyType({})


def _inherited(name: str) -> bool:
    if name in _NOT_INHERITED:
        return False
    specs = specs_for(name)
    return not specs or any(s.merge is not Merge.NONE for s in specs)


_PARSERS: Mapping[ValueType, Callable[[str], object]] = {
    ValueType.FLAG: units.parse_flag,
    ValueType.SIZE: units.parse_size,
    ValueType.OFFSET: units.parse_offset,
    ValueType.MSEC: units.parse_msec,
    ValueType.SEC: units.parse_sec,
    ValueType.NUMBER: units.parse_number,
}


def _typed(effective: Settings) -> Mapping[str, object]:
    """Values of single-valued typed directives, parsed once (invalid ones are `check`'s)."""
    values: dict[str, object] = {}
    for name, found in effective.items():
        directive = found[-1]
        for spec in specs_for(name):
            parse = _PARSERS.get(spec.value) if spec.value else None
            if parse is None or len(directive.args) != 1:
                continue
            with contextlib.suppress(ValueError):  # an invalid value is `check`'s to report
                values[name] = parse(directive.args[0])
            break
    return MappingProxyType(values)


@dataclass(frozen=True, slots=True, kw_only=True)
class Level:
    """Directives at one level: `own` as written, `effective` after the merge, and `values`:
    the typed value of each flag, size, time and number in effect (parsed at load)."""

    own: Settings
    effective: Settings
    values: Mapping[str, object]

    @classmethod
    def of(cls, block: Sequence[Directive], parent: Level | None = None) -> Level:
        own: dict[str, list[Directive]] = {}
        for directive in block:
            if not directive.is_comment:
                own.setdefault(directive.name, []).append(directive)
        own_settings = {name: tuple(found) for name, found in own.items()}
        effective: dict[str, tuple[Directive, ...]] = {}
        if parent is not None:
            effective.update((k, v) for k, v in parent.effective.items() if _inherited(k))
        effective.update(own_settings)
        return cls(
            own=MappingProxyType(own_settings),
            effective=MappingProxyType(effective),
            values=_typed(effective),
        )

    def all(self, name: str) -> tuple[Directive, ...]:
        return self.effective.get(name, ())

    def last(self, name: str) -> Directive | None:
        found = self.effective.get(name)
        return found[-1] if found else None

    def arg(self, name: str, default: str | None = None) -> str | None:
        directive = self.last(name)
        if directive is None or not directive.args:
            return default
        return directive.args[0]


def capture_names(regex: re.Pattern[str]) -> frozenset[str]:
    """`1`..`N` and the named groups a regex defines: the captures it sets."""
    return frozenset({str(i) for i in range(1, regex.groups + 1)} | set(regex.groupindex))


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    """A `location` (or the server's own level, `modifier` "", `pattern` "")."""

    directive: Directive | None
    modifier: str  # "", "=", "^~", "~", "~*", "@" (named)
    pattern: str
    regex: re.Pattern[str] | None
    level: Level
    locations: tuple[Location, ...] = ()
    conditions: tuple[Location, ...] = ()  # `if` blocks inside the location

    @property
    def capture_names(self) -> frozenset[str]:
        """`1`..`N` and the named groups the location regex defines."""
        return frozenset() if self.regex is None else capture_names(self.regex)


@dataclass(frozen=True, slots=True, kw_only=True)
class Listen:
    directive: Directive
    host: str  # "*" for every address, "[::]" style for IPv6, or a name; "unix:/path"
    port: int
    default_server: bool = False
    options: tuple[str, ...] = ()


def listen_address(listen: Listen) -> str:
    """The address as nginx names it in its messages (`0.0.0.0:80`, `unix:/path`)."""
    host = "0.0.0.0" if listen.host == "*" else listen.host
    return host if host.startswith("unix:") else f"{host}:{listen.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Server:
    """A server block; `own` is its level as a location (with its `if` blocks), which answers
    requests that no location matches."""

    directive: Directive
    listens: tuple[Listen, ...]
    names: tuple[str, ...]
    level: Level
    locations: tuple[Location, ...]
    own: Location


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamServer:
    directive: Directive
    address: str
    weight: int = 1
    max_fails: int = 1
    fail_timeout: str = "10s"
    max_conns: int = 0  # 0: no limit
    backup: bool = False
    down: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Upstream:
    directive: Directive
    name: str
    servers: tuple[UpstreamServer, ...]
    level: Level


@dataclass(frozen=True, slots=True, kw_only=True)
class Http:
    directive: Directive
    level: Level
    servers: tuple[Server, ...]
    upstreams: Mapping[str, Upstream]
    # `map` variables by (lowercased) name
    maps: Mapping[str, VariableTable] = field(default_factory=lambda: NO_MAPS)


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    main: Level
    events: Level
    http: Http | None
    prefix: str = ""  # the folder relative file paths start from (`includes.config_prefix`)


LOCATION_MODIFIERS = ("=", "^~", "~", "~*")


def split_location(args: tuple[str, ...]) -> tuple[str | None, str]:
    """(modifier, pattern) as ngx_http_core_location() reads them: the modifier separate or
    glued (`=/a`, `^~/a`, `~*\\.php$`); "" for a prefix, "@" for a named location, None for an
    invalid separate modifier (`~~`)."""
    if len(args) == 2:
        return (args[0] if args[0] in LOCATION_MODIFIERS else None), args[1]
    name = args[0] if args else ""
    for modifier in ("=", "^~", "~*", "~"):
        if name.startswith(modifier):
            return modifier, name[len(modifier) :]
    return ("@" if name.startswith("@") else ""), name


def location_parts(directive: Directive) -> tuple[str, str]:
    """`split_location` of a directive; ConfigError with nginx's message if the modifier is bad."""
    modifier, pattern = split_location(directive.args)
    if modifier is None:
        raise ConfigError(
            f'invalid location modifier "{directive.args[0]}"',
            file=directive.file,
            line=directive.end_line,
        )
    return modifier, pattern


def _location(directive: Directive, parent: Level) -> Location:
    modifier, pattern = location_parts(directive)
    regex = None
    if modifier in ("~", "~*"):
        regex = compile_regex(directive, pattern, caseless=modifier == "~*")
    return _level_location(directive, modifier, pattern, regex, parent)


def _level_location(
    directive: Directive | None,
    modifier: str,
    pattern: str,
    regex: re.Pattern[str] | None,
    parent: Level,
    block: Sequence[Directive] | None = None,
) -> Location:
    items = block if block is not None else (directive.block or () if directive else ())
    level = Level.of(items, parent)
    nested = tuple(
        _location(d, level) for d in items if d.name == "location" and d.block is not None
    )
    conditions = tuple(
        _level_location(d, "if", " ".join(d.args), None, level)
        for d in items
        if d.name == "if" and d.block is not None
    )
    return Location(
        directive=directive,
        modifier=modifier,
        pattern=pattern,
        regex=regex,
        level=level,
        locations=nested,
        conditions=conditions,
    )


def parse_listen(directive: Directive) -> Listen:
    address = directive.args[0] if directive.args else "80"
    options = directive.args[1:]
    host, port_text = "*", address
    if address.startswith("unix:"):
        host, port_text = address, "0"
    elif address.startswith("["):
        close = address.find("]")
        host = address[: close + 1]
        port_text = address[close + 2 :] if address[close + 1 : close + 2] == ":" else "80"
    elif ":" in address:
        host, port_text = address.rsplit(":", 1)
    elif not address.isdigit():
        host, port_text = address, "80"
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(
            f'invalid port in "{address}" of the "listen" directive',
            file=directive.file,
            line=directive.end_line,
        ) from None
    return Listen(
        directive=directive,
        host=host,
        port=port,
        default_server="default_server" in options or "default" in options,
        options=options,
    )


_DEFAULT_LISTEN = Directive(name="listen", args=("80",), file="", line=0, column=0, end_line=0)


def _server(directive: Directive, http: Level) -> Server:
    own = _level_location(directive, "", "", None, http)
    listens = tuple(parse_listen(d) for d in own.level.own.get("listen", ()))
    names = tuple(a for d in own.level.own.get("server_name", ()) for a in d.args)
    return Server(
        directive=directive,
        listens=listens or (parse_listen(_DEFAULT_LISTEN),),
        names=names or ("",),
        level=own.level,
        locations=own.locations,
        own=own,
    )


def _count(text: str | None, default: int) -> int:
    """A number parameter of an upstream server; an invalid one is `check`'s to report."""
    return int(text) if text is not None and text.isascii() and text.isdigit() else default


def _upstream_server(directive: Directive) -> UpstreamServer:
    params: dict[str, str] = {}
    flags: set[str] = set()
    for arg in directive.args[1:]:
        key, sep, value = arg.partition("=")
        if sep:
            params[key] = value
        else:
            flags.add(arg)
    return UpstreamServer(
        directive=directive,
        address=directive.args[0] if directive.args else "",
        weight=_count(params.get("weight"), 1) or 1,
        max_fails=_count(params.get("max_fails"), 1),
        fail_timeout=params.get("fail_timeout", "10s"),
        max_conns=_count(params.get("max_conns"), 0),
        backup="backup" in flags,
        down="down" in flags,
    )


def _upstream(directive: Directive, http: Level) -> Upstream:
    items = directive.block or ()
    return Upstream(
        directive=directive,
        name=directive.args[0] if directive.args else "",
        servers=tuple(_upstream_server(d) for d in items if d.name == "server"),
        level=Level.of(items),
    )


def _blocks(tree: Sequence[Directive], name: str) -> list[Directive]:
    return [d for d in tree if d.name == name and d.block is not None]


def build(tree: Sequence[Directive], prefix: str = "") -> Config:
    """The model of a configuration that passed `check`; ConfigError where it cannot be built.
    `prefix`: see `Config.prefix`."""
    main = Level.of(tree)
    events = _blocks(tree, "events")
    https = _blocks(tree, "http")
    http = None
    if https:
        http_directive = https[0]
        items = http_directive.block or ()
        http_level = Level.of(items, main)
        http = Http(
            directive=http_directive,
            level=http_level,
            servers=tuple(_server(d, http_level) for d in _blocks(items, "server")),
            upstreams={
                u.name: u for u in (_upstream(d, http_level) for d in _blocks(items, "upstream"))
            },
            maps=compile_maps(items),
        )
    return Config(
        main=main,
        events=Level.of(events[0].block or ()) if events else Level.of(()),
        http=http,
        prefix=prefix,
    )


def walk_locations(locations: Sequence[Location]) -> list[Location]:
    """Every location, nested ones and `if` blocks included, in configuration order."""
    found: list[Location] = []
    for location in locations:
        found.append(location)
        found.extend(walk_locations(location.conditions))
        found.extend(walk_locations(location.locations))
    return found


def compile_complex(directive: Directive, index: int = 0) -> ComplexValue:
    """A directive's argument as a complex value; ConfigError with nginx's message."""
    try:
        return compile_value(directive.args[index])
    except ComplexValueError as error:
        raise ConfigError(str(error), file=directive.file, line=directive.end_line) from None
