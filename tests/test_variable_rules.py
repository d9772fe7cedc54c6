"""E113 `unknown "name" variable`: the variables nginx finds undefined once the http block is read.

Each row is the content of an http block and the first error nginx gives for it (None: nginx
accepts it). Rows marked `here=False` cannot be confirmed by the nginx installed here (Debian's
1.22 without the push stream, geoip, xslt and image filter modules, without $http3 and
$proxy_protocol_tlv_*); all others are run through it when it is installed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from confhelpers import Verdict, nginx_t

from pushproxy.config import report
from pushproxy.config.check import check_file


@dataclass(frozen=True)
class Row:
    id: str
    http: str
    error: str | None  # nginx's first error, or None when nginx accepts the config
    here: bool = True  # whether the nginx installed here can confirm it


def _unknown(name: str) -> str:
    return f'unknown "{name}" variable'


PUSH = "push_stream_shared_memory_size 32m;"
ROWS = [
    # variables every nginx knows, prefix families, captures
    Row("core", "server { return 200 '$uri$is_args$args $request_id $document_root "
        "$binary_remote_addr $connection_time $hostname $msec $request_body $limit_rate'; }",
        None),
    Row("modules", "server { return 200 '$proxy_add_x_forwarded_for $upstream_cache_status "
        "$ssl_client_s_dn $http2 $gzip_ratio $uid_got $slice_range $invalid_referer "
        "$secure_link_expires $date_gmt $connections_active $realip_remote_addr "
        "$limit_req_status $fastcgi_script_name $msie $grpc_internal_trailers'; }", None),
    Row("prefixes", "server { return 200 '$http_x_any $sent_http_x $sent_trailer_x $cookie_a "
        "$arg_b $upstream_http_c $upstream_trailer_d $upstream_cookie_e $http_'; }", None),
    Row("captures", "server { location ~ ^/(a)/(b)$ { return 200 '$1 $9'; } }", None),
    Row("capture_in_braces", "server { return 200 '${1}'; }", _unknown("1")),
    Row("dollar_zero", "server { return 200 $0; }", _unknown("0")),
    Row("lowercased", "server { return 200 $Mixed_Case; }", _unknown("mixed_case")),
    Row("unknown_return", "server { return 200 $foo; }", _unknown("foo")),
    # variables the configuration defines, anywhere in the http block
    Row("set_elsewhere", "server { return 200 $later; } server { listen 81; set $later 1; }",
        None),
    Row("map_geo_split", "map $uri $m { default 1; } geo $g { default 1; } "
        "split_clients $remote_addr $s { * a; } server { return 200 '$m$g$s'; }", None),
    Row("auth_request_set", "server { auth_request_set $ars $upstream_status; "
        "return 200 $ars; }", None),
    Row("memcached_key_unset", "server { location / { memcached_pass 127.0.0.1:11211; } }",
        _unknown("memcached_key")),
    Row("memcached_key_set", "server { location / { set $memcached_key $uri; "
        "memcached_pass 127.0.0.1:11211; } }", None),
    # named captures of every regex are variables everywhere
    Row("location_capture", "server { location ~ ^/(?<cap>.*) {} } "
        "server { listen 81; return 200 $cap; }", None),
    Row("server_name_capture", r"server { server_name ~^(?<sub>\w+)\.example\.com$; "
        "return 200 $sub; }", None),
    Row("if_capture", "server { if ($uri !~ ^/(?P<part>x)) { return 200 $part; } "
        "return 200 $after; }", _unknown("after")),
    Row("rewrite_capture", r"server { rewrite ^/(?'seg'\w+) /$seg$nope last; }",
        _unknown("nope")),
    Row("map_key_capture", r"map $uri $m { ~^/(?<mk>\d+) $mk; default $nope; } "
        "server { return 200 $m; }", _unknown("nope")),
    Row("redirect_capture", "server { location / { proxy_pass http://127.0.0.1; "
        "proxy_redirect ~^/(?<rr>.*) /$rr$nope; } }", _unknown("nope")),
    # each kind of value nginx compiles
    Row("if_variable", "server { if ($nope) { return 204; } }", _unknown("nope")),
    Row("if_variable_braces", "server { if (${nope}) { return 204; } }", _unknown("{nope}")),
    Row("if_compare", "server { if ($request_method = $nope) { return 204; } }",
        _unknown("nope")),
    Row("if_file", "server { if (-f $document_root/$nope) { return 204; } }",
        _unknown("nope")),
    Row("set_value", "server { set $a $nope; }", _unknown("nope")),
    Row("map_source", "map $nope $m { default 1; } server { return 200 $m; }",
        _unknown("nope")),
    Row("geo_source", "geo $nope $g { default 1; } server { return 200 $g; }",
        _unknown("nope")),
    Row("split_clients_source", "split_clients '${nope}x' $v { * b; } "
        "server { return 200 $v; }", _unknown("nope")),
    Row("plain_geo_and_split_values", "geo $g { default '$plain'; } "
        "split_clients $remote_addr $v { * '$plain'; } server { return 200 $g$v; }", None),
    Row("proxy_pass", "server { location / { proxy_pass http://127.0.0.1:8080$nope; } }",
        _unknown("nope")),
    Row("proxy_set_header", "server { location / { proxy_pass http://127.0.0.1; "
        "proxy_set_header X $nope; } }", _unknown("nope")),
    Row("add_header", "server { add_header X $nope; }", _unknown("nope")),
    Row("log_format", "log_format main escape=json '$remote_addr ${nope}'; server {}",
        _unknown("nope")),
    Row("log_format_digits", "log_format x '$1'; server {}", _unknown("1")),
    Row("access_log_path", "server { access_log logs/$nope.log; }", _unknown("nope")),
    Row("access_log_if", "server { access_log a.log combined if=$nope; }",
        _unknown("nope")),
    Row("root", "server { root /var/$nope; }", _unknown("nope")),
    Row("alias", "server { location /a/ { alias /var/$nope/; } }", _unknown("nope")),
    Row("error_page", "server { error_page 404 /$nope; }", _unknown("nope")),
    Row("try_files", "server { try_files $uri $nope =404; }", _unknown("nope")),
    Row("index", "server { index $nope.html; }", _unknown("nope")),
    Row("limit_req_zone", "limit_req_zone $nope zone=one:1m rate=1r/s; server {}",
        _unknown("nope")),
    Row("upstream_hash", "upstream u { hash $nope; server 127.0.0.1; } server {}",
        _unknown("nope")),
    Row("charset", "server { charset $nope; }", _unknown("nope")),
    Row("ssl_certificate", "server { ssl_certificate /c/$nope.crt; "
        "ssl_certificate_key /c/k.key; }", _unknown("nope")),
    Row("fastcgi_param", "server { location / { fastcgi_param A $nope; } }", _unknown("nope")),
    Row("disable_symlinks_from", "server { disable_symlinks on from=$nope; }", _unknown("nope")),
    Row("plain_server_name", "server { server_name $notavar; return 200 ok; }", None),
    # nginx's order: as read, then merge-time values module by module (ssl, proxy, fastcgi,
    # uwsgi, scgi, grpc), whatever the reading order
    Row("order_reading", "server { return 200 '$b $a'; location / { return 200 $a; } }",
        _unknown("b")),
    Row("order_merge_last", "server { location / { proxy_set_header A $z0; } "
        "return 200 '$z1 $z2'; }", _unknown("z1")),
    Row("order_modules", "server { location / { grpc_set_header C $g; uwsgi_param D $u; "
        "fastcgi_param B $f; scgi_param E $s; } }", _unknown("f")),
    Row("order_ssl_first", "server { location / { proxy_set_header A $p; } "
        "ssl_certificate /c/$c.crt; ssl_certificate_key /c/k.key; }", _unknown("c")),
    Row("order_body_before_headers", "server { location / { proxy_set_body $body; "
        "proxy_set_header A $hdr; } }", _unknown("body")),
    # merge-time values at http level that no server inherits are never compiled
    Row("http_level_no_server", "proxy_set_header X $a;", None),
    Row("http_level_overridden", "proxy_set_header X $a; server { proxy_set_header Y $c; }",
        _unknown("c")),
    Row("http_level_ssl_overridden", "ssl_certificate /c/$a.crt; ssl_certificate_key /c/k.key;"
        " server { ssl_certificate /c/b.crt; ssl_certificate_key /c/$srv.key; }",
        _unknown("srv")),
    Row("http_level_inherited", "proxy_set_header X $a; server { return 200 $b; }",
        _unknown("b")),
    # nginx 1.26's variables and modules the nginx installed here lacks
    Row("nginx_1_26", "server { return 200 '$http3 $proxy_protocol_tlv_alpn'; }", None,
        here=False),
    Row("geoip", "server { return 200 $geoip_country_code; }", None, here=False),
    Row("xslt_param", "server { location / { xslt_stylesheet /x.xslt p=$nope; } }",
        _unknown("nope"), here=False),
    # the push stream module's complex values count, its templates do not
    Row("push_channels_path", f"{PUSH} server {{ location /s {{ push_stream_subscriber; "
        "push_stream_channels_path $nope; } }", _unknown("nope"), here=False),
    Row("push_last_event_id", f"{PUSH} server {{ location ~ /s/(.*) {{ push_stream_subscriber;"
        " push_stream_channels_path $1; push_stream_last_event_id $nope; } }",
        _unknown("nope"), here=False),
    Row("push_template", f"{PUSH} server {{ location /s {{ push_stream_subscriber; "
        "push_stream_channels_path $arg_id; push_stream_message_template '$nope'; } }", None,
        here=False),
    # third-party modules define variables pushproxy cannot know
    Row("third_party", "server { more_set_headers 'X: 1'; return 200 $nope; }", None,
        here=False),
]


def _write(tmp_path: Path, http: str, name: str = "nginx.conf") -> Path:
    path = tmp_path / name
    path.write_text(f"events {{}}\nhttp {{\n{http}\n}}\n")
    return path


def _first_line(output: str) -> str | None:
    found = re.search(r"^nginx: \[emerg\] .*$", output, re.MULTILINE)
    return found.group(0) if found else None


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_first_error_is_nginx_s(tmp_path: Path, row: Row) -> None:
    path = _write(tmp_path, row.http)
    result = check_file(str(path))
    first = result.nginx_error
    assert (first.message if first else None) == row.error
    if first is not None:
        assert (first.code, first.nginx_file_line) == ("E113", (str(path), 0))
        printed = report.nginx(first, result.nginx_logged, str(path))
        assert _first_line(printed) == f"nginx: [emerg] {row.error}"  # no place


HERE = [r for r in ROWS if r.here]


@pytest.mark.parametrize("row", HERE, ids=[r.id for r in HERE])
def test_rows_are_what_nginx_says(tmp_path: Path, nginx: str, row: Row) -> None:
    output, code = nginx_t(nginx, _write(tmp_path, row.http))
    verdict = Verdict.of(output, code)
    assert verdict.first_error == (f"nginx: [emerg] {row.error}".encode() if row.error else None)
    assert verdict.ok == (row.error is None)


def test_every_unknown_variable_is_listed_in_nginx_order(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "server {\n  location / { proxy_set_header A $late; }\n  return 200 '$one $two';\n"
        "  set $x $three$one;\n}",
    )
    found = [(d.message, d.line, d.column) for d in check_file(str(path)).diagnostics
             if d.code == "E113"]
    assert found == [
        (_unknown("one"), 5, 3),
        (_unknown("two"), 5, 3),
        (_unknown("three"), 6, 3),
        (_unknown("late"), 4, 16),
    ]


def test_first_use_is_located_in_the_included_file(tmp_path: Path) -> None:
    (tmp_path / "site.conf").write_text("server {\n    listen 8080;\n    root /srv/$site;\n}\n")
    path = _write(tmp_path, "include site.conf;\nserver { listen 81; return 200 $site; }")
    result = check_file(str(path))
    first = result.nginx_error
    assert first is not None
    assert (first.file, first.line, first.column) == (str(tmp_path / "site.conf"), 3, 5)
    assert report.nginx(first, result.nginx_logged, str(path)).splitlines()[0] == (
        f"nginx: [emerg] {_unknown('site')}"
    )


@pytest.mark.parametrize(
    "text",
    [
        "events {}\nhttp {\n  server { return 200 $nope; }\n  listen 80 }\n}\n",  # syntax error
        "events {}\nhttp {\n  server { return 200 $nope; }\n",  # the http block never closes
    ],
    ids=["syntax_error", "unclosed_http"],
)
def test_silent_when_nginx_never_reaches_the_end_of_http(tmp_path: Path, text: str) -> None:
    path = tmp_path / "nginx.conf"
    path.write_text(text)
    result = check_file(str(path))
    assert [d for d in result.diagnostics if d.code == "E113"] == []
    assert result.nginx_error is not None
    assert result.nginx_error.code == "E001"


NCHAN = Path("/usr/lib/nginx/modules/ngx_nchan_module.so")


def test_third_party_module_variables_are_left_to_nginx(tmp_path: Path, nginx: str) -> None:
    if not NCHAN.exists():
        if os.environ.get("CI"):
            pytest.fail("libnginx-mod-nchan is not installed: CI must install it")
        pytest.skip("nchan module not installed")
    path = tmp_path / "nginx.conf"
    path.write_text(
        f"load_module {NCHAN};\nevents {{}}\nhttp {{\n  server {{ location / {{ "
        "nchan_subscriber; nchan_channel_id $arg_id; return 200 $nchan_channel_id; } }\n}\n"
    )
    assert Verdict.of(*nginx_t(nginx, path)).ok
    assert check_file(str(path)).nginx_error is None
