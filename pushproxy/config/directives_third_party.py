"""Directives of third-party nginx modules that real configs use.

pushproxy accepts them with a notice instead of `unknown directive`: nginx itself accepts
them only when the module is built in or loaded, and pushproxy implements none of them.
A module is named by its usual project name; its directives by their exact names, as the
module registers them (`directives_third_party_names` says where each list comes from), so a
typo such as `more_set_headerz`, or a setting of another program such as PHP's
`upload_max_filesize`, is `unknown directive` here as it is for nginx with the module loaded.
The table is consulted only after nginx's own, so `set_real_ip_from` stays nginx's.
"""

from __future__ import annotations

from dataclasses import dataclass

from pushproxy.config import directives_third_party_names as names


@dataclass(frozen=True, slots=True, kw_only=True)
class ThirdPartyModule:
    name: str
    names: frozenset[str] = frozenset()
    # Only for a module whose list could not be taken from its sources (see below); a prefix
    # lets typos through, so none is given where the exact names are known.
    prefixes: tuple[str, ...] = ()

    def owns(self, directive: str) -> bool:
        return directive in self.names or directive.startswith(self.prefixes)


def _names(*items: str) -> frozenset[str]:
    return frozenset(items)


THIRD_PARTY_MODULES: tuple[ThirdPartyModule, ...] = (
    ThirdPartyModule(name="lua-nginx-module", names=names.LUA),
    ThirdPartyModule(name="stream-lua-nginx-module", names=names.STREAM_LUA),
    ThirdPartyModule(name="nchan", names=names.NCHAN),
    ThirdPartyModule(name="headers-more-nginx-module", names=names.HEADERS_MORE),
    ThirdPartyModule(name="echo-nginx-module", names=names.ECHO),
    ThirdPartyModule(name="set-misc-nginx-module", names=names.SET_MISC),
    ThirdPartyModule(name="form-input-nginx-module", names=names.FORM_INPUT),
    ThirdPartyModule(name="iconv-nginx-module", names=names.ICONV),
    # vision5/ngx_devel_kit: objs/ndk_config.c registers only NDK_UPSTREAM_LIST's command.
    ThirdPartyModule(name="ngx_devel_kit", names=_names("upstream_list")),
    ThirdPartyModule(name="nginx-module-vts", names=names.VTS),
    ThirdPartyModule(name="ngx_brotli", names=names.BROTLI),
    ThirdPartyModule(name="ngx_http_geoip2_module", names=names.GEOIP2),
    ThirdPartyModule(name="ModSecurity-nginx", names=names.MODSECURITY),
    ThirdPartyModule(name="passenger", names=names.PASSENGER),
    # apache/incubator-pagespeed-ngx: every option goes through the one `pagespeed` directive.
    ThirdPartyModule(name="ngx_pagespeed", names=_names("pagespeed")),
    ThirdPartyModule(name="njs", names=names.NJS),
    # arut/nginx-rtmp-module: the top-level ones; the rest live inside `rtmp { ... }`.
    ThirdPartyModule(
        name="nginx-rtmp-module",
        names=_names("rtmp", "rtmp_auto_push", "rtmp_auto_push_reconnect", "rtmp_socket_dir",
                     "rtmp_stat", "rtmp_stat_stylesheet", "rtmp_control"),
    ),
    ThirdPartyModule(name="srcache-nginx-module", names=names.SRCACHE),
    ThirdPartyModule(name="redis2-nginx-module", names=names.REDIS2),
    ThirdPartyModule(name="memc-nginx-module", names=names.MEMC),
    ThirdPartyModule(name="encrypted-session-nginx-module", names=names.ENCRYPTED_SESSION),
    ThirdPartyModule(name="ngx_cache_purge", names=_names("proxy_cache_purge",
                                                          "fastcgi_cache_purge",
                                                          "scgi_cache_purge",
                                                          "uwsgi_cache_purge")),
    ThirdPartyModule(name="ngx-fancyindex", names=names.FANCYINDEX),
    ThirdPartyModule(name="nginx-dav-ext-module", names=names.DAV_EXT),
    ThirdPartyModule(name="nginx-upload-progress-module", names=names.UPLOAD_PROGRESS),
    ThirdPartyModule(name="nginx-upload-module", names=names.UPLOAD),
    ThirdPartyModule(name="ngx_http_substitutions_filter_module", names=names.SUBSTITUTIONS),
    ThirdPartyModule(name="nginx-auth-ldap", names=names.AUTH_LDAP),
    ThirdPartyModule(name="ngx_http_auth_pam_module", names=names.AUTH_PAM),
    ThirdPartyModule(name="nginx-sticky-module-ng", names=_names("sticky")),
    # yaoweibin/nginx_upstream_check_module: README "Directives".
    ThirdPartyModule(
        name="nginx_upstream_check_module",
        names=_names("check", "check_keepalive_requests", "check_http_send",
                     "check_http_expect_alive", "check_fastcgi_param", "check_shm_size",
                     "check_status"),
    ),
    ThirdPartyModule(name="nginx-opentracing", names=names.OPENTRACING),
    ThirdPartyModule(name="nginx-otel", names=names.OTEL),
    ThirdPartyModule(name="zstd-nginx-module", names=names.ZSTD),
    # kaltura/nginx-vod-module and kaltura/nginx-secure-token-module spread their commands over
    # one file per packager / CDN provider; their lists are not transcribed yet, so these two
    # still go by prefix.
    ThirdPartyModule(name="nginx-vod-module", prefixes=("vod",)),
    ThirdPartyModule(name="nginx-secure-token-module", prefixes=("secure_token",)),
    ThirdPartyModule(name="testcookie-nginx-module", names=names.TESTCOOKIE),
    ThirdPartyModule(name="naxsi", names=names.NAXSI),
    ThirdPartyModule(name="nginx-auth-jwt", names=names.AUTH_JWT),
    ThirdPartyModule(name="ngx-http-auth-jwt-module", names=names.TESLAGOV_AUTH_JWT),
    ThirdPartyModule(
        name="nginx-plus",
        names=_names("api", "health_check", "health_check_timeout", "status_zone", "ntlm",
                     "queue", "state", "zone_sync", "zone_sync_server", "match",
                     "sticky_cookie_insert", "keyval", "keyval_zone", "mqtt",
                     "internal_redirect", "auth_jwt_key_cache", "auth_jwt_require",
                     "auth_jwt_type"),
    ),
)


def third_party_module(name: str) -> str | None:
    """The third-party module that defines directive `name`, if it is a known one."""
    for module in THIRD_PARTY_MODULES:
        if module.owns(name):
            return module.name
    return None
