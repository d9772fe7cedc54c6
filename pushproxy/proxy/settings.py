"""A location's proxy settings: its `proxy_*` (and a few core) directives, read once at load.

Pure. Defaults are nginx's (1.26, 64-bit Linux).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pushproxy.config.complex import ComplexValue
from pushproxy.config.model import Level, Location, compile_complex
from pushproxy.errors import ConfigError
from pushproxy.proxy.address import ProxyUrl, Resolve, parse_proxy_url, resolve_host
from pushproxy.proxy.cookies import NO_COOKIE_RULES, CookieRules, cookie_rules, flag_rules
from pushproxy.proxy.request import HeaderPlan
from pushproxy.proxy.resolver import ResolverSettings
from pushproxy.proxy.response import (
    Redirect,
    default_redirect,
    hidden_headers,
    redirect_rules,
)

# proxy_next_upstream's conditions; `http_*` ones are statuses that count as failures.
NEXT_STATUSES = {
    500: "http_500", 502: "http_502", 503: "http_503", 504: "http_504",
    403: "http_403", 404: "http_404", 429: "http_429",
}  # fmt: skip
_DEFAULT_NEXT = frozenset({"error", "timeout"})


def _ignores(level: Level, header: str) -> bool:
    """Whether `proxy_ignore_headers` names `header` (lowercase)."""
    found = level.last("proxy_ignore_headers")
    return found is not None and header in (arg.lower() for arg in found.args)


def _flag(level: Level, name: str, default: bool) -> bool:
    value = level.values.get(name)
    return value if isinstance(value, bool) else default


def _int(level: Level, name: str, default: int) -> int:
    value = level.values.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _seconds(level: Level, name: str, default: float) -> float:
    value = level.values.get(name)
    return value / 1000 if isinstance(value, int) else default


def _next_upstream(level: Level) -> frozenset[str]:
    directive = level.last("proxy_next_upstream")
    if directive is None:
        return _DEFAULT_NEXT
    if "off" in directive.args:
        return frozenset()
    return frozenset(directive.args)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxySettings:
    """What forwarding a request through one location needs.

    `target` is `proxy_pass` as a complex value (None when the location has none and the
    default upstream serves it), `url` the URL when it has no variables. `prefix` is how much
    of the URI the URI part replaces: the location's name, 0 in regex or named locations.
    """

    target: ComplexValue | None
    url: ProxyUrl | None
    prefix: int
    headers: HeaderPlan
    http_version: str = "1.0"
    method: ComplexValue | None = None
    set_body: ComplexValue | None = None
    pass_request_headers: bool = True
    pass_request_body: bool = True
    request_buffering: bool = True
    buffering: bool = True
    connect_timeout: float = 60.0
    send_timeout: float = 60.0
    read_timeout: float = 60.0
    next_upstream: frozenset[str] = _DEFAULT_NEXT
    next_upstream_tries: int = 0
    next_upstream_timeout: float = 0.0
    hidden: frozenset[bytes] = frozenset()
    redirects: tuple[Redirect, ...] = ()
    cookies: CookieRules = NO_COOKIE_RULES  # `proxy_cookie_*` (see `cookies`)
    buffer_size: int = 4096
    ignore_client_abort: bool = False
    client_max_body_size: int = 1024 * 1024
    client_body_buffer_size: int = 16 * 1024
    absolute_redirect: bool = True
    intercept_errors: bool = False  # an upstream answer of 300+ with an error_page: that page
    accel_redirect: bool = True  # `X-Accel-Redirect` is followed (not in proxy_ignore_headers)
    accel_limit_rate: bool = True  # `X-Accel-Limit-Rate` sets the answer's rate (the same)
    server_name_in_redirect: bool = False
    port_in_redirect: bool = True
    resolver: ResolverSettings | None = None  # for names in a `proxy_pass` with variables
    ssl_server_name: bool = False  # TLS upstreams: `proxy_ssl_server_name` (SNI)
    ssl_name: ComplexValue | None = None  # `proxy_ssl_name`; None: the URL's host
    ssl_verify: bool = False
    ssl_trusted_certificate: str | None = None
    ssl_certificate: str | None = None  # the client certificate presented, and its key
    ssl_certificate_key: str | None = None

    def retries_on(self, condition: str) -> bool:
        return condition in self.next_upstream

    @classmethod
    def build(
        cls,
        location: Location,
        default: ProxyUrl | None = None,
        *,
        passing: Location | None = None,
        resolve: Resolve = resolve_host,
        folder: str = "",
    ) -> ProxySettings:
        """The settings of a location with `proxy_pass`, of an `if` block inside one
        (`passing`: the location whose `proxy_pass` and name the block inherits, as nginx's
        content handler stays the enclosing location's), or of one the default upstream
        serves (`default`). ConfigError for a value nginx would not have accepted."""
        level = location.level
        passing = passing or location
        found = passing.level.own.get("proxy_pass")
        target: ComplexValue | None = None
        url = default
        if found:
            target = compile_complex(found[-1])
            url = None
            if target.is_literal:
                try:
                    url = parse_proxy_url(target.source)
                except ValueError as error:
                    directive = found[-1]
                    raise ConfigError(
                        str(error), file=directive.file, line=directive.end_line
                    ) from None
        prefix = len(passing.pattern) if passing.modifier in ("", "=", "^~") else 0
        default_rule: Redirect | None = None
        if url is not None:
            default_rule = default_redirect(url.source, url.uri, passing.pattern[:prefix])
        method = level.last("proxy_method")
        body = level.last("proxy_set_body")
        ssl_name = level.last("proxy_ssl_name")
        return cls(
            target=target,
            url=url,
            prefix=prefix,
            headers=HeaderPlan.build(level.all("proxy_set_header")),
            http_version=level.arg("proxy_http_version", "1.0") or "1.0",
            method=compile_complex(method) if method is not None else None,
            set_body=compile_complex(body) if body is not None else None,
            pass_request_headers=_flag(level, "proxy_pass_request_headers", True),
            pass_request_body=_flag(level, "proxy_pass_request_body", True),
            request_buffering=_flag(level, "proxy_request_buffering", True),
            buffering=_flag(level, "proxy_buffering", True),
            connect_timeout=_seconds(level, "proxy_connect_timeout", 60.0),
            send_timeout=_seconds(level, "proxy_send_timeout", 60.0),
            read_timeout=_seconds(level, "proxy_read_timeout", 60.0),
            next_upstream=_next_upstream(level),
            next_upstream_tries=_int(level, "proxy_next_upstream_tries", 0),
            next_upstream_timeout=_seconds(level, "proxy_next_upstream_timeout", 0.0),
            hidden=hidden_headers(
                (a for d in level.all("proxy_hide_header") for a in d.args),
                (a for d in level.all("proxy_pass_header") for a in d.args),
            ),
            redirects=redirect_rules(level.all("proxy_redirect"), default_rule),
            cookies=CookieRules(
                domains=cookie_rules(level.all("proxy_cookie_domain"), domain=True),
                paths=cookie_rules(level.all("proxy_cookie_path"), domain=False),
                flags=flag_rules(level.all("proxy_cookie_flags")),
            ),
            buffer_size=_int(level, "proxy_buffer_size", 4096),
            ignore_client_abort=_flag(level, "proxy_ignore_client_abort", False),
            intercept_errors=_flag(level, "proxy_intercept_errors", False),
            accel_redirect=not _ignores(level, "x-accel-redirect"),
            accel_limit_rate=not _ignores(level, "x-accel-limit-rate"),
            client_max_body_size=_int(level, "client_max_body_size", 1024 * 1024),
            client_body_buffer_size=_int(level, "client_body_buffer_size", 16 * 1024),
            absolute_redirect=_flag(level, "absolute_redirect", True),
            server_name_in_redirect=_flag(level, "server_name_in_redirect", False),
            port_in_redirect=_flag(level, "port_in_redirect", True),
            resolver=ResolverSettings.of(level, resolve) if target is not None else None,
            ssl_server_name=_flag(level, "proxy_ssl_server_name", False),
            ssl_name=compile_complex(ssl_name) if ssl_name is not None else None,
            ssl_verify=_flag(level, "proxy_ssl_verify", False),
            ssl_trusted_certificate=_file(level, "proxy_ssl_trusted_certificate", folder),
            ssl_certificate=_file(level, "proxy_ssl_certificate", folder),
            ssl_certificate_key=_file(level, "proxy_ssl_certificate_key", folder),
        )


def _file(level: Level, name: str, folder: str) -> str | None:
    """A file a directive names; a relative path starts at the configuration's `folder`, as
    nginx's ngx_conf_full_name() starts it."""
    path = level.arg(name)
    if path is None or os.path.isabs(path) or not folder:
        return path
    return os.path.join(folder, path)
