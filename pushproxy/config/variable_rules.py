"""nginx's `unknown "name" variable`: every variable the http block's values use must exist.

nginx gives each variable a value uses (`$name` in a complex value or script, a `log_format`,
an `if` condition, `charset $name`...) an index, in the order it first meets them: while it reads
the http block, then while it merges settings (`proxy_set_header`, `*_param` and variable
`ssl_certificate` values are compiled only then, module by module). After every merge,
ngx_http_variables_init_vars() walks the indexes in that order and stops at the first name that
no module, no configuration line (`set`, `map`, `geo`, a regex's named capture...) and no prefix
family (`$http_*`, `$arg_*`...) defines. It logs no place, so the finding carries the first use
for the user and line 0 for `--nginx`. Third-party modules define variables pushproxy cannot
know: any of their directives silences the check.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from pushproxy.config.diagnostics import Diagnostic
from pushproxy.config.directives import specs_for, third_party_module
from pushproxy.config.pcre import translate
from pushproxy.config.tree import Directive

# The ngx_http_variable_t arrays and ngx_http_add_variable() names of nginx 1.26's http modules
# (1.22 lacks $http3 and $proxy_protocol_tlv_*). `$memcached_key` is not one: memcached_pass
# reads it, and the configuration must `set` it.
_BUILTIN = frozenset((
    "http_host", "http_user_agent", "http_referer", "http_via", "http_x_forwarded_for",
    "http_cookie", "content_length", "content_type", "host", "binary_remote_addr", "remote_addr",
    "remote_port", "proxy_protocol_addr", "proxy_protocol_port", "proxy_protocol_server_addr",
    "proxy_protocol_server_port", "server_addr", "server_port", "server_protocol", "scheme",
    "https", "request_uri", "uri", "document_uri", "request", "document_root", "realpath_root",
    "query_string", "args", "is_args", "request_filename", "server_name", "request_method",
    "remote_user", "bytes_sent", "body_bytes_sent", "pipe", "request_completion", "request_body",
    "request_body_file", "request_length", "request_time", "request_id", "status",
    "sent_http_content_type", "sent_http_content_length", "sent_http_location",
    "sent_http_last_modified", "sent_http_connection", "sent_http_keep_alive",
    "sent_http_transfer_encoding", "sent_http_cache_control", "sent_http_link", "limit_rate",
    "connection", "connection_requests", "connection_time", "nginx_version", "hostname", "pid",
    "msec", "time_iso8601", "time_local", "tcpinfo_rtt", "tcpinfo_rttvar", "tcpinfo_snd_cwnd",
    "tcpinfo_rcv_space", "upstream_addr", "upstream_status", "upstream_connect_time",
    "upstream_header_time", "upstream_response_time", "upstream_response_length",
    "upstream_bytes_received", "upstream_bytes_sent", "upstream_cache_status",
    "upstream_cache_last_modified", "upstream_cache_etag", "http2", "http3", "msie",
    "modern_browser", "ancient_browser", "fastcgi_script_name", "fastcgi_path_info",
    "grpc_internal_trailers", "limit_conn_status", "limit_req_status", "proxy_host", "proxy_port",
    "proxy_add_x_forwarded_for", "proxy_internal_body_length", "proxy_internal_chunked",
    "realip_remote_addr", "realip_remote_port", "date_local", "date_gmt", "connections_active",
    "connections_reading", "connections_writing", "connections_waiting", "gzip_ratio", "uid_got",
    "uid_set", "uid_reset", "slice_range", "invalid_referer", "secure_link", "secure_link_expires",
    "ssl_protocol", "ssl_cipher", "ssl_ciphers", "ssl_curve", "ssl_curves", "ssl_session_id",
    "ssl_session_reused", "ssl_early_data", "ssl_server_name", "ssl_alpn_protocol",
    "ssl_client_cert", "ssl_client_raw_cert", "ssl_client_escaped_cert", "ssl_client_s_dn",
    "ssl_client_i_dn", "ssl_client_s_dn_legacy", "ssl_client_i_dn_legacy", "ssl_client_serial",
    "ssl_client_fingerprint", "ssl_client_verify", "ssl_client_v_start", "ssl_client_v_end",
    "ssl_client_v_remain", "geoip_country_code", "geoip_country_code3", "geoip_country_name",
    "geoip_org", "geoip_city_continent_code", "geoip_city_country_code", "geoip_city_country_code3",
    "geoip_city_country_name", "geoip_region", "geoip_region_name", "geoip_city",
    "geoip_postal_code", "geoip_latitude", "geoip_longitude", "geoip_dma_code", "geoip_area_code",
))
# Of those, the ones `set` and `map` may take over (NGX_HTTP_VAR_CHANGEABLE).
_CHANGEABLE = frozenset(("args", "limit_rate", "uid_reset"))
# NGX_HTTP_VAR_PREFIX variables: any name that starts with one of these exists.
_PREFIXES = (
    "http_", "sent_http_", "sent_trailer_", "cookie_", "arg_", "upstream_http_",
    "upstream_trailer_", "upstream_cookie_", "proxy_protocol_tlv_",
)

_ALL, _SECOND, _REST, _LAST = slice(None), slice(1, 2), slice(1, None), slice(-1, None)
# Arguments compiled as complex values or scripts when the directive is read.
_READ: dict[str, slice] = {
    **dict.fromkeys((
        "return", "root", "alias", "index", "try_files", "limit_rate", "limit_rate_after",
        "auth_basic", "auth_basic_user_file", "proxy_pass", "fastcgi_pass", "uwsgi_pass",
        "scgi_pass", "grpc_pass", "proxy_store", "fastcgi_store", "uwsgi_store", "scgi_store",
        "proxy_cache", "fastcgi_cache", "uwsgi_cache", "scgi_cache", "proxy_cache_key",
        "fastcgi_cache_key", "uwsgi_cache_key", "scgi_cache_key", "proxy_cache_bypass",
        "fastcgi_cache_bypass", "uwsgi_cache_bypass", "scgi_cache_bypass", "proxy_no_cache",
        "fastcgi_no_cache", "uwsgi_no_cache", "scgi_no_cache", "proxy_method", "proxy_ssl_name",
        "grpc_ssl_name", "uwsgi_ssl_name", "proxy_ssl_certificate", "proxy_ssl_certificate_key",
        "grpc_ssl_certificate", "grpc_ssl_certificate_key", "uwsgi_ssl_certificate",
        "uwsgi_ssl_certificate_key", "proxy_bind", "fastcgi_bind", "uwsgi_bind", "scgi_bind",
        "grpc_bind", "memcached_bind", "secure_link", "secure_link_md5", "sub_filter", "hash",
        "expires", "image_filter", "image_filter_jpeg_quality", "image_filter_webp_quality",
        "image_filter_sharpen", "push_stream_channels_path",
        "push_stream_last_received_message_time", "push_stream_last_received_message_tag",
        "push_stream_last_event_id", "push_stream_user_agent", "push_stream_allowed_origins",
    ), _ALL),
    "add_header": _SECOND, "add_trailer": _SECOND, "xslt_param": _SECOND,
    "xslt_string_param": _SECOND, "xslt_stylesheet": _REST, "error_page": _LAST,
}
# Arguments compiled when settings are merged: (module rank in nginx's module order, family,
# arguments). A level that sets one of a family replaces what it would inherit.
_MERGED: dict[str, tuple[int, str, slice]] = {
    "ssl_certificate": (1, "ssl", _ALL),
    "ssl_certificate_key": (1, "ssl", _ALL),
    "proxy_set_body": (2, "proxy_set_body", _ALL),
    "proxy_set_header": (2, "proxy_set_header", _SECOND),
    "fastcgi_param": (3, "fastcgi_param", _SECOND),
    "uwsgi_param": (4, "uwsgi_param", _SECOND),
    "scgi_param": (5, "scgi_param", _SECOND),
    "grpc_set_header": (6, "grpc_set_header", _SECOND),
}
_REGEX_PAIRS = ("proxy_redirect", "proxy_cookie_domain", "proxy_cookie_path",
                "proxy_cookie_flags")

# ngx_http_script_compile(): `$1`..`$9` are captures (one digit), `${name}` or `$name` a variable;
# ngx_http_log_compile_format() has no captures. An empty name stops: nginx rejects the value.
_SCRIPT_VARIABLE = re.compile(r"\$(?:[1-9]|\{(\w*)\}|(\w*))", re.ASCII)
_LOG_VARIABLE = re.compile(r"\$(?:\{(\w*)\}|(\w*))", re.ASCII)
_NAMED_GROUP = re.compile(r"(?<!\\)\(\?P<(\w+)>")


def is_fixed_builtin(name: str) -> bool:
    """A variable a module defines that `set` or `map` cannot define again: nginx says
    `the duplicate "name" variable`."""
    lowered = name.lower()
    return lowered in _BUILTIN and lowered not in _CHANGEABLE


def variable_name_findings(name: str) -> list[tuple[str, str]]:
    """What nginx says of a variable a directive defines (`set`, `map`): a `$name`, and not
    one a module defines for good. (code, message) pairs."""
    if not name.startswith("$"):
        return [("E106", f'invalid variable name "{name}"')]
    if is_fixed_builtin(name[1:]):
        return [("E106", f'the duplicate "{name[1:]}" variable')]
    return []


def _names(pattern: re.Pattern[str], text: str) -> Iterator[str]:
    for match in pattern.finditer(text):
        if match.lastindex is None:
            continue  # a capture
        name = match.group(match.lastindex)
        if not name:
            return
        yield name


def _regex(word: str) -> str:
    """The pattern of a `~regex` or `~*regex` word."""
    return word[2:] if word.startswith("~*") else word[1:]


def _captures(pattern: str) -> Iterator[str]:
    """Named groups of a PCRE pattern, read by Python's `re` where it can."""
    text = translate(pattern)[0]
    try:
        yield from re.compile(text).groupindex
    except re.error:
        yield from _NAMED_GROUP.findall(text)


