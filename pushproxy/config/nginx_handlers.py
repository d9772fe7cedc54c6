"""Checks particular nginx handlers make on their arguments, beyond the generic slot checks.

`listen` addresses and options, `error_log` levels, `log_format`/`access_log` names, `upstream`
blocks and their `server` entries, and `proxy_pass` URLs. Some checks depend on what was read
before (log formats, upstream names) or on where the directive stands (a regex location), so
each takes the directive, its `Place` and the walk's `Declared` names. `host not found in
upstream` is nginx's check when the http block ends (`implicit_upstream_errors`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pushproxy.config import units
from pushproxy.config.diagnostics import Diagnostic
from pushproxy.config.directive_spec import Ctx
from pushproxy.config.tree import Directive
from pushproxy.proxy.address import resolve_host

# nginx's texts (ngx_http_core_listen, ngx_log_set_levels, ngx_http_log_module,
# ngx_http_upstream, ngx_http_proxy_pass); the last one is pushproxy's own.
TEXTS: dict[str, str] = {
    "listen_address": '{error} in "{value}" of the "listen" directive',
    "listen_option": 'invalid {option} "{value}"',
    "invalid_parameter": 'invalid parameter "{value}"',
    "log_level": 'invalid log level "{value}"',
    "duplicate_log_level": 'duplicate log level "{value}"',
    "unknown_log_format": 'unknown log format "{value}"',
    "duplicate_log_format": 'duplicate "log_format" name "{value}"',
    "duplicate_upstream": 'duplicate upstream "{value}"',
    "balancing_redefined": "load balancing method redefined",
    "no_backup": 'balancing method does not support parameter "backup"',
    "upstream_address": '{error} in upstream "{value}"',
    "url_prefix": "invalid URL prefix",
    "proxy_pass_uri": (
        '"proxy_pass" cannot have URI part in location given by regular expression, or inside '
        'named location, or inside "if" statement, or inside "limit_except" block'
    ),
    "host_not_found": 'host not found in upstream "{value}"',
    "no_port": 'no port in upstream "{value}"',
}
UNKNOWN_HOST_HINT = "define `upstream {host} {{ server HOST:PORT; }}` in the http block"

_LEVELS = ("emerg", "alert", "crit", "error", "warn", "notice", "info", "debug")
_DEBUG_LEVELS = ("debug_core", "debug_alloc", "debug_mutex", "debug_event", "debug_http",
                 "debug_mail", "debug_stream")
# listen parameters of nginx 1.22-1.26 (setfib, accept_filter, deferred: platform-dependent)
_LISTEN_FLAGS = frozenset({"default_server", "default", "bind", "deferred", "reuseport", "ssl",
                           "http2", "quic", "proxy_protocol"})
_LISTEN_OPTIONS = ("setfib", "fastopen", "backlog", "rcvbuf", "sndbuf", "accept_filter",
                   "ipv6only", "so_keepalive")


@dataclass(frozen=True, slots=True)
class Place:
    """Where a directive stands: its block kind and the kind of the enclosing location."""

    context: Ctx
    location_kind: str | None = None  # "exact", "prefix", "regex", "named"


@dataclass(slots=True)
class Declared:
    """Names declared so far in one http block, as nginx's main configuration keeps them."""

    log_formats: set[str] = field(default_factory=lambda: {"combined"})
    upstreams: set[str] = field(default_factory=set)  # lowercased names
    balancing: str | None = None  # the balancing method named so far in the upstream block
    # Implicit upstreams, in order: (host, directive, the address when its port is missing)
    proxied: list[tuple[str, Directive, str | None]] = field(default_factory=list)
    # The first address with a port given for each (lowercased) host: (port, directive)
    ported: dict[str, tuple[str, Directive]] = field(default_factory=dict)
    # Findings a handler words with a place of its own (nginx prints no other)
    placed: list[Diagnostic] = field(default_factory=list)


Findings = list[tuple[str, str]]


def _port_error(text: str, *, lowest: int = 1) -> str | None:
    port = units.atoi(text)
    return None if port is not None and lowest <= port <= 65535 else "invalid port"


