"""The directive table: every directive of nginx 1.26 and the push stream module, by name.

Rows live in the data modules (`directives_nginx_*`, `directives_push`); this module marks the
ones pushproxy honours, gives those their nginx defaults, and indexes the whole table.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pushproxy.config.directive_spec import (
    Arity,
    Ctx,
    DirectiveSpec,
    Merge,
    ValueType,
    arity_accepts,
)
from pushproxy.config.directives_nginx_core import CORE_ROWS
from pushproxy.config.directives_nginx_http_cgi import HTTP_CGI_ROWS
from pushproxy.config.directives_nginx_http_content import HTTP_CONTENT_ROWS
from pushproxy.config.directives_nginx_http_core import HTTP_CORE_ROWS
from pushproxy.config.directives_nginx_http_proxy import HTTP_PROXY_ROWS
from pushproxy.config.directives_nginx_http_request import HTTP_REQUEST_ROWS
from pushproxy.config.directives_nginx_http_uwsgi import HTTP_UWSGI_ROWS
from pushproxy.config.directives_nginx_stream_mail import STREAM_MAIL_ROWS
from pushproxy.config.directives_push import PUSH_STREAM_ROWS
from pushproxy.config.directives_third_party import third_party_module

__all__ = [
    "ALL_SPECS",
    "Arity",
    "Ctx",
    "DirectiveSpec",
    "Merge",
    "ValueType",
    "arity_accepts",
    "is_known",
    "spec_in",
    "specs_for",
    "third_party_module",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Honoured:
    """An nginx directive pushproxy implements, and nginx's default for it."""

    name: str
    module: str
    default: str | None = None


_CORE = "ngx_core_module"
_HTTP_CORE = "ngx_http_core_module"
_PROXY = "ngx_http_proxy_module"
_GZIP = "ngx_http_gzip_filter_module"