@dataclass(frozen=True, slots=True)
class _Use:
    rank: int  # 0: indexed as nginx reads the directive; then merge time, in module order
    name: str
    directive: Directive


@dataclass(slots=True)
class _Walk:
    uses: list[_Use] = field(default_factory=list)
    defined: set[str] = field(default_factory=set)

    def value(self, d: Directive, text: str, rank: int = 0) -> None:
        self.uses.extend(_Use(rank, name.lower(), d) for name in _names(_SCRIPT_VARIABLE, text))

    def raw(self, d: Directive, text: str) -> None:
        """`$name` taken whole (an `if` variable, `charset`, `geo`): `${x}` names `{x}`."""
        if text.startswith("$") and len(text) > 1:
            self.uses.append(_Use(0, text[1:].lower(), d))

    def define(self, text: str) -> None:
        self.defined.add(text.removeprefix("$").lower())

    def regex(self, pattern: str) -> None:
        # ngx_http_regex_compile() makes each named capture a variable known everywhere
        self.defined.update(name.lower() for name in _captures(pattern))


REGEX_MATCHES = frozenset({"~", "~*", "!~", "!~*"})


def condition_words(d: Directive) -> list[str]:
    """An `if` condition's words without its parentheses, split as
    ngx_http_rewrite_if_condition() splits it; empty when it is not one."""
    words = list(d.args)
    if not words or not words[0].startswith("(") or not words[-1].endswith(")"):
        return []
    words[0] = words[0][1:]
    words[-1] = words[-1][:-1]
    return words[int(not words[0]) : len(words) - int(len(words) > 1 and not words[-1])]


