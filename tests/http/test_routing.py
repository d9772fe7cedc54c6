"""Server and location routing, on configurations read through the real parser and model.

The expected answers are nginx's (1.22, checked against a running nginx for the IPv4 cases).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pushproxy.config.model import Location, Server, build
from pushproxy.config.parse import parse_text
from pushproxy.http.routing import (
    LocationRouter,
    ServerRouter,
    request_host,
    validate_host,
)
from pushproxy.http.target import BadRequest, parse_target

SERVERS = r"""
http {
    server { listen 127.0.0.1:8080; server_name first; return 200 first; }
    server { listen 127.0.0.1:8080; return 200 unnamed; }
    server { listen 127.0.0.1:8080 default_server; server_name Default; return 200 default; }
    server { listen 127.0.0.1:8080; server_name .example.com; return 200 dot-example; }
    server {
        listen 127.0.0.1:8080;
        server_name *.www.example.com www.example.*;
        return 200 www-wild;
    }
    server { listen 127.0.0.1:8080; server_name www.example.com; return 200 www-exact; }
    server { listen 127.0.0.1:8080; server_name *.com www.*; return 200 short-wild; }
    server {
        listen 127.0.0.1:8080;
        server_name ~^(?<sub>[a-z]+)\.re\.org$ ~^(\w+)\.(\w+)\.org$;
        return 200 regex;
    }
    server { listen 127.0.0.1:8080; server_name ~^CASE\.org$; return 200 caseless-regex; }
    server { listen 127.0.0.1:8080; server_name ~^[[:digit:]]+\.num$; return 200 posix-regex; }
    server { listen 127.0.0.1:8080; server_name example.com *.example.com; return 200 conflicting; }
    server { listen 8080; server_name first; return 200 any-first; }
    server { listen 8080; server_name second; return 200 any-second; }
    server { listen 127.0.0.2:8080; server_name .x.test; return 200 two; }
    server { listen 127.0.0.4:8080; server_name four; return 200 four; }
    server { listen 127.0.0.4:8080; server_name ~^; return 200 four-regex; }
    server { listen [::]:8080; server_name six; return 200 six; }
    server { listen [::1]:8080; server_name loopback6; return 200 loopback6; }
    server { listen unix:/run/pushproxy.sock; server_name sock; return 200 sock; }
    server { listen localhost:8081; server_name $hostname; return 200 by-hostname; }
    server { listen 8082; listen 127.0.0.1:8082 default_server; return 200 twice; }
    server { listen 8082 default_server; return 200 any-default; }
}
"""

LOCATIONS = r"""
http {
    upstream up { server 127.0.0.1:1; }
    server {
        listen 8080;
        location = / { return 200 exact-root; }
        location / { return 200 root; }
        location /a/ {
            return 200 a;
            location /a/b/ { return 200 a-b; }
            location ~ \.nested$ { return 200 a-nested-regex; }
            location ^~ /a/n/ { return 200 a-n-noregex; }
            location = /a/exact { return 200 a-exact; }
            location /a/px/ { proxy_pass http://up; }
        }
        location ^~ /static/ { return 200 static; }
        location ~ \.(php)$ {
            return 200 php;
            location ~ ^/(?<dir>\w+)/ { return 200 php-in-dir; }
        }
        location ~* \.JPG$ { return 200 jpg; }
        location ~ ^/static/x { return 200 static-regex; }
        location ~ ^/p/(?<id>[[:alnum:]]+)/x$ { return 200 posix-class; }
        location ~ ^/(?<first>[a-z]+)/(\d+) { return 200 numbered; }
        location ~ ^/plain/ { return 200 plain-regex; }
        location /px/ { proxy_pass http://up; }
        location = /ex/ { proxy_pass http://up; }
        location /ex/ { return 200 ex-prefix; }
        location /both { return 200 both; }
        location /both/ { proxy_pass http://up; }
        location /lo/ { proxy_pass http://up; }
        location ~ ^/lo$ { return 200 lo-regex; }
        location /Case/ { return 200 case-prefix; }
        location @fallback { return 200 named; }
        location "/sp ace/" { proxy_pass http://up; }
        location /grpc/ { grpc_pass grpc://127.0.0.1:1; }
    }
    server { listen 8081; }
    server { listen 8082; location /only/ { return 200 only; } }
}
"""


def servers(text: str) -> Sequence[Server]:
    http = build(parse_text(text)).http
    assert http is not None
    return http.servers


def label(location: Location) -> str:
    """What the block returns; the pattern for one that proxies; "(server)" for none."""
    found = location.level.own.get("return")
    if found:
        return found[0].args[-1]
    return "(server)" if location.pattern == "" else location.pattern


@pytest.fixture(scope="module")
def server_router() -> ServerRouter:
    return ServerRouter.build(servers(SERVERS), hostname="Box")


@pytest.fixture(scope="module")
def locations() -> LocationRouter:
    return LocationRouter.for_server(servers(LOCATIONS)[0])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"example.com", "example.com"),
        (b"Example.COM:8080", "example.com"),
        (b"example.com.", "example.com"),
        (b"example.com.:80", "example.com"),
        (b".example.com", ".example.com"),  # a leading dot is valid
        (b"host:", "host"),
        (b"h:1:2", "h"),
        (b"[::1]:8080", "[::1]"),
        (b"[::1]", "[::1]"),
        (b"\xc9X.com", "\udcc9x.com"),  # only ASCII letters are lowercased
        (b"", None),
        (b":80", None),
        (b".", None),
        (b"a..b", None),
        (b"a/b", None),
        (b"a b", None),
        (b"a\tb", None),
        (b"a\x7fb", None),
        (b"a\x00b", None),
    ],
)
def test_validate_host(raw: bytes, expected: str | None) -> None:
    assert validate_host(raw) == expected


@pytest.mark.parametrize(
    ("target", "hosts", "version", "expected"),
    [
        (b"/", [b"Example.com:80"], b"1.1", "example.com"),
        (b"http://Target.test./x", [b"header.test"], b"1.1", "target.test"),
        (b"/", [], b"1.0", ""),  # then the server named "" serves it
        (b"http://target.test/", [], b"1.0", "target.test"),
        (b"/", [], b"1.1", 'client sent HTTP/1.1 request without "Host" header'),
        (b"http://target.test/", [], b"1.1", 'client sent HTTP/1.1 request without "Host"'),
        (b"/", [b"a", b"a"], b"1.1", "client sent duplicate host header"),
        (b"/", [b"a/b"], b"1.1", "client sent invalid host header"),
        (b"http://target.test/", [b""], b"1.1", "client sent invalid host header"),
        (b"http://a..b/", [b"a"], b"1.1", "client sent invalid host in request line"),
    ],
)
def test_request_host(target: bytes, hosts: list[bytes], version: bytes, expected: str) -> None:
    headers = [(b"Accept", b"*/*"), *((b"Host", host) for host in hosts)]
    parsed = parse_target(target)
    if expected.startswith("client sent"):
        with pytest.raises(BadRequest, match=expected):
            request_host(parsed, headers, version)
    else:
        assert request_host(parsed, headers, version) == expected


@pytest.mark.parametrize(
    ("address", "port", "host", "expected"),
    [
        # exact names, the server named "" and the default server
        ("127.0.0.1", 8080, "first", "first"),
        ("127.0.0.1", 8080, "", "unnamed"),
        ("127.0.0.1", 8080, "nothing.test", "default"),
        ("127.0.0.1", 8080, "default", "default"),  # names are lowercased
        # `.example.com` is example.com and *.example.com; later duplicates are ignored
        ("127.0.0.1", 8080, "example.com", "dot-example"),
        ("127.0.0.1", 8080, "a.example.com", "dot-example"),
        ("127.0.0.1", 8080, "x.y.example.com", "dot-example"),
        # exact before wildcards; the longest `*.` wildcard; then the longest `.*` wildcard
        ("127.0.0.1", 8080, "www.example.com", "www-exact"),
        ("127.0.0.1", 8080, "a.www.example.com", "www-wild"),
        ("127.0.0.1", 8080, "foo.com", "short-wild"),
        ("127.0.0.1", 8080, "com", "default"),
        ("127.0.0.1", 8080, "www.example.org", "www-wild"),
        ("127.0.0.1", 8080, "www.example.co.uk", "www-wild"),
        ("127.0.0.1", 8080, "www.example", "short-wild"),
        ("127.0.0.1", 8080, "www.other.org", "short-wild"),  # wildcards before regexes
        # regex names in configuration order; capitals make a regex caseless
        ("127.0.0.1", 8080, "abc.re.org", "regex"),
        ("127.0.0.1", 8080, "a1.b.org", "regex"),
        ("127.0.0.1", 8080, "case.org", "caseless-regex"),
        ("127.0.0.1", 8080, "a.b.c.org", "default"),
        ("127.0.0.1", 8080, "123.num", "posix-regex"),
        ("127.0.0.1", 8080, "a1.num", "default"),
        # another address: only its own servers, whatever the host
        ("127.0.0.2", 8080, "first", "two"),
        ("127.0.0.2", 8080, "x.test", "two"),
        # an address without a listen of its own falls to `*:port`, the first server default
        ("127.0.0.3", 8080, "first", "any-first"),
        ("127.0.0.3", 8080, "second", "any-second"),
        ("127.0.0.3", 8080, "nothing.test", "any-first"),
        ("127.0.0.3", 8080, "", "any-first"),  # no `""` name there: the default server
        ("127.0.0.4", 8080, "x", "four-regex"),
        ("127.0.0.4", 8080, "", "four"),  # regex names are not tried without a host
        # IPv6, unix sockets, `localhost` and `$hostname`
        ("::1", 8080, "six", "loopback6"),
        ("::2", 8080, "loopback6", "six"),
        ("unix:/run/pushproxy.sock", 0, "x", "sock"),
        ("127.0.0.1", 8081, "box", "by-hostname"),
        ("::1", 8081, "box", "by-hostname"),
        # default_server is per address:port
        ("127.0.0.1", 8082, "x", "twice"),
        ("127.0.0.5", 8082, "x", "any-default"),
    ],
)
def test_server_selection(
    server_router: ServerRouter, address: str, port: int, host: str, expected: str
) -> None:
    match = server_router.select(address, port, host)
    assert label(match.locations.server_level) == expected


@pytest.mark.parametrize(
    ("host", "name", "positional", "named"),
    [
        ("first", "first", None, None),
        ("", "", None, None),
        ("a.example.com", "example.com", None, None),
        ("nothing", "default", None, None),
        ("abc.re.org", r"~^(?<sub>[a-z]+)\.re\.org$", ("abc",), {"sub": "abc"}),
        ("a1.b.org", r"~^(?<sub>[a-z]+)\.re\.org$", ("a1", "b"), {}),
    ],
)
def test_server_name_and_captures(
    server_router: ServerRouter,
    host: str,
    name: str,
    positional: tuple[str, ...] | None,
    named: dict[str, str] | None,
) -> None:
    match = server_router.select("127.0.0.1", 8080, host)
    assert match.name == name
    if positional is None:
        assert match.captures.positional == ()
        assert dict(match.captures.named) == {}
    else:
        assert match.captures.positional == positional
        assert dict(match.captures.named) == named


def test_hostname_server_name(server_router: ServerRouter) -> None:
    assert server_router.select("127.0.0.1", 8081, "box").name == "box"


def test_nothing_listening_is_a_lookup_error(server_router: ServerRouter) -> None:
    with pytest.raises(LookupError, match=r"10\.0\.0\.1:9999"):
        server_router.select("10.0.0.1", 9999, "first")


def test_listen_names_go_through_the_resolver() -> None:
    config = "http { server { listen app.internal:80; return 200 app; } }"
    resolved = ServerRouter.build(servers(config), resolve=lambda name: ["10.1.1.1"])
    assert label(resolved.select("10.1.1.1", 80, "x").locations.server_level) == "app"
    unresolved = ServerRouter.build(servers(config))
    with pytest.raises(LookupError):
        unresolved.select("10.1.1.1", 80, "x")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("/", "exact-root"),
        ("/x", "root"),
        ("/a/", "a"),
        ("/a", "root"),
        ("/a/b/c", "a-b"),
        # the regexes of /a/ come after its nested prefixes, before the server's regexes
        ("/a/b/c.nested", "a-nested-regex"),
        ("/a/x.nested", "a-nested-regex"),
        # a nested `^~` stops the regexes of its own level only
        ("/a/n/x.nested", "a-n-noregex"),
        ("/a/n/x.php", "php-in-dir"),
        ("/a/exact", "a-exact"),
        ("/a/exact/x", "a"),
        ("/static/x.php", "static"),
        ("/static/x", "static"),
        ("/x.php", "php"),
        ("/foo.PHP", "root"),  # `~` is case-sensitive
        ("/foo.jpg", "jpg"),
        ("/FOO.jPg", "jpg"),
        ("/abc/123", "numbered"),
        ("/p/Ab12/x", "posix-class"),  # PCRE's `[[:alnum:]]`, not Python's set `[:alnum`+`]`
        ("/p/a_b/x", "root"),
        ("/plain/x", "plain-regex"),
        ("/both", "both"),
        ("/px/", "/px/"),
        ("/px/deeper", "/px/"),
        ("/Case/x", "case-prefix"),
        ("/case/x", "root"),  # prefixes are case-sensitive
        ("/@fallback", "root"),  # named locations are not matched by URI
    ],
)
def test_location_selection(locations: LocationRouter, uri: str, expected: str) -> None:
    match = locations.match(uri)
    assert label(match.location) == expected
    assert not match.redirect_to_slash


@pytest.mark.parametrize(
    ("uri", "location", "modifier", "args", "target"),
    [
        ("/px", "/px/", "", "", "/px/"),
        ("/px", "/px/", "", "a=1&b", "/px/?a=1&b"),
        ("/ex", "/ex/", "=", "", "/ex/"),  # the exact location is the one reported
        ("/lo", "/lo/", "", "", "/lo/"),  # before the regex that matches /lo
        ("/a/px", "/a/px/", "", "", "/a/px/"),  # nested
        ("/sp ace", "/sp ace/", "", "", "/sp%20ace/"),
        ("/grpc", "/grpc/", "", "", "/grpc/"),
    ],
)
def test_redirect_to_slash(
    locations: LocationRouter, uri: str, location: str, modifier: str, args: str, target: str
) -> None:
    match = locations.match(uri)
    assert match.redirect_to_slash
    assert (match.location.pattern, match.location.modifier) == (location, modifier)
    assert match.redirect_target(args) == target


@pytest.mark.parametrize(
    ("uri", "positional", "named"),
    [
        ("/x", None, None),
        ("/a/b/c", None, None),
        ("/x.php", ("php",), {}),
        ("/abc/123", ("abc", "123"), {"first": "abc"}),
        ("/p/Ab12/x", ("Ab12",), {"id": "Ab12"}),
        # the nested regex matched last: its groups are `$1`.., both named ones are set
        ("/a/n/x.php", ("a",), {"dir": "a"}),
        ("/a/x.nested", (), {}),  # a match without groups still resets `$1`..
    ],
)
def test_location_captures(
    locations: LocationRouter,
    uri: str,
    positional: tuple[str, ...] | None,
    named: dict[str, str] | None,
) -> None:
    captures = locations.match(uri).captures
    if positional is None:
        assert captures is None
    else:
        assert captures is not None
        assert (captures.positional, dict(captures.named)) == (positional, named)


def test_named_locations(locations: LocationRouter) -> None:
    found = locations.named("@fallback")
    assert found is not None
    assert label(found) == "named"
    assert locations.named("@missing") is None
    assert locations.named("/") is None


@pytest.mark.parametrize(
    ("port", "uri", "expected"),
    [(8081, "/anything", "(server)"), (8082, "/only/x", "only"), (8082, "/other", "(server)")],
)
def test_no_location_matches_the_server_level(port: int, uri: str, expected: str) -> None:
    router = ServerRouter.build(servers(LOCATIONS))
    match = router.select("127.0.0.1", port, "x").locations.match(uri)
    assert label(match.location) == expected
    assert match.location.directive is not None
    assert (match.location.directive.name == "server") == (expected == "(server)")


def test_glued_no_regex_modifier_stops_the_regex_search() -> None:
    # nginx reads `^~/a` as `^~ /a` (checked against nginx 1.22: /ab answers "noregex")
    text = "http { server { location ^~/a { } location ~ /a { } } }"
    router = LocationRouter.for_server(servers(text)[0])
    match = router.match("/ab")
    assert (match.location.modifier, match.location.pattern) == ("^~", "/a")
