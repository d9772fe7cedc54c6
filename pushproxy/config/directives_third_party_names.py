"""The exact directive names of the third-party modules in `directives_third_party`.

Each set is what the module registers (its `ngx_command_t` table, or the list its own
documentation gives), old and deprecated names it still accepts included, so a typo or a
directive of another program (`upload_max_filesize`, a PHP setting) stays `unknown directive`
as it is for nginx with the module loaded. The source of each set is named above it.
"""

from __future__ import annotations


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# openresty/lua-nginx-module: src/ngx_http_lua_module.c (ngx_http_lua_cmds), README "Directives",
# and the OpenResty change logs for v0.10.26-v0.10.31 (lua_ssl_certificate[_key], lua_ssl_key_log,
# balancer_keepalive, lua_upstream_skip_openssl_default_verify, proxy_ssl_*_by_lua*,
# precontent_by_lua*). `*_by_lua` without a suffix are the old inline forms, still accepted.
LUA = _names("""
    lua_load_resty_core lua_thread_cache_max_entries lua_max_running_timers lua_max_pending_timers
    lua_shared_dict lua_capture_error_log lua_sa_restart lua_regex_cache_max_entries
    lua_regex_match_limit lua_package_cpath lua_package_path lua_code_cache lua_need_request_body
    lua_transform_underscores_in_response_headers lua_socket_log_errors lua_malloc_trim
    lua_worker_thread_vm_pool_size lua_http10_buffering lua_check_client_abort lua_use_default_type
    lua_socket_keepalive_timeout lua_socket_connect_timeout lua_socket_send_timeout
    lua_socket_send_lowat lua_socket_buffer_size lua_socket_pool_size lua_socket_read_timeout
    lua_ssl_protocols lua_ssl_ciphers lua_ssl_verify_depth lua_ssl_trusted_certificate lua_ssl_crl
    lua_ssl_conf_command lua_ssl_certificate lua_ssl_certificate_key lua_ssl_key_log
    lua_upstream_skip_openssl_default_verify
    init_by_lua init_by_lua_block init_by_lua_file
    init_worker_by_lua init_worker_by_lua_block init_worker_by_lua_file
    exit_worker_by_lua_block exit_worker_by_lua_file
    set_by_lua set_by_lua_block set_by_lua_file
    server_rewrite_by_lua_block server_rewrite_by_lua_file
    rewrite_by_lua rewrite_by_lua_block rewrite_by_lua_file rewrite_by_lua_no_postpone
    access_by_lua access_by_lua_block access_by_lua_file access_by_lua_no_postpone
    precontent_by_lua_block precontent_by_lua_file precontent_by_lua_no_postpone
    content_by_lua content_by_lua_block content_by_lua_file
    header_filter_by_lua header_filter_by_lua_block header_filter_by_lua_file
    body_filter_by_lua body_filter_by_lua_block body_filter_by_lua_file
    log_by_lua log_by_lua_block log_by_lua_file
    balancer_by_lua_block balancer_by_lua_file balancer_keepalive
    ssl_client_hello_by_lua_block ssl_client_hello_by_lua_file
    ssl_certificate_by_lua_block ssl_certificate_by_lua_file
    ssl_session_fetch_by_lua_block ssl_session_fetch_by_lua_file
    ssl_session_store_by_lua_block ssl_session_store_by_lua_file
    proxy_ssl_certificate_by_lua_block proxy_ssl_certificate_by_lua_file
    proxy_ssl_verify_by_lua_block proxy_ssl_verify_by_lua_file
""")

# openresty/stream-lua-nginx-module: src/ngx_stream_lua_module.c and README; only the names it
# adds, its other directives are spelled as lua-nginx-module's.
STREAM_LUA = _names("preread_by_lua_block preread_by_lua_file preread_by_lua_no_postpone "
                    "lua_add_variable")