def _condition(walk: _Walk, d: Directive) -> None:
    """An `if` condition: the variables it reads, the captures its regex names."""
    words = condition_words(d)
    if not words:
        return
    if len(words[0]) > 1 and words[0].startswith("$") and len(words) in (1, 3):
        walk.raw(d, words[0])
        if len(words) == 3 and words[1] in ("=", "!="):
            walk.value(d, words[2])
        elif len(words) == 3 and words[1] in REGEX_MATCHES:
            walk.regex(words[2])
    elif re.fullmatch(r"!?-.", words[0]) and len(words) == 2:
        walk.value(d, words[1])


def _free_form(walk: _Walk, d: Directive) -> None:
    """`map`, `geo`, `split_clients`: a source, the variable defined, then the entries."""
    if d.name == "geo":
        if len(d.args) == 2:
            walk.raw(d, d.args[0])
        walk.define(d.args[-1])
        return
    walk.value(d, d.args[0])
    walk.define(d.args[-1])
    for entry in d.block or () if d.name == "map" else ():
        if not entry.is_comment and len(entry.args) == 1:  # not `hostnames;`, `volatile;`
            walk.value(entry, entry.args[0])
            if entry.name.startswith("~"):
                walk.regex(_regex(entry.name))


def _directive(walk: _Walk, d: Directive) -> None:
    name, args = d.name, d.args
    if name in _READ:
        for arg in args[_READ[name]]:
            walk.value(d, arg)
    elif name in _MERGED:
        rank, _, which = _MERGED[name]
        for arg in args[which]:
            walk.value(d, arg, rank)
    elif name in ("set", "auth_request_set", "perl_set") and args:
        walk.define(args[0])
        if name != "perl_set":
            walk.value(d, args[-1])
    elif name in ("map", "geo", "split_clients") and args:
        _free_form(walk, d)
    elif name == "if":
        _condition(walk, d)
    elif name == "rewrite" and args:
        walk.regex(args[0])
        for arg in args[1:2]:
            walk.value(d, arg)
    elif name == "location" and args and args[0] in ("~", "~*"):
        walk.regex(args[-1])
    elif name in ("location", "server_name"):
        for arg in args if name == "server_name" else args[:1]:
            if arg.startswith("~"):
                walk.regex(_regex(arg))
    elif name in _REGEX_PAIRS:
        for arg in args:
            if arg.startswith("~"):
                walk.regex(_regex(arg))
            else:
                walk.value(d, arg)
    elif name == "log_format":
        start = 2 if len(args) > 1 and args[1].startswith("escape=") else 1
        for arg in args[start:]:
            walk.uses.extend(_Use(0, n.lower(), d) for n in _names(_LOG_VARIABLE, arg))
    elif name == "access_log" and args:
        if args[0] != "off" and not args[0].startswith("syslog:"):
            walk.value(d, args[0])
        for arg in args[1:]:
            if arg.startswith("if="):
                walk.value(d, arg[3:])
    elif name in ("limit_req_zone", "limit_conn_zone"):
        for arg in args:
            if not arg.startswith(("zone=", "rate=", "sync")):
                walk.value(d, arg)
    elif name in ("aio", "disable_symlinks"):
        for arg in args:
            if arg.startswith(("threads=", "from=")):
                walk.value(d, arg.partition("=")[2])
    elif name in ("charset", "source_charset") and args:
        walk.raw(d, args[0])
    elif name == "memcached_pass":
        walk.uses.append(_Use(0, "memcached_key", d))


