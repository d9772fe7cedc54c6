"""The directive table: rows as nginx's command arrays encode them, and its lookups."""

from __future__ import annotations

import pytest

from pushproxy.config.directive_spec import (
    Arity,
    Ctx,
    DirectiveSpec,
    Merge,
    ValueType,
    arity_accepts,
)
from pushproxy.config.directives import ALL_SPECS, is_known, spec_in, specs_for
from pushproxy.config.directives_ignored import ignored_effect
from pushproxy.config.directives_third_party import third_party_module

_HSL = Ctx.HTTP | Ctx.SERVER | Ctx.LOCATION
_HSLI = _HSL | Ctx.LIF


def _one(name: str, context: Ctx) -> DirectiveSpec:
    spec = spec_in(name, context)
    assert spec is not None, name
    return spec


def test_the_table_covers_nginx_and_its_modules() -> None:
    assert len(ALL_SPECS) > 700
    for name in ("daemon", "worker_processes", "pcre_jit", "env", "load_module", "thread_pool",
                 "worker_connections", "sendfile", "proxy_pass", "fastcgi_pass", "uwsgi_pass",
                 "scgi_pass", "grpc_pass", "ssl_certificate", "http2", "http3", "quic_retry",
                 "gzip", "gunzip", "rewrite", "map", "geo", "split_clients",
    "internal", "error_page", "proxy_intercept_errors", "expires",
    "proxy_cookie_domain", "proxy_cookie_path", "server_tokens",
    "charset", "charset_types", "ip_hash",
                 "least_conn", "random", "zone", "limit_req", "limit_conn", "auth_basic",
                 "auth_request", "allow", "real_ip_header", "add_header", "expires", "index",
                 "autoindex", "charset", "sub_filter", "ssi", "add_before_body", "secure_link",
                 "slice", "stub_status", "mirror", "dav_methods", "flv", "mp4", "image_filter",
                 "xslt_stylesheet", "perl", "geoip_country", "valid_referers", "userid",
                 "empty_gif", "modern_browser", "memcached_pass", "access_log", "mail", "imap_auth",
                 "smtp_auth", "stream", "ssl_preread", "pass", "push_stream_subscriber"):
        assert is_known(name), name


def test_no_two_rows_of_one_name_share_a_context() -> None:
    # nginx takes the first row whose context matches: the table must not depend on order
    for spec in ALL_SPECS:
        others = [s for s in specs_for(spec.name) if s is not spec]
        assert all(not (spec.contexts & other.contexts) for other in others), spec.name


def test_flag_slot_row() -> None:
    spec = spec_in("sendfile", Ctx.LOCATION)
    assert spec is not None
    assert spec.module == "ngx_http_core_module"
    assert spec.contexts == _HSL | Ctx.LIF
    assert spec.arity == Arity.FLAG
    assert spec.value is ValueType.FLAG
    assert spec.slot is not None
    assert spec.merge is Merge.INHERIT


def test_server_has_a_row_per_subsystem() -> None:
    by_module = {s.module: s for s in specs_for("server")}
    assert by_module["ngx_http_core_module"].block is Ctx.SERVER
    assert by_module["ngx_mail_core_module"].block is Ctx.MAIL_SERVER
    assert by_module["ngx_stream_core_module"].block is Ctx.STREAM_SERVER
    upstream = by_module["ngx_http_upstream_module"]
    assert upstream.contexts == Ctx.UPSTREAM
    assert upstream.block is None
    assert upstream.arity == Arity.MORE1
    assert by_module["ngx_stream_upstream_module"].contexts == Ctx.STREAM_UPSTREAM


@pytest.mark.parametrize(("name", "count"), [("listen", 3), ("proxy_pass", 2), ("error_log", 4),
                                              ("server_name", 3)])
def test_names_shared_across_subsystems(name: str, count: int) -> None:
    assert len(specs_for(name)) == count


