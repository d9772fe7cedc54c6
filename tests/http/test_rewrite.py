"""The rewrite phase: `if` conditions as nginx evaluates them, `set`, `return`, order."""

from __future__ import annotations

import pytest
from conftest import ServeFactory
from helpers import request, request_vars

from pushproxy.config.parse import parse_text
from pushproxy.http.rewrite import compile_condition
from pushproxy.http.variables import RequestVars


def _vars(target: str = "/p?a=1&b=&z=0") -> RequestVars:
    return request_vars(target)


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ("if ($arg_a) {}", True),
        ("if ($arg_b) {}", False),  # empty
        ("if ($arg_z) {}", False),  # "0"
        ("if ( $arg_a ) {}", True),
        ('if ($arg_a = "1") {}', True),
        ("if ($arg_a = 1) {}", True),
        ("if ($arg_a != 1) {}", False),
        ('if ($arg_b = "") {}', True),
        ("if ($host ~ ^example) {}", True),
        ("if ($host ~ ^EXAMPLE) {}", False),
        ("if ($host ~* ^EXAMPLE) {}", True),
        ("if ($host !~ ^example) {}", False),
        ("if ($host !~* ^other) {}", True),
        ("if ($host ~ ^[[:alpha:]]+[[:punct:]]com$) {}", True),  # PCRE's POSIX classes
        ("if ($host ~ ^[[:digit:]]) {}", False),
        ("if (-f /etc/hostname) {}", True),
        ("if (!-f /nonexistent/file) {}", True),
        ("if (-d /etc) {}", True),
        ("if (-e /nonexistent) {}", False),
    ],
)
def test_conditions(condition: str, holds: bool) -> None:
    (directive,) = parse_text(condition)
    compiled = compile_condition(directive)
    assert compiled is not None
    assert compiled.holds(_vars()) is holds


def test_regex_condition_sets_captures() -> None:
    (directive,) = parse_text("if ($uri ~ ^/(?<first>[a-z]+)/(\\d+)) {}")
    compiled = compile_condition(directive)
    assert compiled is not None
    variables = _vars("/abc/42")
    assert compiled.holds(variables)
    assert (variables.lookup("first"), variables.lookup("2")) == ("abc", "42")


CONF = """
events {}
http {
    server {
        listen 127.0.0.1:0;
        if ($arg_blocked) { return 403; }
        set $greeting hello;
        location /a {
            set $who world;
            if ($arg_x = "1") { set $who one; return 200 "$greeting $who (if)"; }
            return 200 "$greeting $who";
        }
        location /b {
            return 204;
            if ($arg_x) { return 200 "never"; }
        }
        location /c {
            set $who base;
            if ($arg_x) { set $who x; }
            if ($arg_y) { set $who "$who+y"; }
            set $tail end;
            return 200 "$who $tail";
        }
        location /d {
            if ($arg_x) { break; }
            return 200 "after";
        }
    }
}
"""


async def test_rewrite_phase_over_http(serve: ServeFactory) -> None:
    async with serve(CONF) as server:
        port = server.port()
        assert (await request(port, "GET", "/a")).body == b"hello world"
        assert (await request(port, "GET", "/a?x=1")).body == b"hello one (if)"
        assert (await request(port, "GET", "/a?blocked=1")).status == 403
        assert (await request(port, "GET", "/b?x=1")).status == 204  # return came first
        # After an `if` that holds, the outer directives go on, later `if`s included.
        assert (await request(port, "GET", "/c")).body == b"base end"
        assert (await request(port, "GET", "/c?x=1")).body == b"x end"
        assert (await request(port, "GET", "/c?y=1")).body == b"base+y end"
        assert (await request(port, "GET", "/c?x=1&y=1")).body == b"x+y end"
        # `break` ends the phase: no `return` answers, the location has no other handler.
        assert (await request(port, "GET", "/d")).body == b"after"
        assert (await request(port, "GET", "/d?x=1")).status == 404