def url_error(url: str, *, listen: bool = False) -> str | None:
    """ngx_parse_url()'s `u->err` for `host[:port]`, `[v6][:port]`, `unix:path` (name lookups
    aside); with `listen`, a bare number is a port, and port 0 (any free port, pushproxy's
    own extension, which nginx refuses) is allowed."""
    lowest = 0 if listen else 1
    if url[:5].lower() == "unix:":
        return None if url[5:] else "no path in the unix domain socket"
    cut = min((i for i in (url.find("/"), url.find("?")) if i >= 0), default=len(url))
    authority = url[:cut]
    if authority.startswith("["):
        close = authority.find("]")
        tail = authority[close + 1 :]
        if close < 0 or (tail and not tail.startswith(":")):
            return "invalid host"
        return _port_error(tail[1:], lowest=lowest) if tail else None
    host, colon, port = authority.partition(":")
    if colon:
        return _port_error(port, lowest=lowest) or (None if host else "no host")
    if listen and units.atoi(authority) is not None:
        return _port_error(authority, lowest=lowest)
    return None if authority else "no host"


def _listen_address(address: str) -> Findings:
    error = url_error(address, listen=True)
    if error is not None:
        return [("E106", TEXTS["listen_address"].format(error=error, value=address))]
    if units.atoi(address) is None and not _resolvable(_host_of(address)):
        return [("E112", TEXTS["listen_address"].format(error="host not found", value=address))]
    return []


def _stream_listen(d: Directive, place: Place, declared: Declared) -> Findings:
    return _listen_address(d.args[0])


def _listen(d: Directive, place: Place, declared: Declared) -> Findings:
    found = _listen_address(d.args[0])
    if found:
        return found
    for arg in d.args[1:]:
        option, equals, value = arg.partition("=")
        if not equals and arg in _LISTEN_FLAGS:
            continue
        if not equals or option not in _LISTEN_OPTIONS:
            return [("E106", TEXTS["invalid_parameter"].format(value=arg))]
        if option in ("backlog", "fastopen"):
            number = units.atoi(value)
            bad = number is None or (option == "backlog" and number == 0)
        elif option in ("rcvbuf", "sndbuf"):
            try:
                units.parse_size(value)
                bad = False
            except units.InvalidValue:
                bad = True
        else:
            bad = False
        if bad:
            return [("E106", TEXTS["listen_option"].format(option=option, value=arg))]
    return []


def _error_log(d: Directive, place: Place, declared: Declared) -> Findings:
    """ngx_log_set_levels(): one level, or debug_* levels only; compared with case."""
    level = debug = False
    for arg in d.args[1:]:
        if arg in _LEVELS:
            if level or debug:
                return [("E106", TEXTS["duplicate_log_level"].format(value=arg))]
            level = True
        elif arg in _DEBUG_LEVELS and not level:
            debug = True
        else:
            return [("E106", TEXTS["log_level"].format(value=arg))]
    return []


def _log_format(d: Directive, place: Place, declared: Declared) -> Findings:
    name = d.args[0]
    if name in declared.log_formats:  # with case, unlike access_log's lookup
        return [("E107", TEXTS["duplicate_log_format"].format(value=name))]
    declared.log_formats.add(name)
    return []


def _access_log(d: Directive, place: Place, declared: Declared) -> Findings:
    if d.args[0] == "off":
        extra = d.args[1:2]
        return [("E106", TEXTS["invalid_parameter"].format(value=extra[0]))] if extra else []
    name = d.args[1] if len(d.args) > 1 else "combined"
    if name.lower() not in {known.lower() for known in declared.log_formats}:
        return [("E106", TEXTS["unknown_log_format"].format(value=name))]
    return []


def _upstream(d: Directive, place: Place, declared: Declared) -> Findings:
    key = d.args[0].lower()
    if key in declared.upstreams:
        return [("E107", TEXTS["duplicate_upstream"].format(value=d.args[0]))]
    declared.upstreams.add(key)
    if key in declared.ported:  # an address named it, with a port, before the block
        port, passing = declared.ported[key]
        where = f"{passing.file}:{passing.end_line}"
        message = f'upstream "{d.args[0]}" may not have port {port} in {where}'
        declared.placed.append(
            Diagnostic(code="E106", message=message, file=d.file, line=d.end_line,
                       column=d.column, nginx_place=(d.file, 0))
        )  # fmt: skip
    declared.balancing = None
    return []


