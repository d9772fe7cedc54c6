"""The judgements `nginx -t` makes on a parsed config that the parser itself does not make.

`validate()` walks the spliced tree the way nginx's ngx_conf_parse()/ngx_conf_handler() do:
for each directive, in order, the name is looked up, then its context, its `;` or `{`, its
argument count, its duplicate slot and its value, then the block is entered. Checks nginx
makes when a block ends (unresolvable `proxy_pass` hosts and duplicate locations after
`http {}`, empty upstreams, servers without `listen`) come after that block's own findings, and
the `events` check comes last. Particular handlers' checks (listen, error_log, log formats,
upstreams, proxy_pass) are `nginx_handlers`.
nginx stops at the first error; the list goes on, so that one run shows every problem.
Each finding sits on the directive's `end_line`, where nginx's reader was when it judged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from pushproxy.config.complex import ComplexValueError, compile_value
from pushproxy.config.diagnostics import Diagnostic
from pushproxy.config.directive_spec import Ctx, DirectiveSpec, arity_accepts
from pushproxy.config.directives import spec_in, specs_for, third_party_module
from pushproxy.config.directives_ignored import ignored_effect
from pushproxy.config.entry_rules import free_form_entries
from pushproxy.config.model import split_location
from pushproxy.config.nginx_handlers import (
    UNKNOWN_HOST_HINT,
    Declared,
    Place,
    implicit_upstream_errors,
    placed_findings,
)
from pushproxy.config.nginx_values import (
    HANDLER_CHECKS,
    VALUE_CHECKS,
    ZONE_SLOTS,
    text,
)
from pushproxy.config.pcre import compile_error
from pushproxy.config.tree import Directive

_THIRD_PARTY_HINT = "nginx accepts it only when that module is built in or loaded"
_PUSH_MODULE = "ngx_http_push_stream_module"
_CORE = "ngx_http_core_module"


def _at(directive: Directive, code: str, message: str, *, level: str | None = "emerg",
        hint: str | None = None, order: tuple[str, int] | None = None) -> Diagnostic:
    return Diagnostic(code=code, message=message, file=directive.file, line=directive.end_line,
                      column=directive.column, hint=hint, nginx_level=level, nginx_order=order)




# The arguments nginx compiles as complex values (or scripts) as it reads these directives:
# `$` not followed by a name, or `${` without its `}`, fails there.
_COMPLEX_ARGUMENTS = {
    "return": lambda args: args[1:] if args[0].isdigit() else args[:1],
    "set": lambda args: args[1:2],
    "add_header": lambda args: args[1:2],
    "add_trailer": lambda args: args[1:2],
    "rewrite": lambda args: args[1:2],
    "root": lambda args: args[:1],
    "alias": lambda args: args[:1],
    "try_files": lambda args: args,
    "index": lambda args: args,
    "error_page": lambda args: args[-1:],
    "proxy_pass": lambda args: args[:1],
    "push_stream_channels_path": lambda args: args[:1],
    "push_stream_allowed_origins": lambda args: args[:1],
    "push_stream_last_received_message_time": lambda args: args[:1],
    "push_stream_last_received_message_tag": lambda args: args[:1],
    "push_stream_last_event_id": lambda args: args[:1],
    "push_stream_user_agent": lambda args: args[:1],
}


def _complex_value_error(d: Directive) -> str | None:
    pick = _COMPLEX_ARGUMENTS.get(d.name)
    if pick is None or not d.args:
        return None
    for arg in pick(d.args):
        if "$" in arg:
            try:
                compile_value(arg)
            except ComplexValueError as error:
                return str(error)
    return None


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
    # The type of each extension this level's `types` blocks gave one (they make one list).
    types: dict[str, str] = field(default_factory=dict)


# Location kinds by modifier (model.split_location reads the modifier as nginx does).
_LOCATION_KINDS = {
    "=": "exact", "^~": "prefix", "": "prefix", "~": "regex", "~*": "regex", "@": "named",
}  # fmt: skip


class _Walker:
    def __init__(self, *, complete: bool) -> None:
        self.found: list[Diagnostic] = []
        self.servers: list[list[_Location]] = []
        self.declared = Declared()
        self.complete = complete  # reading reached the end: blocks without close_line closed

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
                self.found.append(_at(d, "E101", text("unknown", name=d.name)))
            else:
                self.found.append(_at(d, "N402", text("third_party", name=d.name, module=module),
                                      level=None, hint=_THIRD_PARTY_HINT))
            return
        spec = spec_in(d.name, scope.context)
        if spec is None:
            self.found.append(_at(d, "E102", text("not_allowed", name=d.name)))
            self.enter(specs[0], d, scope, None)
            return
        if d.block is not None and not spec.opens_block:
            self.found.append(_at(d, "E105", text("not_terminated", name=d.name)))
            return
        if d.block is None and spec.opens_block:
            self.found.append(_at(d, "E104", text("no_opening", name=d.name)))
            return
        location = None
        if not arity_accepts(spec.arity, len(d.args)):
            self.found.append(_at(d, "E103", text("arguments", name=d.name)))
        elif not self.duplicate(spec, d, slots):
            self.value(spec, d)
            location = self.special(spec, d, scope)
        if spec.warning:
            self.found.append(_at(d, "N403", spec.warning, level="warn"))
        if not spec.honoured and spec.module != _PUSH_MODULE and not scope.ignored:
            effect = ignored_effect(spec.name, spec.module)
            self.found.append(_at(d, "N401", text("ignored", name=d.name, effect=effect),
                                  level=None))
        self.enter(spec, d, scope, location)

    def duplicate(self, spec: DirectiveSpec, d: Directive, slots: dict[str, Directive]) -> bool:
        zone_slot = ZONE_SLOTS.get((spec.module, spec.name))
        slot = zone_slot(d.args) if zone_slot else spec.slot
        if slot is None:
            return False
        earlier = slots.get(slot)
        if earlier is None or spec.overwrites:
            slots[slot] = d
            return False
        if earlier.name != d.name and spec.duplicate_text:
            message = spec.duplicate_text
        else:
            message = text("duplicate", name=d.name)
        self.found.append(_at(d, "E107", message))
        return True

    def value(self, spec: DirectiveSpec, d: Directive) -> None:
        check = VALUE_CHECKS.get(spec.value) if spec.value else None
        message = check(spec, d) if check else None
        if message is None:
            message = _complex_value_error(d)
        if message is not None:
            self.found.append(_at(d, "E106", message))

    def special(self, spec: DirectiveSpec, d: Directive, scope: _Scope) -> _Location | None:
        if spec.module == _CORE and d.name == "location":
            return self.location(d, scope)
        handler = HANDLER_CHECKS.get((spec.module, d.name))
        kind = scope.location.kind if scope.location is not None else None
        place = Place(scope.context, kind)
        own = handler(d) if handler is not None else []
        for code, message in [*own, *placed_findings(spec.module, d, place, self.declared)]:
            level = "warn" if code == "N403" else "emerg"  # nginx's own notices are warnings
            self.found.append(_at(d, code, message, level=level))
        self.found.extend(self.declared.placed)
        self.declared.placed.clear()
        return None

    def location(self, d: Directive, scope: _Scope) -> _Location | None:
        modifier, name = split_location(d.args)
        kind = _LOCATION_KINDS.get(modifier) if modifier is not None else None
        caseless = modifier == "~*"
        if kind is None:
            self.found.append(_at(d, "E108", text("location_modifier", value=d.args[0])))
            return None
        if kind == "regex":
            error = compile_error(name, caseless=caseless)
            if error is not None:
                self.found.append(_at(d, "E110", error.nginx_text(name)))
        parent = scope.location
        if parent is not None:
            message = None
            if parent.kind == "exact":
                message = text("inside_exact", name=name, parent=parent.name)
            elif parent.kind == "named":
                message = text("inside_named", name=name, parent=parent.name)
            elif kind == "named":
                message = text("named_nested", name=name)
            elif kind != "regex" and not name.startswith(parent.name):
                message = text("outside", name=name, parent=parent.name)
            if message is not None:
                self.found.append(_at(d, "E108", message))
        location = _Location(name=name, kind=kind, directive=d)
        if scope.locations is not None:
            scope.locations.append(location)
        return location

    def enter(self, spec: DirectiveSpec, d: Directive, scope: _Scope,
              location: _Location | None) -> None:
        if d.block is not None and spec.free_form:
            for entry, code, message in free_form_entries(spec.name, d.block, scope.types):
                level = "warn" if code == "N403" else "emerg"  # nginx's warnings go on
                self.found.append(_at(entry, code, message, level=level))
        if d.block is None or spec.block is None:
            return  # free-form blocks (map, types...) hold entries, not directives
        ignored = scope.ignored or (not spec.honoured and spec.module != _PUSH_MODULE)
        inner = _Scope(context=spec.block, ignored=ignored)
        if spec.block is Ctx.HTTP:
            self.servers = []
            self.declared = Declared()
        elif spec.block is Ctx.STREAM:
            self.declared = Declared()  # the stream block's upstreams are its own
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

    def implicit_upstreams(self, order: tuple[str, int] | None) -> None:
        """The upstreams' init_main_conf: the implicit ones (`proxy_pass` to an address...)
        must have a port and a host that resolves."""
        for message, host, passing in implicit_upstream_errors(self.declared):
            hint = UNKNOWN_HOST_HINT.format(host=host)
            self.found.append(_at(passing, "E112", message, hint=hint, order=order))

    def block_end(self, spec: DirectiveSpec, d: Directive) -> None:
        """Checks nginx makes once a block has been read."""
        assert d.block is not None
        if spec.block is Ctx.HTTP and (d.close_line or self.complete):
            # ngx_http_block(): the upstreams' init_main_conf, then the location trees
            order = (d.file, d.close_line) if d.close_line else None
            self.implicit_upstreams(order)
            for locations in self.servers:
                self.found.extend(_duplicate_locations(locations, order))
            self.found.extend(_ssl_without_certificate(d, order))
        elif spec.block is Ctx.STREAM and (d.close_line or self.complete):
            self.implicit_upstreams((d.file, d.close_line) if d.close_line else None)
        elif spec.block in (Ctx.UPSTREAM, Ctx.STREAM_UPSTREAM):
            if not any(child.name == "server" for child in d.block):
                # nginx reports it on the line of the closing brace
                last = d.close_line or max(
                    (_last_line(child) for child in d.block), default=d.end_line
                )
                self.found.append(Diagnostic(
                    code="E111", message=text("no_upstream_servers"), file=d.file,
                    line=last, column=d.column,
                ))
        elif spec.block in (Ctx.MAIL_SERVER, Ctx.STREAM_SERVER) and not any(
            child.name == "listen" for child in d.block
        ):
            self.found.append(_at(d, "E111", text("no_listen")))


def _last_line(d: Directive) -> int:
    return max((_last_line(child) for child in d.block or ()), default=d.end_line)


def _ssl_without_certificate(
    http: Directive, order: tuple[str, int] | None
) -> Iterator[Diagnostic]:
    """ngx_http_ssl_init(), once the http block is read: a server with a `listen ... ssl` and
    no `ssl_certificate` of its own or of the http block, reported at the server's line."""
    items = [child for child in http.block or () if not child.is_comment]
    if any(child.name == "ssl_certificate" for child in items):
        return
    for server in items:
        own = server.block if server.name == "server" and server.block is not None else ()
        if any(child.name == "ssl_certificate" for child in own):
            continue
        if any(child.name == "listen" and "ssl" in child.args[1:] for child in own):
            yield _at(server, "E111", text("ssl_no_certificate"), order=order)


