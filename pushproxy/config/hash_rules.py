"""The hash tables nginx builds from names in the configuration: a name too long for one
bucket fails the start (ngx_hash_init(): `could not build server_names_hash, you should
increase server_names_hash_bucket_size: 64`), a common surprise with long host names.

A bucket holds, per name, a pointer, the name's length and the name, aligned to a pointer,
and ends with a pointer: with the default size (the CPU's cache line, 64 bytes on x86-64 and
arm64) a name may have up to 46 characters. nginx builds a server names hash for a listen
address only when several servers share it, and one per `map` for its plain keys.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from pushproxy.config import units
from pushproxy.config.diagnostics import Diagnostic
from pushproxy.config.model import Http, Level, Server, build, listen_address
from pushproxy.config.tree import Directive
from pushproxy.errors import ConfigError

CACHE_LINE = 64  # ngx_cacheline_size: the buckets' default size, and what sizes round up to
_POINTER = 8


def _align(size: int, to: int) -> int:
    return (size + to - 1) // to * to


def _needs(name: str) -> int:
    """The bucket size a name needs (NGX_HASH_ELT_SIZE plus the bucket's end pointer)."""
    return _POINTER + _align(len(name.encode("utf-8", "surrogateescape")) + 2, _POINTER) + _POINTER


def _bucket_size(level: Level, directive: str) -> int:
    size = CACHE_LINE
    found = level.last(directive)
    if found is not None and found.args:
        with contextlib.suppress(units.InvalidValue, ValueError):
            size = units.parse_size(found.args[0])
    return _align(max(size, 1), CACHE_LINE)


def _too_long(
    table: str, name: str, size: int, directive: Directive, closes: tuple[str, int] | None
) -> Diagnostic:
    enough = _align(_needs(name), CACHE_LINE)
    return Diagnostic(
        code="E111",
        message=f"could not build {table}, you should increase {table}_bucket_size: {size}",
        file=directive.file,
        line=directive.line,
        column=directive.column,
        hint=f'"{name}" needs {table}_bucket_size {enough} (in the http block)',
        nginx_place=(directive.file, 0),  # nginx's message names no place
        nginx_order=closes,
    )


def _plain_names(server: Server) -> Iterator[tuple[str, Directive]]:
    """The names of a server's exact-name hash, each with its `server_name` (`.a.com` puts
    `a.com` there too; `*.a.com`, `a.*` and regexes go elsewhere)."""
    for directive in server.level.all("server_name"):
        for name in directive.args:
            if name.startswith("~") or name.startswith("*") or name.endswith("*"):
                continue
            yield name.lower().removeprefix("."), directive


def _server_names(http: Http, closes: tuple[str, int] | None) -> list[Diagnostic]:
    size = _bucket_size(http.level, "server_names_hash_bucket_size")
    sharing: dict[str, list[Server]] = {}
    for server in http.servers:
        for address in {listen_address(listen) for listen in server.listens}:
            sharing.setdefault(address, []).append(server)
    found: dict[tuple[str, int, str], Diagnostic] = {}
    for servers in sharing.values():
        if len(servers) < 2:
            continue
        for server in servers:
            for name, directive in _plain_names(server):
                key = (directive.file, directive.line, name)
                if _needs(name) > size and key not in found:
                    found[key] = _too_long("server_names_hash", name, size, directive, closes)
    return list(found.values())


def _maps(http: Http) -> list[Diagnostic]:
    """A map's hash is built as its block closes."""
    size = _bucket_size(http.level, "map_hash_bucket_size")
    found = []
    for block in http.level.all("map"):
        closes = (block.file, block.close_line) if block.close_line else None
        hostnames = any(entry.name == "hostnames" for entry in block.block or ())
        for entry in block.block or ():
            key = entry.name
            if key in ("default", "hostnames", "include", "volatile") or key.startswith("~"):
                continue
            if hostnames and (key.startswith("*") or key.endswith("*")):
                continue
            key = key.removeprefix("\\")  # `\default`: a key that is a keyword
            if hostnames:
                key = key.removeprefix(".")
            if _needs(key) > size:
                found.append(_too_long("map_hash", key, size, entry, closes))
                break  # nginx stops at the first
    return found


def validate(tree: Sequence[Directive], stopped: bool) -> list[Diagnostic]:
    """The hashes nginx builds when the http block closes (not when reading stopped before)."""
    http_block = next((d for d in tree if d.name == "http"), None)
    if http_block is None or (stopped and not http_block.close_line):
        return []
    try:
        http = build(tree).http
    except ConfigError:
        return []
    if http is None:
        return []
    closes = (http_block.file, http_block.close_line) if http_block.close_line else None
    return _maps(http) + _server_names(http, closes)