# slact/nchan: src/nchan_config_commands.c (generated from nchan_commands.rb), with the `alt`
# spellings and the `legacy` push_* names of the old nginx_http_push_module it still takes.
NCHAN = _names("""
    nchan_channel_id nchan_pubsub_channel_id nchan_publisher_channel_id nchan_pub_channel_id
    nchan_publisher_upstream_request nchan_deflate_message_for_websocket
    nchan_channel_id_split_delimiter nchan_subscriber_channel_id nchan_sub_channel_id
    nchan_pubsub nchan_pubsub_location nchan_subscriber_info nchan_subscriber_info_string
    nchan_longpoll_multipart_response nchan_eventsource_event nchan_eventsource_ping_comment
    nchan_eventsource_ping_event nchan_eventsource_ping_data nchan_eventsource_ping_interval
    nchan_subscriber nchan_subscriber_location nchan_subscriber_compound_etag_message_id
    nchan_subscriber_message_id_custom_etag_header nchan_subscriber_last_message_id
    nchan_subscriber_http_raw_stream_separator nchan_subscriber_first_message
    nchan_websocket_ping_interval nchan_websocket_client_heartbeat nchan_publisher
    nchan_publisher_location nchan_subscriber_timeout nchan_authorize_request
    nchan_subscribe_request nchan_unsubscribe_request nchan_message_temp_path nchan_store_messages
    nchan_shared_memory_size nchan_max_reserved_memory nchan_permessage_deflate_compression_level
    nchan_permessage_deflate_compression_strategy nchan_permessage_deflate_compression_window
    nchan_permessage_deflate_compression_memlevel nchan_redis_url nchan_redis_pass
    nchan_redis_pass_inheritable nchan_redis_publish_msgpacked_max_size
    nchan_redis_discovered_ip_range_blacklist nchan_redis_server nchan_redis_storage_mode
    nchan_redis_nostore_fastpublish nchan_redis_username nchan_redis_password nchan_redis_ssl
    nchan_redis_tls nchan_redis_ssl_client_certificate nchan_redis_tls_client_certificate
    nchan_redis_ssl_client_certificate_key nchan_redis_ssl_server_name nchan_redis_tls_server_name
    nchan_redis_ssl_trusted_certificate nchan_redis_tls_trusted_certificate
    nchan_redis_ssl_trusted_certificate_path nchan_redis_tls_trusted_certificate_path
    nchan_redis_ssl_ciphers nchan_redis_tls_ciphers nchan_redis_ssl_verify_certificate
    nchan_redis_tls_verify_certificate nchan_use_redis nchan_redis_ping_interval
    nchan_redis_load_scripts_unconditionally nchan_redis_accurate_subscriber_count
    nchan_redis_wait_after_connecting nchan_redis_connect_timeout nchan_redis_node_connect_timeout
    nchan_redis_cluster_connect_timeout nchan_redis_cluster_max_failing_time
    nchan_redis_reconnect_delay nchan_redis_reconnect_delay_min nchan_redis_reconnect_delay_jitter
    nchan_redis_reconnect_delay_backoff nchan_redis_reconnect_delay_max
    nchan_redis_idle_channel_keepalive_safety_margin nchan_redis_idle_channel_keepalive_min
    nchan_redis_idle_channel_keepalive_jitter nchan_redis_idle_channel_keepalive_backoff
    nchan_redis_idle_channel_keepalive_max nchan_redis_cluster_check_interval
    nchan_redis_cluster_check_interval_min nchan_redis_cluster_check_interval_jitter
    nchan_redis_cluster_check_interval_backoff nchan_redis_cluster_check_interval_max
    nchan_redis_cluster_recovery_delay nchan_redis_cluster_recovery_delay_min
    nchan_redis_cluster_recovery_delay_jitter nchan_redis_cluster_recovery_delay_backoff
    nchan_redis_cluster_recovery_delay_max nchan_redis_command_timeout nchan_redis_retry_commands
    nchan_redis_retry_commands_max_wait nchan_redis_subscribe_weights nchan_redis_optimize_target
    nchan_redis_namespace nchan_redis_fakesub_timer_interval nchan_redis_idle_channel_cache_timeout
    nchan_redis_upstream_stats nchan_redis_upstream_stats_enabled
    nchan_redis_upstream_stats_disconnected_timeout nchan_message_timeout
    nchan_message_buffer_length nchan_message_max_buffer_length
    nchan_subscribe_existing_channels_only nchan_access_control_allow_origin
    nchan_access_control_allow_credentials nchan_channel_group nchan_channel_group_accounting
    nchan_group_location nchan_group_max_channels nchan_group_max_messages
    nchan_group_max_messages_memory nchan_group_max_messages_disk nchan_group_max_subscribers
    nchan_channel_events_channel_id nchan_stub_status nchan_channel_event_string
    nchan_max_channel_id_length nchan_max_channel_subscribers nchan_channel_timeout
    nchan_storage_engine nchan_benchmark nchan_benchmark_time
    nchan_benchmark_messages_per_channel_per_minute nchan_benchmark_message_padding_bytes
    nchan_benchmark_channels nchan_benchmark_subscribers_per_channel
    nchan_benchmark_subscriber_distribution nchan_benchmark_publisher_distribution
    push_subscriber push_publisher push_subscriber_timeout push_store_messages
    push_max_reserved_memory push_message_timeout push_max_message_buffer_length
    push_message_buffer_length push_authorized_channels_only push_channel_group
    push_max_channel_id_length push_max_channel_subscribers push_channel_timeout
    push_min_message_buffer_length push_subscriber_concurrency
""")

