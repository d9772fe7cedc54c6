"""Regular expressions as nginx compiles them: PCRE2 syntax, PCRE2's error texts.

Python's `re` stands in for PCRE2. Named groups are translated first (`(?<n>..)`, `(?'n'..)`
become `(?P<n>..)`). When `re` fails, its error is reported only if it is one of the cases
PCRE2 also rejects, worded and positioned as pcre2_compile() words them; errors that come
from a PCRE feature `re` lacks (`\\z`, `(*UTF)`, variable lookbehind...) are not reported,
since nginx accepts those patterns.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from pushproxy.config.tree import Directive
from pushproxy.errors import ConfigError

_NAMED_GROUP = re.compile(r"\(\?(?:<(?![=!])|')")


@dataclass(frozen=True, slots=True, kw_only=True)
class PcreError:
    """A pattern pcre2_compile() rejects: its message and the offset it reports."""

    message: str
    offset: int | None  # None: the error is at the end of the pattern

    def nginx_text(self, pattern: str) -> str:
        """The text nginx logs: `pcre2_compile() failed: <msg> in "<re>"[ at "<rest>"]`."""
        text = f'pcre2_compile() failed: {self.message} in "{pattern}"'
        if self.offset is not None and self.offset < len(pattern):
            text += f' at "{pattern[self.offset:]}"'
        return text


def translate(pattern: str) -> tuple[str, list[int]]:
    """PCRE named groups to Python's; also where each Python index came from in `pattern`."""
    out: list[str] = []
    origin: list[int] = []
    pos = 0
    while pos < len(pattern):
        char = pattern[pos]
        if char == "\\" and pos + 1 < len(pattern):
            out += [char, pattern[pos + 1]]
            origin += [pos, pos + 1]
            pos += 2
            continue
        match = _NAMED_GROUP.match(pattern, pos)
        if match:
            quoted = match.group().endswith("'")
            out += ["(", "?", "P", "<"]
            origin += [pos, pos + 1, pos + 2, pos + 2]
            pos = match.end()
            if quoted:
                close = pattern.find("'", pos)
                if close != -1:
                    out += [*pattern[pos:close], ">"]
                    origin += [*range(pos, close), close]
                    pos = close + 1
            continue
        out.append(char)
        origin.append(pos)
        pos += 1
    origin.append(len(pattern))
    return "".join(out), origin


_RANGE = re.compile(r"bad character range (.+)")
_DUP_NAME = re.compile(r"redefinition of group name '(.+?)'")
_BAD_NAME = re.compile(r"bad character in group name '(.*)'")
_CLASS_ESCAPE = re.compile(r"\\[dDwWsShHvV]$")


def _quantifier_end(text: str, pos: int) -> int:
    """Where a quantifier starting at `pos` ends: PCRE2 points at its last character."""
    if text.startswith("{", pos):
        close = text.find("}", pos)
        return close if close != -1 else pos
    return pos


def _range(msg: str, text: str, pos: int) -> tuple[str, int] | None:
    found = _RANGE.fullmatch(msg)
    if found is None:
        return None
    span = found.group(1)
    if _CLASS_ESCAPE.search(span):
        return "invalid range in character class", pos + len(span)
    return "range out of order in character class", pos + len(span) - 1


def _dup_name(msg: str, text: str, pos: int) -> tuple[str, int] | None:
    found = _DUP_NAME.match(msg)
    if found is None:
        return None
    return (
        "two named subpatterns have the same name (PCRE2_DUPNAMES not set)",
        pos + len(found.group(1)) + 1,
    )


def _bad_name(msg: str, text: str, pos: int) -> tuple[str, int] | None:
    found = _BAD_NAME.fullmatch(msg)
    if found is None or not found.group(1)[:1].isdigit():
        return None
    return "subpattern name must start with a non-digit", pos


def _nothing_to_repeat(msg: str, text: str, pos: int) -> tuple[str, int] | None:
    if msg != "nothing to repeat" or text[pos - 1 : pos] == "(":
        return None  # `(*VERB)` is PCRE syntax, not a quantifier
    return "quantifier does not follow a repeatable item", pos


def _fixed(
    python_msg: str, pcre_msg: str, where: Callable[[str, int], int] | None
) -> Callable[[str, str, int], tuple[str, int | None] | None]:
    def rule(msg: str, text: str, pos: int) -> tuple[str, int | None] | None:
        if msg != python_msg and not msg.startswith(python_msg + " "):
            return None
        return pcre_msg, (where(text, pos) if where else None)

    return rule


def _at(text: str, pos: int) -> int:
    return pos


def _next_brace(text: str, pos: int) -> int:
    close = text.find("}", pos)
    return close if close != -1 else pos


# Python's error -> PCRE2's message and offset (None: at the end of the pattern).
_RULES: tuple[Callable[[str, str, int], tuple[str, int | None] | None], ...] = (
    _fixed("missing ), unterminated subpattern", "missing closing parenthesis", None),
    _fixed("unbalanced parenthesis", "unmatched closing parenthesis", _at),
    _nothing_to_repeat,
    _fixed("multiple repeat", "quantifier does not follow a repeatable item", _quantifier_end),
    _fixed("unterminated character set", "missing terminating ] for character class", None),
    _range,
    _fixed("min repeat greater than max repeat", "numbers out of order in {} quantifier",
           _next_brace),
    _dup_name,
    _fixed("bad escape (end of pattern)", "\\ at end of pattern", None),
    _bad_name,
    _fixed("invalid group reference", "reference to non-existent subpattern", _at),
)


def compile_error(pattern: str, *, caseless: bool = False) -> PcreError | None:
    """The error pcre2_compile() reports for `pattern`, or None if it compiles (or may)."""
    text, origin = translate(pattern)
    flags = re.IGNORECASE if caseless else 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "possible nested set" and friends
            re.compile(text, flags)
    except re.error as error:
        pos = error.pos if error.pos is not None else len(text)
        for rule in _RULES:
            found = rule(error.msg, text, pos)
            if found is not None:
                message, offset = found
                if offset is not None:
                    offset = origin[min(offset, len(origin) - 1)]
                return PcreError(message=message, offset=offset)
    return None


def compile_regex(directive: Directive, pattern: str, *, caseless: bool) -> re.Pattern[str]:
    """A PCRE pattern as a Python regex; ConfigError at the directive (PCRE's wording where
    PCRE fails too)."""
    try:
        return re.compile(translate(pattern)[0], re.IGNORECASE if caseless else 0)
    except re.error as error:
        pcre_error = compile_error(pattern, caseless=caseless)
        message = (
            pcre_error.nginx_text(pattern)
            if pcre_error
            else f'regex "{pattern}" uses a PCRE feature pushproxy cannot run: {error}'
        )
        raise ConfigError(message, file=directive.file, line=directive.end_line) from None