@pytest.mark.parametrize(
    ("name", "parent", "inner"),
    [("events", Ctx.MAIN, Ctx.EVENTS), ("http", Ctx.MAIN, Ctx.HTTP), ("mail", Ctx.MAIN, Ctx.MAIL),
     ("stream", Ctx.MAIN, Ctx.STREAM), ("location", Ctx.SERVER, Ctx.LOCATION),
     ("location", Ctx.LOCATION, Ctx.LOCATION), ("if", Ctx.SERVER, Ctx.SIF),
     ("if", Ctx.LOCATION, Ctx.LIF), ("upstream", Ctx.HTTP, Ctx.UPSTREAM),
     ("upstream", Ctx.STREAM, Ctx.STREAM_UPSTREAM), ("limit_except", Ctx.LOCATION, Ctx.LMT)],
)
def test_block_contexts(name: str, parent: Ctx, inner: Ctx) -> None:
    spec = spec_in(name, parent)
    assert spec is not None
    assert spec.block is inner
    assert not spec.free_form


@pytest.mark.parametrize(
    ("name", "context"),
    [("map", Ctx.HTTP), ("map", Ctx.STREAM), ("geo", Ctx.HTTP), ("types", Ctx.LOCATION),
     ("split_clients", Ctx.STREAM), ("charset_map", Ctx.HTTP)],
)
def test_free_form_blocks(name: str, context: Ctx) -> None:
    spec = spec_in(name, context)
    assert spec is not None
    assert spec.free_form
    assert spec.block is None
    assert spec.opens_block


def test_if_is_not_allowed_in_if_or_http() -> None:
    assert spec_in("if", Ctx.SIF) is None
    assert spec_in("if", Ctx.LIF) is None
    assert spec_in("if", Ctx.HTTP) is None


def test_value_rows_carry_nginx_values_and_bounds() -> None:
    proxy_http_version = spec_in("proxy_http_version", Ctx.LOCATION)
    assert proxy_http_version is not None
    assert proxy_http_version.value is ValueType.ENUM
    assert proxy_http_version.values == ("1.0", "1.1")
    gzip_comp_level = spec_in("gzip_comp_level", Ctx.HTTP)
    assert gzip_comp_level is not None
    assert gzip_comp_level.bounds == (1, 9)
    proxy_next_upstream = spec_in("proxy_next_upstream", Ctx.HTTP)
    assert proxy_next_upstream is not None
    assert proxy_next_upstream.value is ValueType.BITMASK
    assert "http_502" in proxy_next_upstream.values
    assert proxy_next_upstream.slot is None  # bitmask slots may repeat


def test_enum_and_bitmask_rows_list_their_values() -> None:
    # an empty list would make nginx's every accepted value an `invalid value` error
    for spec in ALL_SPECS:
        if spec.value in (ValueType.ENUM, ValueType.BITMASK):
            assert spec.values, spec.name
        elif spec.values:
            assert spec.value is not None, spec.name


_IGNORE_HEADERS = ("X-Accel-Redirect", "X-Accel-Expires", "X-Accel-Limit-Rate",
                   "X-Accel-Buffering", "X-Accel-Charset", "Expires", "Cache-Control",
                   "Set-Cookie", "Vary")


@pytest.mark.parametrize(
    ("name", "values"),
    [*((f"{m}_ignore_headers", _IGNORE_HEADERS)
       for m in ("proxy", "fastcgi", "grpc", "scgi", "uwsgi")),
     *((f"{m}_cache_methods", ("GET", "HEAD", "POST"))
       for m in ("proxy", "fastcgi", "scgi", "uwsgi"))],
)
def test_upstream_bitmask_values(name: str, values: tuple[str, ...]) -> None:
    spec = _one(name, Ctx.LOCATION)
    assert spec.value is ValueType.BITMASK
    assert spec.values == values


@pytest.mark.parametrize(
    ("name", "context", "value"),
    [("client_max_body_size", Ctx.HTTP, ValueType.OFFSET),
     ("client_body_buffer_size", Ctx.HTTP, ValueType.SIZE),
     ("proxy_read_timeout", Ctx.LOCATION, ValueType.MSEC),
     ("ssl_session_timeout", Ctx.SERVER, ValueType.SEC),
     ("keepalive_requests", Ctx.SERVER, ValueType.NUMBER),
     ("large_client_header_buffers", Ctx.SERVER, ValueType.BUFS),
     ("default_type", Ctx.LOCATION, ValueType.STRING),
     ("worker_processes", Ctx.MAIN, ValueType.WORKER_PROCESSES),
     ("keepalive_timeout", Ctx.LOCATION, ValueType.KEEPALIVE_TIMEOUT),
     ("keepalive", Ctx.UPSTREAM, ValueType.CACHED_CONNECTIONS)],
)
def test_value_types(name: str, context: Ctx, value: ValueType) -> None:
    spec = spec_in(name, context)
    assert spec is not None
    assert spec.value is value