# openresty/headers-more-nginx-module: src/ngx_http_headers_more_filter_module.c, as
# nginxinc/nginx-go-crossplane extracts it (analyze_headersMore_directives.gen.go).
HEADERS_MORE = _names("more_set_headers more_clear_headers more_set_input_headers "
                      "more_clear_input_headers")

# openresty/echo-nginx-module: src/ngx_http_echo_module.c (ngx_http_echo_commands).
ECHO = _names("""
    echo echo_request_body echo_sleep echo_flush echo_blocking_sleep echo_reset_timer
    echo_before_body echo_after_body echo_location_async echo_location echo_subrequest_async
    echo_subrequest echo_duplicate echo_read_request_body echo_foreach_split echo_end
    echo_abort_parent echo_exec echo_status
""")

# openresty/set-misc-nginx-module: src/ngx_http_set_misc_module.c and README "Directives"
# (set_misc_base32_padding is the deprecated name of set_base32_padding).
SET_MISC = _names("""
    set_if_empty set_quote_sql_str set_quote_pgsql_str set_quote_json_str set_unescape_uri
    set_escape_uri set_hashed_upstream set_encode_base32 set_base32_padding
    set_misc_base32_padding set_base32_alphabet set_decode_base32 set_encode_base64
    set_decode_base64 set_encode_base64url set_decode_base64url set_encode_hex set_decode_hex
    set_sha1 set_md5 set_hmac_sha1 set_hmac_sha256 set_random set_secure_random_alphanum
    set_secure_random_lcalpha set_rotate set_local_today set_formatted_gmt_time
    set_formatted_local_time
""")

# openresty/form-input-nginx-module and openresty/iconv-nginx-module: their command tables
# (both part of OpenResty; their set_* names used to pass as set-misc's).
FORM_INPUT = _names("set_form_input set_form_input_multi")
ICONV = _names("set_iconv iconv_buffer_size iconv_filter")

# vozlt/nginx-module-vts: src/ngx_http_vhost_traffic_status_module.c.
VTS = _names("""
    vhost_traffic_status vhost_traffic_status_filter vhost_traffic_status_filter_by_host
    vhost_traffic_status_filter_check_duplicate vhost_traffic_status_filter_by_set_key
    vhost_traffic_status_filter_max_node vhost_traffic_status_limit
    vhost_traffic_status_limit_check_duplicate vhost_traffic_status_limit_traffic
    vhost_traffic_status_limit_traffic_by_set_key vhost_traffic_status_zone
    vhost_traffic_status_dump vhost_traffic_status_display vhost_traffic_status_display_format
    vhost_traffic_status_display_jsonp vhost_traffic_status_display_sum_key
    vhost_traffic_status_set_by_filter vhost_traffic_status_average_method
    vhost_traffic_status_histogram_buckets vhost_traffic_status_bypass_limit
    vhost_traffic_status_bypass_stats
""")

