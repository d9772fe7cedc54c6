"""`rewrite` rules (pure): what a rule makes of a request's target, nginx's escaping rules,
and `rewrite` leading to push stream locations over HTTP. The comparison with nginx itself
is tests/proxy/test_rewrite_oracle.py."""

from __future__ import annotations

import json
import logging

import pytest
from conftest import ServeFactory
from helpers import request, request_vars

from pushproxy.config.parse import parse_text
from pushproxy.http.rewrite_rule import (
    Redirect,
    RewriteRule,
    _unescape_redirect,
    apply_rule,
    compile_rule,
    escape_args,
)
from pushproxy.http.target import RequestTarget


def _rule(text: str) -> RewriteRule:
    (directive,) = parse_text(text)
    rule = compile_rule(directive)
    assert rule is not None
    return rule


def _apply(text: str, target: str) -> RequestTarget | Redirect | None:
    return apply_rule(_rule(text), request_vars(target))


@pytest.mark.parametrize(
    ("text", "target", "uri", "args"),
    [
        ("rewrite ^/a/(.*)$ /b/$1;", "/a/x?k=1", "/b/x", "k=1"),
        ("rewrite ^/a/(.*)$ /b/$1?;", "/a/x?k=1", "/b/x", ""),
        ("rewrite ^/a/(.*)$ /b?id=$1;", "/a/x?k=1", "/b", "id=x&k=1"),
        ("rewrite ^/a/(.*)$ /b?id=$1?;", "/a/x?k=1", "/b", "id=x"),
        ("rewrite ^/a/(.*)$ /b?id=$1;", "/a/x", "/b", "id=x"),
        # the new URI is taken as it is, not decoded
        ("rewrite ^/a/ /b%20c;", "/a/", "/b%20c", ""),
        # a capture in the arguments is escaped when the client's path was
        ("rewrite ^/a/(.*)$ /b/$1?q=$1;", "/a/x%20y", "/b/x y", "q=x%20y"),
        ("rewrite ^/a/(.*)$ /b/$1?q=$1;", "/a/x+y", "/b/x+y", "q=x%2By"),
        ("rewrite ^/a/(.*)$ /b/$1?q=$1;", "/a/x&y", "/b/x&y", "q=x&y"),
    ],
)
def test_internal_rewrites(text: str, target: str, uri: str, args: str) -> None:
    variables = request_vars(target)
    result = apply_rule(_rule(text), variables)
    assert isinstance(result, RequestTarget)
    assert (result.uri, result.args, result.rewritten) == (uri, args, True)
    variables.retarget(result)
    assert (variables.lookup("uri"), variables.lookup("args")) == (uri, args)
    assert variables.lookup("request_uri") == target  # stays the client's
    if "id=" in args:
        assert variables.lookup("arg_id") == "x"


@pytest.mark.parametrize(
    ("text", "target", "status", "location"),
    [
        ("rewrite ^/a/(.*)$ /b/$1 redirect;", "/a/x?k=1", 302, "/b/x?k=1"),
        ("rewrite ^/a/(.*)$ /b/$1 permanent;", "/a/x", 301, "/b/x"),
        ("rewrite ^/a/(.*)$ http://h/$1;", "/a/x?k=1", 302, "http://h/x?k=1"),
        ("rewrite ^/a/(.*)$ https://h/$1?;", "/a/x?k=1", 302, "https://h/x"),
        ("rewrite ^/a/(.*)$ $scheme://h/$1;", "/a/x", 302, "http://h/x"),
        ("rewrite ^/a/(.*)$ /b?q=$1 redirect;", "/a/x?k=1", 302, "/b?q=x&k=1"),
        # escaped captures: a space stays escaped in the path, `&` is unescaped there
        ("rewrite ^/a/(.*)$ /b/$1?q=$1 redirect;", "/a/x%20y", 302, "/b/x%20y?q=x%20y"),
        ("rewrite ^/a/(.*)$ /b/$1?q=$1 redirect;", "/a/x%26y", 302, "/b/x&y?q=x%26y"),
    ],
)
def test_redirects(text: str, target: str, status: int, location: str) -> None:
    assert _apply(text, target) == Redirect(status, location)


