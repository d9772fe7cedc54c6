"""Checks nginx does not make (or makes only as it runs): configurations nginx accepts that
cannot do what their author meant.

- E301 a `$N` or named capture that no regex can set: not the location's, nor a `server_name`,
  `rewrite` or regex `if` of its server or location (nor a regex `map`, which may set any);
- W301 a regex location that can never be chosen (a copy of, or after, a catch-all regex);
- W302 the same server name twice on one address (nginx only warns and ignores the second);
- W303 message storage limits that the shared memory cannot hold;
- W305 a `listen` for a protocol pushproxy does not speak (TLS, HTTP/2, QUIC, PROXY).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from pushproxy.config import units
from pushproxy.config.complex import ComplexValueError, compile_value
from pushproxy.config.diagnostics import Diagnostic
from pushproxy.config.model import (
    Http,
    Listen,
    Location,
    Server,
    build,
    capture_names,
    listen_address,
    walk_locations,
)
from pushproxy.config.pcre import compile_regex
from pushproxy.config.push_rules import location_type
from pushproxy.config.tree import Directive
from pushproxy.config.variable_rules import REGEX_MATCHES, condition_words
from pushproxy.errors import ConfigError

# Directives whose values are complex values evaluated per request in a location.
_COMPLEX_DIRECTIVES = frozenset(
    {
        "push_stream_channels_path", "push_stream_last_received_message_time",
        "push_stream_last_received_message_tag", "push_stream_last_event_id",
        "push_stream_user_agent", "push_stream_allowed_origins", "proxy_pass", "return",
        "add_header", "proxy_set_header", "set", "rewrite",
    }
)  # fmt: skip
_CATCH_ALL = frozenset({"", ".", ".*", "^", "^.*", "^.*$", "/", "^/", "^/.*", "^/.*$", "(.*)"})
_DEFAULT_BODY_LIMIT = 1024 * 1024  # client_max_body_size default: the largest message


def _diagnostic(
    code: str, message: str, directive: Directive, hint: str | None = None
) -> Diagnostic:
    return Diagnostic(
        code=code,
        message=message,
        file=directive.file,
        line=directive.line,
        column=directive.column,
        hint=hint,
        nginx_level=None,
    )


def _own_directives(location: Location) -> Iterator[Directive]:
    for found in location.level.own.values():
        yield from found


def _undefined_captures(
    location: Location, enclosing_regex: Location | None, from_ifs: frozenset[str]
) -> list[Diagnostic]:
    """`$1`.. that no regex can fill: neither the location's (or the enclosing one's) nor any
    regex `if` or `rewrite` of the location (`from_ifs`; which of them runs is known only at
    run time)."""
    regex_location = location if location.regex is not None else enclosing_regex
    defined = (regex_location.capture_names if regex_location else frozenset()) | from_ifs
    found = []
    for directive in _own_directives(location):
        if directive.name not in _COMPLEX_DIRECTIVES:
            continue
        for arg in directive.args:
            try:
                names = compile_value(arg).variables
            except ComplexValueError:
                continue
            for name in names:
                if name.isdigit() and name not in defined:
                    where = (
                        f"location regex {regex_location.pattern!r} has "
                        f"{regex_location.regex.groups if regex_location.regex else 0} group(s)"
                        if regex_location
                        else "the location is not a regex location"
                    )
                    if from_ifs:
                        where += ", and no `if`, `rewrite` or `server_name` regex has as many"
                    found.append(
                        _diagnostic(
                            "E301",
                            f'"${name}" in "{directive.name}" is always empty: {where}',
                            directive,
                            "capture the part of the URI with a group in a `location ~` regex",
                        )
                    )
    return found


def _if_captures(conditions: Sequence[Location]) -> frozenset[str]:
    """The captures the regex `if`s among `conditions` (and inside them) can set."""
    names: set[str] = set()
    for condition in conditions:
        names |= _if_captures(condition.conditions)
        directive = condition.directive
        if directive is None:
            continue
        words = condition_words(directive)
        if len(words) == 3 and words[1] in REGEX_MATCHES:
            with contextlib.suppress(ConfigError):
                regex = compile_regex(directive, words[2], caseless=words[1].endswith("*"))
                names |= capture_names(regex)
    return frozenset(names)


def _rewrite_captures(level: Location) -> frozenset[str]:
    """The captures the `rewrite` regexes of a level (and of its `if` blocks) can set."""
    names: set[str] = set()
    for condition in level.conditions:
        names |= _rewrite_captures(condition)
    for directive in level.level.own.get("rewrite", ()):
        if directive.args:
            with contextlib.suppress(ConfigError):
                names |= capture_names(compile_regex(directive, directive.args[0], caseless=False))
    return frozenset(names)


def _capture_checks(
    locations: Sequence[Location], enclosing: Location | None, from_server: frozenset[str]
) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for location in locations:
        if location.modifier == "@":  # reached from other locations, with their captures
            continue
        own_regex = location if location.regex is not None else enclosing
        from_ifs = _if_captures(location.conditions) | _rewrite_captures(location) | from_server
        found.extend(_undefined_captures(location, enclosing, from_ifs))
        for condition in location.conditions:
            found.extend(_undefined_captures(condition, own_regex, from_ifs))
        found.extend(_capture_checks(location.locations, own_regex, from_server))
    return found


def _server_captures(server: Server) -> frozenset[str]:
    """The captures a request can bring to every location of a server: its `server_name`
    regexes', and those of its own `rewrite`s and regex `if`s."""
    names = set(_if_captures(server.own.conditions) | _rewrite_captures(server.own))
    for name in server.names:
        if name.startswith("~"):
            with contextlib.suppress(ConfigError):
                names |= capture_names(compile_regex(server.directive, name[1:], caseless=False))
    return frozenset(names)


