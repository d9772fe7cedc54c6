"""`map` variables in requests: worked out when first looked up, kept for the request unless
`volatile`, values with variables and regex captures; over HTTP with `return`. Expected values
are what nginx 1.22 answered for the same configuration."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from conftest import ServeFactory
from helpers import request, request_vars

from pushproxy.config.complex import compile_value
from pushproxy.config.maps import compile_maps
from pushproxy.config.parse import parse_text
from pushproxy.http.captures import Captures
from pushproxy.http.variables import RequestVars


def with_maps(
    maps: str, target: str = "/", headers: tuple[tuple[bytes, bytes], ...] = ()
) -> RequestVars:
    (http,) = parse_text(f"http {{ {maps} }}")
    return request_vars(target, headers, compile_maps(http.block or ()))


UPGRADE = "map $http_upgrade $connection_upgrade { default upgrade; '' close; }"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ((), "close"),
        (((b"upgrade", b"websocket"),), "upgrade"),
        (((b"upgrade", b""),), "close"),
    ],
)
def test_websocket_idiom(headers: tuple[tuple[bytes, bytes], ...], expected: str) -> None:
    variables = with_maps(UPGRADE, headers=headers)
    assert variables.lookup("connection_upgrade") == expected
    assert variables.lookup("Connection_Upgrade") == expected  # names ignore case
    assert compile_value("$connection_upgrade").evaluate(variables.lookup) == expected


def test_kept_for_the_request_unless_volatile() -> None:
    variables = with_maps(
        "map $1 $kept { default <$1>; } map $1 $fresh { volatile; default <$1>; }"
    )
    variables.add_captures(Captures(("a",)))
    assert (variables.lookup("kept"), variables.lookup("fresh")) == ("<a>", "<a>")
    variables.add_captures(Captures(("b",)))
    assert (variables.lookup("kept"), variables.lookup("fresh")) == ("<a>", "<b>")


def test_set_takes_a_map_variable_over() -> None:
    variables = with_maps(UPGRADE)
    variables.set("connection_upgrade", "mine")
    assert variables.lookup("connection_upgrade") == "mine"


def test_regex_captures_become_the_requests() -> None:
    variables = with_maps(
        r"map $uri $section { ~^/(?<area>\w+)/(\d+) $area-$2; default none; }", "/shop/42"
    )
    assert variables.lookup("1") is None  # nothing is worked out before it is asked for
    assert variables.lookup("section") == "shop-42"
    assert (variables.lookup("1"), variables.lookup("2"), variables.lookup("area")) == (
        "shop",
        "42",
        "shop",
    )


def test_a_map_of_maps_and_one_that_uses_itself(caplog: pytest.LogCaptureFixture) -> None:
    variables = with_maps(
        "map $arg_a $inner { x ex; default other; }"
        'map $inner$arg_b $outer { exy both; default "[$inner]"; }'
        'map $arg_z $self { default "s$self"; }',
        "/?a=x&b=y",
    )
    assert variables.lookup("outer") == "both"
    with caplog.at_level(logging.ERROR, logger="pushproxy"):
        assert variables.lookup("self") == "s" * 100  # nginx stops at the same depth
    assert 'cycle while evaluating variable "self"' in caplog.text


CONF = r"""
events {}
http {
    map $arg_s $exact {
        default dflt;
        '' empty;
        Foo upper;
        \default escaped;
        ~^re(?<num>\d+)$ "re:$1:$num";
        ~*^CI(.*)$ "ci:$1";
    }
    map $http_x_host $site {
        hostnames;
        default none;
        .example.com dot;
        *.www.example.com deep;
        www.example.* tail;
        include sites.map;
    }
    map $arg_a$arg_b $combo { ab both; default "d-$arg_a"; }
    map $arg_e $caps { ~^(\w+)-(\w+)$ $2; default none; }
    server {
        listen 127.0.0.1:0;
        location /exact { return 200 "$exact"; }
        location /site { return 200 "$site"; }
        location /combo { return 200 "$combo"; }
        location ~ ^/loc/(\w+) { return 200 "$caps|$1"; }
        location /if {
            if ($exact = upper) { return 200 "upper seen"; }
            return 200 "not upper";
        }
    }
}
"""


CASES = [
    ("/exact", (), "empty"),
    ("/exact?s=FOO", (), "upper"),
    ("/exact?s=default", (), "escaped"),
    ("/exact?s=re12", (), "re:12:12"),
    ("/exact?s=ciAbc", (), "ci:Abc"),
    ("/exact?s=other", (), "dflt"),
    ("/site", (("X-Host", "EXAMPLE.com."),), "dot"),
    ("/site", (("X-Host", "x.www.example.com"),), "deep"),
    ("/site", (("X-Host", "www.example.org"),), "tail"),
    ("/site", (("X-Host", "api.local"),), "included"),
    ("/site", (), "none"),
    ("/combo?a=a&b=b", (), "both"),
    ("/combo?a=z", (), "d-z"),
    ("/loc/abc?e=x-y", (), "y|x"),  # the map's captures replace the location's
    ("/loc/abc?e=q", (), "none|abc"),
    ("/if?s=foo", (), "upper seen"),
    ("/if", (), "not upper"),
]


async def test_map_variables_over_http(serve: ServeFactory, tmp_path: Path) -> None:
    (tmp_path / "sites.map").write_text("api.local included;\n")
    answers = []
    async with serve(CONF) as server:
        for target, headers, _ in CASES:
            response = await request(server.port(), "GET", target, list(headers))
            answers.append((response.status, response.body.decode()))
    assert answers == [(200, body) for _, _, body in CASES]