def test_obsolete_directive_carries_nginx_warning() -> None:
    spec = spec_in("http2_idle_timeout", Ctx.SERVER)
    assert spec is not None
    assert spec.warning == (
        'the "http2_idle_timeout" directive is obsolete, use the "keepalive_timeout" '
        "directive instead"
    )


def test_merge_rules() -> None:
    assert _one("proxy_set_header", Ctx.LOCATION).merge is Merge.INHERIT_LIST
    assert _one("access_log", Ctx.LOCATION).merge is Merge.INHERIT_LIST
    assert _one("proxy_read_timeout", Ctx.LOCATION).merge is Merge.INHERIT
    assert _one("worker_processes", Ctx.MAIN).merge is Merge.NONE
    assert _one("location", Ctx.SERVER).merge is Merge.NONE


def test_root_and_alias_share_a_slot() -> None:
    root = spec_in("root", Ctx.LOCATION)
    alias = spec_in("alias", Ctx.LOCATION)
    assert root is not None
    assert alias is not None
    assert root.slot == alias.slot
    assert alias.duplicate_text == (
        '"alias" directive is duplicate, "root" directive was specified earlier'
    )


# PROTOCOL.md §1: every push stream directive with its contexts and value type.
_PUSH = {
    "push_stream_channels_statistics": (Ctx.LOCATION, None),
    "push_stream_publisher": (Ctx.LOCATION, None),
    "push_stream_subscriber": (Ctx.LOCATION, None),
    "push_stream_shared_memory_size": (Ctx.HTTP, None),
    "push_stream_channel_deleted_message_text": (Ctx.HTTP, ValueType.STRING),
    "push_stream_channel_inactivity_time": (Ctx.HTTP, ValueType.SEC),
    "push_stream_ping_message_text": (Ctx.HTTP, ValueType.STRING),
    "push_stream_timeout_with_body": (Ctx.HTTP, ValueType.FLAG),
    "push_stream_message_ttl": (Ctx.HTTP, ValueType.SEC),
    "push_stream_max_subscribers_per_channel": (Ctx.HTTP, ValueType.NUMBER),
    "push_stream_max_messages_stored_per_channel": (Ctx.HTTP, ValueType.NUMBER),
    "push_stream_max_channel_id_length": (Ctx.HTTP, ValueType.NUMBER),
    "push_stream_max_number_of_channels": (Ctx.HTTP, ValueType.NUMBER),
    "push_stream_max_number_of_wildcard_channels": (Ctx.HTTP, ValueType.NUMBER),
    "push_stream_wildcard_channel_prefix": (Ctx.HTTP, ValueType.STRING),
    "push_stream_events_channel_id": (Ctx.HTTP, ValueType.STRING),
    "push_stream_channels_path": (_HSLI, None),
    "push_stream_store_messages": (_HSLI, ValueType.FLAG),
    "push_stream_channel_info_on_publish": (_HSL, ValueType.FLAG),
    "push_stream_authorized_channels_only": (_HSL, ValueType.FLAG),
    "push_stream_header_template_file": (_HSL, None),
    "push_stream_header_template": (_HSL, ValueType.STRING),
    "push_stream_message_template": (_HSL, ValueType.STRING),
    "push_stream_footer_template": (_HSL, ValueType.STRING),
    "push_stream_wildcard_channel_max_qtd": (_HSL, ValueType.NUMBER),
    "push_stream_ping_message_interval": (_HSL, ValueType.MSEC),
    "push_stream_subscriber_connection_ttl": (_HSL, ValueType.MSEC),
    "push_stream_longpolling_connection_ttl": (_HSL, ValueType.MSEC),
    "push_stream_websocket_allow_publish": (_HSL, ValueType.FLAG),
    "push_stream_last_received_message_time": (_HSLI, None),
    "push_stream_last_received_message_tag": (_HSLI, None),
    "push_stream_last_event_id": (_HSLI, None),
    "push_stream_user_agent": (_HSL, None),
    "push_stream_padding_by_user_agent": (_HSL, ValueType.STRING),
    "push_stream_allowed_origins": (_HSL, None),
    "push_stream_allow_connections_to_events_channel": (_HSLI, ValueType.FLAG),
}