def _regex_maps(directives: Sequence[Directive]) -> bool:
    """Whether a `map` has a regex key: looking its variable up sets `$1`.. anywhere."""
    for directive in directives:
        if directive.name == "map" and any(
            entry.name.startswith("~") for entry in directive.block or ()
        ):
            return True
    return False


def _unreachable_regexes(locations: Sequence[Location]) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    seen: dict[tuple[str, str], Directive] = {}
    catch_all: Directive | None = None
    for location in locations:
        directive = location.directive
        if location.regex is None or directive is None:
            continue
        key = (location.modifier, location.pattern)
        earlier = seen.get(key)
        if earlier is not None:
            found.append(
                _diagnostic(
                    "W301",
                    f'location {location.modifier} "{location.pattern}" is never chosen: the same '
                    f"regex stands at line {earlier.line}",
                    directive,
                    "nginx tries regex locations in order and takes the first match",
                )
            )
        elif catch_all is not None:
            found.append(
                _diagnostic(
                    "W301",
                    f'location {location.modifier} "{location.pattern}" is never chosen: '
                    f'"{catch_all.args[-1]}" at line {catch_all.line} matches every URI',
                    directive,
                    "move catch-all regex locations after the specific ones",
                )
            )
        seen.setdefault(key, directive)
        if location.pattern in _CATCH_ALL and catch_all is None:
            catch_all = directive
    for location in locations:
        found.extend(_unreachable_regexes(location.locations))
    return found


def listen_clashes(tree: Sequence[Directive], _stopped: bool = False) -> list[Diagnostic]:
    """What nginx says of listen sockets shared by servers (a pass of nginx's own checks)."""
    try:
        http = build(tree).http
    except ConfigError:
        return []
    return _listen_clashes(http) if http is not None else []


# The `listen` parameters that set the socket's options (`lsopt->set` in nginx): one server
# only may give them for an address.
_SOCKET_OPTIONS = frozenset(
    {"backlog", "rcvbuf", "sndbuf", "accept_filter", "deferred", "bind", "ipv6only",
     "reuseport", "so_keepalive", "fastopen", "setfib"}
)  # fmt: skip


def _listen_error(listen: Listen, message: str) -> Diagnostic:
    directive = listen.directive
    return Diagnostic(
        code="E111",
        message=message,
        file=directive.file,
        line=directive.end_line,
        column=directive.column,
        nginx_level="emerg",
    )


def _same_sockets(http: Http) -> list[Diagnostic]:
    """ngx_http_add_addresses() and ngx_http_add_server(): an address listed twice by one
    server, or given socket options by two."""
    found = []
    with_options: set[str] = set()
    for server in http.servers:
        own: set[str] = set()
        for listen in server.listens:
            address = listen_address(listen).replace("localhost:", "127.0.0.1:", 1)
            if any(option.partition("=")[0] in _SOCKET_OPTIONS for option in listen.options):
                if address in with_options:
                    found.append(_listen_error(listen, f"duplicate listen options for {address}"))
                with_options.add(address)
            if address in own:
                found.append(_listen_error(listen, f"a duplicate listen {address}"))
            own.add(address)
    return found


