"""Regex compile errors worded and placed as nginx's pcre2_compile() message (checked against
nginx built with PCRE2)."""

from __future__ import annotations

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
     "[[:alpha:]]", "a++", "(?>a)"],
)
def test_pcre_syntax_compiles(pattern: str) -> None:
    assert compile_error(pattern) is None


def test_translate_keeps_offsets() -> None:
    text, origin = translate("a(?<n>b)")
    assert text == "a(?P<n>b)"
    assert origin[text.index("b")] == 6
