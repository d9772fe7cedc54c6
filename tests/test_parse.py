"""The reader: nginx's tokenizer rules, its error texts and lines, and crossplane's layout."""

from __future__ import annotations

import pytest

from pushproxy.config.parse import ConfigSyntaxError, parse_text, unescape
from pushproxy.config.tree import Directive


def _flat(tree: tuple[Directive, ...]) -> list[tuple[str, tuple[str, ...]]]:
    out: list[tuple[str, tuple[str, ...]]] = []
    for d in tree:
        out.append((d.name, d.args))
        if d.block:
            out.extend(_flat(d.block))
    return out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("return 200 a}b;", [("return", ("200", "a}b"))]),
        ("a#b c;", [("a#b", ("c",))]),
        ("x a\u00a0b;", [("x", ("a\u00a0b",))]),  # a non-breaking space is part of a word
        ("x \"a\\\"b\" 'c\\'d';", [("x", ('a"b', "c'd"))]),
        ("x \\d \\\\ \\t;", [("x", ("\\d", "\\", "\t"))]),
        ('x "\\n\\r";', [("x", ("\n\r",))]),
        ("set $x ${var}abc;", [("set", ("$x", "${var}abc"))]),
        (
            'if ($host = "b") { return 404; }',
            [("if", ("($host", "=", "b", ")")), ("return", ("404",))],
        ),
        ("location ~*\\.php$ {}", [("location", ("~*\\.php$",))]),
        ("location =/a {}", [("location", ("=/a",))]),
        ("a;b;c;", [("a", ()), ("b", ()), ("c", ())]),
        ("x '' \"\";", [("x", ("", ""))]),
        ('x "a;{}#b";', [("x", ("a;{}#b",))]),
        ("listen # c\n 80 # d\n;", [("listen", ("80",))]),
        ("server # c\n{ }", [("server", ())]),
        ("a\r\nb;\r\n", [("a", ("b",))]),
        ("x a\\ b;", [("x", ("a\\ b",))]),  # an escaped space joins the word
        ("location ~ ^/a{3}$ {} }", [("location", ("~", "^/a")), ("3}$", ())]),
        ('location ~ "^/a{3}$" {}', [("location", ("~", "^/a{3}$"))]),
    ],
)
def test_words_are_split_as_nginx_splits_them(
    text: str, expected: list[tuple[str, tuple[str, ...]]]
) -> None:
    tree = parse_text(text)
    assert _flat(tree) == expected


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("a b }", 'unexpected "}"', 1),
        ("}", 'unexpected "}"', 1),
        (";", 'unexpected ";"', 1),
        ("{", 'unexpected "{"', 1),
        ('a "x"y;', 'unexpected "y"', 1),
        ('a "x"#c;', 'unexpected "#"', 1),
        ("a \"x\"'y';", 'unexpected "\'"', 1),
        ("a b", 'unexpected end of file, expecting ";" or "}"', 1),
        ("a b\n", 'unexpected end of file, expecting ";" or "}"', 2),
        ("http {\n a b;\n", 'unexpected end of file, expecting "}"', 3),
        ('a "open\n\n', 'unexpected end of file, expecting ";" or "}"', 3),
        ("a \\", 'unexpected end of file, expecting ";" or "}"', 1),
        ("x 1;\n\n  y 2 }\n", 'unexpected "}"', 3),
        (
            "content_by_lua_block { if x then",
            "unexpected end of file, expecting terminating characters for lua code block",
            1,
        ),
    ],
)
def test_errors_carry_nginx_message_and_line(text: str, message: str, line: int) -> None:
    with pytest.raises(ConfigSyntaxError) as caught:
        parse_text(text, file="/etc/nginx/nginx.conf")
    assert caught.value.message == message
    assert caught.value.line == line
    assert caught.value.nginx_text() == f"{message} in /etc/nginx/nginx.conf:{line}"


def test_directive_lines_name_start_terminator_and_closing_brace() -> None:
    (http,) = parse_text('http {\n  x "multi\nline"\n  ;\n}\n')
    assert (http.line, http.end_line, http.close_line) == (1, 1, 5)
    assert http.block is not None
    (x,) = http.block
    assert (x.line, x.column, x.end_line) == (2, 3, 4)


def test_lua_block_body_is_one_raw_argument() -> None:
    text = (
        "content_by_lua_block {\n"
        '  local t = {a = "}"} -- a } in a comment\n'
        "  local s = [[ { ]] --[==[ } ]==]\n"
        "}\n"
        "set_by_lua_block $res { return '{' }\n"
        "after 1;\n"
    )
    lua, set_lua, after = parse_text(text)
    assert lua.args == (
        '\n  local t = {a = "}"} -- a } in a comment\n  local s = [[ { ]] --[==[ } ]==]\n',
    )
    assert lua.block is None
    assert set_lua.args == ("$res", " return '{' ")
    assert (after.name, after.line) == ("after", 6)


def test_comments_are_kept_on_request_like_crossplane() -> None:
    tree = parse_text("# top\nlisten 80; # tail\nx # inside\n 1;\n", comments=True)
    assert [(d.name, d.comment, d.line) for d in tree] == [
        ("#", " top", 1),
        ("listen", None, 2),
        ("#", " tail", 2),
        ("x", None, 3),
        ("#", " inside", 3),
    ]
    assert [d.name for d in parse_text("# top\nlisten 80; # tail\n")] == ["listen"]


def test_partial_tree_holds_what_nginx_read_before_the_error() -> None:
    with pytest.raises(ConfigSyntaxError) as caught:
        parse_text("events {}\nhttp {\n  server {\n    listen 80;\n    unfinished stmt")
    events, http = caught.value.partial
    assert events.name == "events"
    assert http.close_line == 0  # never closed
    assert http.block is not None
    (server,) = http.block
    assert server.block is not None
    assert [(d.name, d.args) for d in server.block] == [("listen", ("80",))]


def test_unescape_keeps_unknown_escapes() -> None:
    assert unescape(r"a\"b\'c\\d\te\rf\ng\d\$") == "a\"b'c\\d\te\rf\ng\\d\\$"


def test_unexpected_non_ascii_character_is_reported_as_its_first_byte() -> None:
    with pytest.raises(ConfigSyntaxError) as caught:
        parse_text('a "x"\u00e9;')
    assert caught.value.message.encode("utf-8", "surrogateescape") == b'unexpected "\xc3"'