def test_every_push_stream_directive() -> None:
    rows = {s.name: s for s in ALL_SPECS if s.module == "ngx_http_push_stream_module"}
    assert set(rows) == set(_PUSH)
    for name, (contexts, value) in _PUSH.items():
        assert rows[name].contexts == contexts, name
        assert rows[name].value is value, name
        assert rows[name].honoured, name


def test_push_stream_arity_and_defaults() -> None:
    subscriber = specs_for("push_stream_subscriber")[0]
    assert subscriber.arity == Arity.NOARGS | Arity.TAKE1
    assert subscriber.default == "streaming"
    publisher = specs_for("push_stream_publisher")[0]
    assert publisher.slot == subscriber.slot  # one location-type field
    assert specs_for("push_stream_shared_memory_size")[0].arity == Arity.TAKE12
    assert specs_for("push_stream_message_ttl")[0].default == "30m"
    assert specs_for("push_stream_channels_path")[0].merge is Merge.INHERIT


_HONOURED = {
    "daemon", "pid", "error_log", "worker_processes", "working_directory", "worker_connections",
    "worker_rlimit_nofile",
    "events", "http", "server", "listen", "server_name", "location", "include", "upstream",
    "keepalive", "ip_hash", "least_conn", "hash", "random", "proxy_pass", "proxy_set_header",
    "proxy_http_version",
    "proxy_pass_request_headers", "proxy_hide_header", "proxy_pass_header",
    "proxy_connect_timeout", "proxy_read_timeout", "proxy_send_timeout", "proxy_next_upstream",
    "proxy_buffering", "client_max_body_size", "client_header_timeout", "client_body_timeout",
    "send_timeout", "keepalive_timeout", "keepalive_requests", "large_client_header_buffers",
    "lingering_close", "lingering_time", "lingering_timeout",
    "access_log", "log_format", "return", "rewrite", "break", "allow", "deny", "limit_except",
    "set_real_ip_from", "real_ip_header", "real_ip_recursive", "auth_basic",
    "auth_basic_user_file", "satisfy", "limit_req_zone", "limit_req", "limit_req_status",
    "limit_req_log_level", "limit_req_dry_run", "limit_conn_zone", "limit_conn",
    "limit_conn_status", "limit_conn_log_level", "limit_conn_dry_run", "geo", "split_clients",
    "internal", "error_page", "proxy_intercept_errors", "expires",
    "proxy_cookie_domain", "proxy_cookie_path", "server_tokens",
    "charset", "charset_types",
    "add_header", "set", "if", "gzip",
    "gzip_types",
    "gzip_min_length", "gzip_comp_level", "gzip_proxied", "gzip_http_version", "default_type",
    "types", "map", "gzip_vary", "gzip_static", "limit_rate", "limit_rate_after",
    "ignore_invalid_headers", "underscores_in_headers",
    "absolute_redirect", "server_name_in_redirect", "port_in_redirect", "client_body_buffer_size",
    "proxy_method", "proxy_redirect", "proxy_set_body", "proxy_pass_request_body",
    "proxy_request_buffering", "proxy_buffer_size", "proxy_ignore_client_abort",
    "proxy_next_upstream_tries", "proxy_next_upstream_timeout", "resolver", "resolver_timeout",
    "proxy_ssl_server_name", "proxy_ssl_name", "proxy_ssl_verify",
    "proxy_ssl_trusted_certificate", "proxy_ssl_certificate", "proxy_ssl_certificate_key",
    "root", "alias", "index", "try_files", "etag", "if_modified_since", "max_ranges",
    "log_not_found", "proxy_ignore_headers", "auth_request", "auth_request_set",
    "stub_status", "proxy_cookie_flags", "valid_referers", "autoindex", "autoindex_format",
    "autoindex_exact_size", "autoindex_localtime", "auth_delay", "keepalive_time",
    "chunked_transfer_encoding", "recursive_error_pages", "merge_slashes", "sub_filter",
    "sub_filter_types", "sub_filter_once", "sub_filter_last_modified",
}


