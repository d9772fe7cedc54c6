"""`pushproxy check` and `pushproxy -t`: findings, formats, codes, exit status, nginx's verdict."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from confhelpers import check_output, nginx_t

from pushproxy.config.check import check_file

PUSH_OK = """events {}
http {
    push_stream_shared_memory_size 32m;
    server {
        listen 127.0.0.1:8080;
        location ~ ^/sub/(\\w+)$ {
            push_stream_subscriber;
            push_stream_channels_path $1;
        }
        location /pub {
            push_stream_publisher admin;
            push_stream_channels_path $arg_id;
        }
    }
}
"""


def _conf(tmp_path: Path, text: str, name: str = "nginx.conf") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pushproxy", *args], capture_output=True, text=True, check=False
    )


def _codes(path: str) -> list[tuple[str, int]]:
    return [(d.code, d.line) for d in check_file(path).diagnostics]


def test_clean_push_config_has_no_findings(tmp_path: Path) -> None:
    path = _conf(tmp_path, PUSH_OK)
    result = check_file(path)
    assert result.diagnostics == ()
    assert result.nginx_error is None
    run = _run("check", path)
    assert run.returncode == 0
    assert run.stdout == "1 file checked: 0 error(s), 0 warning(s), 0 notice(s)\n"


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    path = _conf(
        tmp_path,
        "events {}\nhttp {\n  server {\n    sendfile maybe;\n    locaton /x {}\n"
        "    root;\n  }\n}\n",
    )
    codes = [code for code, _ in _codes(path) if not code.startswith("N")]
    assert codes == ["E106", "E101", "E103"]
    first = check_file(path).nginx_error
    assert first is not None
    assert (
        first.message == 'invalid value "maybe" in "sendfile" directive, it must be "on" or "off"'
    )


def test_text_format_shows_source_line_caret_and_summary(tmp_path: Path) -> None:
    path = _conf(tmp_path, "events {}\nhttp {\n    locaton /x {}\n}\n")
    run = _run("check", path)
    assert run.returncode == 1
    assert run.stdout.splitlines() == [
        f'{path}:3:5: error[E101] unknown directive "locaton"',
        "        locaton /x {}",
        "        ^",
        "1 file checked: 1 error(s), 0 warning(s), 0 notice(s)",
    ]


def test_json_and_github_formats(tmp_path: Path) -> None:
    path = _conf(tmp_path, "events {}\nhttp { server { root; } }\n")
    found = json.loads(_run("check", "--format", "json", "--select", "E", path).stdout)
    assert found == [
        {
            "file": path,
            "line": 2,
            "column": 17,
            "severity": "error",
            "code": "E103",
            "message": 'invalid number of arguments in "root" directive',
            "hint": None,
        }
    ]
    github = _run("check", "--format", "github", "--select", "E103", path).stdout
    assert github == (
        f"::error file={path},line=2,col=17,title=E103::"
        'invalid number of arguments in "root" directive\n'
    )


def test_select_and_ignore_filter_codes_and_exit_status(tmp_path: Path) -> None:
    path = _conf(tmp_path, "events {}\nhttp { server { root; } }\n")
    assert _run("check", "--ignore", "E103", path).returncode == 0
    assert _run("check", "--select", "N", path).returncode == 0
    assert _run("check", "--select", "E1", path).returncode == 1


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    run = _run("check", str(tmp_path / "none.conf"))
    assert run.returncode == 2
    assert "no such file" in run.stderr


def test_nginx_style_test_flag(tmp_path: Path) -> None:
    path = _conf(tmp_path, PUSH_OK)
    run = _run("-t", "-c", path)
    assert (run.returncode, run.stderr) == (
        0,
        f"pushproxy: the configuration file {path} syntax is ok\n"
        f"pushproxy: configuration file {path} test is successful\n",
    )
    bad = _conf(tmp_path, "events {}\nhttp { server { listen 80 } }\n", "bad.conf")
    run = _run("-t", "-c", bad)
    assert (run.returncode, run.stderr) == (
        1,
        f'pushproxy: [emerg] unexpected "}}" in {bad}:2\n'
        f"pushproxy: configuration file {bad} test failed\n",
    )
    relative = _run("-t", "-p", str(tmp_path), "-c", "nginx.conf")
    assert relative.returncode == 0


def test_includes_start_at_the_files_folder_whatever_the_prefix(tmp_path: Path) -> None:
    """As nginx: -p moves the paths of logs, the pid file and `root`, not `include`s, which
    start at the folder of the file -c names."""
    (tmp_path / "conf").mkdir()
    (tmp_path / "prefix").mkdir()
    (tmp_path / "conf" / "types.conf").write_text("types { text/html html; }\n")
    path = _conf(tmp_path / "conf", "events {}\nhttp { include types.conf; }\n")
    run = _run("-t", "-p", str(tmp_path / "prefix"), "-c", path)
    assert (run.returncode, run.stderr) == (
        0,
        f"pushproxy: the configuration file {path} syntax is ok\n"
        f"pushproxy: configuration file {path} test is successful\n",
    )


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            "location /s { push_stream_subscriber; push_stream_channels_path $1; }",
            "E301",
            '"$1" in "push_stream_channels_path" is always empty',
        ),
        (
            "location ~ ^/s/(.*)$ { push_stream_subscriber; push_stream_channels_path $2; }",
            "E301",
            '"$2" in "push_stream_channels_path" is always empty',
        ),
        (
            "location ~ / { return 200; } location ~ ^/api { return 204; }",
            "W301",
            'location ~ "^/api" is never chosen',
        ),
    ],
)
def test_checks_nginx_does_not_make(tmp_path: Path, body: str, code: str, message: str) -> None:
    path = _conf(
        tmp_path,
        "events {}\nhttp {\n  push_stream_shared_memory_size 32m;\n  server {\n"
        f"    {body}\n  }}\n}}\n",
    )
    found = [d for d in check_file(path).diagnostics if d.code == code]
    assert len(found) == 1
    assert found[0].message.startswith(message)
    assert found[0].line == 5


@pytest.mark.parametrize(
    "body",
    [
        'location /ifre/ { if ($uri ~ ^/ifre/(\\d+)$) { return 200 "num $1"; } }',
        'location /after/ { if ($uri ~ ^/after/(\\d+)$) { set $n 1; } return 200 "$1"; }',
        "location /old/ { rewrite ^/old/(.*)$ /new/$1 last; }",
        'location /rw/ { rewrite ^/rw/(\\w+)/(\\w+)$ /x; return 200 "$2"; }',
        "location /in/ { if ($arg_a) { rewrite ^/in/(.*)$ /new/$1 last; } }",
    ],
)
def test_captures_of_a_regex_if_are_not_always_empty(tmp_path: Path, body: str) -> None:
    """`$1` after `if ($x ~ (re))` or in and after a `rewrite` is that regex's capture (nginx
    fills it at run time)."""
    path = _conf(tmp_path, f"events {{}}\nhttp {{\n  server {{\n    {body}\n  }}\n}}\n")
    assert [d for d in check_file(path).diagnostics if d.code == "E301"] == []


@pytest.mark.parametrize(
    "body",
    [
        'location /two/ { if ($uri ~ ^/two/(\\d+)$) { set $n 1; } return 200 "$2"; }',
        'location /none/ { if ($uri ~ b) { set $n 1; } return 200 "$1"; }',
        "location /two/ { rewrite ^/two/(.*)$ /new/$2 last; }",
    ],
)
def test_a_capture_no_regex_can_fill_is_reported_beside_a_regex_if(
    tmp_path: Path, body: str
) -> None:
    """A regex `if` with fewer groups than the `$N` asked for cannot fill it either."""
    path = _conf(tmp_path, f"events {{}}\nhttp {{\n  server {{\n    {body}\n  }}\n}}\n")
    (found,) = [d for d in check_file(path).diagnostics if d.code == "E301"]
    assert found.message.startswith('"$2"' if "/two/" in body else '"$1"')


@pytest.mark.parametrize(
    ("publisher", "warned"),
    [
        ("push_stream_store_messages on; client_max_body_size 200k;", True),  # 10 x 200k > 1m
        ("push_stream_store_messages on; client_max_body_size 100k;", False),  # 1000k fits
        ("client_max_body_size 200k;", False),  # nothing stored
        ("push_stream_store_messages on; client_max_body_size 0;", False),  # no limit known
    ],
)
def test_memory_budget_warning(tmp_path: Path, publisher: str, warned: bool) -> None:
    """What one channel's stored messages can take, at the largest body a storing publisher
    takes, against the zone (however many channels may exist: they seldom all fill)."""
    path = _conf(
        tmp_path,
        "events {}\nhttp {\n  push_stream_shared_memory_size 1m;\n"
        "  push_stream_max_messages_stored_per_channel 10;\n"
        "  push_stream_max_number_of_channels 100000;\n"
        f"  server {{ location /p {{ push_stream_publisher; push_stream_channels_path $arg_id;"
        f" {publisher} }} }}\n"
        "}\n",
    )
    found = [d for d in check_file(path).diagnostics if d.code == "W303"]
    assert [(d.line, d.message) for d in found] == (
        [
            (
                3,
                "10 stored messages of up to 200k (client_max_body_size of a publisher) make "
                "2000k for one channel; push_stream_shared_memory_size is 1m",
            )
        ]
        if warned
        else []
    )


def test_listen_clashes_as_nginx_reports_them(tmp_path: Path) -> None:
    path = _conf(
        tmp_path,
        "events {}\nhttp {\n"
        "  server { listen 8080 default_server; server_name a; }\n"
        "  server { listen 8080; server_name a; }\n"
        "  server { listen 8080 default_server; }\n"
        "}\n",
    )
    result = check_file(path)
    assert [(d.code, d.message) for d in result.diagnostics if d.code in ("E111", "W302")] == [
        ("E111", "a duplicate default server for 0.0.0.0:8080"),
        ("W302", 'conflicting server name "a" on 0.0.0.0:8080, ignored'),
    ]
    assert result.nginx_error is not None
    assert result.nginx_error.line == 5


def test_push_module_checks_report_at_the_http_closing_brace_for_nginx(tmp_path: Path) -> None:
    path = _conf(
        tmp_path,
        "events {}\nhttp {\n  push_stream_shared_memory_size 32m;\n  server {\n"
        "    location /s { push_stream_subscriber; }\n  }\n}\n",
    )
    (finding,) = [d for d in check_file(path).diagnostics if d.code == "E201"]
    assert (finding.line, finding.message) == (
        5,
        "push stream module: push_stream_channels_path must be set.",
    )
    run = _run("check", "--nginx", path)
    assert run.stderr.splitlines()[0] == (
        f"nginx: [error] push stream module: push_stream_channels_path must be set. in {path}:7"
    )


def test_every_push_location_missing_its_channels_path_is_reported(tmp_path: Path) -> None:
    """nginx stops at the first (and `--nginx` says only that one); `check` names them all."""
    path = _conf(
        tmp_path,
        "events {}\nhttp {\n  push_stream_shared_memory_size 32m;\n  server {\n"
        "    location /a { push_stream_subscriber; }\n"
        "    location /b { push_stream_publisher; }\n  }\n}\n",
    )
    found = [(d.line, d.code) for d in check_file(path).diagnostics if d.code == "E201"]
    assert found == [(5, "E201"), (6, "E201")]
    assert _run("check", "--nginx", path).stderr.count("must be set") == 1


@pytest.mark.parametrize(
    ("size", "refused"),
    [
        ("100k", True),
        ("0", True),  # the module aligns what does not parse (nginx's -1) to 0: refused too
        ("abc", True),
        ("-1", True),
        ("1.5m", True),
        ("99999999999999999999999", True),
        ("128k", False),
        ("32m", False),
    ],
)
def test_a_shared_memory_size_under_32_pages_is_refused(
    tmp_path: Path, size: str, refused: bool
) -> None:
    text = (
        f"events {{}}\nhttp {{\n  push_stream_shared_memory_size {size};\n  server {{\n"
        "    location /s { push_stream_subscriber; push_stream_channels_path $arg_id; }\n"
        "  }\n}\n"
    )
    path = _conf(tmp_path, text)
    found = [(d.line, d.message) for d in check_file(path).diagnostics if d.code == "E201"]
    message = "The push_stream_shared_memory_size value must be at least 128KiB"
    assert found == ([(3, message)] if refused else [])
    run = _run("-t", "-c", path)
    assert (run.returncode != 0) is refused
    if refused:
        assert run.stderr.splitlines()[0] == f"pushproxy: [warn] {message} in {path}:3"


@pytest.mark.parametrize(
    ("directives", "duplicate"),
    [
        ("push_stream_channels_statistics; push_stream_subscriber;", "push_stream_subscriber"),
        ("push_stream_channels_statistics; push_stream_publisher admin;", "push_stream_publisher"),
        ("push_stream_subscriber; push_stream_channels_statistics;", None),
        ("push_stream_publisher; push_stream_channels_statistics;", None),
        ("push_stream_channels_statistics; push_stream_channels_statistics;", None),
    ],
)
def test_the_statistics_take_the_location_type_without_looking(
    tmp_path: Path, directives: str, duplicate: str | None
) -> None:
    """The module's statistics directive sets the location type a publisher and a
    subscriber share, whatever set it before; those two refuse a type already set."""
    text = (
        "events {}\nhttp {\n  push_stream_shared_memory_size 32m;\n  server {\n"
        f"    location /s {{ {directives} push_stream_channels_path $arg_id; }}\n"
        "  }\n}\n"
    )
    path = _conf(tmp_path, text)
    found = [d.message for d in check_file(path).diagnostics if d.code == "E107"]
    assert found == ([f'"{duplicate}" directive is duplicate'] if duplicate else [])


@pytest.mark.parametrize(
    "http",
    [
        # a URL given as a name (the usual mistake), then a name nginx refuses after a warning
        "server { listen 8080; server_name http://example.com/ www.example.com; }\n"
        "  server { listen 8081; server_name a/b; }",
        "server { listen 8081; server_name a/b .; }",
        # an extension typed twice, in one `types` block and across two of one level
        "types { application/javascript js; text/plain txt; }\n"
        "  types {\n    text/plain JS txt;\n    text/x-a aa;\n    text/x-b AA;\n  }\n"
        "  server { listen 8082; location / { types { text/x-c aa; } } }",
    ],
)
def test_warnings_nginx_gives_before_its_verdict(nginx: str, tmp_path: Path, http: str) -> None:
    """`server name "..." has suspicious symbols` and `duplicate extension ...`, word for
    word and line for line with nginx -t."""
    path = Path(_conf(tmp_path, f"events {{}}\nhttp {{\n  {http}\n}}\n"))
    expected = nginx_t(nginx, path)
    assert check_output(path) == expected
    assert b"[warn]" in expected[0]


@pytest.mark.parametrize("option", ["ssl", "http2", "quic", "proxy_protocol"])
def test_a_listen_for_a_protocol_pushproxy_does_not_speak(tmp_path: Path, option: str) -> None:
    text = f"events {{}}\nhttp {{\n  server {{\n    listen 8443 {option};\n  }}\n}}\n"
    path = _conf(tmp_path, text)
    (found,) = [d for d in check_file(path).diagnostics if d.code == "W305"]
    assert found.message == f'pushproxy serves plain HTTP/1.x on 0.0.0.0:8443, not "{option}"'
    assert found.line == 4


@pytest.mark.parametrize(
    "server",
    [
        "server_name ~^(.+)\\.example\\.com$;\n    location / { return 301 https://x/$1; }",
        "rewrite ^/old/(.*)$ /new/$1;\n    location / { return 301 https://x/$1; }",
        "if ($host ~ ^(\\w+)\\.) { set $h 1; }\n    location / { return 301 https://x/$1; }",
        "location ~ ^/a/(.*)$ { try_files $uri @b; }\n    location @b { return 200 $1; }",
    ],
)
def test_captures_a_request_brings_from_the_server_are_not_always_empty(
    tmp_path: Path, server: str
) -> None:
    """`server_name` regexes, the server's own `rewrite`s and `if`s set `$1`.. for every
    location; a named location keeps the captures of the one that sent the request there."""
    path = _conf(tmp_path, f"events {{}}\nhttp {{\n  server {{\n    {server}\n  }}\n}}\n")
    assert [d for d in check_file(path).diagnostics if d.code == "E301"] == []


def test_a_regex_map_may_set_captures_anywhere(tmp_path: Path) -> None:
    body = "location / { return 301 https://x/$m$1; }"
    plain = f"events {{}}\nhttp {{\n  map $uri $m {{ /a 1; }}\n  server {{ {body} }}\n}}\n"
    assert [d.code for d in check_file(_conf(tmp_path, plain)).diagnostics] == ["E301"]
    regex = plain.replace("/a 1;", "~^/(a)$ 1;")
    assert [d.code for d in check_file(_conf(tmp_path, regex)).diagnostics] == []


def test_conflicting_server_names_as_nginx_warns_of_them(tmp_path: Path) -> None:
    """At the second `server_name`; `""` (no server_name) counts, regexes are not compared,
    and nginx names the name in lower case."""
    path = _conf(
        tmp_path,
        "events {}\nhttp {\n"
        "  server { listen 8080; server_name A ~^r$; }\n"
        "  server { listen 8080;\n    server_name a ~^r$; }\n"
        "  server { listen 8081; }\n"
        "  server { listen 8081; }\n"
        "}\n",
    )
    result = check_file(path)
    assert [(d.code, d.line, d.message) for d in result.diagnostics] == [
        ("W302", 5, 'conflicting server name "a" on 0.0.0.0:8080, ignored'),
        ("W302", 7, 'conflicting server name "" on 0.0.0.0:8081, ignored'),
    ]
    nginx = _run("check", "--nginx", path).stderr.splitlines()
    assert nginx[0] == 'nginx: [warn] conflicting server name "a" on 0.0.0.0:8080, ignored'


def test_a_location_name_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "nginx.conf"
    path.write_bytes(b"events {}\nhttp { server { location /caf\xe9 { return 200; } } }\n")
    assert check_file(str(path)).diagnostics == ()
    assert _run("-t", "-c", str(path), "-p", str(tmp_path)).returncode == 0


_ZONE = "limit_req_zone $binary_remote_addr zone=one:10m rate=1r/s;"
_UPSTREAM = "upstream app { server 127.0.0.1:9; }"


@pytest.mark.parametrize(
    ("http", "message", "line"),
    [
        (f"{_ZONE}\n{_ZONE}",
         'limit_req_zone "one" is already bound to key "$binary_remote_addr"', 4),
        (f"{_ZONE}\n{_ZONE.replace('10m', '20m')}", 'the size 20971520 of shared memory zone "one" '
         "conflicts with already declared size 10485760", 4),
        (f"{_ZONE}\nlimit_conn_zone $uri zone=one:10m;",
         'the shared memory zone "one" is already declared for a different use', 4),
        ("push_stream_shared_memory_size 10m;\npush_stream_shared_memory_size 10m;",
         'duplicate zone "push_stream_module"', 4),
        ("server { listen 8080;\n  listen *:8080; }", "a duplicate listen 0.0.0.0:8080", 4),
        ("server { listen 8080 reuseport; }\nserver { listen 8080 backlog=8; }",
         "duplicate listen options for 0.0.0.0:8080", 4),
        (f"{_UPSTREAM}\nserver {{ location / {{ proxy_pass http://app:8080; }} }}",
         'upstream "app" may not have port 8080', 4),
        (f"server {{ location / {{ fastcgi_pass app:9000; }} }}\n{_UPSTREAM}",
         'upstream "app" may not have port 9000 in {path}:3', 0),
    ],
)  # fmt: skip
def test_names_declared_twice_as_nginx_refuses_them(
    tmp_path: Path, http: str, message: str, line: int
) -> None:
    """What nginx 1.22 said of each (`nginx -t`), at the line it named (0: none)."""
    path = _conf(tmp_path, f"events {{}}\nhttp {{\n{http}\n}}\n")
    error = check_file(path).nginx_error
    assert error is not None
    assert (error.nginx_message or error.message, error.nginx_file_line[1]) == (
        message.format(path=path),
        line,
    )
    assert error.line == 4  # the second declaration's


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ('return 200 "cost $ 5";', "invalid variable name"),
        ('return 200 "x$";', "invalid variable name"),
        ("return https://x/$;", "invalid variable name"),
        ('return 200 "${}";', "invalid variable name"),
        ('return 200 "${scheme";', 'the closing bracket in "scheme" variable is missing'),
        ('set $a "x$";', "invalid variable name"),
        ("rewrite ^/(.*)$ /x/$1$ last;", "invalid variable name"),
        ("root /var/$;", "invalid variable name"),
        ("try_files $uri $ =404;", "invalid variable name"),
        ("error_page 404 /x$;", "invalid variable name"),
        ('add_header X "a$";', "invalid variable name"),
        ("push_stream_subscriber; push_stream_channels_path $;", "invalid variable name"),
    ],
)
def test_a_dollar_without_a_variable_name(tmp_path: Path, location: str, message: str) -> None:
    """nginx compiles these values as it reads the directive (nginx 1.22 said each message)."""
    path = _conf(
        tmp_path,
        "events {}\nhttp {\n  push_stream_shared_memory_size 8m;\n"
        f"  server {{\n    location ~ ^/(.*)$ {{ {location} }}\n  }}\n}}\n",
    )
    error = check_file(path).nginx_error
    assert error is not None
    assert (error.message, error.line) == (message, 5)


def test_the_nginx_style_test_looks_every_upstream_host_up(tmp_path: Path) -> None:
    """`check` looks up single-label names only (it may run where no DNS answers); `-t`, like
    nginx -t and like the start, looks up dotted ones too."""
    path = _conf(
        tmp_path,
        "events {}\nhttp {\n  server {\n"
        "    location / { proxy_pass http://nosuchhost.invalid; }\n  }\n}\n",
    )
    assert check_file(path).nginx_error is None
    run = _run("-t", "-c", path)
    assert (run.returncode, run.stderr) == (
        1,
        f'pushproxy: [emerg] host not found in upstream "nosuchhost.invalid" in {path}:4\n'
        f"pushproxy: configuration file {path} test failed\n",
    )


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("add_header X a sometimes;", 'invalid parameter "sometimes"'),
        ("error_page 99 /x;", 'value "99" must be between 300 and 599'),
        ("error_page abc /x;", 'invalid value "abc"'),
        ("error_page 404 =abc /x;", 'invalid value "=abc"'),
        ("expires forever;", '"expires" directive invalid value'),
        ("try_files $uri =abc;", 'invalid code "=abc"'),
        ("try_files $uri =1000;", 'invalid code "=1000"'),
        ("limit_rate 1k; limit_rate 2k;", '"limit_rate" directive is duplicate'),
    ],
)
def test_arguments_nginx_refuses(tmp_path: Path, location: str, message: str) -> None:
    """nginx 1.22's words for each (and the forms below it accepts)."""
    path = _conf(tmp_path, f"events {{}}\nhttp {{\n  server {{\n    location / {{ {location} }}\n"
                 "  }\n}\n")  # fmt: skip
    error = check_file(path).nginx_error
    assert error is not None
    assert (error.message, error.line) == (message, 4)