# google/ngx_brotli: README "Configuration directives" and the filter/static module sources
# (brotli_buffers is deprecated and ignored, still accepted).
BROTLI = _names("brotli brotli_static brotli_types brotli_buffers brotli_comp_level "
                "brotli_window brotli_min_length")

# leev/ngx_http_geoip2_module, as nginx-go-crossplane extracts it.
GEOIP2 = _names("geoip2 geoip2_proxy geoip2_proxy_recursive")

# owasp-modsecurity/ModSecurity-nginx: src/ngx_http_modsecurity_module.c and README.
MODSECURITY = _names("modsecurity modsecurity_rules modsecurity_rules_file "
                     "modsecurity_rules_remote modsecurity_transaction_id "
                     "modsecurity_use_error_log")

# phusion/passenger: src/ruby_supportlib/phusion_passenger/nginx/config_options.rb, from which
# the module's command table is generated; aliases (rails_env, ...) and obsolete options included.
PASSENGER = _names("""
    passenger_root passenger_ctl passenger_abort_on_startup_error passenger_dump_config_manifest
    passenger_log_level passenger_log_file passenger_disable_log_prefix
    passenger_file_descriptor_log_file passenger_data_buffer_dir passenger_socket_backlog
    passenger_core_file_descriptor_ulimit passenger_disable_security_update_check
    passenger_security_update_check_proxy passenger_disable_anonymous_telemetry
    passenger_anonymous_telemetry_proxy passenger_pre_start passenger_instance_registry_dir
    passenger_spawn_dir passenger_turbocaching passenger_old_routing passenger_user_switching
    passenger_default_user passenger_default_group passenger_max_pool_size
    passenger_pool_idle_time passenger_response_buffer_high_watermark passenger_stat_throttle_rate
    passenger_show_version_in_header passenger_app_file_descriptor_ulimit
    passenger_max_instances_per_app passenger_ruby passenger_python passenger_nodejs
    passenger_meteor_app_settings passenger_app_env passenger_friendly_error_pages
    passenger_custom_error_page passenger_min_instances passenger_start_timeout
    passenger_app_connect_timeout passenger_user passenger_group passenger_app_group_name
    passenger_monitor_log_file passenger_app_root passenger_app_rights passenger_debugger
    passenger_max_preloader_idle_time passenger_env_var passenger_spawn_method
    passenger_direct_instance_request_address passenger_load_shell_envvars
    passenger_preload_bundler passenger_max_request_queue_size passenger_app_type
    passenger_startup_file passenger_app_start_command passenger_restart_dir
    passenger_abort_websockets_on_process_shutdown
    passenger_force_max_concurrent_requests_per_process passenger_enabled passenger_max_requests
    passenger_base_uri passenger_document_root passenger_temp_path passenger_ignore_headers
    passenger_set_header passenger_pass_header passenger_headers_hash_max_size
    passenger_headers_hash_bucket_size passenger_ignore_client_abort passenger_read_timeout
    passenger_buffer_response passenger_buffer_size passenger_buffers passenger_busy_buffers_size
    passenger_request_buffering passenger_intercept_errors
    passenger_request_queue_overflow_status_code passenger_spawn_exception_status_code
    passenger_buffer_upload passenger_sticky_sessions passenger_sticky_sessions_cookie_name
    passenger_sticky_sessions_cookie_attributes passenger_vary_turbocache_by_cookie
    passenger_fly_with passenger_max_instances passenger_memory_limit passenger_concurrency_model
    passenger_thread_count passenger_rolling_restarts passenger_resist_deployment_errors
    passenger_max_request_time passenger_max_request_queue_time passenger_app_log_file
    passenger_debug_log_file rails_spawn_method rails_env rack_env rails_app_spawner_idle_time
    rails_framework_spawner_idle_time passenger_use_global_queue passenger_analytics_log_user
    passenger_analytics_log_group union_station_gateway_address union_station_gateway_port
    union_station_gateway_cert union_station_proxy_address union_station_key
    union_station_support union_station_filter
""")

