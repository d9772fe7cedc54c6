"""`map` blocks (ngx_http_map_module): read once per configuration, matched per request.

A map's variable takes the value of the first variant that matches the source value, in
nginx's order: an exact string (ASCII case does not count), then, after `hostnames`, the
longest `*.example.com` / `.example.com` mask, then the longest `www.example.*` mask, then the
regexes in configuration order (`~` minds case, `~*` does not; an empty source matches none),
then `default` (empty without one). Values are complex values, evaluated when the variable is
looked up. Entries are judged as ngx_http_map() judges them, with its messages; `check`
reports every finding, `build` compiles what `check` accepted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from pushproxy.config.complex import ComplexValue, ComplexValueError, Lookup, compile_value
from pushproxy.config.geo import compile_tables
from pushproxy.config.pcre import compile_error, compile_regex
from pushproxy.config.tree import Directive
from pushproxy.config.variable_rules import variable_name_findings
from pushproxy.errors import ConfigError

_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_EMPTY = compile_value("")

# (entry, code, message): what ngx_http_map() says about one line of a map block.
Finding = tuple[Directive, str, str]


def ascii_lower(text: str) -> str:
    """ngx_tolower(): ASCII letters only, as nginx lowercases hash keys."""
    return text.translate(_LOWER)


@dataclass(frozen=True, slots=True, kw_only=True)
class MapRegex:
    regex: re.Pattern[str]
    value: ComplexValue


@dataclass(frozen=True, slots=True, kw_only=True)
class VariableMap:
    """One `map SOURCE $name {...}`, compiled. Keys are lowercased; `heads` hold the suffixes
    of `*.example.com` masks (`.example.com`), `tails` the prefixes of `www.example.*` masks
    (`www.example.`), longest first."""

    name: str
    source: ComplexValue
    exact: Mapping[str, ComplexValue] = field(default_factory=lambda: MappingProxyType({}))
    heads: tuple[tuple[str, ComplexValue], ...] = ()
    tails: tuple[tuple[str, ComplexValue], ...] = ()
    regexes: tuple[MapRegex, ...] = ()
    default: ComplexValue = _EMPTY
    hostnames: bool = False
    volatile: bool = False  # evaluated anew at each lookup, not once per request

    def source_text(self, lookup: Lookup) -> str:
        return self.source.evaluate(lookup)

    def find(self, text: str) -> tuple[ComplexValue, re.Match[str] | None]:
        """The value for source value `text`, and the regex match that chose it, if one did."""
        if self.hostnames and text.endswith("."):
            text = text[:-1]
        key = ascii_lower(text)
        value = self.exact.get(key)
        if value is not None:
            return value, None
        if text:
            for suffix, value in self.heads:
                if key.endswith(suffix):
                    return value, None
            for prefix, value in self.tails:
                if key.startswith(prefix):
                    return value, None
            for entry in self.regexes:
                match = entry.regex.search(text)
                if match is not None:
                    return entry.value, match
        return self.default, None


def _mask(key: str) -> tuple[str, str] | None:
    """ngx_hash_add_key() with NGX_HASH_WILDCARD_KEY: ("exact" | "dot" | "head" | "tail",
    the key without its mask), or None for what nginx declines."""
    if key.count("*") > 1 or ".." in key or "\0" in key:
        return None
    if len(key) > 1 and key.startswith("."):
        return "dot", key[1:]  # `.example.com`: example.com and its subdomains
    if len(key) > 2 and key.startswith("*."):
        return "head", key[2:]
    if len(key) > 2 and key.endswith(".*"):
        return "tail", key[:-2]
    return None if "*" in key else ("exact", key)


@dataclass(slots=True)
class _Reader:
    """ngx_http_map() over a block's entries, in order (`hostnames` affects the keys after it)."""

    compile_regexes: bool
    exact: dict[str, ComplexValue] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)  # exact names taken (`.x.com` takes x.com)
    heads: dict[str, ComplexValue] = field(default_factory=dict)
    tails: dict[str, ComplexValue] = field(default_factory=dict)
    regexes: list[MapRegex] = field(default_factory=list)
    default: ComplexValue | None = None
    hostnames: bool = False
    volatile: bool = False
    found: list[Finding] = field(default_factory=list)

    def entry(self, entry: Directive) -> None:
        words = (entry.name, *entry.args)
        if len(words) == 1 and entry.name in ("hostnames", "volatile"):
            self.hostnames = self.hostnames or entry.name == "hostnames"
            self.volatile = self.volatile or entry.name == "volatile"
            return
        if len(words) != 2:
            self.found.append((entry, "E103", "invalid number of the map parameters"))
            return
        key, text = words
        if key == "include":
            return  # the reader has spliced the file's entries in after this line
        try:
            value = compile_value(text)
        except ComplexValueError as error:
            self.found.append((entry, "E106", str(error)))
            return
        if key == "default":
            if self.default is not None:
                self.found.append((entry, "E107", "duplicate default map parameter"))
            else:
                self.default = value
        elif key.startswith("~"):
            self.regex(entry, key, value)
        else:
            self.key(entry, key.removeprefix("\\"), value)

    def regex(self, entry: Directive, key: str, value: ComplexValue) -> None:
        caseless = key.startswith("~*")
        pattern = key[2:] if caseless else key[1:]
        if not self.compile_regexes:
            error = compile_error(pattern, caseless=caseless)
            if error is not None:
                self.found.append((entry, "E110", error.nginx_text(pattern)))
            return
        self.regexes.append(
            MapRegex(regex=compile_regex(entry, pattern, caseless=caseless), value=value)
        )

    def key(self, entry: Directive, key: str, value: ComplexValue) -> None:
        masked = _mask(key) if self.hostnames else ("exact", key)
        if masked is None:
            self.found.append((entry, "E106", f'invalid hostname or wildcard "{key}"'))
            return
        kind, bare = masked[0], ascii_lower(masked[1])
        if kind == "exact":
            taken = bare in self.names
        elif kind == "tail":
            taken = bare in self.tails
        else:
            taken = bare in self.heads or (kind == "dot" and bare in self.names)
        if taken:
            self.found.append((entry, "E107", f'conflicting parameter "{ascii_lower(key)}"'))
            return
        if kind in ("exact", "dot"):
            self.names.add(bare)
            self.exact[bare] = value
        if kind == "tail":
            self.tails[bare] = value
        elif kind != "exact":
            self.heads[bare] = value


