"""Entries of free-form blocks (`map`, `geo`, `types`, `split_clients`, `charset_map`), judged
as each block's own handler (nginx's cf->handler) judges them, with nginx's messages: a line
with a block of its own, a wrong number of values, a percentage that is none."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from pushproxy.config.geo import geo_findings
from pushproxy.config.maps import entry_findings
from pushproxy.config.nginx_values import text
from pushproxy.config.tree import Directive

_Finding = tuple[Directive, str, str]


def _geo_entries(entries: Sequence[Directive]) -> Iterator[_Finding]:
    for entry in entries:
        if not entry.args and entry.name in ("ranges", "proxy_recursive"):
            continue
        if len(entry.args) != 1:
            yield entry, "E103", text("geo_parameters")
    for entry, message in geo_findings(entries):
        yield entry, "E106", message


def _types_entries(entries: Sequence[Directive], types: dict[str, str]) -> Iterator[_Finding]:
    """ngx_http_core_type(): an extension given a type again (in this block or another
    `types` block of the level: `types`) takes the new one, with a warning naming both
    (extensions compare in lower case)."""
    for entry in entries:
        if entry.name == "include":
            if len(entry.args) != 1:
                yield entry, "E103", text("include_arguments")
            continue
        for extension in entry.args:
            lower = extension.lower()
            old = types.get(lower)
            if old is not None:
                yield entry, "N403", (
                    f'duplicate extension "{lower}", content type: "{entry.name}", '
                    f'previous content type: "{old}"'
                )
            types[lower] = entry.name


_PERCENT = re.compile(r"[0-9]*(?:\.[0-9]{0,2})?%")


def _split_clients_entries(entries: Sequence[Directive]) -> Iterator[_Finding]:
    total = 0.0
    for entry in entries:
        percent = entry.name
        if percent == "*":
            continue
        if not _PERCENT.fullmatch(percent) or not any(c in "123456789" for c in percent):
            yield entry, "E106", text("percent", value=percent)
            continue
        total += float(percent[:-1])
        if round(total * 100) > 10000:  # (nginx counts hundredths of a percent)
            yield entry, "E106", "percent total is greater than 100%"
            return


def _charset_map_entries(entries: Sequence[Directive]) -> Iterator[_Finding]:
    for entry in entries:
        if len(entry.args) != 1:
            yield entry, "E103", text("charset_map_parameters")


_ENTRY_CHECKS: dict[str, Callable[[Sequence[Directive]], Iterator[_Finding]]] = {
    "map": entry_findings,
    "geo": _geo_entries,
    "split_clients": _split_clients_entries,
    "charset_map": _charset_map_entries,
}


def free_form_entries(
    block_name: str, entries: Sequence[Directive], types: dict[str, str] | None = None
) -> Iterator[_Finding]:
    """What the handler of a map, geo, types... block says about its entries, in order
    (`types`: the extensions the level's `types` blocks read so far gave a type)."""
    lines = [entry for entry in entries if not entry.is_comment]
    for entry in lines:
        if entry.block is not None:  # ngx_conf_parse() refuses it before the handler runs
            yield entry, "E105", text("unexpected_brace")
    entries = [entry for entry in lines if entry.block is None]
    if block_name == "types":
        yield from _types_entries(entries, {} if types is None else types)
    check = _ENTRY_CHECKS.get(block_name)
    if check is not None:
        yield from check(entries)