def _is_free_form(name: str) -> bool:
    return any(spec.free_form for spec in specs_for(name))


def _block(walk: _Walk, items: Sequence[Directive]) -> None:
    for d in items:
        if not d.is_comment:
            _directive(walk, d)
            if d.block and not _is_free_form(d.name):
                _block(walk, d.block)


def _never_merged(http: Directive) -> set[int]:
    """http-level merge-time directives no server inherits (each sets its own): never compiled."""
    servers = [s.block or () for s in http.block or () if s.name == "server"]
    families = {_MERGED[d.name][1] for d in http.block or () if d.name in _MERGED}
    overridden = {
        f for f in families if all(any(_MERGED.get(c.name, (0, ""))[1] == f for c in s)
                                   for s in servers)
    }
    return {id(d) for d in http.block or () if d.name in _MERGED
            and _MERGED[d.name][1] in overridden}


def _uses_third_party(items: Sequence[Directive]) -> bool:
    return any(
        (not specs_for(d.name) and third_party_module(d.name) is not None)
        or (d.block is not None and not _is_free_form(d.name) and _uses_third_party(d.block))
        for d in items
        if not d.is_comment
    )


def validate(tree: Sequence[Directive], stopped: bool = False) -> list[Diagnostic]:
    """An `unknown "name" variable` error for each unknown variable, in nginx's order."""
    http = next((d for d in tree if d.name == "http" and d.block is not None), None)
    if stopped or http is None or not http.close_line or _uses_third_party(tree):
        return []
    walk = _Walk()
    _block(walk, http.block or ())
    never = _never_merged(http)
    uses = [u for u in walk.uses if id(u.directive) not in never]
    first: dict[str, Directive] = {}
    for use in uses:
        first.setdefault(use.name, use.directive)
    found: list[Diagnostic] = []
    for use in sorted(uses, key=lambda u: u.rank):  # stable: reading order within a rank
        name = use.name
        if name in first and name not in walk.defined and name not in _BUILTIN \
                and not name.startswith(_PREFIXES):
            d = first.pop(name)  # reported once, where it is first used
            found.append(Diagnostic(
                code="E113", message=f'unknown "{name}" variable', file=d.file, line=d.line,
                column=d.column, nginx_place=(d.file, 0),
            ))
    return found