# The balancing methods whose `server` lines may not say `backup` (their flags lack
# NGX_HTTP_UPSTREAM_BACKUP).
_NO_BACKUP = frozenset({"ip_hash", "hash", "random"})


def _balancing(d: Directive, place: Place, declared: Declared) -> Findings:
    """ngx_http_upstream_ip_hash() and the like: a second method replaces the first."""
    redefined = declared.balancing is not None
    declared.balancing = d.name
    return [("N403", TEXTS["balancing_redefined"])] if redefined else []


def _upstream_param_ok(arg: str) -> bool:
    name, equals, value = arg.partition("=")
    if not equals:
        return arg in ("backup", "down")
    if name == "weight":
        return bool(units.atoi(value))
    if name in ("max_fails", "max_conns"):
        return units.atoi(value) is not None
    if name == "fail_timeout":
        try:
            units.parse_sec(value)
        except units.InvalidValue:
            return False
        return True
    return False


def _upstream_server(d: Directive, place: Place, declared: Declared) -> Findings:
    """ngx_http_upstream_server(): the parameters, then the address."""
    for arg in d.args[1:]:
        if not _upstream_param_ok(arg):
            return [("E106", TEXTS["invalid_parameter"].format(value=arg))]
        if arg == "backup" and declared.balancing in _NO_BACKUP:
            return [("E106", TEXTS["no_backup"])]
    error = url_error(d.args[0])
    if error is not None:
        return [("E106", TEXTS["upstream_address"].format(error=error, value=d.args[0]))]
    if not _resolvable(_host_of(d.args[0])):
        return [("E112", TEXTS["upstream_address"].format(error="host not found",
                                                          value=d.args[0]))]
    return []


def _proxy_pass(d: Directive, place: Place, declared: Declared) -> Findings:
    """ngx_http_proxy_pass() for a URL without variables."""
    url = d.args[0]
    if "$" in url:
        return []
    scheme = url[:8].lower()
    if not scheme.startswith(("http://", "https://")):
        return [("E106", TEXTS["url_prefix"])]
    rest = url[8:] if scheme == "https://" else url[7:]
    error = url_error(rest)
    if error is not None:
        return [("E106", TEXTS["upstream_address"].format(error=error, value=rest))]
    if rest[:5].lower() == "unix:":
        uri = rest[5:].partition(":")[2]
    else:
        cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
        uri = rest[cut:]
        declared.proxied.append((_host_of(rest[:cut]), d, None))  # (the scheme's port)
        clash = _port_clash(rest[:cut], d, declared)
        if clash:
            return clash
    noname = place.context in (Ctx.LIF, Ctx.LMT) or place.location_kind in ("regex", "named")
    if uri and noname:
        return [("E106", TEXTS["proxy_pass_uri"])]
    return []


# The schemes an address of these `*_pass` directives may start with (fastcgi and scgi: none).
_PASS_SCHEMES = {"uwsgi_pass": ("uwsgi://", "suwsgi://"), "grpc_pass": ("grpc://", "grpcs://")}


def _upstream_pass(d: Directive, place: Place, declared: Declared) -> Findings:
    """ngx_http_fastcgi_pass() and its kin (uwsgi, scgi, grpc; the stream module's
    proxy_pass) for an address without variables: an implicit upstream, with no default
    port."""
    address = d.args[0]
    if "$" in address:
        return []
    for scheme in _PASS_SCHEMES.get(d.name, ()):
        if address[: len(scheme)].lower() == scheme:
            address = address[len(scheme) :]
            break
    error = url_error(address)
    if error is not None:
        return [("E106", TEXTS["upstream_address"].format(error=error, value=address))]
    if address[:5].lower() != "unix:":
        tail = address[address.find("]") + 1 :] if address.startswith("[") else address
        declared.proxied.append((_host_of(address), d, None if ":" in tail else address))
        return _port_clash(address, d, declared)
    return []