# nginx/njs: the directive lists of ngx_http_js_module and ngx_stream_js_module on nginx.org
# (js_include was removed in njs 0.7.1; older builds still take it).
NJS = _names("""
    js_access js_body_filter js_content js_context_reuse js_engine js_fetch_buffer_size
    js_fetch_ciphers js_fetch_max_response_buffer_size js_fetch_protocols js_fetch_timeout
    js_fetch_trusted_certificate js_fetch_verify js_fetch_verify_depth js_fetch_proxy
    js_fetch_keepalive js_fetch_keepalive_requests js_fetch_keepalive_time
    js_fetch_keepalive_timeout js_filter js_header_filter js_import js_include
    js_load_http_native_module js_load_stream_native_module js_path js_periodic
    js_preload_object js_preread js_set js_shared_dict_zone js_var
""")

# openresty/srcache-nginx-module: README "Directives".
SRCACHE = _names("""
    srcache_fetch srcache_fetch_skip srcache_store srcache_store_max_size srcache_store_skip
    srcache_store_statuses srcache_store_ranges srcache_header_buffer_size
    srcache_store_hide_header srcache_store_pass_header srcache_methods
    srcache_ignore_content_encoding srcache_request_cache_control srcache_response_cache_control
    srcache_store_no_store srcache_store_no_cache srcache_store_private srcache_default_expire
    srcache_max_expire
""")

# openresty/redis2-nginx-module: README "Directives".
REDIS2 = _names("""
    redis2_query redis2_raw_query redis2_raw_queries redis2_literal_raw_query redis2_pass
    redis2_connect_timeout redis2_send_timeout redis2_read_timeout redis2_buffer_size
    redis2_next_upstream
""")

# openresty/memc-nginx-module: src/ngx_http_memc_module.c (memc_upstream_max_fails and
# memc_upstream_fail_timeout are known, and refused with a hint, by the module itself).
MEMC = _names("""
    memc_cmds_allowed memc_pass memc_connect_timeout memc_send_timeout memc_read_timeout
    memc_buffer_size memc_next_upstream memc_upstream_max_fails memc_upstream_fail_timeout
    memc_flags_to_last_modified memc_ignore_client_abort
""")

# openresty/encrypted-session-nginx-module: README "Directives".
ENCRYPTED_SESSION = _names("encrypted_session_key encrypted_session_iv encrypted_session_expires "
                           "set_encrypt_session set_decrypt_session")

# aperezdc/ngx-fancyindex: ngx_http_fancyindex_module.c (ngx_http_fancyindex_commands).
FANCYINDEX = _names("""
    fancyindex fancyindex_default_sort fancyindex_case_sensitive fancyindex_directories_first
    fancyindex_localtime fancyindex_exact_size fancyindex_header fancyindex_footer
    fancyindex_css_href fancyindex_ignore fancyindex_hide_symlinks fancyindex_show_path
    fancyindex_show_dotfiles fancyindex_hide_parent_dir fancyindex_time_format
""")

# arut/nginx-dav-ext-module: ngx_http_dav_ext_module.c.
DAV_EXT = _names("dav_ext_methods dav_ext_lock_zone dav_ext_lock")

# masterzen/nginx-upload-progress-module: ngx_http_uploadprogress_module.c.
UPLOAD_PROGRESS = _names("""
    upload_progress track_uploads report_uploads upload_progress_content_type
    upload_progress_template upload_progress_java_output upload_progress_json_output
    upload_progress_jsonp_output upload_progress_header upload_progress_jsonp_parameter
""")

# fdintino/nginx-upload-module: ngx_http_upload_module.c (ngx_http_upload_commands);
# `upload_empty_fiels_names` is the module's own spelling.
UPLOAD = _names("""
    upload_pass upload_store upload_state_store upload_store_access upload_buffer_size
    upload_merge_buffer_size upload_range_header_buffer_size upload_max_part_header_len
    upload_max_file_size upload_max_output_body_len upload_set_form_field
    upload_aggregate_form_field upload_pass_form_field upload_cleanup upload_pass_args
    upload_limit_rate upload_tame_arrays upload_resumable upload_empty_fiels_names
    upload_add_header
""")

# yaoweibin/ngx_http_substitutions_filter_module: ngx_http_subs_filter_module.c.
SUBSTITUTIONS = _names("subs_filter subs_filter_types subs_buffers subs_line_buffer_size")