def test_honoured_nginx_directives() -> None:
    honoured = {s.name for s in ALL_SPECS if s.honoured and not s.name.startswith("push_stream")}
    assert honoured == _HONOURED
    # the http row is honoured, not its mail or stream namesake
    assert _one("server", Ctx.HTTP).honoured
    assert not _one("server", Ctx.STREAM).honoured
    assert not _one("keepalive_timeout", Ctx.UPSTREAM).honoured
    assert _one("keepalive_timeout", Ctx.SERVER).default == "75s"
    assert _one("gzip_proxied", Ctx.HTTP).default == "off"


@pytest.mark.parametrize(
    ("count", "arity", "accepted"),
    [(0, Arity.NOARGS, True), (1, Arity.NOARGS, False), (2, Arity.TAKE12, True),
     (3, Arity.TAKE12, False), (1, Arity.FLAG, True), (2, Arity.FLAG, False),
     (0, Arity.MORE1, False), (9, Arity.MORE1, True), (1, Arity.MORE2, False),
     (0, Arity.ANY, True), (8, Arity.TAKE7, False), (7, Arity.TAKE7, True),
     (0, Arity.NOARGS | Arity.TAKE1, True), (2, Arity.NOARGS | Arity.TAKE1, False)],
)
def test_arity(count: int, arity: Arity, accepted: bool) -> None:
    assert arity_accepts(arity, count) is accepted


@pytest.mark.parametrize(
    ("name", "module"),
    [("content_by_lua_block", "lua-nginx-module"), ("lua_shared_dict", "lua-nginx-module"),
     ("nchan_publisher", "nchan"), ("more_set_headers", "headers-more-nginx-module"),
     ("echo", "echo-nginx-module"), ("set_md5", "set-misc-nginx-module"),
     ("vhost_traffic_status_zone", "nginx-module-vts"), ("brotli_types", "ngx_brotli"),
     ("geoip2", "ngx_http_geoip2_module"), ("modsecurity_rules_file", "ModSecurity-nginx"),
     ("passenger_enabled", "passenger"), ("pagespeed", "ngx_pagespeed"),
     ("js_import", "njs"), ("rtmp", "nginx-rtmp-module"), ("locaton", None),
     ("push_stream_subscriber", None),
     # exact names, old and deprecated spellings the modules still take included
     ("access_by_lua", "lua-nginx-module"), ("rewrite_by_lua_file", "lua-nginx-module"),
     ("lua_package_path", "lua-nginx-module"), ("preread_by_lua_block", "stream-lua-nginx-module"),
     ("set_misc_base32_padding", "set-misc-nginx-module"), ("push_publisher", "nchan"),
     ("upload_max_file_size", "nginx-upload-module"), ("upstream_list", "ngx_devel_kit"),
     ("set_encrypt_session", "encrypted-session-nginx-module"), ("rails_env", "passenger"),
     ("js_fetch_keepalive", "njs"), ("main_rule", "naxsi"),
     ("check", "nginx_upstream_check_module"), ("state", "nginx-plus"),
     ("brotli_static", "ngx_brotli")],
)
def test_third_party_module(name: str, module: str | None) -> None:
    assert third_party_module(name) == module


@pytest.mark.parametrize(
    "name",
    [
        "upload_max_filesize",  # PHP's setting; the upload module's is upload_max_file_size
        "set_real_ip_form",  # a typo of nginx's set_real_ip_from
        "more_set_headerz", "lua_foo", "js_foo", "echo_foo", "nchan_foo", "passenger_foo",
        "foobar_by_lua_block", "content_by_lua_blocks", "set_foo", "brotli_foo",
        "ndk_set_var_value",  # a C function of ngx_devel_kit, not a directive
    ],
)
def test_third_party_names_are_exact(name: str) -> None:
    assert third_party_module(name) is None
    assert not is_known(name)


def test_ignored_effects_are_specific() -> None:
    assert "no user-id" in ignored_effect("userid", "ngx_http_userid_filter_module")
    assert "TLS" in ignored_effect("ssl_certificate", "ngx_http_ssl_module")
    assert "no index file is picked at random" in ignored_effect(
        "random_index", "ngx_http_random_index_module"
    )
    assert "HTTP only" in ignored_effect("stream", "ngx_stream_module")
    assert ignored_effect("no_such", "ngx_no_such_module")
