"""How nginx's directive handlers judge argument values, and the texts they print.

Each check takes the directive (and its table row) and returns nginx's message(s), or nothing
when nginx would accept the value. The walk that applies them is `nginx_rules`.
"""

from __future__ import annotations

import grp
import os
import pwd
from collections.abc import Callable

from pushproxy.config import units
from pushproxy.config.access_rules import (
    LIMIT_EXCEPT_METHODS,
    low_bits_set,
    parse_rule,
    trusted_proxies,
)
from pushproxy.config.argument_rules import ARGUMENT_CHECKS, server_name_findings
from pushproxy.config.directive_spec import DirectiveSpec, ValueType
from pushproxy.config.limit_rules import LIMIT_VALUE_CHECKS
from pushproxy.config.maps import map_findings
from pushproxy.config.pcre import compile_error
from pushproxy.config.tree import Directive
from pushproxy.config.variable_rules import REGEX_MATCHES, variable_name_findings

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
    "low_bits": "low address bits of {value} are meaningless",
    "invalid_method": 'invalid method "{value}"',
    "real_ip_host": 'host not found in set_real_ip_from "{value}"',
    "unexpected_brace": 'unexpected "{{"',  # an entry of a map, types... block given a block
    "geo_parameters": "invalid number of the geo parameters",
    "charset_map_parameters": "invalid parameters number",
    "include_arguments": 'invalid number of arguments in "include" directive',
    "percent": 'invalid percent value "{value}"',
    "location_modifier": 'invalid location modifier "{value}"',
    "inside_exact": 'location "{name}" cannot be inside the exact location "{parent}"',
    "inside_named": 'location "{name}" cannot be inside the named location "{parent}"',
    "named_nested": 'named location "{name}" can be on the server level only',
    "outside": 'location "{name}" is outside location "{parent}"',
    "duplicate_location": 'duplicate location "{name}"',
    "no_events": 'no "events" section in configuration',
    "no_listen": 'no "listen" is defined for server',
    "no_upstream_servers": "no servers are inside upstream",
    "ssl_no_certificate": 'no "ssl_certificate" is defined for the "listen ... ssl" directive',
    "ignored": 'pushproxy ignores "{name}": {effect}',
    "third_party": 'pushproxy ignores "{name}", a directive of the third-party module {module}',
}

def text(key: str, **values: object) -> str:
    return MESSAGES[key].format(**values)


# ---- generic slot values: each check returns nginx's message, or None when the value is fine

def _slot_check(parse: Callable[[str], object], key: str) -> Callable[[DirectiveSpec, Directive],
                                                                       str | None]:
    def check(spec: DirectiveSpec, directive: Directive) -> str | None:
        try:
            parse(directive.args[0])
        except units.InvalidValue:
            return text(key, name=spec.name, value=directive.args[0])
        return None

    return check


def _complex_size(spec: DirectiveSpec, directive: Directive) -> str | None:
    """A size, unless variables make it (then it is read per request)."""
    if "$" in directive.args[0]:
        return None
    return _slot_check(units.parse_size, "slot_invalid_value")(spec, directive)


def _number(spec: DirectiveSpec, directive: Directive) -> str | None:
    try:
        number = units.parse_number(directive.args[0])
    except units.InvalidValue:
        return text("slot_invalid_number", name=spec.name)
    if spec.bounds is None:
        return None
    low, high = spec.bounds
    if high == -1:
        return None if number >= low else text("at_least", low=low)
    return None if low <= number <= high else text("between", low=low, high=high)


def _enum(spec: DirectiveSpec, directive: Directive) -> str | None:
    try:
        units.parse_enum(directive.args[0], spec.values)
    except units.InvalidValue:
        return text("invalid_value", value=directive.args[0])
    return None


def _bitmask(spec: DirectiveSpec, directive: Directive) -> str | None:
    for arg in directive.args:
        try:
            units.parse_enum(arg, spec.values)
        except units.InvalidValue:
            return text("invalid_value", value=arg)
    return None


def _bufs(spec: DirectiveSpec, directive: Directive) -> str | None:
    try:
        units.parse_bufs(directive.args[0], directive.args[1])
    except units.InvalidValue:
        return text("slot_invalid_value", name=spec.name)
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
        return text("slot_invalid_value", name=spec.name)
    return None


def _cached_connections(spec: DirectiveSpec, directive: Directive) -> str | None:
    value = directive.args[0]
    try:
        if units.parse_number(value) > 0:
            return None
    except units.InvalidValue:
        pass
    return text("invalid_value_in", value=value, name=spec.name)