@pytest.mark.parametrize(
    "location",
    [
        "add_header X a always;",
        "error_page 404 = /x;",
        "error_page 404 500 =200 /x;",
        "expires 30d;",
        "expires -1;",
        "expires @15h30m;",
        "expires modified +24h;",
        "expires epoch;",
        "expires $arg_e;",
        "try_files $uri =404;",
    ],
)
def test_arguments_nginx_accepts(tmp_path: Path, location: str) -> None:
    path = _conf(tmp_path, f"events {{}}\nhttp {{\n  server {{\n    location / {{ {location} }}\n"
                 "  }\n}\n")  # fmt: skip
    assert check_file(path).nginx_error is None


@pytest.mark.parametrize(
    ("http", "message", "line"),
    [
        ("split_clients $uri $v {\n  60% a;\n  50% b; }", "percent total is greater than 100%", 5),
        ("server { server_name a\n  *example.com; }", 'server name "*example.com" is invalid', 4),
    ],
)
def test_blocks_nginx_refuses(tmp_path: Path, http: str, message: str, line: int) -> None:
    """At the entry that goes past 100%, and at the end of `server_name` (nginx 1.22)."""
    path = _conf(tmp_path, f"events {{}}\nhttp {{\n{http}\n}}\n")
    error = check_file(path).nginx_error
    assert error is not None
    assert (error.message, error.line) == (message, line)
    fine = http.replace("50%", "40%").replace("*example", "*.example")
    assert check_file(_conf(tmp_path, f"events {{}}\nhttp {{\n{fine}\n}}\n")).nginx_error is None


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("http {\n}\n", '[emerg] no "events" section in configuration'),
        ("", '[emerg] no "events" section in configuration'),
        (
            "events {}\nhttp {\n  server { location / { limit_req zone=nosuch; } }\n}\n",
            '[emerg] zero size shared memory zone "nosuch"',
        ),
    ],
)
def test_errors_nginx_finds_after_reading_the_whole_file(
    tmp_path: Path, text: str, error: str
) -> None:
    """As its modules start: nginx -t says the syntax is ok first, and names no place."""
    path = _conf(tmp_path, text)
    assert _run("check", "--nginx", path).stderr.splitlines() == [
        f"nginx: the configuration file {path} syntax is ok",
        f"nginx: {error}",
        f"nginx: configuration file {path} test failed",
    ]
    quiet = _run("-t", "-q", "-c", path).stderr.splitlines()
    assert quiet == [f"pushproxy: {error}", f"pushproxy: configuration file {path} test failed"]
    assert check_file(path).diagnostics[0].file == path


def test_warnings_nginx_logs_as_it_reads(tmp_path: Path) -> None:
    """What nginx 1.22 logs at `warn` before its verdict (the test still succeeds)."""
    path = _conf(
        tmp_path,
        "events {}\nhttp {\n  gzip_types text/html text/css TEXT/CSS;\n"
        "  server {\n    location / { allow 10.1.2.3/8; deny all; }\n  }\n}\n",
    )
    assert _run("check", "--nginx", path).stderr.splitlines() == [
        f'nginx: [warn] duplicate MIME type "text/html" in {path}:3',
        f'nginx: [warn] duplicate MIME type "text/css" in {path}:3',
        f"nginx: [warn] low address bits of 10.1.2.3/8 are meaningless in {path}:5",
        f"nginx: the configuration file {path} syntax is ok",
        f"nginx: configuration file {path} test is successful",
    ]
