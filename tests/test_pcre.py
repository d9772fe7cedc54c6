"""Regex compile errors worded and placed as nginx's pcre2_compile() message (checked against
nginx built with PCRE2)."""

from __future__ import annotations

import re

import pytest

from pushproxy.config.pcre import compile_error, translate


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("^/(a", 'missing closing parenthesis in "^/(a"'),
        ("^/a)", 'unmatched closing parenthesis in "^/a)" at ")"'),
        ("*a", 'quantifier does not follow a repeatable item in "*a" at "*a"'),
        ("/a**", 'quantifier does not follow a repeatable item in "/a**" at "*"'),
        ("a{1,2}{3}", 'quantifier does not follow a repeatable item in "a{1,2}{3}" at "}"'),
        ("/a[b", 'missing terminating ] for character class in "/a[b"'),
        ("[z-a]", 'range out of order in character class in "[z-a]" at "a]"'),
        ("[a-\\d]", 'invalid range in character class in "[a-\\d]" at "]"'),
        ("a{2,1}", 'numbers out of order in {} quantifier in "a{2,1}" at "}"'),
        ("(?<n>a)(?<n>b)", "two named subpatterns have the same name (PCRE2_DUPNAMES not set) "
                           'in "(?<n>a)(?<n>b)" at "b)"'),
        ("\\", 'at end of pattern in "\\"'),
        ("(a)\\2", 'reference to non-existent subpattern in "(a)\\2" at "2"'),
        ("x(?'1a'y)", 'subpattern name must start with a non-digit in "x(?\'1a\'y)" at "1a\'y)"'),
        ("^/[[:foo:]]x", 'unknown POSIX class name in "^/[[:foo:]]x" at "foo:]]x"'),
        ("^/[:alpha:]x", "POSIX named classes are supported only within a class "
                         'in "^/[:alpha:]x" at "[:alpha:]x"'),
        ("^/[[:alpha:]-z]x", 'invalid range in character class in "^/[[:alpha:]-z]x" at "-z]x"'),
        ("^/[[:foo:]](a", 'unknown POSIX class name in "^/[[:foo:]](a" at "foo:]](a"'),
    ],
)
def test_pcre2_messages(pattern: str, text: str) -> None:
    error = compile_error(pattern)
    assert error is not None
    assert error.nginx_text(pattern).endswith(text)
    assert error.nginx_text(pattern).startswith("pcre2_compile() failed: ")


@pytest.mark.parametrize(
    "pattern",
    ["^/(?<id>\\w+)$", "(?'id'x)", "(?P<id>x)", "(?i)x(?i)", "(?<=a|bb)c", "(*UTF8)x", "\\z",
     "[[:alpha:]]", "a++", "(?>a)", "[[:alpha:]-]", "[\\[:alpha:]]", "[a[b]"],
)
def test_pcre_syntax_compiles(pattern: str) -> None:
    assert compile_error(pattern) is None


def test_translate_keeps_offsets() -> None:
    text, origin = translate("a(?<n>b)")
    assert text == "a(?P<n>b)"
    assert origin[text.index("b")] == 6


# POSIX classes inside character classes, as PCRE2 matches them (ASCII: nginx sets no UCP).
@pytest.mark.parametrize(
    ("pattern", "matching", "other"),
    [
        ("^/(?<id>[[:alnum:]]+)/x$", ["/abc123/x", "/Z9/x"], ["/a_b/x", "/a-b/x", "/é/x"]),
        ("^[[:alpha:]]+$", ["abcXYZ"], ["a1", "_", "é"]),
        ("^[[:digit:]]+$", ["0129"], ["12a", "٣"]),
        ("^[[:xdigit:]]+$", ["09afAF"], ["g", "G"]),
        ("^[[:space:]]+$", [" \t\n\v\f\r"], ["x", "\u00a0"]),
        ("^[[:upper:]]+$", ["ABC"], ["aBC"]),
        ("^[[:lower:]]+$", ["abc"], ["Abc"]),
        ("^[[:punct:]]+$", ["!/:@[`{~_-"], ["a", " ", "0"]),
        ("^[[:word:]]+$", ["a_Z9"], ["a-b"]),
        ("^[[:blank:]]+$", [" \t"], ["\n"]),
        ("^[[:cntrl:]]+$", ["\x00\x1f\x7f"], [" "]),
        ("^[[:graph:]]+$", ["a!~"], ["a b"]),
        ("^[[:print:]]+$", ["a b~"], ["\t"]),
        ("^[[:^alpha:]]+$", ["1-_é"], ["a", "Z"]),
        ("^[^[:alpha:]]+$", ["1-_é"], ["a"]),
        ("^[[:^digit:]x]+$", ["abx"], ["a1"]),
        ("^[_[:digit:][:upper:]]+$", ["A_9"], ["a"]),
        ("^[]a[:digit:]]+$", ["]a1"], ["b"]),  # `]` first in a class is a member
        # an escaped `[` starts no POSIX class: a set of `[:alph`, then `]+`
        ("^[\\[:alpha:]]+$", ["[]", "h]]"], ["b]", "a"]),
    ],
)
def test_posix_classes(pattern: str, matching: list[str], other: list[str]) -> None:
    assert compile_error(pattern) is None
    regex = re.compile(translate(pattern)[0])
    for text in matching:
        assert regex.fullmatch(text), text
    for text in other:
        assert not regex.fullmatch(text), text


def test_posix_upper_and_lower_are_caseless_with_tilde_star() -> None:
    regex = re.compile(translate("^[[:upper:]]+$")[0], re.IGNORECASE)
    assert regex.fullmatch("aBc")


def test_posix_class_keeps_named_groups_and_offsets() -> None:
    text, origin = translate("(?<id>[[:digit:]])(")
    assert re.compile(text[:-1]).groupindex == {"id": 1}
    assert origin[text.index("\\x30")] == 7
    assert origin[len(text) - 1] == len("(?<id>[[:digit:]])")
