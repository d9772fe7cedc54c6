"""The judgements `nginx -t` makes on a parsed config that the parser itself does not make.

`validate()` walks the spliced tree the way nginx's ngx_conf_parse()/ngx_conf_handler() do:
for each directive, in order, the name is looked up, then its context, its `;` or `{`, its
argument count, its duplicate slot and its value, then the block is entered. Checks nginx
makes when a block ends (duplicate locations after `http {}`, empty upstreams, servers
without `listen`) come after that block's own findings, and the `events` check comes last.
nginx stops at the first error; the list goes on, so that one run shows every problem.
Each finding sits on the directive's `end_line`, where nginx's reader was when it judged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from pushproxy.config import units
from pushproxy.config.diagnostics import Diagnostic
from pushproxy.config.directive_spec import Ctx, DirectiveSpec, ValueType, arity_accepts
from pushproxy.config.directives import spec_in, specs_for, third_party_module
from pushproxy.config.directives_ignored import ignored_effect
from pushproxy.config.pcre import compile_error
from pushproxy.config.tree import Directive

# nginx's texts (src/core/ngx_conf_file.c and the handlers named beside each).
MESSAGES: dict[str, str] = {
    "unknown": 'unknown directive "{name}"',
    "not_allowed": '"{name}" directive is not allowed here',
    "arguments": 'invalid number of arguments in "{name}" directive',
    "no_opening": 'directive "{name}" has no opening "{{"',
    "not_terminated": 'directive "{name}" is not terminated by ";"',
    "duplicate": '"{name}" directive is duplicate',
    "flag": 'invalid value "{value}" in "{name}" directive, it must be "on" or "off"',
    "slot_invalid_value": '"{name}" directive invalid value',
    "slot_invalid_number": '"{name}" directive invalid number',
    "invalid_value": 'invalid value "{value}"',  # enum and bitmask slots
    "invalid_value_in": 'invalid value "{value}" in "{name}" directive',  # upstream keepalive
    "invalid_number": 'invalid number "{value}"',  # worker_connections
    "between": "value must be between {low} and {high}",
    "at_least": "value must be equal to or greater than {low}",
    "return_code": 'invalid return code "{value}"',
    "invalid_condition": 'invalid condition "{value}"',
    "unexpected_in_condition": 'unexpected "{value}" in condition',
    "invalid_parameter": 'invalid parameter "{value}"',
    "empty_replacement": "empty replacement",
    "location_modifier": 'invalid location modifier "{value}"',
    "inside_exact": 'location "{name}" cannot be inside the exact location "{parent}"',
    "inside_named": 'location "{name}" cannot be inside the named location "{parent}"',
    "named_nested": 'named location "{name}" can be on the server level only',
    "outside": 'location "{name}" is outside location "{parent}"',
    "duplicate_location": 'duplicate location "{name}"',
    "no_events": 'no "events" section in configuration',
    "no_listen": 'no "listen" is defined for server',
    "no_upstream_servers": "no servers are inside upstream",
    "ignored": 'pushproxy ignores "{name}": {effect}',
    "third_party": 'pushproxy ignores "{name}", a directive of the third-party module {module}',
}
_THIRD_PARTY_HINT = "nginx accepts it only when that module is built in or loaded"
_PUSH_MODULE = "ngx_http_push_stream_module"
_CORE = "ngx_http_core_module"
_REWRITE = "ngx_http_rewrite_module"


def _text(key: str, **values: object) -> str:
    return MESSAGES[key].format(**values)


def _at(directive: Directive, code: str, message: str, *, level: str | None = "emerg",
        hint: str | None = None) -> Diagnostic:
    return Diagnostic(code=code, message=message, file=directive.file, line=directive.end_line,
                      column=directive.column, hint=hint, nginx_level=level)


# ---- value checks: each returns nginx's message, or None when the value is fine

def _slot_check(parse: Callable[[str], object], key: str) -> Callable[[DirectiveSpec, Directive],
                                                                       str | None]:
    def check(spec: DirectiveSpec, directive: Directive) -> str | None:
        try:
            parse(directive.args[0])
        except units.InvalidValue:
            return _text(key, name=spec.name, value=directive.args[0])
        return None

    return check


def _number(spec: DirectiveSpec, directive: Directive) -> str | None:
    try:
        number = units.parse_number(directive.args[0])
    except units.InvalidValue:
        return _text("slot_invalid_number", name=spec.name)
    if spec.bounds is None:
        return None
    low, high = spec.bounds
    if high == -1:
        return None if number >= low else _text("at_least", low=low)
    return None if low <= number <= high else _text("between", low=low, high=high)


def _enum(spec: DirectiveSpec, directive: Directive) -> str | None:
    try:
        units.parse_enum(directive.args[0], spec.values)
    except units.InvalidValue:
        return _text("invalid_value", value=directive.args[0])
    return None


def _bitmask(spec: DirectiveSpec, directive: Directive) -> str | None:
    for arg in directive.args:
        try:
            units.parse_enum(arg, spec.values)
        except units.InvalidValue:
            return _text("invalid_value", value=arg)
    return None


def _bufs(spec: DirectiveSpec, directive: Directive) -> str | None:
    try:
        units.parse_bufs(directive.args[0], directive.args[1])
    except units.InvalidValue:
        return _text("slot_invalid_value", name=spec.name)
    return None


def _worker_processes(spec: DirectiveSpec, directive: Directive) -> str | None:
    if directive.args[0] == "auto":  # compared with case, unlike flags
        return None
    return _slot_check(units.parse_number, "slot_invalid_value")(spec, directive)


def _keepalive_timeout(spec: DirectiveSpec, directive: Directive) -> str | None:
    try:
        units.parse_msec(directive.args[0])
        if len(directive.args) > 1:
            units.parse_sec(directive.args[1])
    except units.InvalidValue:
        return _text("slot_invalid_value", name=spec.name)
    return None


def _cached_connections(spec: DirectiveSpec, directive: Directive) -> str | None:
    value = directive.args[0]
    try:
        if units.parse_number(value) > 0:
            return None
    except units.InvalidValue:
        pass
    return _text("invalid_value_in", value=value, name=spec.name)


def _return(spec: DirectiveSpec, directive: Directive) -> str | None:
    first = directive.args[0]
    try:
        code = units.parse_number(first)
    except units.InvalidValue:
        redirect = first.startswith(("http://", "https://", "$scheme"))
        return None if len(directive.args) == 1 and redirect else _text("return_code",
                                                                        value=first)
    return None if code <= 999 else _text("return_code", value=first)


_VALUE_CHECKS: dict[ValueType, Callable[[DirectiveSpec, Directive], str | None]] = {
    ValueType.FLAG: _slot_check(units.parse_flag, "flag"),
    ValueType.SIZE: _slot_check(units.parse_size, "slot_invalid_value"),
    ValueType.OFFSET: _slot_check(units.parse_offset, "slot_invalid_value"),
    ValueType.MSEC: _slot_check(units.parse_msec, "slot_invalid_value"),
    ValueType.SEC: _slot_check(units.parse_sec, "slot_invalid_value"),
    ValueType.NUMBER: _number,
    ValueType.ENUM: _enum,
    ValueType.BITMASK: _bitmask,
    ValueType.BUFS: _bufs,
    ValueType.WORKER_PROCESSES: _worker_processes,
    ValueType.CONNECTIONS: _slot_check(units.parse_number, "invalid_number"),
    ValueType.KEEPALIVE_TIMEOUT: _keepalive_timeout,
    ValueType.CACHED_CONNECTIONS: _cached_connections,
    ValueType.RETURN: _return,
}


# ---- walker state

@dataclass(slots=True)
class _Location:
    name: str
    kind: str  # "exact", "prefix" (plain or ^~), "regex", "named"
    directive: Directive
    children: list[_Location] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Scope:
    context: Ctx
    location: _Location | None = None  # the enclosing location, for nesting rules
    locations: list[_Location] | None = None  # where this level's locations are collected
    ignored: bool = False  # inside a block pushproxy ignores: no notices for its content


_LOCATION_MODIFIERS = {"=": "exact", "^~": "prefix", "~": "regex", "~*": "regex"}


def _split_location(args: tuple[str, ...]) -> tuple[str | None, str, bool]:
    """(kind or None for a bad modifier, name, caseless) as ngx_http_core_location() reads them."""
    if len(args) == 2:
        modifier, name = args
        return _LOCATION_MODIFIERS.get(modifier), name, modifier == "~*"
    raw = args[0]
    for prefix in ("=", "^~", "~*", "~"):
        if raw.startswith(prefix):
            return _LOCATION_MODIFIERS[prefix], raw[len(prefix):], prefix == "~*"
    return ("named" if raw.startswith("@") else "prefix"), raw, False


class _Walker:
    def __init__(self) -> None:
        self.found: list[Diagnostic] = []
        self.has_events = False
        self.servers: list[list[_Location]] = []

    def block(self, items: Sequence[Directive], scope: _Scope) -> None:
        slots: dict[str, Directive] = {}
        for directive in items:
            if not directive.is_comment:
                self.directive(directive, scope, slots)

    def directive(self, d: Directive, scope: _Scope, slots: dict[str, Directive]) -> None:
        specs = specs_for(d.name)
        if not specs:
            module = third_party_module(d.name)
            if module is None:
                self.found.append(_at(d, "E101", _text("unknown", name=d.name)))
            else:
                self.found.append(_at(d, "N402", _text("third_party", name=d.name, module=module),
                                      level=None, hint=_THIRD_PARTY_HINT))
            return
        spec = spec_in(d.name, scope.context)
        if spec is None:
            self.found.append(_at(d, "E102", _text("not_allowed", name=d.name)))
            self.enter(specs[0], d, scope, None)
            return
        if d.block is not None and not spec.opens_block:
            self.found.append(_at(d, "E105", _text("not_terminated", name=d.name)))
            return
        if d.block is None and spec.opens_block:
            self.found.append(_at(d, "E104", _text("no_opening", name=d.name)))
            return
        location = None
        if not arity_accepts(spec.arity, len(d.args)):
            self.found.append(_at(d, "E103", _text("arguments", name=d.name)))
        elif not self.duplicate(spec, d, slots):
            self.value(spec, d)
            location = self.special(spec, d, scope)
        if spec.warning:
            self.found.append(_at(d, "N403", spec.warning, level="warn"))
        if not spec.honoured and spec.module != _PUSH_MODULE and not scope.ignored:
            effect = ignored_effect(spec.name, spec.module)
            self.found.append(_at(d, "N401", _text("ignored", name=d.name, effect=effect),
                                  level=None))
        if scope.context is Ctx.MAIN and d.name == "events":
            self.has_events = True
        self.enter(spec, d, scope, location)

    def duplicate(self, spec: DirectiveSpec, d: Directive, slots: dict[str, Directive]) -> bool:
        zone_slot = _ZONE_SLOTS.get((spec.module, spec.name))
        slot = zone_slot(d.args) if zone_slot else spec.slot
        if slot is None:
            return False
        earlier = slots.get(slot)
        if earlier is None:
            slots[slot] = d
            return False
        if earlier.name != d.name and spec.duplicate_text:
            message = spec.duplicate_text
        else:
            message = _text("duplicate", name=d.name)
        self.found.append(_at(d, "E107", message))
        return True

    def value(self, spec: DirectiveSpec, d: Directive) -> None:
        check = _VALUE_CHECKS.get(spec.value) if spec.value else None
        message = check(spec, d) if check else None
        if message is not None:
            self.found.append(_at(d, "E106", message))

    def special(self, spec: DirectiveSpec, d: Directive, scope: _Scope) -> _Location | None:
        if spec.module == _CORE and d.name == "location":
            return self.location(d, scope)
        handler = _HANDLER_CHECKS.get((spec.module, d.name))
        if handler is not None:
            for code, message in handler(d):
                self.found.append(_at(d, code, message))
        return None

    def location(self, d: Directive, scope: _Scope) -> _Location | None:
        kind, name, caseless = _split_location(d.args)
        if kind is None:
            self.found.append(_at(d, "E108", _text("location_modifier", value=d.args[0])))
            return None
        if kind == "regex":
            error = compile_error(name, caseless=caseless)
            if error is not None:
                self.found.append(_at(d, "E110", error.nginx_text(name)))
        parent = scope.location
        if parent is not None:
            message = None
            if parent.kind == "exact":
                message = _text("inside_exact", name=name, parent=parent.name)
            elif parent.kind == "named":
                message = _text("inside_named", name=name, parent=parent.name)
            elif kind == "named":
                message = _text("named_nested", name=name)
            elif kind != "regex" and not name.startswith(parent.name):
                message = _text("outside", name=name, parent=parent.name)
            if message is not None:
                self.found.append(_at(d, "E108", message))
        location = _Location(name=name, kind=kind, directive=d)
        if scope.locations is not None:
            scope.locations.append(location)
        return location

    def enter(self, spec: DirectiveSpec, d: Directive, scope: _Scope,
              location: _Location | None) -> None:
        if d.block is not None and spec.name == "map" and spec.free_form:
            for entry in d.block:
                for code, message in _map_entry(entry):
                    self.found.append(_at(entry, code, message))
        if d.block is None or spec.block is None:
            return  # free-form blocks (map, types...) hold entries, not directives
        ignored = scope.ignored or (not spec.honoured and spec.module != _PUSH_MODULE)
        inner = _Scope(context=spec.block, ignored=ignored)
        if spec.block is Ctx.HTTP:
            self.servers = []
        elif spec.block is Ctx.SERVER:
            inner = _Scope(context=Ctx.SERVER, locations=[], ignored=ignored)
            if inner.locations is not None:
                self.servers.append(inner.locations)
        elif spec.block is Ctx.LOCATION:
            children = location.children if location is not None else None
            inner = _Scope(context=Ctx.LOCATION, location=location, locations=children,
                           ignored=ignored)
        self.block(d.block, inner)
        self.block_end(spec, d)

    def block_end(self, spec: DirectiveSpec, d: Directive) -> None:
        """Checks nginx makes once a block has been read."""
        assert d.block is not None
        if spec.block is Ctx.HTTP:
            for locations in self.servers:
                self.found.extend(_duplicate_locations(locations))
        elif spec.block in (Ctx.UPSTREAM, Ctx.STREAM_UPSTREAM):
            if not any(child.name == "server" for child in d.block):
                # nginx reports it on the line of the closing brace, which the tree lacks
                last = max((_last_line(child) for child in d.block), default=d.end_line)
                self.found.append(Diagnostic(
                    code="E111", message=_text("no_upstream_servers"), file=d.file,
                    line=last, column=d.column,
                ))
        elif spec.block in (Ctx.MAIL_SERVER, Ctx.STREAM_SERVER) and not any(
            child.name == "listen" for child in d.block
        ):
            self.found.append(_at(d, "E111", _text("no_listen")))


def _last_line(d: Directive) -> int:
    return max((_last_line(child) for child in d.block or ()), default=d.end_line)


def _regex(pattern: str, *, caseless: bool = False) -> list[tuple[str, str]]:
    error = compile_error(pattern, caseless=caseless)
    return [] if error is None else [("E110", error.nginx_text(pattern))]


def _server_name(d: Directive) -> list[tuple[str, str]]:
    """ngx_http_core_server_name(): names starting with `~` are regexes."""
    return [found for arg in d.args if arg.startswith("~") for found in _regex(arg[1:])]


def _rewrite(d: Directive) -> list[tuple[str, str]]:
    """ngx_http_rewrite(): replacement, regex, then the flag."""
    if not d.args[1]:
        return [("E106", _text("empty_replacement"))]
    found = _regex(d.args[0])
    if not found and len(d.args) == 3 and d.args[2] not in _REWRITE_FLAGS:
        found = [("E106", _text("invalid_parameter", value=d.args[2]))]
    return found


_REWRITE_FLAGS = ("last", "break", "redirect", "permanent")
_FILE_TESTS = ("-f", "!-f", "-d", "!-d", "-e", "!-e", "-x", "!-x")
_COMPARISONS = ("=", "!=")
_MATCHES = ("~", "~*", "!~", "!~*")


def _if(d: Directive) -> list[tuple[str, str]]:
    """ngx_http_rewrite_if_condition(): `(`, a variable test or a file test, `)`."""
    words = list(d.args)
    if not words[0].startswith("("):
        return [("E106", _text("invalid_condition", value=words[0]))]
    cur = 1 if words[0] == "(" else 0
    words[0] = words[0][1:] if cur == 0 else words[0]
    last = len(words) - 1
    if not words[last].endswith(")"):
        return [("E106", _text("invalid_condition", value=words[last]))]
    if words[last] == ")":
        last -= 1
    else:
        words[last] = words[last][:-1]
    condition = words[cur : last + 1] or [")"]
    first = condition[0]
    if len(first) > 1 and first.startswith("$"):
        if len(condition) not in (1, 3):
            return [("E106", _text("invalid_condition", value=first))]
        if len(condition) == 1 or condition[1] in _COMPARISONS:
            return []
        if condition[1] in _MATCHES:
            return _regex(condition[2], caseless=condition[1].endswith("*"))
        return [("E106", _text("unexpected_in_condition", value=condition[1]))]
    if first in _FILE_TESTS and len(condition) == 2:
        return []
    return [("E106", _text("invalid_condition", value=first))]


def _map_entry(entry: Directive) -> list[tuple[str, str]]:
    """ngx_http_map(): a source value starting with `~` (`~*`: any case) is a regex."""
    key = entry.name
    if entry.is_comment or not key.startswith("~"):
        return []
    caseless = key.startswith("~*")
    return _regex(key[2:] if caseless else key[1:], caseless=caseless)


def _zone_of_limit_req(args: tuple[str, ...]) -> str | None:
    zones = [arg[5:] for arg in args if arg.startswith("zone=")]
    return f"limit_req zone {zones[0]}" if zones else None


# limit_req and limit_conn may repeat, once per zone: the zone is their slot.
_ZONE_SLOTS: dict[tuple[str, str], Callable[[tuple[str, ...]], str | None]] = {
    ("ngx_http_limit_req_module", "limit_req"): _zone_of_limit_req,
    ("ngx_http_limit_conn_module", "limit_conn"): lambda args: f"limit_conn zone {args[0]}",
    ("ngx_stream_limit_conn_module", "limit_conn"): lambda args: f"limit_conn zone {args[0]}",
}


# Checks made by particular nginx handlers beyond the generic slot checks.
_HANDLER_CHECKS: dict[tuple[str, str], Callable[[Directive], list[tuple[str, str]]]] = {
    (_CORE, "server_name"): _server_name,
    (_REWRITE, "rewrite"): _rewrite,
    (_REWRITE, "if"): _if,
}


def _duplicate_locations(locations: list[_Location]) -> Iterator[Diagnostic]:
    """ngx_http_init_static_location_trees(): exact and prefix locations sorted by name,
    nested levels first; a second exact, or a second prefix, of one name is a duplicate."""
    ordered = sorted(
        (loc for loc in locations if loc.kind in ("exact", "prefix")),
        key=lambda loc: (loc.name.encode(), loc.kind != "exact"),
    )
    for loc in ordered:
        yield from _duplicate_locations(loc.children)
    seen: set[tuple[str, str]] = set()
    for loc in ordered:
        key = (loc.kind, loc.name)
        if key in seen:
            yield _at(loc.directive, "E109", _text("duplicate_location", name=loc.name))
        seen.add(key)


def validate(tree: Sequence[Directive]) -> list[Diagnostic]:
    """Every judgement nginx makes on the spliced config `tree`, in the order nginx makes them."""
    walker = _Walker()
    walker.block(tree, _Scope(context=Ctx.MAIN))
    if not walker.has_events:
        file = next((d.file for d in tree), "")
        walker.found.append(Diagnostic(code="E111", message=_text("no_events"), file=file, line=0))
    return walker.found
