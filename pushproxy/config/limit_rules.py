"""What nginx says of `limit_req_zone`, `limit_req`, `limit_conn_zone` and `limit_conn`.

`value_findings` judges one directive's arguments (ngx_http_limit_req_zone(),
ngx_http_limit_req(), ngx_http_limit_conn_zone(), ngx_http_limit_conn()); `validate` is the
pass over the whole tree: a zone declared twice (bound to a key already, of another size or
for another module), and a zone used but never defined (nginx's `zero size shared memory zone
"x"` at startup).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from pushproxy.config.diagnostics import Diagnostic
from pushproxy.config.shared_memory import Zones, declare
from pushproxy.config.tree import Directive
from pushproxy.config.units import InvalidValue, parse_size

_MIN_ZONE = 8 * 4096  # eight pages: nginx's smallest shared memory zone
_ZONES = {"limit_req": "limit_req_zone", "limit_conn": "limit_conn_zone"}


def _rate_ok(value: str) -> bool:
    number, unit = value[:-3], value[-3:]
    return unit in ("r/s", "r/m") and number.isascii() and number.isdigit() and int(number) > 0


def _zone_findings(d: Directive) -> list[tuple[str, str]]:
    """ngx_http_limit_req_zone() / ngx_http_limit_conn_zone(): `zone=NAME:SIZE` (and a rate)."""
    zone = False
    for arg in d.args[1:]:
        if arg.startswith("zone="):
            name, colon, size = arg[5:].partition(":")
            try:
                amount = parse_size(size) if colon and name else -1
            except (ValueError, InvalidValue):
                amount = -1
            if amount < 0:
                return [("E106", f'invalid zone size "{arg}"')]
            if amount < _MIN_ZONE:
                return [("E106", f'zone "{arg}" is too small')]
            zone = True
        elif arg.startswith("rate=") and d.name == "limit_req_zone":
            if not _rate_ok(arg[5:]):
                return [("E106", f'invalid rate "{arg}"')]
        elif arg != "sync":
            return [("E106", f'invalid parameter "{arg}"')]
    if not zone:
        return [("E106", f'"{d.name}" must have "zone" parameter')]
    return []


def _limit_req_findings(d: Directive) -> list[tuple[str, str]]:
    """ngx_http_limit_req(): `zone=NAME [burst=N] [nodelay | delay=N]`."""
    zone = False
    for arg in d.args:
        key, equals, value = arg.partition("=")
        if key == "zone" and equals:
            zone = True
        elif key in ("burst", "delay") and equals:
            if not (value.isascii() and value.isdigit()):
                return [("E106", f'invalid {key} value "{arg}"')]
        elif arg != "nodelay":
            return [("E106", f'invalid parameter "{arg}"')]
    if not zone:
        return [("E106", '"limit_req" must have "zone" parameter')]
    return []


def _limit_conn_findings(d: Directive) -> list[tuple[str, str]]:
    """ngx_http_limit_conn(): `NAME N` with N from 1 to 65535."""
    count = d.args[1] if len(d.args) == 2 else ""
    if not (count.isascii() and count.isdigit()) or not 0 < int(count) <= 65535:
        return [("E106", f'invalid number of connections "{count}"')]
    return []


LIMIT_VALUE_CHECKS = {
    ("ngx_http_limit_req_module", "limit_req_zone"): _zone_findings,
    ("ngx_http_limit_req_module", "limit_req"): _limit_req_findings,
    ("ngx_http_limit_conn_module", "limit_conn_zone"): _zone_findings,
    ("ngx_http_limit_conn_module", "limit_conn"): _limit_conn_findings,
}


def _zone_name(d: Directive) -> str | None:
    if d.name in _ZONES.values():
        zone = next((a for a in d.args[1:] if a.startswith("zone=")), None)
        return zone[5:].partition(":")[0] if zone else None
    if d.name == "limit_req":
        zone = next((a for a in d.args if a.startswith("zone=")), None)
        return zone[5:] if zone else None
    return d.args[0] if d.name == "limit_conn" and d.args else None


def _blocks(block: Sequence[Directive]) -> Iterator[Sequence[Directive]]:
    yield block
    for d in block:
        if d.block is not None and d.name in ("server", "location", "if", "limit_except"):
            yield from _blocks(d.block)


def _error(d: Directive, message: str) -> Diagnostic:
    return Diagnostic(
        code="E106", message=message, file=d.file, line=d.line, column=d.column,
        nginx_level="emerg",
    )  # fmt: skip


def _declared_again(
    d: Directive, name: str, zones: Zones, defined: dict[tuple[str, str], str]
) -> str | None:
    """ngx_shared_memory_add(), then the module's check: what nginx says of a zone declared
    again (any second declaration is an error), or None for the first."""
    zone = next(a for a in d.args[1:] if a.startswith("zone="))
    try:
        size = parse_size(zone.partition(":")[2])
    except (ValueError, InvalidValue):
        return None  # reported by `value_findings`
    bound = defined.get((d.name, name), d.args[0])
    again = f'{d.name} "{name}" is already bound to key "{bound}"'
    message = declare(zones, name, d.name, size, again)
    if message is None:
        defined[d.name, name] = d.args[0]
    return message


def validate(tree: Sequence[Directive], stopped: bool = False) -> list[Diagnostic]:
    http = next((d for d in tree if d.name == "http" and d.block is not None), None)
    if http is None:
        return []
    found: list[Diagnostic] = []
    defined: dict[tuple[str, str], str] = {}  # (zone directive, name): key
    zones: Zones = {}
    for d in http.block or ():
        name = _zone_name(d)
        if d.name in _ZONES.values() and name is not None and d.args:
            message = _declared_again(d, name, zones, defined)
            if message is not None:
                found.append(_error(d, message))
    if stopped:
        return found
    for block in _blocks(http.block or ()):
        for d in block:
            name = _zone_name(d) if d.name in _ZONES else None
            if name is not None and (_ZONES[d.name], name) not in defined:
                # (found as nginx creates the zones, after "syntax is ok", with no place)
                unknown = _error(d, f'zero size shared memory zone "{name}"')
                found.append(replace(unknown, nginx_place=(d.file, 0), nginx_after_syntax=True))
    return found
