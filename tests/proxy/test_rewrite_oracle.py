"""`rewrite` (ngx_http_rewrite_module) against Debian's nginx: the same configuration served by
nginx, then by pushproxy, in front of the same upstream app; a client sees the same status,
`Location` and headers, and the app receives the same method and target, from both.

Each case is a server body (server-level directives and locations) plus one request target.
In the text, `APP` stands for the upstream app's address and `@name;` for `add_header`s that
say which location answered and what `$uri`, `$args` and `$request_uri` were there. Bodies are
not compared (nginx's own pages carry its version)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import request

from .conftest import AppFactory, ProxyFactory
from .nginx import needs_nginx, running_nginx
from .support import conf

pytestmark = needs_nginx

# Locations the rewrites lead to: a prefix proxying the URI as it is, a prefix whose
# proxy_pass has a URI part, a regex location and an exact one; `/` catches the rest.
TARGETS = """
    location / { @root; proxy_pass http://APP; }
    location /new/ { @new; proxy_pass http://APP; }
    location /based/ { @based; proxy_pass http://APP/base/; }
    location ~ ^/rx/ { @rx; proxy_pass http://APP; }
    location = /exact { @exact; proxy_pass http://APP/fixed; }
"""
HEADERS = ("Location", "X-Where", "X-Uri", "X-Args", "X-Req")

OLD = "location /old/ { @old; rewrite ^/old/(.*)$ /new/$1 last; }"
BREAK = "location /a/ { @a; rewrite ^/a/(.*)$ /b/$1 break; proxy_pass http://APP%s; }"
CHAIN = "location /chain/ { @chain; rewrite ^/chain/(.*)$ /mid/$1; rewrite ^/mid/(.*)$ /new/$1; }"
REDIRECT = "location /r/ { @r; rewrite ^/r/(.*)$ /new/$1 redirect; }"
OWN_ARGS = "location /args/ { @args; rewrite ^/args/(.*)$ /new/$1?b=2 last; }"
DROP_ARGS = "location /drop/ { @drop; rewrite ^/drop/(.*)$ /new/$1? last; }"
REDIRECT_ARGS = "location /ra/ { @ra; rewrite ^/ra/(.*)$ /new/$1?b=2 redirect; }"
REDIRECT_DROP = "location /rd/ { @rd; rewrite ^/rd/(.*)$ /new/$1? redirect; }"
ENCODED = "location /enc/ { @enc; rewrite ^/enc/(.*)$ /new/$1?q=$1 last; }"
ENCODED_BREAK = "location /eb/ { @eb; rewrite ^/eb/(.*)$ /b/$1?q=$1 break; proxy_pass http://APP; }"
ENCODED_REDIRECT = "location /er/ { @er; rewrite ^/er/(.*)$ /new/$1?q=$1 redirect; }"
IF_LAST = """location /if/ {
    @if;
    if ($arg_go) { rewrite ^/if/(.*)$ /new/$1 last; }
    proxy_pass http://APP;
}"""
VARIABLES = """location /vars/ {
    @vars;
    rewrite ^/vars/(.*)$ /v2/$1?b=2 break;
    proxy_set_header X-Uri $uri;
    proxy_set_header X-Args $args;
    proxy_set_header X-Req $request_uri;
    proxy_pass http://APP;
}"""


def case(name: str, text: str, target: str, **pins: Any) -> Any:
    """One case; `pins` are well-known facts nginx's observation must show (`status`,
    `upstream`, or a header with `_` for `-`)."""
    return pytest.param(text, target, {k.replace("_", "-"): v for k, v in pins.items()}, id=name)


CASES = [
    # 1. `last`: the location search runs again with the new URI
    case("last-to-prefix", OLD, "/old/x/y", status=200, upstream="GET /new/x/y", X_Where="new"),
    case(
        "last-to-uri-part",
        "location /old/ { @old; rewrite ^/old/(.*)$ /based/$1 last; }",
        "/old/p",
        upstream="GET /base/p",
    ),
    case("last-to-regex", "location /old/ { rewrite ^/old/(.*)$ /rx/$1 last; }", "/old/q"),
    case("last-to-exact", "location /old/ { rewrite ^ /exact last; }", "/old/q"),
    # 2. `break`: this location serves the new URI, proxy_pass's URI part is not applied
    case("break-uri-part", BREAK % "/x/", "/a/q", upstream="GET /b/q", X_Where="a"),
    case("break-no-uri-part", BREAK % "", "/a/q", upstream="GET /b/q"),
    case(
        "break-stops-rewrite-directives",
        "location /a/ { @a; rewrite ^/a/(.*)$ /b/$1 break; rewrite ^ /new/ last; return 403; "
        "proxy_pass http://APP; }",
        "/a/q",
    ),
    # 3. no flag: the next directives see the new URI, then the location search runs again
    case("no-flag-chain", CHAIN, "/chain/z", upstream="GET /new/z"),
    case(
        "no-flag-then-return",
        "location /nf/ { @nf; rewrite ^/nf/(.*)$ /new/$1; return 403; }",
        "/nf/z",
        status=403,
    ),
    case(
        "set-variable-in-replacement",
        "location /s/ { @s; set $part abc; rewrite ^ /new/$part last; }",
        "/s/z",
    ),
    # 4. redirects: relative ones made absolute with the Host
    case("redirect", REDIRECT, "/r/x", status=302, Location="http://localhost:PORT/new/x"),
    case(
        "permanent",
        "location /p/ { @p; rewrite ^/p/(.*)$ /new/$1 permanent; }",
        "/p/x",
        status=301,
    ),
    case(
        "absolute-replacement",
        "location /ext/ { @ext; rewrite ^/ext/(.*)$ http://example.com/$1; }",
        "/ext/x",
        status=302,
        Location="http://example.com/x",
    ),
    case(
        "scheme-replacement",
        "location /sch/ { @sch; rewrite ^/sch/(.*)$ $scheme://$host/new/$1; }",
        "/sch/x",
        status=302,
    ),
    case(
        "absolute-permanent",
        "location /ext/ { rewrite ^/ext/(.*)$ https://example.com/$1 permanent; }",
        "/ext/x?a=1",
        status=301,
    ),
    # 5. arguments
    case("args-kept", OLD, "/old/x?a=1", upstream="GET /new/x?a=1"),
    case("args-own-and-original", OWN_ARGS, "/args/x?a=1", upstream="GET /new/x?b=2&a=1"),
    case("args-dropped", DROP_ARGS, "/drop/x?a=1", upstream="GET /new/x"),
    case("redirect-args-kept", REDIRECT, "/r/x?a=1"),
    case("redirect-args-own-and-original", REDIRECT_ARGS, "/ra/x?a=1"),
    case("redirect-args-dropped", REDIRECT_DROP, "/rd/x?a=1"),
    # 6. server level, before any location is chosen
    case("server-last", "rewrite ^/srv/(.*)$ /new/$1 last;", "/srv/x?a=1"),
    case(
        "server-no-flag-chain",
        "rewrite ^/s1/(.*)$ /s2/$1; rewrite ^/s2/(.*)$ /based/$1;",
        "/s1/x",
        upstream="GET /base/x",
    ),
    case("server-then-location", "rewrite ^/srv/(.*)$ /old/$1;\n" + OLD, "/srv/x"),
    case("server-redirect", "rewrite ^/srv/(.*)$ /new/$1 redirect;", "/srv/x"),
    # 7. no match, captures
    case(
        "no-match",
        "location /nm/ { @nm; rewrite ^/zzz/ /new/ last; proxy_pass http://APP; }",
        "/nm/x",
        upstream="GET /nm/x",
    ),
    case(
        "two-captures",
        r"location /cap/ { rewrite ^/cap/(\w+)/(\w+)$ /new/$2/$1 last; }",
        "/cap/a/b",
        upstream="GET /new/b/a",
    ),
    case(
        "named-captures",
        r'location /named/ { rewrite "^/named/(?<id>\d+)/(?<rest>.*)$" /new/$rest?id=$id last; }',
        "/named/42/x",
    ),
    # 8. escapes: captures copied into the arguments (or a redirect) escaped when the
    # original URI had %-escapes or `+`
    case("escaped-space", ENCODED, "/enc/a%20b"),
    case("escaped-plus", ENCODED, "/enc/a+b"),
    case("escaped-ampersand", ENCODED, "/enc/a%26b"),
    case("unescaped-ampersand", ENCODED, "/enc/a&b"),
    case("escaped-break", ENCODED_BREAK, "/eb/a%20b?c=1"),
    case("escaped-redirect", ENCODED_REDIRECT, "/er/a%20b"),
    case("escaped-plus-redirect", ENCODED_REDIRECT, "/er/a+b?c=1"),
    # 9. a loop: 500 after 10 internal redirects
    case(
        "loop",
        "location /loop/ { @loop; rewrite ^/loop/(.*)$ /loop/$1 last; }",
        "/loop/x",
        status=500,
    ),
    # 10. in an `if`
    case("if-taken", IF_LAST, "/if/x?go=1", upstream="GET /new/x?go=1"),
    case("if-not-taken", IF_LAST, "/if/x", upstream="GET /if/x"),
    case(
        "if-redirect",
        "location /ifr/ { @ifr; if ($arg_go) { rewrite ^/ifr/(.*)$ /new/$1 redirect; } }",
        "/ifr/x?go=1",
    ),
    # 11. `internal` locations: only a rewrite gets there
    case(
        "internal-refused",
        "location /int/ { @int; internal; rewrite ^ /new/ last; }",
        "/int/x",
        status=404,
    ),
    case(
        "internal-by-rewrite",
        "location /go/ { rewrite ^/go/(.*)$ /int/$1 last; } location /int/ { @int; internal; "
        "proxy_pass http://APP; }",
        "/go/x",
        status=200,
    ),
    case(
        "internal-by-server-rewrite",
        "rewrite ^/srv/(.*)$ /int/$1; location /int/ { @int; internal; proxy_pass http://APP; }",
        "/srv/x",
        status=200,
    ),
    # 12. $uri and $args after a rewrite; $request_uri as it came
    case("variables-break", VARIABLES, "/vars/x?a=1", upstream="GET /v2/x?b=2&a=1"),
]


def _text(text: str, app_port: int) -> str:
    """The case's server body with the target locations, `APP` and `@name;` filled in."""

    def tags(match: re.Match[str]) -> str:
        return (
            f"add_header X-Where {match[1]} always; add_header X-Uri $uri always; "
            "add_header X-Args $args always; add_header X-Req $request_uri always;"
        )

    body = re.sub(r"@(\w+);", tags, text + TARGETS)
    return body.replace("APP", f"127.0.0.1:{app_port}")


async def _observe(port: int, target: str) -> dict[str, Any]:
    """What a client sees of `GET target` and what the upstream app received (from its echo);
    the server's own port in a `Location` written as PORT."""
    response = await request(port, "GET", target)
    seen: dict[str, Any] = {"status": response.status}
    for name in HEADERS:
        value = response.header(name)
        if value is not None:
            seen[name] = value.replace(f":{port}/", ":PORT/")
    if response.header("Content-Type") == "application/json":
        echo = json.loads(response.body)
        seen["upstream"] = f"{echo['method']} {echo['target']}"
        for key, value in echo["headers"]:
            if key.lower().startswith("x-"):
                seen[f"upstream {key}"] = value
    return seen


@pytest.mark.parametrize(("text", "target", "pins"), CASES)
async def test_rewrite_as_nginx_does(
    proxy: ProxyFactory,
    app: AppFactory,
    tmp_path: Path,
    text: str,
    target: str,
    pins: dict[str, Any],
) -> None:
    upstream = await app("app")
    body = _text(text, upstream.port)
    async with running_nginx(tmp_path, body) as port:
        expected = await _observe(port, target)
    assert {key: expected.get(key) for key in pins} == pins, expected
    async with proxy(conf(body)) as server:
        got = await _observe(server.port(), target)
    assert got == expected
