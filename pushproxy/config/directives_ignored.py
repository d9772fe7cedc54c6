"""What it means for a user that pushproxy ignores an nginx directive it does not implement.

Texts are by nginx module, with a few directive-level entries where the module text would
mislead. They complete the N401 notice `pushproxy ignores "x": <effect>`.
"""

from __future__ import annotations

_NOT_STARTED = "pushproxy serves HTTP only; this block is read and checked, never started"
_NO_SEEK = "files are served whole or by byte range, never from a time offset"
_NO_BACKEND = "pushproxy proxies to HTTP upstreams only (proxy_pass); requests are not passed"
_NO_TRANSFORM = "responses are passed on unchanged"
_NO_VARIABLE = "the variable it defines stays empty"
_NO_TLS = "pushproxy does not speak TLS; put a TLS-terminating proxy in front of it"

_BY_MODULE: dict[str, str] = {
    "ngx_core_module": "process setting with no effect on pushproxy's Python process",
    "ngx_regex_module": "process setting with no effect on pushproxy's Python process",
    "ngx_thread_pool_module": "pushproxy has no thread pools",
    "ngx_openssl_module": _NO_TLS,
    "ngx_google_perftools_module": "no effect",
    "ngx_event_core_module": "event-loop tuning with no effect: pushproxy runs on trio",
    "ngx_epoll_module": "event-loop tuning with no effect: pushproxy runs on trio",
    "ngx_quic_bpf_module": "pushproxy does not speak QUIC",
    "ngx_http_core_module": "not implemented; requests are handled as if it were not set",
    "ngx_http_upstream_module": "not implemented; upstream peers are used as if it were not set",
    "ngx_http_proxy_module": "not implemented; proxied requests behave as if it were not set",
    "ngx_http_ssl_module": _NO_TLS,
    "ngx_http_v2_module": "pushproxy speaks HTTP/1.x only",
    "ngx_http_v3_module": "pushproxy speaks HTTP/1.x only",
    "ngx_http_fastcgi_module": _NO_BACKEND,
    "ngx_http_uwsgi_module": _NO_BACKEND,
    "ngx_http_scgi_module": _NO_BACKEND,
    "ngx_http_grpc_module": _NO_BACKEND,
    "ngx_http_memcached_module": _NO_BACKEND,
    "ngx_http_secure_link_module": "links are NOT checked",
    "ngx_http_rewrite_module": "no effect",
    "ngx_http_headers_filter_module": "no trailers are added",
    "ngx_http_log_module": "no effect",
    "ngx_http_map_module": "no effect",
    "ngx_http_random_index_module": "no index file is picked at random; `index` applies",
    "ngx_http_flv_module": _NO_SEEK,
    "ngx_http_mp4_module": _NO_SEEK,
    "ngx_http_dav_module": "PUT, DELETE and the other WebDAV methods are refused (405)",
    "ngx_http_empty_gif_module": "no empty GIF is served",
    "ngx_http_gunzip_filter_module": _NO_TRANSFORM,
    "ngx_http_charset_filter_module": _NO_TRANSFORM,
    "ngx_http_ssi_filter_module": _NO_TRANSFORM,
    "ngx_http_addition_filter_module": _NO_TRANSFORM,
    "ngx_http_xslt_filter_module": _NO_TRANSFORM,
    "ngx_http_image_filter_module": _NO_TRANSFORM,
    "ngx_http_slice_filter_module": _NO_TRANSFORM,
    "ngx_http_copy_filter_module": "no effect",
    "ngx_http_gzip_filter_module": "no effect on pushproxy's gzip",
    "ngx_http_perl_module": "pushproxy runs no embedded Perl",
    "ngx_http_geoip_module": _NO_VARIABLE,
    "ngx_http_browser_module": _NO_VARIABLE,
    "ngx_http_userid_filter_module": "no user-id cookies are set",
    "ngx_http_mirror_module": "requests are not mirrored",
    "ngx_http_degradation_module": "no effect",
    "ngx_http_upstream_zone_module": "no effect: pushproxy keeps peer state in its own process",
    "ngx_http_upstream_keepalive_module": "not implemented; keepalive sets the pool size",
}

_BY_NAME: dict[str, str] = {
    "sendfile": "no effect",
    "tcp_nopush": "no effect",
    "proxy_cache": "responses are not cached",
    "proxy_cache_path": "responses are not cached",
    "ssl_certificate": _NO_TLS,
    "rewrite_log": "rewrite matches are not logged",
    "uninitialized_variable_warn": "unset variables are never warned about",
}

_DEFAULT = "not implemented by pushproxy; it has no effect"

# Blocks whose content pushproxy never starts: their directives get one notice, on the block.
NOT_STARTED_BLOCKS: dict[str, str] = {"mail": _NOT_STARTED, "stream": _NOT_STARTED}


def ignored_effect(name: str, module: str) -> str:
    """What ignoring directive `name` of nginx module `module` means for the user."""
    if name in NOT_STARTED_BLOCKS:
        return NOT_STARTED_BLOCKS[name]
    return _BY_NAME.get(name) or _BY_MODULE.get(module) or _DEFAULT
