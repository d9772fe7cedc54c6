"""nginx's own judgements on a parsed config, with nginx's texts, lines and order."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pushproxy.config.diagnostics import Diagnostic
from pushproxy.config.nginx_rules import missing_events, validate
from pushproxy.config.tree import Directive

FILE = "/etc/nginx/nginx.conf"


def d(
    name: str,
    *args: str,
    line: int = 1,
    end_line: int | None = None,
    block: Sequence[Directive] | None = None,
    file: str = FILE,
) -> Directive:
    return Directive(
        name=name, args=args, file=file, line=line, column=1,
        end_line=line if end_line is None else end_line,
        block=None if block is None else tuple(block),
    )


def http(*items: Directive) -> tuple[Directive, ...]:
    return (d("events", block=()), d("http", block=items))


def server(*items: Directive) -> Directive:
    return d("server", block=items)


def location(*args: str, block: Sequence[Directive] = (), line: int = 1) -> Directive:
    return d("location", *args, block=block, line=line)


def errors(tree: Sequence[Directive]) -> list[tuple[str, str, int]]:
    return [(x.code, x.message, x.line) for x in validate(tree) if x.code.startswith("E")]


def first_error(tree: Sequence[Directive]) -> str:
    found = errors(tree)
    assert found, "expected an error"
    return found[0][1]


def notices(tree: Sequence[Directive], code: str) -> list[Diagnostic]:
    return [x for x in validate(tree) if x.code == code]


# ---- the examples of nginx-t-messages.txt


def test_args() -> None:  # events {} http { server { root; } }
    assert errors(http(server(d("root")))) == [
        ("E103", 'invalid number of arguments in "root" directive', 1)
    ]


def test_badmod() -> None:
    assert errors(http(server(location("~~", "/a")))) == [
        ("E108", 'invalid location modifier "~~"', 1)
    ]


def test_dup_loc() -> None:
    assert errors(http(server(location("=", "/a"), location("=", "/a")))) == [
        ("E109", 'duplicate location "/a"', 1)
    ]


def test_flag() -> None:
    assert errors(http(server(d("sendfile", "maybe")))) == [
        ("E106", 'invalid value "maybe" in "sendfile" directive, it must be "on" or "off"', 1)
    ]


def test_nested() -> None:
    tree = http(server(location("=", "/a", block=[location("/a/b")])))
    assert errors(tree) == [
        ("E108", 'location "/a/b" cannot be inside the exact location "/a"', 1)
    ]


def test_noopen() -> None:
    tree = http(server(d("location", "/a")))
    assert errors(tree) == [("E104", 'directive "location" has no opening "{"', 1)]


def test_notterm() -> None:
    tree = http(server(d("server_name", "x", block=())))
    assert errors(tree) == [("E105", 'directive "server_name" is not terminated by ";"', 1)]


def test_ok() -> None:
    tree = (
        d("events", block=()),
        d("http", block=[
            d("push_stream_shared_memory_size", "32M"),
            server(
                d("listen", "127.0.0.1:18080"),
                location("~", r"^/sub/(\w+)$", block=[
                    d("push_stream_subscriber"), d("push_stream_channels_path", "$1"),
                ]),
            ),
        ]),
    )
    assert validate(tree) == []


def test_psm_ctx() -> None:
    tree = (d("events", block=()), d("push_stream_subscriber"))
    assert errors(tree) == [
        ("E102", '"push_stream_subscriber" directive is not allowed here', 1)
    ]


def test_regex() -> None:
    assert errors(http(server(location("~", "^/(a")))) == [
        ("E110", 'pcre2_compile() failed: missing closing parenthesis in "^/(a"', 1)
    ]


def test_unknown() -> None:
    tree = (
        d("events", block=(), line=1),
        d("http", line=2, block=[
            d("server", line=3, block=[d("locaton", "/x", line=4, block=())]),
        ]),
    )
    assert errors(tree) == [("E101", 'unknown directive "locaton"', 4)]


# ---- lines, levels, order


def test_finding_sits_on_the_end_line() -> None:
    tree = http(server(d("sendfile", "maybe", line=3, end_line=5)))
    (found,) = validate(tree)[:1]
    assert (found.line, found.nginx_level, found.file) == (5, "emerg", FILE)


def test_every_error_is_reported_in_file_order() -> None:
    tree = http(server(d("root", line=2), d("sendfile", "x", line=3), d("nope", line=4)))
    assert [(code, line) for code, _, line in errors(tree)] == [
        ("E103", 2), ("E106", 3), ("E101", 4)
    ]


def test_duplicate_locations_come_when_http_ends() -> None:
    tree = (
        d("events", block=()),
        d("http", line=1, block=[
            server(location("/a", line=2), location("/a", line=3)),
            d("nope", line=4),
        ]),
        d("worker_processes", "x", line=5),
    )
    assert errors(tree) == [
        ("E101", 'unknown directive "nope"', 4),
        ("E109", 'duplicate location "/a"', 3),
        ("E106", '"worker_processes" directive invalid value', 5),
    ]


def test_missing_events_is_its_own_check_without_a_line() -> None:
    tree = (d("http", block=[d("nope")], file="/x/main.conf"),)
    assert [x.code for x in validate(tree)] == ["E101"]
    assert missing_events(tree) == [
        Diagnostic(
            code="E111", message='no "events" section in configuration', file="/x/main.conf",
            line=0, nginx_after_syntax=True,
        )
    ]
    assert missing_events(tree, complete=False) == []
    assert missing_events((d("events", block=[]), *tree)) == []


def test_comments_are_not_directives() -> None:
    comment = Directive(name="#", args=(), file=FILE, line=1, column=1, end_line=1,
                        comment="note")
    assert validate((comment, *http())) == []


# ---- context, block and arity


def test_not_allowed_block_is_still_checked_inside() -> None:
    tree = http(d("location", "/a", block=[d("sendfile", "x")]))
    assert [code for code, _, _ in errors(tree)] == ["E102", "E106"]


def test_if_inside_if_is_not_allowed() -> None:
    tree = http(server(d("if", "($a)", block=[d("if", "($b)", block=())])))
    assert errors(tree) == [("E102", '"if" directive is not allowed here', 1)]


def test_if_in_location_takes_location_directives() -> None:
    tree = http(server(location("/", block=[
        d("if", "($a)", block=[d("sendfile", "on"), d("listen", "80")]),
    ])))
    assert errors(tree) == [("E102", '"listen" directive is not allowed here', 1)]


def test_flag_arity() -> None:
    assert first_error(http(d("sendfile", "on", "off"))) == (
        'invalid number of arguments in "sendfile" directive'
    )


def test_directive_of_another_subsystem_is_not_allowed() -> None:
    tree = (d("events", block=()), d("mail", block=[d("proxy_pass", "x")]))
    assert first_error(tree) == '"proxy_pass" directive is not allowed here'


# ---- duplicates


def test_duplicate_slot_at_one_level() -> None:
    tree = http(d("sendfile", "on", line=1), d("sendfile", "off", line=2))
    assert errors(tree) == [("E107", '"sendfile" directive is duplicate', 2)]


def test_each_level_has_its_own_slots() -> None:
    tree = http(d("sendfile", "on"), server(d("sendfile", "off"), location("/", block=[
        d("sendfile", "on"),
    ])))
    assert errors(tree) == []


def test_duplicate_is_judged_before_the_value() -> None:
    tree = http(d("sendfile", "on"), d("sendfile", "maybe"))
    assert first_error(tree) == '"sendfile" directive is duplicate'


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [("root", "alias", '"alias" directive is duplicate, "root" directive was specified earlier'),
     ("alias", "root", '"root" directive is duplicate, "alias" directive was specified earlier'),
     ("root", "root", '"root" directive is duplicate')],
)
def test_root_and_alias(first: str, second: str, message: str) -> None:
    tree = http(server(location("/", block=[d(first, "/a"), d(second, "/b")])))
    assert first_error(tree) == message


def test_publisher_and_subscriber_share_a_slot() -> None:
    tree = http(server(location("/", block=[
        d("push_stream_publisher"), d("push_stream_subscriber", "eventsource"),
    ])))
    assert first_error(tree) == '"push_stream_subscriber" directive is duplicate'


def test_duplicate_blocks_at_main_level() -> None:
    tree = (d("events", block=()), d("events", block=()))
    assert first_error(tree) == '"events" directive is duplicate'


def test_limit_req_repeats_once_per_zone() -> None:
    ok = http(server(d("limit_req", "zone=a"), d("limit_req", "zone=b", "burst=5")))
    assert errors(ok) == []
    twice = http(server(d("limit_req", "zone=a"), d("limit_req", "zone=a", "nodelay")))
    assert first_error(twice) == '"limit_req" directive is duplicate'


def test_a_rate_made_of_variables_is_read_per_request() -> None:
    assert errors(http(d("limit_rate", "$arg_rate"), d("limit_rate_after", "${a}k"))) == []


def test_bitmask_may_repeat() -> None:
    assert errors(http(d("proxy_next_upstream", "error"), d("proxy_next_upstream", "off"))) == []


# ---- values


@pytest.mark.parametrize(
    ("directive", "message"),
    [
        (d("client_max_body_size", "10x"), '"client_max_body_size" directive invalid value'),
        (d("client_body_buffer_size", "1g"), '"client_body_buffer_size" directive invalid value'),
        (d("send_timeout", "1y"), '"send_timeout" directive invalid value'),
        (d("keepalive_requests", "-1"), '"keepalive_requests" directive invalid number'),
        (d("gzip_comp_level", "10"), "value must be between 1 and 9"),
        (d("gzip_http_version", "2.0"), 'invalid value "2.0"'),
        (d("gzip_proxied", "expired", "bogus"), 'invalid value "bogus"'),
        (d("large_client_header_buffers", "0", "8k"),
         '"large_client_header_buffers" directive invalid value'),
        (d("keepalive_timeout", "75s", "1ms"), '"keepalive_timeout" directive invalid value'),
        (d("push_stream_message_ttl", "soon"), '"push_stream_message_ttl" directive invalid value'),
        (d("push_stream_max_channel_id_length", "x"),
         '"push_stream_max_channel_id_length" directive invalid number'),
        (d("proxy_ignore_headers", "Expires", "X-Accel-Nothing"),
         'invalid value "X-Accel-Nothing"'),
        (d("proxy_cache_methods", "GET", "PUT"), 'invalid value "PUT"'),
        (d("proxy_cookie_flags", "sid"), 'invalid parameter "sid"'),
        (d("limit_rate", "1g"), '"limit_rate" directive invalid value'),
        (d("limit_rate_after", "-1"), '"limit_rate_after" directive invalid value'),
    ],
)
def test_http_values(directive: Directive, message: str) -> None:
    assert errors(http(directive)) == [("E106", message, 1)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("none", "blocked"), 'the "none" or "blocked" referers are specified in the'
         ' "valid_referers" directive without any valid referer'),
        (("",), 'invalid referer ""'),
        (("a.com", "A.com/x"), 'conflicting parameter "a.com"'),
        (("*.a.*",), 'invalid hostname or wildcard "*.a.*"'),
    ],
)
def test_valid_referers_values(args: tuple[str, ...], message: str) -> None:
    assert errors(http(server(d("valid_referers", *args)))) == [("E106", message, 1)]


def test_cookie_flags_regex_is_compiled() -> None:
    message = 'pcre2_compile() failed: missing closing parenthesis in "("'
    assert errors(http(d("proxy_cookie_flags", "~(", "secure"))) == [("E110", message, 1)]


@pytest.mark.parametrize(
    "directive",
    [d("client_max_body_size", "2g"), d("send_timeout", "1h 30m"), d("gzip_comp_level", "9"),
     d("gzip_proxied", "expired", "no-cache"), d("keepalive_timeout", "75s", "60"),
     d("large_client_header_buffers", "4", "16k"), d("gzip_http_version", "1.0"),
     d("push_stream_store_messages", "ON"),
     d("proxy_ignore_headers", "X-Accel-Expires", "Expires", "Cache-Control", "Set-Cookie"),
     d("fastcgi_ignore_headers", "X-Accel-Redirect", "X-Accel-Limit-Rate", "X-Accel-Buffering",
       "X-Accel-Charset", "Vary"),
     d("uwsgi_ignore_headers", "set-cookie", "VARY"),  # nginx compares without case
     d("proxy_cache_methods", "GET", "HEAD", "POST"), d("scgi_cache_methods", "get", "post")],
)
def test_http_values_accepted(directive: Directive) -> None:
    assert errors(http(directive)) == []


def test_core_and_events_values() -> None:
    tree = (d("worker_processes", "autox"), d("daemon", "maybe"),
            d("events", block=[d("worker_connections", "many")]))
    assert [message for _, message, _ in errors(tree)] == [
        '"worker_processes" directive invalid value',
        'invalid value "maybe" in "daemon" directive, it must be "on" or "off"',
        'invalid number "many"',
    ]
    assert errors((d("worker_processes", "auto"), d("events", block=()))) == []


def test_upstream_keepalive_value() -> None:
    tree = http(d("upstream", "u", block=[d("server", "127.0.0.1"), d("keepalive", "0")]))
    assert first_error(tree) == 'invalid value "0" in "keepalive" directive'


@pytest.mark.parametrize(
    ("args", "message"),
    [(("1000",), 'invalid return code "1000"'), (("abc",), 'invalid return code "abc"'),
     (("http://x", "y"), 'invalid return code "http://x"'), (("301", "/x"), None),
     (("https://x",), None), (("$scheme://x",), None)],
)
def test_return(args: tuple[str, ...], message: str | None) -> None:
    found = errors(http(server(d("return", *args))))
    assert found == ([] if message is None else [("E106", message, 1)])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("($a)",), None),
        (("(", "$a", ")"), None),
        (("($a", "=", "b)"), None),
        (("(-f", "$a)"), None),
        (("(x)",), 'invalid condition "x"'),
        (("$a)",), 'invalid condition "$a)"'),
        (("($a",), 'invalid condition "$a"'),
        (("($a", "<>", "b)"), 'unexpected "<>" in condition'),
        (("($a", "=)"), 'invalid condition "$a"'),
        (("(-z", "$a)"), 'invalid condition "-z"'),
        (("($uri", "~", "^/(x)"), 'pcre2_compile() failed: missing closing parenthesis in "^/(x"'),
    ],
)
def test_if_conditions(args: tuple[str, ...], message: str | None) -> None:
    found = errors(http(server(d("if", *args, block=()))))
    assert [m for _, m, _ in found] == ([] if message is None else [message])


def test_rewrite() -> None:
    assert first_error(http(server(d("rewrite", "^/a", "/b", "bogus")))) == (
        'invalid parameter "bogus"'
    )
    assert first_error(http(server(d("rewrite", "^/(a", "/b")))) == (
        'pcre2_compile() failed: missing closing parenthesis in "^/(a"'
    )
    assert first_error(http(server(d("rewrite", "^/a", "")))) == "empty replacement"
    assert errors(http(server(d("rewrite", "^/(a)$", "/b/$1", "last")))) == []


def test_obsolete_directive_warns() -> None:
    (found,) = notices(http(d("http2_idle_timeout", "3m")), "N403")
    assert found.nginx_level == "warn"
    assert found.message == (
        'the "http2_idle_timeout" directive is obsolete, use the "keepalive_timeout" directive '
        "instead"
    )


# ---- locations


@pytest.mark.parametrize(
    ("parent", "child", "message"),
    [
        (("/a",), ("/b",), 'location "/b" is outside location "/a"'),
        (("/a/b",), ("/a",), 'location "/a" is outside location "/a/b"'),
        (("@a",), ("/b",), 'location "/b" cannot be inside the named location "@a"'),
        (("/a",), ("@b",), 'named location "@b" can be on the server level only'),
        (("~", "^/a"), ("/b",), 'location "/b" is outside location "^/a"'),
        (("^~", "/a"), ("=", "/b"), 'location "/b" is outside location "/a"'),
        (("=/a",), ("~", "x"), 'location "x" cannot be inside the exact location "/a"'),
        (("/a",), ("/a/b",), None),
        (("/a",), ("~", "^/b"), None),
        (("/a",), ("=/a",), None),
        # a prefix inside a regex location is compared with the regex's text
        (("~", "^/a"), ("^~/a/b",), 'location "/a/b" is outside location "^/a"'),
        (("~", "^/a"), ("^/a/b",), None),
    ],
)
def test_location_nesting(parent: tuple[str, ...], child: tuple[str, ...],
                          message: str | None) -> None:
    found = errors(http(server(location(*parent, block=[location(*child)]))))
    assert found == ([] if message is None else [("E108", message, 1)])


@pytest.mark.parametrize(
    "pairs",
    [
        [("=", "/a"), ("/a",)],  # an exact and a prefix location join
        [("~", "/a"), ("~", "/a")],  # regex locations are not compared
        [("@a",), ("@a",)],  # named locations are not compared
        [("/a",), ("/a/",)],
    ],
)
def test_locations_that_are_not_duplicates(pairs: list[tuple[str, ...]]) -> None:
    assert errors(http(server(*(location(*args) for args in pairs)))) == []


def test_prefix_and_no_regex_prefix_are_duplicates() -> None:
    tree = http(server(location("/a", line=1), location("^~", "/a", line=2)))
    assert errors(tree) == [("E109", 'duplicate location "/a"', 2)]


def test_duplicate_locations_in_nginx_order() -> None:
    # nested levels first, then the server level sorted by name
    tree = http(server(
        location("/z", line=1), location("/z", line=2),
        location("/b", line=3), location("/b", line=4),
        location("/m", line=5, block=[location("/m/x", line=6), location("/m/x", line=7)]),
    ))
    assert [(m, line) for _, m, line in errors(tree)] == [
        ('duplicate location "/m/x"', 7), ('duplicate location "/b"', 4),
        ('duplicate location "/z"', 2),
    ]


def test_each_server_has_its_own_locations() -> None:
    assert errors(http(server(location("/a")), server(location("/a")))) == []


# ---- regular expressions elsewhere


def test_server_name_regex() -> None:
    tree = http(server(d("server_name", "example.com", "~^(www\\.x")))
    assert first_error(tree) == (
        'pcre2_compile() failed: missing closing parenthesis in "^(www\\.x"'
    )


def test_regex_error_position() -> None:
    tree = http(server(location("~", "[z-a]")))
    assert first_error(tree) == (
        'pcre2_compile() failed: range out of order in character class in "[z-a]" at "a]"'
    )


def test_pcre_syntax_python_lacks_is_not_an_error() -> None:
    tree = http(server(location("~", r"^/(?<name>\w+)\z"), location("~*", "(*UTF8)^/é")))
    assert errors(tree) == []


def test_map_entries_are_not_directives_but_regexes_compile() -> None:
    tree = http(d("map", "$uri", "$x", block=[
        d("default", "0", line=2), d("whatever", "1", line=3), d("~^/(a", "2", line=4),
    ]))
    assert errors(tree) == [
        ("E110", 'pcre2_compile() failed: missing closing parenthesis in "^/(a"', 4)
    ]


def test_types_entries_are_not_directives() -> None:
    tree = http(d("types", block=[d("text/html", "html"), d("image/png", "png")]))
    assert validate(tree) == []


# ---- structure


def test_upstream_without_servers() -> None:
    tree = http(d("upstream", "u", line=2, block=[d("keepalive", "4", line=3)]))
    assert errors(tree) == [("E111", "no servers are inside upstream", 3)]


def test_stream_server_without_listen() -> None:
    tree = (d("events", block=()), d("stream", block=[
        d("server", line=2, block=[d("proxy_pass", "127.0.0.1:9000", line=3)]),
    ]))
    assert errors(tree) == [("E111", 'no "listen" is defined for server', 2)]


# ---- notices


def test_ignored_directive_notice() -> None:
    (found,) = notices(http(server(location("/", block=[d("random_index", "on")]))), "N401")
    assert found.nginx_level is None
    assert found.message == (
        'pushproxy ignores "random_index": no index file is picked at random; `index` applies'
    )


def test_no_notice_for_honoured_and_push_directives() -> None:
    tree = http(d("gzip", "on"), d("gzip_static", "on"), d("limit_rate", "1m"),
                d("push_stream_shared_memory_size", "32m"), server(
        d("listen", "80"), location("/", block=[d("proxy_pass", "http://127.0.0.1")]),
    ))
    assert validate(tree) == []


def test_balancing_methods_are_honoured() -> None:
    def upstream(*method: Directive) -> Directive:
        return d("upstream", "app", block=[*method, d("server", "127.0.0.1:8000")])

    methods = (
        d("ip_hash"), d("least_conn"), d("hash", "$request_uri"),
        d("hash", "$request_uri", "consistent"), d("random"), d("random", "two"),
        d("random", "two", "least_conn"),
    )
    for method in methods:
        assert validate(http(upstream(method))) == []
    assert first_error(http(upstream(d("hash", "$request_uri", "ring")))) == (
        'invalid parameter "ring"'
    )
    assert first_error(http(upstream(d("random", "two", "fast")))) == 'invalid parameter "fast"'
    assert first_error(http(upstream(d("random", "three")))) == 'invalid parameter "three"'


def test_backup_servers_and_a_second_method_as_nginx_judges_them() -> None:
    def upstream(*items: Directive) -> tuple[Directive, ...]:
        return http(d("upstream", "app", block=list(items)))

    backup = d("server", "127.0.0.1:8001", "backup", line=3)
    assert first_error(upstream(d("ip_hash", line=2), backup)) == (
        'balancing method does not support parameter "backup"'
    )
    assert errors(upstream(backup, d("ip_hash", line=4))) == []  # nginx checks servers after
    assert errors(upstream(d("least_conn", line=2), backup)) == []
    (found,) = notices(upstream(d("ip_hash"), d("least_conn", line=2)), "N403")
    assert (found.message, found.line, found.nginx_level) == (
        "load balancing method redefined", 2, "warn"
    )


def test_one_notice_for_an_ignored_block() -> None:
    tree = (d("events", block=()), d("stream", block=[
        d("server", block=[d("listen", "53", "udp"), d("proxy_pass", "dns")]),
    ]))
    assert [x.message for x in notices(tree, "N401")] == [
        'pushproxy ignores "stream": pushproxy serves HTTP only; this block is read and '
        "checked, never started"
    ]


def test_third_party_directive_notice() -> None:
    tree = http(server(location("/", block=[
        d("content_by_lua_block", block=[d("ngx.say('x')")]),
        d("more_set_headers", "X-A: b"),
    ])))
    found = validate(tree)
    assert [x.code for x in found] == ["N402", "N402"]
    assert found[0].message == (
        'pushproxy ignores "content_by_lua_block", a directive of the third-party module '
        "lua-nginx-module"
    )
    assert found[0].nginx_level is None


def test_third_party_directives_of_several_modules_get_the_notice() -> None:
    tree = http(
        d("lua_shared_dict", "cache", "10m", line=2),
        d("vhost_traffic_status_zone", line=3),
        server(
            d("more_set_headers", "X-A: b", line=5),
            location("/", line=6, block=[
                d("access_by_lua_file", "/etc/nginx/access.lua", line=7),
                d("set_quote_sql_str", "$q", "$arg_q", line=8),
                d("js_content", "http.hello", line=9),
                d("upload_max_file_size", "100m", line=10),
                d("nchan_subscriber", line=11),
            ]),
        ),
    )
    found = validate(tree)
    assert [(x.code, x.line) for x in found] == [("N402", n) for n in (2, 3, 5, 7, 8, 9, 10, 11)]
    assert found[6].message == (
        'pushproxy ignores "upload_max_file_size", a directive of the third-party module '
        "nginx-upload-module"
    )


@pytest.mark.parametrize(
    "name",
    ["upload_max_filesize", "set_real_ip_form", "more_set_headerz", "lua_foo", "js_foo"],
)
def test_look_alikes_of_third_party_directives_are_unknown(name: str) -> None:
    # third-party modules are known by their exact names, as nginx with the module loaded
    # knows them: PHP's upload_max_filesize or a typo is nginx's "unknown directive"
    found = validate(http(server(location("/", block=[d(name, "1", line=4)]))))
    assert [(x.code, x.message, x.line) for x in found] == [
        ("E101", f'unknown directive "{name}"', 4)
    ]
    assert found[0].nginx_level == "emerg"


def test_third_party_names_never_shadow_nginx() -> None:
    # nginx's realip directive is judged as nginx's (which pushproxy honours: no notice at
    # all, where a third-party directive would get N402)
    found = validate(http(d("set_real_ip_from", "10.0.0.0/8")))
    assert [x.code for x in found] == []
    found = validate(http(d("set_real_ip_from", "10.0.0.0/33")))
    assert [(x.code, x.message) for x in found] == [
        ("E106", 'host not found in set_real_ip_from "10.0.0.0/33"')
    ]


def test_broken_events_is_not_also_missing() -> None:
    assert errors((d("events"),)) == [("E104", 'directive "events" has no opening "{"', 1)]


def test_incomplete_tree_is_not_missing_events() -> None:
    tree = (d("http", block=[d("nope")]),)
    assert [x.code for x in validate(tree, complete=False)] == ["E101"]


@pytest.mark.parametrize(
    ("block", "entries", "message"),
    [
        (d("map", "$a", "$b"), [d("a", "1", "2")], "invalid number of the map parameters"),
        (d("map", "$a", "$b"), [d("default", "1"), d("default", "2")],
         "duplicate default map parameter"),
        (d("map", "$a", "$b"), [d("a", "1", block=())], 'unexpected "{"'),
        (d("geo", "$g"), [d("10.0.0.0/8")], "invalid number of the geo parameters"),
        (d("split_clients", "$a", "$s"), [d("0%", "a")], 'invalid percent value "0%"'),
        (d("split_clients", "$a", "$s"), [d("50", "a")], 'invalid percent value "50"'),
        (d("types"), [d("text/html", "html", block=())], 'unexpected "{"'),
    ],
)
def test_free_form_entries(block: Directive, entries: list[Directive], message: str) -> None:
    tree = http(Directive(name=block.name, args=block.args, file=FILE, line=1, column=1,
                          end_line=1, block=tuple(entries)))
    assert [m for _, m, _ in errors(tree)] == [message]


def test_free_form_entries_accepted() -> None:
    tree = http(
        d("map", "$a", "$b", block=[d("hostnames"), d("volatile"), d("default", "0"),
                                    d("include", "maps.conf"), d("*.example.com", "1")]),
        d("geo", "$g", block=[d("ranges"), d("default", "0"), d("10.0.0.1-10.0.0.9", "1")]),
        d("split_clients", "$a", "$s", block=[d("0.5%", "a"), d("50%", "b"), d("*", "c")]),
        d("types", block=[d("text/plain"), d("text/html", "html", "htm")]),
    )
    assert errors(tree) == []


@pytest.mark.parametrize(
    ("args", "root", "message"),
    [
        (("no-such-user-here",), True, 'getpwnam("no-such-user-here") failed'),
        (("root", "no-such-group-here"), True, 'getgrnam("no-such-group-here") failed'),
        (("root",), True, None),  # the group is the user's name: root's exists
        (("no-such-user-here",), False, None),  # not root: nginx only warns, ignores it
    ],
)
def test_user_must_exist_when_run_by_root(
    monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], root: bool, message: str | None
) -> None:
    monkeypatch.setattr("pushproxy.config.nginx_values.os.geteuid", lambda: 0 if root else 1000)
    found = errors([d("user", *args), d("events", block=[])])
    assert found == ([("E106", message, 1)] if message else [])