def _return(spec: DirectiveSpec, directive: Directive) -> str | None:
    first = directive.args[0]
    try:
        code = units.parse_number(first)
    except units.InvalidValue:
        redirect = first.startswith(("http://", "https://", "$scheme"))
        return None if len(directive.args) == 1 and redirect else text("return_code",
                                                                        value=first)
    return None if code <= 999 else text("return_code", value=first)


VALUE_CHECKS: dict[ValueType, Callable[[DirectiveSpec, Directive], str | None]] = {
    ValueType.FLAG: _slot_check(units.parse_flag, "flag"),
    ValueType.SIZE: _slot_check(units.parse_size, "slot_invalid_value"),
    ValueType.COMPLEX_SIZE: _complex_size,
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


def regex_errors(pattern: str, *, caseless: bool = False) -> list[tuple[str, str]]:
    error = compile_error(pattern, caseless=caseless)
    return [] if error is None else [("E110", error.nginx_text(pattern))]


def _server_name(d: Directive) -> list[tuple[str, str]]:
    """ngx_http_core_server_name(), name by name: its checks (a warning goes on, an error
    ends the directive), then a name starting with `~` is compiled as a regex."""
    found: list[tuple[str, str]] = []
    for name in d.args:
        for code, message in server_name_findings(name):
            found.append((code, message))
            if code != "N403":
                return found
        errors = regex_errors(name[1:]) if name.startswith("~") else []
        if errors:
            return found + errors
    return found


def _rewrite(d: Directive) -> list[tuple[str, str]]:
    """ngx_http_rewrite(): replacement, regex, then the flag."""
    if not d.args[1]:
        return [("E106", text("empty_replacement"))]
    found = regex_errors(d.args[0])
    if not found and len(d.args) == 3 and d.args[2] not in _REWRITE_FLAGS:
        found = [("E106", text("invalid_parameter", value=d.args[2]))]
    return found


_REWRITE_FLAGS = ("last", "break", "redirect", "permanent")
_FILE_TESTS = ("-f", "!-f", "-d", "!-d", "-e", "!-e", "-x", "!-x")
_COMPARISONS = ("=", "!=")


def _if(d: Directive) -> list[tuple[str, str]]:
    """ngx_http_rewrite_if_condition(): `(`, a variable test or a file test, `)`."""
    words = list(d.args)
    if not words[0].startswith("("):
        return [("E106", text("invalid_condition", value=words[0]))]
    cur = 1 if words[0] == "(" else 0
    words[0] = words[0][1:] if cur == 0 else words[0]
    last = len(words) - 1
    if not words[last].endswith(")"):
        return [("E106", text("invalid_condition", value=words[last]))]
    if words[last] == ")":
        last -= 1
    else:
        words[last] = words[last][:-1]
    condition = words[cur : last + 1] or [")"]
    first = condition[0]
    if len(first) > 1 and first.startswith("$"):
        if len(condition) not in (1, 3):
            return [("E106", text("invalid_condition", value=first))]
        if len(condition) == 1 or condition[1] in _COMPARISONS:
            return []
        if condition[1] in REGEX_MATCHES:
            return regex_errors(condition[2], caseless=condition[1].endswith("*"))
        return [("E106", text("unexpected_in_condition", value=condition[1]))]
    if first in _FILE_TESTS and len(condition) == 2:
        return []
    return [("E106", text("invalid_condition", value=first))]


def _zone_of_limit_req(args: tuple[str, ...]) -> str | None:
    zones = [arg[5:] for arg in args if arg.startswith("zone=")]
    return f"limit_req zone {zones[0]}" if zones else None


# limit_req and limit_conn may repeat, once per zone: the zone is their slot.
ZONE_SLOTS: dict[tuple[str, str], Callable[[tuple[str, ...]], str | None]] = {
    ("ngx_http_limit_req_module", "limit_req"): _zone_of_limit_req,
    ("ngx_http_limit_conn_module", "limit_conn"): lambda args: f"limit_conn zone {args[0]}",
    ("ngx_stream_limit_conn_module", "limit_conn"): lambda args: f"limit_conn zone {args[0]}",
}


def _set(d: Directive) -> list[tuple[str, str]]:
    """ngx_http_rewrite_set(): a `$name`, and not one a module defines for good."""
    return variable_name_findings(d.args[0])


def _upstream_hash(d: Directive) -> list[tuple[str, str]]:
    """ngx_http_upstream_hash(): `hash KEY [consistent]`."""
    if len(d.args) == 2 and d.args[1] != "consistent":
        return [("E106", text("invalid_parameter", value=d.args[1]))]
    return []


def _upstream_random(d: Directive) -> list[tuple[str, str]]:
    """ngx_http_upstream_random(): `random [two [least_conn]]`."""
    for arg, allowed in zip(d.args, ("two", "least_conn"), strict=False):
        if arg != allowed:
            return [("E106", text("invalid_parameter", value=arg))]
    return []


def _access(d: Directive) -> list[tuple[str, str]]:
    """ngx_http_access_rule(): `all`, `unix:`, an address or a network (host bits past the
    prefix are only warned of)."""
    value = d.args[0]
    if value in ("all", "unix:"):
        return []
    if parse_rule(d) is None:
        return [("E106", text("invalid_parameter", value=value))]
    return [("N403", text("low_bits", value=value))] if low_bits_set(value) else []


def _set_real_ip_from(d: Directive) -> list[tuple[str, str]]:
    """ngx_http_realip_from(): `unix:`, an address or network, or a name that resolves."""
    value = d.args[0]
    if trusted_proxies(d) is None:
        return [("E106", text("real_ip_host", value=value))]
    return [("N403", text("low_bits", value=value))] if low_bits_set(value) else []


_NO_VALID_REFERER = (
    'the "none" or "blocked" referers are specified in the "valid_referers" directive without'
    " any valid referer"
)


def _cookie_flags(d: Directive) -> list[tuple[str, str]]:
    """ngx_http_proxy_cookie_flags(): `off`, or a cookie (a name, or `~` and a regex) and
    its flags."""
    if len(d.args) == 1 and d.args[0] != "off":
        return [("E106", text("invalid_parameter", value=d.args[0]))]
    return regex_errors(d.args[0][1:], caseless=True) if d.args[0].startswith("~") else []


def _valid_referers(d: Directive) -> list[tuple[str, str]]:
    """ngx_http_valid_referers() and its merge: each entry a keyword, a host name (a wildcard
    at one end at most, no host twice), `~` and a regex; and some host besides `none` and
    `blocked`."""
    hosts: set[str] = set()
    for arg in d.args:
        if not arg:
            return [("E106", 'invalid referer ""')]
        if arg.startswith("~"):
            found = regex_errors(arg[1:], caseless=True)
            if found:
                return found
            continue
        if arg in ("none", "blocked"):
            continue
        if arg == "server_names":
            hosts.add(arg)  # the server's names are valid referers too
            continue
        host = arg.partition("/")[0].lower()
        stars = host.count("*")
        if stars > 1 or (stars and not (host.startswith("*.") or host.endswith(".*"))):
            return [("E106", f'invalid hostname or wildcard "{host}"')]
        if host in hosts:
            return [("E106", f'conflicting parameter "{host}"')]
        hosts.add(host)
    if not hosts and not any(arg.startswith("~") for arg in d.args):
        return [("E106", _NO_VALID_REFERER)]
    return []


def _limit_except(d: Directive) -> list[tuple[str, str]]:
    """ngx_http_core_limit_except(): the methods it knows, in any case."""
    for method in d.args:
        if method.upper() not in LIMIT_EXCEPT_METHODS:
            return [("E106", text("invalid_method", value=method))]
    return []


def _user(d: Directive) -> list[tuple[str, str]]:
    """ngx_set_user(): run by root, the user and group (the user's name when none is given)
    must exist; otherwise nginx only warns that the directive is ignored."""
    if os.geteuid() != 0:
        return []
    name = d.args[0]
    group = d.args[1] if len(d.args) > 1 else name
    try:
        pwd.getpwnam(name)
    except KeyError:
        return [("E106", f'getpwnam("{name}") failed')]
    try:
        grp.getgrnam(group)
    except KeyError:
        return [("E106", f'getgrnam("{group}") failed')]
    return []


# Checks made by particular nginx handlers beyond the generic slot checks.
HANDLER_CHECKS: dict[tuple[str, str], Callable[[Directive], list[tuple[str, str]]]] = {
    ("ngx_core_module", "user"): _user,
    ("ngx_http_core_module", "server_name"): _server_name,
    ("ngx_http_core_module", "limit_except"): _limit_except,
    ("ngx_http_proxy_module", "proxy_cookie_flags"): _cookie_flags,
    ("ngx_http_referer_module", "valid_referers"): _valid_referers,
    ("ngx_http_access_module", "allow"): _access,
    ("ngx_http_access_module", "deny"): _access,
    ("ngx_http_realip_module", "set_real_ip_from"): _set_real_ip_from,
    **LIMIT_VALUE_CHECKS,
    **ARGUMENT_CHECKS,
    ("ngx_http_rewrite_module", "rewrite"): _rewrite,
    ("ngx_http_rewrite_module", "if"): _if,
    ("ngx_http_rewrite_module", "set"): _set,
    ("ngx_http_map_module", "map"): map_findings,
    ("ngx_http_upstream_hash_module", "hash"): _upstream_hash,
    ("ngx_http_upstream_random_module", "random"): _upstream_random,
}
