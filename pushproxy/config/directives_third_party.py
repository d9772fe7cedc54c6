"""Directives of third-party nginx modules that real configs use.

pushproxy accepts them with a notice instead of `unknown directive`: nginx itself accepts
them only when the module is built in or loaded, and pushproxy implements none of them.
A module is named by its usual project name; its directives by exact names and by prefixes
or suffixes (checked only after the nginx table, so `set_real_ip_from` stays nginx's).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class ThirdPartyModule:
    name: str
    names: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()

    def owns(self, directive: str) -> bool:
        return (
            directive in self.names
            or directive.startswith(self.prefixes)
            or directive.endswith(self.suffixes)
        )


THIRD_PARTY_MODULES: tuple[ThirdPartyModule, ...] = (
    ThirdPartyModule(
        name="lua-nginx-module",
        prefixes=("lua_",),
        suffixes=("_by_lua", "_by_lua_block", "_by_lua_file"),
    ),
    ThirdPartyModule(name="nchan", prefixes=("nchan_",)),
    ThirdPartyModule(name="headers-more-nginx-module", prefixes=("more_",)),
    ThirdPartyModule(name="echo-nginx-module", names=("echo",), prefixes=("echo_",)),
    ThirdPartyModule(name="set-misc-nginx-module", prefixes=("set_",)),
    ThirdPartyModule(
        name="ngx_devel_kit", names=("ndk_set_var_value", "ndk_set_var_value_code")
    ),
    ThirdPartyModule(
        name="nginx-module-vts",
        prefixes=("vhost_traffic_status",),
    ),
    ThirdPartyModule(name="ngx_brotli", names=("brotli",), prefixes=("brotli_",)),
    ThirdPartyModule(name="ngx_http_geoip2_module", prefixes=("geoip2",)),
    ThirdPartyModule(name="ModSecurity-nginx", prefixes=("modsecurity",)),
    ThirdPartyModule(name="passenger", prefixes=("passenger_",)),
    ThirdPartyModule(name="ngx_pagespeed", names=("pagespeed",)),
    ThirdPartyModule(name="njs", prefixes=("js_",)),
    ThirdPartyModule(
        name="nginx-rtmp-module",
        names=("rtmp", "rtmp_auto_push", "rtmp_auto_push_reconnect", "rtmp_socket_dir",
               "rtmp_stat", "rtmp_stat_stylesheet", "rtmp_control"),
    ),
    ThirdPartyModule(name="srcache-nginx-module", prefixes=("srcache_",)),
    ThirdPartyModule(name="redis2-nginx-module", prefixes=("redis2_",)),
    ThirdPartyModule(name="memc-nginx-module", prefixes=("memc_",)),
    ThirdPartyModule(name="encrypted-session-nginx-module", prefixes=("encrypted_session_",)),
    ThirdPartyModule(name="ngx_cache_purge", names=("proxy_cache_purge", "fastcgi_cache_purge",
                                                    "scgi_cache_purge", "uwsgi_cache_purge")),
    ThirdPartyModule(name="ngx-fancyindex", prefixes=("fancyindex",)),
    ThirdPartyModule(name="nginx-dav-ext-module", prefixes=("dav_ext_",)),
    ThirdPartyModule(name="nginx-upload-progress-module",
                     names=("upload_progress", "track_uploads", "report_uploads",
                            "upload_progress_content_type", "upload_progress_header",
                            "upload_progress_json_output")),
    ThirdPartyModule(name="nginx-upload-module", prefixes=("upload_",)),
    ThirdPartyModule(name="ngx_http_substitutions_filter_module", prefixes=("subs_filter",)),
    ThirdPartyModule(name="nginx-auth-ldap", prefixes=("auth_ldap",), names=("ldap_server",)),
    ThirdPartyModule(name="ngx_http_auth_pam_module", prefixes=("auth_pam",)),
    ThirdPartyModule(name="nginx-sticky-module-ng", names=("sticky",)),
    ThirdPartyModule(
        name="nginx_upstream_check_module",
        names=("check", "check_keepalive_requests", "check_http_send", "check_http_expect_alive",
               "check_fastcgi_param", "check_shm_size", "check_status"),
    ),
    ThirdPartyModule(name="nginx-opentracing", prefixes=("opentracing",)),
    ThirdPartyModule(name="nginx-otel", prefixes=("otel_",)),
    ThirdPartyModule(name="zstd-nginx-module", names=("zstd",), prefixes=("zstd_",)),
    ThirdPartyModule(name="nginx-vod-module", prefixes=("vod",)),
    ThirdPartyModule(name="nginx-secure-token-module", prefixes=("secure_token",)),
    ThirdPartyModule(name="testcookie-nginx-module", prefixes=("testcookie",)),
    ThirdPartyModule(
        name="naxsi",
        names=("SecRulesEnabled", "SecRulesDisabled", "BasicRule", "MainRule", "DeniedUrl",
               "LearningMode", "CheckRule", "LibInjectionSql", "LibInjectionXss"),
    ),
    ThirdPartyModule(name="nginx-auth-jwt", prefixes=("auth_jwt",)),
    ThirdPartyModule(
        name="nginx-plus",
        names=("api", "health_check", "health_check_timeout", "status_zone", "ntlm", "queue",
               "state", "zone_sync", "zone_sync_server", "match", "sticky_cookie_insert",
               "keyval", "keyval_zone", "mqtt", "internal_redirect"),
    ),
)


def third_party_module(name: str) -> str | None:
    """The third-party module that defines directive `name`, if it is a known one."""
    for module in THIRD_PARTY_MODULES:
        if module.owns(name):
            return module.name
    return None
