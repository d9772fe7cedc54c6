"""The response head sent back: hidden headers, order, proxy_redirect (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from pushproxy.config.tree import Directive
from pushproxy.http.pages import own_headers
from pushproxy.proxy.response import (
    Redirect,
    RedirectBase,
    client_headers,
    default_redirect,
    hidden_headers,
    redirect_rules,
)

UPSTREAM = [
    (b"Server", b"legacy"),
    (b"Date", b"then"),
    (b"X-Accel-Redirect", b"/internal"),
    (b"X-Pad", b"x"),
    (b"Connection", b"keep-alive"),
    (b"Keep-Alive", b"timeout=5"),
    (b"Transfer-Encoding", b"chunked"),
    (b"Set-Cookie", b"a=1"),
    (b"Content-Length", b"12"),
    (b"Upgrade", b"h2c"),
    (b"Content-Type", b"text/plain"),
]


def redirect(*args: str) -> Directive:
    return Directive(name="proxy_redirect", args=args, file="t", line=1, column=1, end_line=1)


def test_hidden_and_hop_by_hop_headers_do_not_pass_the_rest_keep_their_order() -> None:
    headers, fixed = client_headers(UPSTREAM, hidden=hidden_headers((), ()))
    assert fixed is None
    assert headers == [
        (b"Set-Cookie", b"a=1"),
        (b"Content-Length", b"12"),
        (b"Upgrade", b"h2c"),
        (b"Content-Type", b"text/plain"),
    ]
    names = [name for name, _ in own_headers(headers)]
    assert names == [b"Server", b"Date"]


def test_empty_values_pass() -> None:
    upstream = [(b"Content-Type", b""), (b"X-Empty", b""), (b"Content-Length", b"2")]
    headers, _ = client_headers(upstream, hidden=hidden_headers((), ()))
    assert headers == upstream  # the connection writes no Content-Type without a value


def test_proxy_hide_header_and_proxy_pass_header() -> None:
    hidden = hidden_headers(["Set-Cookie"], ["Server", "X-Accel-Redirect"])
    headers, _ = client_headers(UPSTREAM, hidden=hidden)
    assert (b"Server", b"legacy") in headers
    assert (b"X-Accel-Redirect", b"/internal") in headers
    assert all(name != b"Set-Cookie" for name, _ in headers)
    assert [name for name, _ in own_headers(headers)] == [b"Date"]


BASE = RedirectBase(scheme="http", host="front.example", port=8080)


def location(value: str, rules: Sequence[Redirect], base: RedirectBase | None = BASE) -> str:
    """The Location the client gets: nginx's own, made absolute, or the one passed on."""
    headers, fixed = client_headers(
        [(b"Location", value.encode())],
        hidden=frozenset(),
        redirects=rules,
        lookup={"host": "front.example"}.get,
        base=lambda: base,
    )
    assert (fixed is None) == (b"Location" in dict(headers))  # one or the other
    return (fixed or dict(headers)[b"Location"]).decode()


def test_default_redirect_without_uri_part() -> None:
    rules = redirect_rules([], default_redirect("http://127.0.0.1:9000", None, "/"))
    assert location("http://127.0.0.1:9000/login?x", rules) == "http://front.example:8080/login?x"
    # a relative Location that no rule rewrote passes as it is
    assert location("/login", rules) == "/login"
    assert location("http://elsewhere/x", rules) == "http://elsewhere/x"


def test_default_redirect_with_uri_part() -> None:
    rules = redirect_rules([], default_redirect("http://backend/app/", "/app/", "/legacy/"))
    assert location("http://backend/app/x", rules) == "http://front.example:8080/legacy/x"
    assert location("http://backend/app/x", rules, base=None) == "/legacy/x"


def test_explicit_rules_off_and_regex() -> None:
    default = default_redirect("http://backend", None, "/")
    assert redirect_rules([redirect("off")], default) == ()
    rules = redirect_rules(
        [redirect("default"), redirect("~^http://([^/]+):\\d+(/.*)$", "https://$1$2")], default
    )
    assert location("http://backend/x", rules) == "http://front.example:8080/x"
    assert location("http://other:81/y", rules) == "https://other/y"
    literal = redirect_rules([redirect("http://old/", "http://$host/new/")], default)
    assert location("http://old/a", literal) == "http://front.example/new/a"


def test_port_80_is_not_written() -> None:
    assert RedirectBase(scheme="http", host="h", port=80).absolute("/x") == "http://h/x"


def test_refresh_url_is_rewritten() -> None:
    rules = redirect_rules([], default_redirect("http://backend", None, "/"))
    headers, _ = client_headers(
        [(b"Refresh", b"5; url=http://backend/next")], hidden=frozenset(), redirects=rules
    )
    assert headers == [(b"Refresh", b"5; url=/next")]


def test_switching_protocols_says_upgrade() -> None:
    headers, _ = client_headers(
        [(b"Upgrade", b"websocket"), (b"Connection", b"Upgrade")],
        hidden=frozenset(),
        switching=True,
    )
    assert headers == [(b"Connection", b"upgrade"), (b"Upgrade", b"websocket")]