def _port_clash(authority: str, d: Directive, declared: Declared) -> Findings:
    """ngx_http_upstream_add(): an address may not give a port to an upstream block's name
    (the block may come later: then nginx reports it there)."""
    host = _host_of(authority)
    tail = authority[authority.find("]") + 1 :] if authority.startswith("[") else authority
    port = tail.partition(":")[2]
    if not port:
        return []
    if host.lower() in declared.upstreams:
        return [("E106", f'upstream "{host}" may not have port {port}')]
    declared.ported.setdefault(host.lower(), (port, d))
    return []


def _host_of(authority: str) -> str:
    if authority[:5].lower() == "unix:":
        return "localhost"
    if authority.startswith("["):
        return authority[1 : authority.find("]")]
    return authority.partition(":")[0]


def _resolvable(host: str) -> bool:
    """Whether nginx would find the host at startup. Only single-label names are looked up
    (a compose service, /etc/hosts); dotted names and IP literals are taken as they are."""
    if "." in host or ":" in host or host.lower() == "localhost" or host == "*":
        return True  # IP literals included: they have dots or colons
    try:
        return bool(resolve_host(host))
    except (OSError, UnicodeError):
        return False


def implicit_upstream_errors(declared: Declared) -> list[tuple[str, str, Directive]]:
    """(message, host, directive) for each implicit upstream (`proxy_pass`, `fastcgi_pass`...
    to a name that is no upstream block) without a port or whose host does not resolve, as
    nginx finds them when it sets the implicit upstreams up at the end of http."""
    found: list[tuple[str, str, Directive]] = []
    seen: dict[str, bool] = {}
    for host, directive, portless in declared.proxied:
        key = host.lower()
        if key in declared.upstreams:
            continue
        if portless is not None:
            found.append((TEXTS["no_port"].format(value=portless), host, directive))
            continue
        if key not in seen:
            seen[key] = _resolvable(host)
        if not seen[key]:
            found.append((TEXTS["host_not_found"].format(value=host), host, directive))
    return found


Check = Callable[[Directive, Place, Declared], Findings]
_HTTP_CORE = "ngx_http_core_module"
_UPSTREAM = "ngx_http_upstream_module"

# (module, directive) -> the handler's own checks, made once context, arity and slot passed.
PLACED_CHECKS: dict[tuple[str, str], Check] = {
    (_HTTP_CORE, "listen"): _listen,
    ("ngx_errlog_module", "error_log"): _error_log,
    (_HTTP_CORE, "error_log"): _error_log,
    ("ngx_mail_core_module", "error_log"): _error_log,
    ("ngx_stream_core_module", "error_log"): _error_log,
    ("ngx_http_log_module", "log_format"): _log_format,
    ("ngx_http_log_module", "access_log"): _access_log,
    (_UPSTREAM, "upstream"): _upstream,
    (_UPSTREAM, "server"): _upstream_server,
    ("ngx_http_upstream_ip_hash_module", "ip_hash"): _balancing,
    ("ngx_http_upstream_least_conn_module", "least_conn"): _balancing,
    ("ngx_http_upstream_hash_module", "hash"): _balancing,
    ("ngx_http_upstream_random_module", "random"): _balancing,
    ("ngx_http_proxy_module", "proxy_pass"): _proxy_pass,
    ("ngx_http_fastcgi_module", "fastcgi_pass"): _upstream_pass,
    ("ngx_http_uwsgi_module", "uwsgi_pass"): _upstream_pass,
    ("ngx_http_scgi_module", "scgi_pass"): _upstream_pass,
    ("ngx_http_grpc_module", "grpc_pass"): _upstream_pass,
    ("ngx_stream_core_module", "listen"): _stream_listen,
    ("ngx_stream_upstream_module", "upstream"): _upstream,
    ("ngx_stream_upstream_module", "server"): _upstream_server,
    ("ngx_stream_proxy_module", "proxy_pass"): _upstream_pass,
}


def placed_findings(module: str, d: Directive, place: Place,
                    declared: Declared) -> Sequence[tuple[str, str]]:
    check = PLACED_CHECKS.get((module, d.name))
    return check(d, place, declared) if check is not None else ()