def _listen_clashes(http: Http) -> list[Diagnostic]:
    found = _same_sockets(http)
    defaults: dict[str, Listen] = {}
    names: dict[tuple[str, str], Directive] = {}
    for server in http.servers:
        for listen in server.listens:
            address = listen_address(listen)
            if listen.default_server:
                if address in defaults:
                    found.append(_listen_error(listen, f"a duplicate default server for {address}"))
                defaults.setdefault(address, listen)
            for name in server.names or ("",):  # (nginx's default server_name is "")
                if name.startswith("~"):  # nginx does not compare regex names
                    continue
                key = (address, name.lower())
                if key in names and names[key] is not server.directive:
                    where = _server_name_directive(server.level.all("server_name"), name)
                    place = where or server.directive
                    found.append(
                        Diagnostic(
                            code="W302",
                            # (nginx names it as it keeps it: in lower case)
                            message=f'conflicting server name "{name.lower()}" on {address}, '
                            "ignored",
                            file=place.file,
                            line=place.line,
                            column=place.column,
                            hint="the first server with this name and address answers",
                            nginx_level="warn",
                            nginx_fatal=False,
                            nginx_place=(place.file, 0),  # nginx's warning names no place
                        )
                    )
                names.setdefault(key, server.directive)
    return found


def _server_name_directive(directives: Sequence[Directive], name: str) -> Directive | None:
    return next((d for d in directives if name in d.args), None)


def _storing_publishers(http: Http) -> Iterator[Location]:
    """The publisher locations that store their messages (`push_stream_store_messages on`)."""
    for server in http.servers:
        for location in walk_locations(server.locations):
            kind = location_type(location)
            stores = location.level.values.get("push_stream_store_messages") is True
            if kind is not None and kind.is_publisher and stores:
                yield location


def _size_text(size: int) -> str:
    """A size as nginx's configurations write it (`256m`, `512k`, `100`)."""
    for unit, scale in (("m", 1 << 20), ("k", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    return str(size)


def _memory_budget(http: Http) -> list[Diagnostic]:
    """One channel's stored messages at the largest body a storing publisher takes, against
    the zone: past it, one busy channel fills the memory and every publish gets 500 (how many
    channels may exist is no measure: they seldom all fill)."""
    level = http.level
    shm = level.last("push_stream_shared_memory_size")
    stored = level.arg("push_stream_max_messages_stored_per_channel")
    if shm is None or not shm.args or stored is None:
        return []
    limits = [
        location.level.values.get("client_max_body_size", _DEFAULT_BODY_LIMIT)
        for location in _storing_publishers(http)
    ]
    bodies = [limit for limit in limits if isinstance(limit, int) and limit > 0]  # 0: none
    try:
        size, count = units.parse_size(shm.args[0]), int(stored)
    except (ValueError, units.InvalidValue):
        return []
    if not bodies or count * max(bodies) <= size:
        return []
    body = max(bodies)
    return [
        _diagnostic(
            "W303",
            f"{count} stored messages of up to {_size_text(body)} (client_max_body_size of a "
            f"publisher) make {_size_text(count * body)} for one channel; "
            f"push_stream_shared_memory_size is {_size_text(size)}",
            shm,
            "one busy channel fills the memory, then every publish gets 500: lower "
            "push_stream_max_messages_stored_per_channel or client_max_body_size, or raise "
            "the size",
        )
    ]


# `listen` parameters that change the protocol on the socket, and what pushproxy does instead.
_UNSPOKEN = {
    "ssl": "TLS clients cannot connect: put a TLS-terminating proxy in front of pushproxy",
    "http2": "HTTP/2 clients without a fallback to HTTP/1.1 cannot connect",
    "quic": "QUIC (HTTP/3) clients cannot connect",
    "proxy_protocol": "the PROXY header is taken as a bad request (400)",
}


def unspoken_protocols(http: Http) -> list[Diagnostic]:
    """W305 for each `listen` parameter whose protocol pushproxy does not speak."""
    found = []
    for server in http.servers:
        for listen in server.listens:
            for option in listen.options:
                effect = _UNSPOKEN.get(option)
                if effect is not None:
                    found.append(
                        _diagnostic(
                            "W305",
                            f"pushproxy serves plain HTTP/1.x on {listen_address(listen)}, "
                            f'not "{option}"',
                            listen.directive,
                            effect,
                        )
                    )
    return found


def validate(tree: Sequence[Directive], _stopped: bool = False) -> list[Diagnostic]:
    try:
        config = build(tree)
    except ConfigError:
        return []
    http = config.http
    if http is None:
        return []
    found: list[Diagnostic] = []
    regex_maps = _regex_maps(http.level.all("map"))
    for server in http.servers:
        if not regex_maps:
            found.extend(_capture_checks(server.locations, None, _server_captures(server)))
        found.extend(_unreachable_regexes(server.locations))
    found.extend(_memory_budget(http))
    found.extend(unspoken_protocols(http))
    return found