# kvspb/nginx-auth-ldap: ngx_http_auth_ldap_module.c; the auth_ldap_url/binddn/... names are
# those of its early single-server versions.
AUTH_LDAP = _names("""
    ldap_server auth_ldap auth_ldap_servers auth_ldap_cache_enabled
    auth_ldap_cache_expiration_time auth_ldap_cache_size auth_ldap_servers_size
    auth_ldap_url auth_ldap_binddn auth_ldap_binddn_passwd auth_ldap_require
""")

# sto/ngx_http_auth_pam_module: ngx_http_auth_pam_module.c.
AUTH_PAM = _names("auth_pam auth_pam_service_name auth_pam_set_pam_env")

# opentracing-contrib/nginx-opentracing: doc/Reference.md and opentracing_directive.cpp
# (opentracing_grpc_propagate_context is the gRPC form of opentracing_propagate_context).
OPENTRACING = _names("""
    opentracing opentracing_load_tracer opentracing_propagate_context
    opentracing_grpc_propagate_context opentracing_fastcgi_propagate_context
    opentracing_trace_locations opentracing_operation_name opentracing_location_operation_name
    opentracing_trust_incoming_span opentracing_tag
""")

# nginxinc/nginx-otel: as nginx-go-crossplane extracts it (the directives inside
# `otel_exporter { ... }` are not checked: pushproxy does not read a third-party block).
OTEL = _names("otel_exporter otel_resource_attr otel_service_name otel_span_attr "
              "otel_span_name otel_trace otel_trace_context")

# tokers/zstd-nginx-module: README "Directives".
ZSTD = _names("zstd zstd_dict_file zstd_comp_level zstd_min_length zstd_types zstd_buffers "
              "zstd_static")

# kyprizel/testcookie-nginx-module: ngx_http_testcookie_access_module.c.
TESTCOOKIE = _names("""
    testcookie testcookie_name testcookie_domain testcookie_path testcookie_expires testcookie_p3p
    testcookie_samesite testcookie_arg testcookie_session testcookie_secret testcookie_fallback
    testcookie_max_attempts testcookie_whitelist testcookie_https_location testcookie_get_only
    testcookie_redirect_via_refresh testcookie_refresh_template testcookie_refresh_status
    testcookie_deny_keepalive testcookie_internal testcookie_refresh_encrypt_cookie
    testcookie_refresh_encrypt_cookie_key testcookie_refresh_encrypt_cookie_iv
    testcookie_httponly_flag testcookie_secure_flag testcookie_pass testcookie_port_in_redirect
""")

# nbs-system/naxsi (wargio/naxsi): naxsi.h, the rule directives and their nginx-style names.
NAXSI = _names("""
    DeniedUrl IgnoreIP IgnoreCIDR LearningMode SecRulesEnabled SecRulesDisabled CheckRule
    BasicRule MainRule LibInjectionSql LibInjectionXss NaxsiLogFile
    denied_url ignore_ip ignore_cidr learning_mode rules_enabled rules_disabled check_rule
    basic_rule main_rule libinjection_sql libinjection_xss naxsi_log
""")

# kjdev/nginx-auth-jwt: src/ngx_http_auth_jwt_module.c.
AUTH_JWT = _names("""
    auth_jwt auth_jwt_claim_set auth_jwt_header_set auth_jwt_key_file auth_jwt_key_request
    auth_jwt_leeway auth_jwt_phase auth_jwt_require_claim auth_jwt_require_header
    auth_jwt_revocation_list_kid auth_jwt_revocation_list_sub auth_jwt_validate_exp
    auth_jwt_validate_sig
""")

# TeslaGov/ngx-http-auth-jwt-module: src/ngx_http_auth_jwt_module.c.
TESLAGOV_AUTH_JWT = _names("""
    auth_jwt_enabled auth_jwt_key auth_jwt_loginurl auth_jwt_redirect auth_jwt_location
    auth_jwt_algorithm auth_jwt_validate_sub auth_jwt_extract_var_claims
    auth_jwt_extract_request_claims auth_jwt_extract_response_claims auth_jwt_keyfile_path
    auth_jwt_use_keyfile
""")
