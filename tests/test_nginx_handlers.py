"""The checks of particular nginx handlers (listen, error_log, access_log, upstream, proxy_pass),
with nginx's texts; each expected text was checked against nginx 1.22's `nginx -t`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from pushproxy.config import nginx_handlers
from pushproxy.config.check import check_file
from pushproxy.config.nginx_handlers import url_error
from pushproxy.config.nginx_rules import validate
from pushproxy.config.tree import Directive

FILE = "/etc/nginx/nginx.conf"
URI_TEXT = (
    '"proxy_pass" cannot have URI part in location given by regular expression, or inside named '
    'location, or inside "if" statement, or inside "limit_except" block'
)


def d(name: str, *args: str, line: int = 1, block: Sequence[Directive] | None = None,
      close_line: int = 0) -> Directive:
    return Directive(name=name, args=args, file=FILE, line=line, column=1, end_line=line,
                     block=None if block is None else tuple(block), close_line=close_line)


def http(*items: Directive) -> tuple[Directive, ...]:
    return (d("events", block=()), d("http", block=items))


def errors(tree: Sequence[Directive]) -> list[tuple[str, str]]:
    return [(x.code, x.message) for x in validate(tree) if x.code.startswith("E")]


@pytest.fixture(autouse=True)
def no_name_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    """Single-label names resolve only as this table says (no DNS in unit tests)."""
    known = {"app": ("10.0.0.1",)}

    def resolve(host: str) -> tuple[str, ...]:
        if host in known:
            return known[host]
        raise OSError("Name or service not known")

    monkeypatch.setattr(nginx_handlers, "resolve_host", resolve)


@pytest.mark.parametrize(
    ("url", "listen", "error"),
    [
        ("127.0.0.1:8080", True, None), ("8080", True, None), ("[::1]", True, None),
        ("[::1]:80", True, None), ("*:80", True, None), ("localhost:65535", True, None),
        ("unix:/run/p.sock", True, None), ("127.0.0.1:0", True, None),  # port 0: pushproxy's
        ("127.0.0.1:99999", True, "invalid port"), ("99999", True, "invalid port"),
        ("127.0.0.1:", True, "invalid port"), ("127.0.0.1:abc", True, "invalid port"),
        ("127.0.0.1:+80", True, "invalid port"), ("[::1]:", True, "invalid port"),
        ("*:65536", True, "invalid port"), (":80", True, "no host"), ("[::1", True, "invalid host"),
        ("unix:", True, "no path in the unix domain socket"),
        ("h:1/x", False, None), ("h:0", False, "invalid port"), ("", False, "no host"),
        ("h:99999/api", False, "invalid port"),
    ],
)
def test_url_errors(url: str, listen: bool, error: str | None) -> None:
    assert url_error(url, listen=listen) == error


@pytest.mark.parametrize(
    ("directive", "message"),
    [
        (d("listen", "127.0.0.1:99999"),
         'invalid port in "127.0.0.1:99999" of the "listen" directive'),
        (d("listen", "127.0.0.1:99999", "backlog=abc"),  # the address first
         'invalid port in "127.0.0.1:99999" of the "listen" directive'),
        (d("listen", "8080", "backlog=abc"), 'invalid backlog "backlog=abc"'),
        (d("listen", "8080", "backlog=0"), 'invalid backlog "backlog=0"'),
        (d("listen", "8080", "backlog=-1"), 'invalid backlog "backlog=-1"'),
        (d("listen", "8080", "rcvbuf=abc"), 'invalid rcvbuf "rcvbuf=abc"'),
        (d("listen", "8080", "sndbuf=1x"), 'invalid sndbuf "sndbuf=1x"'),
        (d("listen", "8080", "fastopen=x"), 'invalid fastopen "fastopen=x"'),
        (d("listen", "8080", "foo", "backlog=abc"), 'invalid parameter "foo"'),
        (d("listen", "8080", "Backlog=abc"), 'invalid parameter "Backlog=abc"'),
        (d("listen", "8080", "spdy"), 'invalid parameter "spdy"'),
    ],
)
def test_listen(directive: Directive, message: str) -> None:
    assert errors(http(d("server", block=[directive]))) == [("E106", message)]


def test_listen_parameters_nginx_accepts() -> None:
    listen = d("listen", "8080", "default_server", "bind", "reuseport", "deferred",
               "so_keepalive=on", "ipv6only=on", "proxy_protocol", "fastopen=10", "backlog=5",
               "rcvbuf=8k", "sndbuf=1m", "http2")
    assert errors(http(d("server", block=[listen]))) == []


@pytest.mark.parametrize(
    ("levels", "message"),
    [
        (("verbose",), 'invalid log level "verbose"'),
        (("ERROR",), 'invalid log level "ERROR"'),  # compared with case
        (("warn", "error"), 'duplicate log level "error"'),
        (("error", "debug_http"), 'invalid log level "debug_http"'),
        (("debug", "debug_http"), 'invalid log level "debug_http"'),
        (("debug_http", "error"), 'duplicate log level "error"'),
        (("debug",), None), (("info",), None), (("debug_http", "debug_core"), None),
        ((), None),
    ],
)
def test_error_log_levels(levels: tuple[str, ...], message: str | None) -> None:
    expected = [] if message is None else [("E106", message)]
    assert errors((d("error_log", "logs/e.log", *levels), d("events", block=()))) == expected
    location = d("location", "/", block=[d("error_log", "logs/e.log", *levels)])
    assert errors(http(d("server", block=[location]))) == expected


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([d("access_log", "a.log", "main2")], 'unknown log format "main2"'),
        # formats must be declared before they are used
        ([d("access_log", "a.log", "main"), d("log_format", "main", "$status")],
         'unknown log format "main"'),
        ([d("access_log", "a.log", "buffer=32k")], 'unknown log format "buffer=32k"'),
        ([d("access_log", "off", "main")], 'invalid parameter "main"'),
        ([d("log_format", "main", "$a"), d("log_format", "main", "$b")],
         'duplicate "log_format" name "main"'),
        ([d("log_format", "combined", "$a")], 'duplicate "log_format" name "combined"'),
        ([d("log_format", "Main", "$a"), d("access_log", "a.log", "main")], None),
        ([d("log_format", "main", "$a"), d("log_format", "MAIN", "$b")], None),
        ([d("access_log", "a.log", "COMBINED"), d("access_log", "off"), d("access_log", "a")],
         None),
    ],
)
def test_log_formats(items: list[Directive], message: str | None) -> None:
    found = errors(http(*items))
    assert [m for _, m in found] == ([] if message is None else [message])


def test_log_formats_of_one_http_block_are_seen_in_its_servers() -> None:
    tree = http(d("log_format", "main", "$a"),
                d("server", block=[d("location", "/", block=[
                    d("if", "($a)", block=[d("access_log", "x", "main")])])]))
    assert errors(tree) == []


def _upstream(name: str, *servers: Directive) -> Directive:
    return d("upstream", name, block=servers or [d("server", "127.0.0.1:1")])


@pytest.mark.parametrize(
    ("items", "found"),
    [
        ([_upstream("app"), _upstream("app")], [("E107", 'duplicate upstream "app"')]),
        ([_upstream("app"), _upstream("APP")], [("E107", 'duplicate upstream "APP"')]),
        ([_upstream("app"), _upstream("api")], []),
        ([_upstream("u", d("server", "127.0.0.1:1", "weight=0"))],
         [("E106", 'invalid parameter "weight=0"')]),
        ([_upstream("u", d("server", "127.0.0.1:99999", "weight=0"))],  # parameters first
         [("E106", 'invalid parameter "weight=0"')]),
        ([_upstream("u", d("server", "127.0.0.1:1", "weight=abc"))],
         [("E106", 'invalid parameter "weight=abc"')]),
        ([_upstream("u", d("server", "127.0.0.1:1", "max_fails=x"))],
         [("E106", 'invalid parameter "max_fails=x"')]),
        ([_upstream("u", d("server", "127.0.0.1:1", "fail_timeout=500ms"))],
         [("E106", 'invalid parameter "fail_timeout=500ms"')]),
        ([_upstream("u", d("server", "127.0.0.1:1", "resolve"))],
         [("E106", 'invalid parameter "resolve"')]),
        ([_upstream("u", d("server", "127.0.0.1:99999"))],
         [("E106", 'invalid port in upstream "127.0.0.1:99999"')]),
        ([_upstream("u", d("server", "nosuchhost:8080"))],
         [("E112", 'host not found in upstream "nosuchhost:8080"')]),
        ([_upstream("u", d("server", "app:8080", "weight=10", "max_fails=0", "max_conns=0",
                           "fail_timeout=30s", "backup", "down"),
                    d("server", "unix:/run/app.sock"), d("server", "api.example.com"))], []),
    ],
)
def test_upstreams(items: list[Directive], found: list[tuple[str, str]]) -> None:
    assert errors(http(*items)) == found


def _proxy_pass_in(block: str, modifier: str, url: str) -> tuple[Directive, ...]:
    upstream = _upstream("h")
    if block == "location":
        location = d("location", *filter(None, (modifier, "/a")), block=[d("proxy_pass", url)])
    else:  # inside `if` or `limit_except` in a prefix location
        inner = d(block, "($a)" if block == "if" else "GET", block=[d("proxy_pass", url)])
        location = d("location", "/a", block=[inner])
    return http(upstream, d("server", block=[location]))


@pytest.mark.parametrize(
    ("block", "modifier", "url", "message"),
    [
        ("location", "~", "http://h/api/", URI_TEXT),
        ("location", "~*", "http://h/", URI_TEXT),
        ("location", "~", "http://h?a=1", URI_TEXT),
        ("location", "~", "http://unix:/tmp/s.sock:/x", URI_TEXT),
        ("location", "@", "http://h/x", URI_TEXT),
        ("if", "", "http://h/x", URI_TEXT),
        ("limit_except", "", "http://h/x", URI_TEXT),
        ("location", "~", "http://h", None),
        ("location", "~", "http://h/$1", None),  # with variables: nginx does not look
        ("location", "~", "http://unix:/tmp/s.sock", None),
        ("location", "", "http://h/x", None), ("location", "^~", "http://h/x", None),
        ("location", "=", "http://h/x", None),
        ("location", "", "ftp://h", "invalid URL prefix"),
        ("location", "", "http://h:99999", 'invalid port in upstream "h:99999"'),
        ("location", "", "http://", 'no host in upstream ""'),
    ],
)
def test_proxy_pass(block: str, modifier: str, url: str, message: str | None) -> None:
    tree = _proxy_pass_in(block, modifier if modifier != "@" else "", url)
    if modifier == "@":
        tree = http(_upstream("h"), d("server", block=[
            d("location", "@n", block=[d("proxy_pass", url)])]))
    assert [m for _, m in errors(tree)] == ([] if message is None else [message])


def test_proxy_pass_https_is_accepted() -> None:
    assert errors(_proxy_pass_in("location", "", "https://h/x")) == []
    # the URI rule is nginx's, for https too
    assert [m for _, m in errors(_proxy_pass_in("location", "~", "https://h/x"))] == [URI_TEXT]


@pytest.mark.parametrize(
    ("url", "upstreams", "host"),
    [
        ("http://backend", [], "backend"),
        ("http://backend:8080/x", [], "backend"),  # nginx quotes the host alone
        ("https://backend", [], "backend"),
        ("http://Backend", ["api"], "Backend"),
        ("http://app", [], None),  # resolves (a compose service name, /etc/hosts)
        ("http://backend", ["BACKEND"], None),  # upstream names compare without case
        ("http://localhost", [], None), ("http://127.0.0.1:1", [], None),
        ("http://[::1]", [], None),
        ("http://api.example.com", [], None),  # dotted names are taken as they are
        ("http://unix:/run/app.sock", [], None), ("http://$host", [], None),
    ],
)
def test_host_not_found_in_upstream(url: str, upstreams: list[str], host: str | None) -> None:
    location = d("location", "/", line=3, block=[d("proxy_pass", url, line=3)])
    tree = http(*(_upstream(n) for n in upstreams), d("server", block=[location]))
    found = [x for x in validate(tree) if x.code == "E112"]
    if host is None:
        assert found == []
    else:
        assert [(x.message, x.line) for x in found] == [(f'host not found in upstream "{host}"', 3)]


def test_host_not_found_comes_when_http_ends_before_duplicate_locations() -> None:
    server = d("server", block=[
        d("location", "/", line=3, block=()), d("location", "/", line=4, block=()),
        d("location", "/x", line=5, block=[d("proxy_pass", "http://backend", line=5)]),
        d("sendfile", "maybe", line=6),
    ])
    tree = (d("events", block=()), d("http", block=[server], close_line=8))
    found = [(x.code, x.line, x.nginx_order) for x in validate(tree) if x.code.startswith("E")]
    assert found == [("E106", 6, None), ("E112", 5, (FILE, 8)), ("E109", 4, (FILE, 8))]
    # reading stopped inside http: nginx never reached its end
    cut = (tree[0], d("http", block=[server]))
    assert [x.code for x in validate(cut, complete=False) if x.code.startswith("E")] == ["E106"]


def _conf(tmp_path: Path, text: str) -> str:
    path = tmp_path / "nginx.conf"
    path.write_text(text)
    return str(path)


def test_nginx_verdict_is_in_reading_order(tmp_path: Path) -> None:
    base = (
        "events {}\nhttp {\n  server {\n    location / { proxy_pass http://backend; }\n%s"
        "  }\n}\n"
    )
    later = _conf(tmp_path, base % "    sendfile maybe;\n")
    error = check_file(later).nginx_error
    assert error is not None
    assert (error.code, error.line) == ("E106", 5)
    only = _conf(tmp_path, base % "")
    error = check_file(only).nginx_error
    assert error is not None
    assert (error.message, error.nginx_file_line) == (
        'host not found in upstream "backend"', (only, 4)
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("listen 127.0.0.1:99999;", 'invalid port in "127.0.0.1:99999" of the "listen" directive'),
        ("listen 127.0.0.1:1 backlog=abc;", 'invalid backlog "backlog=abc"'),
    ],
)
def test_dash_t_fails_with_the_message_and_place(tmp_path: Path, body: str, message: str) -> None:
    path = _conf(tmp_path, f"events {{}}\nhttp {{\n  server {{\n    {body}\n  }}\n}}\n")
    run = subprocess.run([sys.executable, "-m", "pushproxy", "-t", "-c", path],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        f"pushproxy: [emerg] {message} in {path}:4",
        f"pushproxy: configuration file {path} test failed",
    ]