_HONOURED: tuple[_Honoured, ...] = (
    _Honoured(name="daemon", module=_CORE, default="on"),
    _Honoured(name="pid", module=_CORE, default="logs/nginx.pid"),
    _Honoured(name="error_log", module="ngx_errlog_module", default="logs/error.log error"),
    _Honoured(name="error_log", module=_HTTP_CORE, default="logs/error.log error"),
    _Honoured(name="worker_processes", module=_CORE, default="1"),
    _Honoured(name="working_directory", module=_CORE),
    _Honoured(name="worker_rlimit_nofile", module=_CORE),
    _Honoured(name="include", module="ngx_conf_module"),
    _Honoured(name="events", module="ngx_events_module"),
    _Honoured(name="worker_connections", module="ngx_event_core_module", default="512"),
    _Honoured(name="http", module="ngx_http_module"),
    _Honoured(name="server", module=_HTTP_CORE),
    _Honoured(name="listen", module=_HTTP_CORE, default="*:80"),
    _Honoured(name="server_name", module=_HTTP_CORE, default='""'),
    _Honoured(name="location", module=_HTTP_CORE),
    _Honoured(name="upstream", module="ngx_http_upstream_module"),
    _Honoured(name="server", module="ngx_http_upstream_module"),
    _Honoured(name="keepalive", module="ngx_http_upstream_keepalive_module"),
    _Honoured(name="ip_hash", module="ngx_http_upstream_ip_hash_module"),
    _Honoured(name="least_conn", module="ngx_http_upstream_least_conn_module"),
    _Honoured(name="hash", module="ngx_http_upstream_hash_module"),
    _Honoured(name="random", module="ngx_http_upstream_random_module"),
    _Honoured(name="resolver", module=_HTTP_CORE),
    _Honoured(name="resolver_timeout", module=_HTTP_CORE, default="30s"),
    _Honoured(name="proxy_ssl_server_name", module=_PROXY, default="off"),
    _Honoured(name="proxy_ssl_name", module=_PROXY),
    _Honoured(name="proxy_ssl_verify", module=_PROXY, default="off"),
    _Honoured(name="proxy_ssl_trusted_certificate", module=_PROXY),
    _Honoured(name="proxy_ssl_certificate", module=_PROXY),
    _Honoured(name="proxy_ssl_certificate_key", module=_PROXY),
    _Honoured(name="proxy_pass", module=_PROXY),
    _Honoured(name="proxy_set_header", module=_PROXY,
              default="Host $proxy_host; Connection close"),
    _Honoured(name="proxy_http_version", module=_PROXY, default="1.0"),
    _Honoured(name="proxy_pass_request_headers", module=_PROXY, default="on"),
    _Honoured(name="proxy_hide_header", module=_PROXY),
    _Honoured(name="proxy_pass_header", module=_PROXY),
    _Honoured(name="proxy_connect_timeout", module=_PROXY, default="60s"),
    _Honoured(name="proxy_read_timeout", module=_PROXY, default="60s"),
    _Honoured(name="proxy_send_timeout", module=_PROXY, default="60s"),
    _Honoured(name="proxy_next_upstream", module=_PROXY, default="error timeout"),
    _Honoured(name="proxy_buffering", module=_PROXY, default="on"),
    _Honoured(name="client_max_body_size", module=_HTTP_CORE, default="1m"),
    _Honoured(name="client_header_timeout", module=_HTTP_CORE, default="60s"),
    _Honoured(name="client_body_timeout", module=_HTTP_CORE, default="60s"),
    _Honoured(name="send_timeout", module=_HTTP_CORE, default="60s"),
    _Honoured(name="keepalive_timeout", module=_HTTP_CORE, default="75s"),
    _Honoured(name="keepalive_requests", module=_HTTP_CORE, default="1000"),
    _Honoured(name="keepalive_time", module=_HTTP_CORE, default="1h"),
    _Honoured(name="chunked_transfer_encoding", module=_HTTP_CORE, default="on"),
    _Honoured(name="recursive_error_pages", module=_HTTP_CORE, default="off"),
    _Honoured(name="merge_slashes", module=_HTTP_CORE, default="on"),
    _Honoured(name="sub_filter", module="ngx_http_sub_filter_module"),
    _Honoured(name="sub_filter_types", module="ngx_http_sub_filter_module", default="text/html"),
    _Honoured(name="sub_filter_once", module="ngx_http_sub_filter_module", default="on"),
    _Honoured(name="sub_filter_last_modified", module="ngx_http_sub_filter_module",
              default="off"),
    _Honoured(name="lingering_close", module=_HTTP_CORE, default="on"),
    _Honoured(name="lingering_time", module=_HTTP_CORE, default="30s"),
    _Honoured(name="lingering_timeout", module=_HTTP_CORE, default="5s"),
    _Honoured(name="large_client_header_buffers", module=_HTTP_CORE, default="4 8k"),
    _Honoured(name="access_log", module="ngx_http_log_module",
              default="logs/access.log combined"),
    _Honoured(name="log_format", module="ngx_http_log_module"),
    _Honoured(name="return", module="ngx_http_rewrite_module"),
    _Honoured(name="rewrite", module="ngx_http_rewrite_module"),
    _Honoured(name="break", module="ngx_http_rewrite_module"),
    _Honoured(name="allow", module="ngx_http_access_module"),
    _Honoured(name="deny", module="ngx_http_access_module"),
    _Honoured(name="limit_except", module=_HTTP_CORE),
    _Honoured(name="auth_basic", module="ngx_http_auth_basic_module", default="off"),
    _Honoured(name="auth_basic_user_file", module="ngx_http_auth_basic_module"),
    _Honoured(name="satisfy", module=_HTTP_CORE, default="all"),
    _Honoured(name="limit_req_zone", module="ngx_http_limit_req_module"),
    _Honoured(name="limit_req", module="ngx_http_limit_req_module"),
    _Honoured(name="limit_req_status", module="ngx_http_limit_req_module", default="503"),
    _Honoured(name="limit_req_log_level", module="ngx_http_limit_req_module", default="error"),
    _Honoured(name="limit_req_dry_run", module="ngx_http_limit_req_module", default="off"),
    _Honoured(name="limit_conn_zone", module="ngx_http_limit_conn_module"),
    _Honoured(name="limit_conn", module="ngx_http_limit_conn_module"),
    _Honoured(name="limit_conn_status", module="ngx_http_limit_conn_module", default="503"),
    _Honoured(name="limit_conn_log_level", module="ngx_http_limit_conn_module", default="error"),
    _Honoured(name="limit_conn_dry_run", module="ngx_http_limit_conn_module", default="off"),
    _Honoured(name="set_real_ip_from", module="ngx_http_realip_module"),
    _Honoured(name="real_ip_header", module="ngx_http_realip_module", default="X-Real-IP"),
    _Honoured(name="real_ip_recursive", module="ngx_http_realip_module", default="off"),
    _Honoured(name="set", module="ngx_http_rewrite_module"),
    _Honoured(name="if", module="ngx_http_rewrite_module"),
    _Honoured(name="add_header", module="ngx_http_headers_filter_module"),
    _Honoured(name="expires", module="ngx_http_headers_filter_module", default="off"),
    _Honoured(name="gzip", module=_GZIP, default="off"),
    _Honoured(name="gzip_types", module=_GZIP, default="text/html"),
    _Honoured(name="gzip_min_length", module=_GZIP, default="20"),
    _Honoured(name="gzip_comp_level", module=_GZIP, default="1"),
    _Honoured(name="gzip_proxied", module=_HTTP_CORE, default="off"),
    _Honoured(name="gzip_http_version", module=_HTTP_CORE, default="1.1"),
    _Honoured(name="default_type", module=_HTTP_CORE, default="text/plain"),
    _Honoured(name="types", module=_HTTP_CORE,
              default="text/html html; image/gif gif; image/jpeg jpg"),
    _Honoured(name="map", module="ngx_http_map_module"),
    _Honoured(name="geo", module="ngx_http_geo_module"),
    _Honoured(name="internal", module=_HTTP_CORE),
    _Honoured(name="server_tokens", module=_HTTP_CORE, default="on"),
    _Honoured(name="charset", module="ngx_http_charset_filter_module", default="off"),
    _Honoured(name="charset_types", module="ngx_http_charset_filter_module",
              default="text/html text/xml text/plain text/vnd.wap.wml application/javascript "
              "application/rss+xml"),
    _Honoured(name="error_page", module=_HTTP_CORE),
    _Honoured(name="proxy_intercept_errors", module=_PROXY, default="off"),
    _Honoured(name="proxy_cookie_domain", module=_PROXY, default="off"),
    _Honoured(name="proxy_cookie_path", module=_PROXY, default="off"),
    _Honoured(name="proxy_cookie_flags", module=_PROXY, default="off"),
    _Honoured(name="valid_referers", module="ngx_http_referer_module"),
    _Honoured(name="split_clients", module="ngx_http_split_clients_module"),
    _Honoured(name="gzip_vary", module=_HTTP_CORE, default="off"),
    _Honoured(name="gzip_static", module="ngx_http_gzip_static_module", default="off"),
    _Honoured(name="limit_rate", module=_HTTP_CORE, default="0"),
    _Honoured(name="limit_rate_after", module=_HTTP_CORE, default="0"),
    _Honoured(name="ignore_invalid_headers", module=_HTTP_CORE, default="on"),
    _Honoured(name="underscores_in_headers", module=_HTTP_CORE, default="off"),
    _Honoured(name="absolute_redirect", module=_HTTP_CORE, default="on"),
    _Honoured(name="server_name_in_redirect", module=_HTTP_CORE, default="off"),
    _Honoured(name="port_in_redirect", module=_HTTP_CORE, default="on"),
    _Honoured(name="client_body_buffer_size", module=_HTTP_CORE, default="16k"),
    _Honoured(name="proxy_method", module=_PROXY),
    _Honoured(name="proxy_redirect", module=_PROXY, default="default"),
    _Honoured(name="proxy_set_body", module=_PROXY),
    _Honoured(name="proxy_pass_request_body", module=_PROXY, default="on"),
    _Honoured(name="proxy_request_buffering", module=_PROXY, default="on"),
    _Honoured(name="proxy_buffer_size", module=_PROXY, default="4k"),
    _Honoured(name="proxy_ignore_client_abort", module=_PROXY, default="off"),
    _Honoured(name="proxy_next_upstream_tries", module=_PROXY, default="0"),
    _Honoured(name="proxy_next_upstream_timeout", module=_PROXY, default="0"),
    _Honoured(name="root", module=_HTTP_CORE, default="html"),
    _Honoured(name="alias", module=_HTTP_CORE),
    _Honoured(name="index", module="ngx_http_index_module", default="index.html"),
    _Honoured(name="try_files", module="ngx_http_try_files_module"),
    _Honoured(name="etag", module=_HTTP_CORE, default="on"),
    _Honoured(name="if_modified_since", module=_HTTP_CORE, default="exact"),
    _Honoured(name="max_ranges", module=_HTTP_CORE),
    _Honoured(name="log_not_found", module=_HTTP_CORE, default="on"),
    _Honoured(name="autoindex", module="ngx_http_autoindex_module", default="off"),
    _Honoured(name="autoindex_format", module="ngx_http_autoindex_module", default="html"),
    _Honoured(name="autoindex_exact_size", module="ngx_http_autoindex_module", default="on"),
    _Honoured(name="autoindex_localtime", module="ngx_http_autoindex_module", default="off"),
    _Honoured(name="proxy_ignore_headers", module=_PROXY),
    _Honoured(name="auth_request", module="ngx_http_auth_request_module", default="off"),
    _Honoured(name="auth_request_set", module="ngx_http_auth_request_module"),
    _Honoured(name="stub_status", module="ngx_http_stub_status_module"),
    _Honoured(name="auth_delay", module=_HTTP_CORE, default="0s"),
)
_HONOURED_BY_KEY = {(h.name, h.module): h for h in _HONOURED}