def test_a_miss_changes_nothing_and_clears_the_captures() -> None:
    variables = request_vars("/z/1")
    assert apply_rule(_rule("rewrite ^/(z)/(1)$ /y;"), variables) is not None
    assert variables.lookup("2") == "1"
    assert apply_rule(_rule("rewrite ^/nothing /y;"), variables) is None
    assert variables.lookup("2") is None
    assert variables.target.uri == "/z/1"


def test_flags() -> None:
    assert (_rule("rewrite ^ /x last;").flag, _rule("rewrite ^ /x break;").flag) == (
        "last",
        "break",
    )
    assert (_rule("rewrite ^ /x;").status, _rule("rewrite ^ /x permanent;").status) == (0, 301)
    broke = _apply("rewrite ^ /x break;", "/a")
    assert isinstance(broke, RequestTarget)
    assert broke.left_location


def test_escape_args() -> None:
    assert escape_args("a b&c+d;e?f#g%h/i=j") == "a%20b%26c%2Bd%3Be%3Ff%23g%25h/i=j"
    assert escape_args("é") == "%C3%A9"
    assert escape_args("plain") == "plain"


@pytest.mark.parametrize(
    ("text", "unescaped"),
    [
        ("/a%41b", "/aAb"),
        ("/a%20b", "/a%20b"),  # not printable past `%`: kept
        ("/a%25b", "/a%25b"),
        ("/a%2fb", "/a/b"),
        ("/a%3Fb%41", "/a?b%41"),  # an escaped `?` ends the unescaping too
        ("/a?b%41", "/a?b%41"),
        ("/a%zqb", "/azqb"),  # nginx keeps the character after a stray `%`
        ("/a%4zb", "/ab"),  # and drops both after `%` and one hex digit
        ("/a%", "/a"),
    ],
)
def test_unescape_redirect(text: str, unescaped: str) -> None:
    assert _unescape_redirect(text) == unescaped


PUSH = """
events {}
http {
    push_stream_shared_memory_size 32m;
    server {
        listen 127.0.0.1:0;
        rewrite ^/channels/([^/]+)/publish$ /pub?id=$1 last;
        location /pub {
            push_stream_publisher admin;
            push_stream_channels_path $arg_id;
        }
        location /old-stats/ {
            rewrite ^/old-stats/(.*)$ /stats?id=$1? last;
        }
        location /stats {
            push_stream_channels_statistics;
            push_stream_channels_path $arg_id;
        }
    }
}
"""


async def test_rewrites_lead_to_push_locations(serve: ServeFactory) -> None:
    async with serve(PUSH) as server:
        port = server.port()
        published = await request(port, "POST", "/channels/news/publish", body=b"hello")
        assert published.status == 200
        assert json.loads(published.body)["channel"] == "news"
        stats = await request(port, "GET", "/old-stats/news?id=other")
        assert stats.status == 200
        assert json.loads(stats.body)["published_messages"] == 1


ENDLESS = """
events {}
http {
    server {
        listen 127.0.0.1:0;
        location /loop/ { rewrite ^/loop/(.*)$ /loop/$1 last; }
        location /empty { rewrite ^/empty(.*)$ $1 last; }
        location /ten/ { rewrite ^/ten/(\\d)(.*)$ /ten/$2 last; return 200 "done $uri"; }
    }
}
"""


async def test_endless_rewrites_and_empty_uris(
    serve: ServeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """nginx's 500s, with its error lines; ten new lookups are still allowed."""
    with caplog.at_level(logging.ERROR, logger="pushproxy"):
        async with serve(ENDLESS) as server:
            port = server.port()
            assert (await request(port, "GET", "/loop/x")).status == 500
            assert (await request(port, "GET", "/empty")).status == 500
            done = await request(port, "GET", "/ten/0123456789")
            assert (done.status, done.body) == (200, b"done /ten/")
            assert (await request(port, "GET", "/ten/01234567890")).status == 500
    assert 'rewrite or internal redirection cycle while processing "/loop/x", client: ' in (
        caplog.text
    )
    assert "the rewritten URI has a zero length, client: 127.0.0.1" in caplog.text