def entry_findings(entries: Sequence[Directive]) -> Iterator[Finding]:
    """What ngx_http_map() reports for a map block's entries (includes spliced in), in order."""
    reader = _Reader(compile_regexes=False)
    for entry in entries:
        reader.entry(entry)
    yield from reader.found


def map_findings(directive: Directive) -> list[tuple[str, str]]:
    """What ngx_http_map_block() reports for `map SOURCE $name` itself: (code, message)."""
    try:
        compile_value(directive.args[0])
    except ComplexValueError as error:
        return [("E106", str(error))]
    return variable_name_findings(directive.args[1])


def compile_map(directive: Directive) -> VariableMap:
    """A map block as the server uses it; ConfigError for what `check` would have reported."""
    for _, message in map_findings(directive):
        raise ConfigError(message, file=directive.file, line=directive.end_line)
    reader = _Reader(compile_regexes=True)
    for entry in directive.block or ():
        if not entry.is_comment:
            reader.entry(entry)
    if reader.found:
        entry, _, message = reader.found[0]
        raise ConfigError(message, file=entry.file, line=entry.end_line)
    return VariableMap(
        name=ascii_lower(directive.args[1][1:]),
        source=compile_value(directive.args[0]),
        exact=MappingProxyType(reader.exact),
        heads=tuple(
            sorted((("." + k, v) for k, v in reader.heads.items()), key=lambda item: -len(item[0]))
        ),
        tails=tuple(
            sorted(((k + ".", v) for k, v in reader.tails.items()), key=lambda item: -len(item[0]))
        ),
        regexes=tuple(reader.regexes),
        default=_EMPTY if reader.default is None else reader.default,
        hostnames=reader.hostnames,
        volatile=reader.volatile,
    )


class VariableTable(Protocol):
    """A variable worked out from a source value by a table: `map`, `geo`, `split_clients`."""

    @property
    def name(self) -> str: ...
    @property
    def volatile(self) -> bool: ...
    def source_text(self, lookup: Lookup) -> str: ...
    def find(self, text: str) -> tuple[ComplexValue, re.Match[str] | None]: ...


def compile_maps(http_block: Sequence[Directive]) -> Mapping[str, VariableTable]:
    """The http block's maps, geos and split_clients by variable name (lowercased); a later
    one of a name wins, as in nginx, where the second takes the variable over."""
    maps: dict[str, VariableTable] = {}
    for directive in http_block:
        if directive.name == "map" and directive.block is not None and len(directive.args) == 2:
            compiled = compile_map(directive)
            maps[compiled.name] = compiled
        elif directive.name in ("geo", "split_clients"):
            for table in compile_tables([directive]):
                maps[table.name] = table
    return MappingProxyType(maps)