def _duplicate_locations(
    locations: list[_Location], order: tuple[str, int] | None
) -> Iterator[Diagnostic]:
    """ngx_http_init_static_location_trees(): exact and prefix locations sorted by name,
    nested levels first; a second exact, or a second prefix, of one name is a duplicate."""
    ordered = sorted(
        (loc for loc in locations if loc.kind in ("exact", "prefix")),
        key=lambda loc: (loc.name.encode("utf-8", "surrogateescape"), loc.kind != "exact"),
    )
    for loc in ordered:
        yield from _duplicate_locations(loc.children, order)
    seen: set[tuple[str, str]] = set()
    for loc in ordered:
        key = (loc.kind, loc.name)
        if key in seen:
            yield _at(loc.directive, "E109", text("duplicate_location", name=loc.name),
                      order=order)
        seen.add(key)


def validate(tree: Sequence[Directive], *, complete: bool = True) -> list[Diagnostic]:
    """Every judgement nginx makes while reading the spliced config `tree`, in its order.

    `complete=False` says reading stopped early (a syntax error). The missing `events` check,
    made after everything else (also after the http block's variables), is `missing_events`.
    """
    walker = _Walker(complete=complete)
    walker.block(tree, _Scope(context=Ctx.MAIN))
    return walker.found


def missing_events(tree: Sequence[Directive], *, complete: bool = True) -> list[Diagnostic]:
    """`no "events" section in configuration`, which nginx finds only once all is read."""
    if not complete or any(d.name == "events" and d.block is not None for d in tree):
        return []
    file = next((d.file for d in tree), "")
    return [
        Diagnostic(code="E111", message=text("no_events"), file=file, line=0,
                   nginx_after_syntax=True)
    ]  # fmt: skip