def _mark(row: DirectiveSpec) -> DirectiveSpec:
    honoured = _HONOURED_BY_KEY.get((row.name, row.module))
    if honoured is None:
        return row
    return replace(row, honoured=True, default=honoured.default)


# Every row: nginx's core, its http core, its http modules family by family, stream and mail,
# then the push stream module's.
ALL_SPECS: tuple[DirectiveSpec, ...] = tuple(
    _mark(row)
    for row in (
        *CORE_ROWS,
        *HTTP_CORE_ROWS,
        *HTTP_PROXY_ROWS,
        *HTTP_CGI_ROWS,
        *HTTP_UWSGI_ROWS,
        *HTTP_REQUEST_ROWS,
        *HTTP_CONTENT_ROWS,
        *STREAM_MAIL_ROWS,
        *PUSH_STREAM_ROWS,
    )
)

_BY_NAME: dict[str, tuple[DirectiveSpec, ...]] = {}
for _row in ALL_SPECS:
    _BY_NAME[_row.name] = (*_BY_NAME.get(_row.name, ()), _row)


def specs_for(name: str) -> tuple[DirectiveSpec, ...]:
    """Every row named `name` (http, mail and stream may each have one); () if unknown."""
    return _BY_NAME.get(name, ())


def spec_in(name: str, context: Ctx) -> DirectiveSpec | None:
    """The row nginx uses for `name` inside a block of kind `context`, if any may stand there."""
    for spec in specs_for(name):
        if context & spec.contexts:
            return spec
    return None


def is_known(name: str) -> bool:
    """Whether nginx (with the push stream module) knows the directive at all."""
    return name in _BY_NAME
