"""Regular expressions as nginx compiles them: PCRE2 syntax, PCRE2's error texts.

Python's `re` stands in for PCRE2. Patterns are translated first: named groups (`(?<n>..)`,
`(?'n'..)` become `(?P<n>..)`) and POSIX classes inside character classes (`[[:alnum:]]`)
become ASCII ranges. When `re` fails, its error is reported only if it is one of the cases
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


# PCRE2's POSIX classes as nginx compiles them (no PCRE2_UCP: ASCII only), as code point ranges.
POSIX_CLASSES: dict[str, tuple[tuple[int, int], ...]] = {
    "alnum": ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)),
    "alpha": ((0x41, 0x5A), (0x61, 0x7A)),
    "ascii": ((0x00, 0x7F),),
    "blank": ((0x09, 0x09), (0x20, 0x20)),
    "cntrl": ((0x00, 0x1F), (0x7F, 0x7F)),
    "digit": ((0x30, 0x39),),
    "graph": ((0x21, 0x7E),),
    "lower": ((0x61, 0x7A),),
    "print": ((0x20, 0x7E),),
    "punct": ((0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)),
    "space": ((0x09, 0x0D), (0x20, 0x20)),
    "upper": ((0x41, 0x5A),),
    "word": ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)),
    "xdigit": ((0x30, 0x39), (0x41, 0x46), (0x61, 0x66)),
}
_POSIX_CLASS = re.compile(r"\[:(\^?)(\w*):\]")
_MAX_CODE_POINT = 0x10FFFF
# Inside a Python set these start a nested set or a set operation (FutureWarning): escaped.
_SET_SPECIAL = frozenset("[&~|")


def _escape(code: int) -> str:
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _posix_members(ranges: tuple[tuple[int, int], ...], *, negated: bool) -> str:
    """A POSIX class as members of a Python character set (`[:^name:]`: its complement)."""
    if negated:
        complement, low = [], 0
        for first, last in ranges:
            if first > low:
                complement.append((low, first - 1))
            low = last + 1
        complement.append((low, _MAX_CODE_POINT))
        ranges = tuple(complement)
    return "".join(
        _escape(first) if first == last else f"{_escape(first)}-{_escape(last)}"
        for first, last in ranges
    )


def _scan(pattern: str) -> tuple[str, list[int], PcreError | None]:
    """`translate`, and the first error of PCRE2's own class syntax that `re` cannot see."""
    out: list[str] = []
    origin: list[int] = []
    error: PcreError | None = None
    pos = 0
    class_start = -1  # where the open character class's members start; -1: no class open
    while pos < len(pattern):
        char = pattern[pos]
        if char == "\\" and pos + 1 < len(pattern):
            out += [char, pattern[pos + 1]]
            origin += [pos, pos + 1]
            pos += 2
            continue
        posix = _POSIX_CLASS.match(pattern, pos) if char == "[" else None
        if class_start >= 0:
            if char == "]" and pos > class_start:
                class_start = -1
            elif posix is not None and posix.group(2) in POSIX_CLASSES:
                members = _posix_members(POSIX_CLASSES[posix.group(2)],
                                         negated=bool(posix.group(1)))
                out += members
                origin += [pos] * len(members)
                pos = posix.end()
                if pattern[pos : pos + 1] == "-" and pattern[pos + 1 : pos + 2] not in ("]", ""):
                    error = error or PcreError(message="invalid range in character class",
                                               offset=pos)
                continue
            elif posix is not None:
                error = error or PcreError(message="unknown POSIX class name", offset=pos + 2)
            if char in _SET_SPECIAL:
                out.append("\\")
                origin.append(pos)
            out.append(char)
            origin.append(pos)
            pos += 1
            continue
        if char == "[":
            if posix is not None:
                error = error or PcreError(
                    message="POSIX named classes are supported only within a class", offset=pos
                )
            class_start = pos + (2 if pattern[pos + 1 : pos + 2] == "^" else 1)
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
    return "".join(out), origin, error


def translate(pattern: str) -> tuple[str, list[int]]:
    """A PCRE pattern in Python's syntax, and where each Python index came from in `pattern`.

    Named groups become `(?P<n>..)`; POSIX classes inside a character class (`[[:alpha:]]`,
    `[[:^digit:]_]`) become the ASCII ranges PCRE2 gives them.
    """
    text, origin, _ = _scan(pattern)
    return text, origin


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


def regex_flags(caseless: bool) -> int:
    """nginx's PCRE runs without its UTF mode: `\\w`, `\\d`, `\\s`, `\\b` and caseless
    matching know ASCII only (`\\w` is no `é`, `~*` folds no long s, U+017F, into `s`)."""
    return re.ASCII | (re.IGNORECASE if caseless else 0)


def compile_error(pattern: str, *, caseless: bool = False) -> PcreError | None:
    """The error pcre2_compile() reports for `pattern`, or None if it compiles (or may)."""
    text, origin, class_error = _scan(pattern)
    flags = regex_flags(caseless)
    found_error: PcreError | None = None
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
                found_error = PcreError(message=message, offset=offset)
                break
    # PCRE2 reads the pattern once, left to right: the earlier of the two errors is its answer
    errors = [e for e in (class_error, found_error) if e is not None]
    return min(errors, key=lambda e: len(pattern) if e.offset is None else e.offset, default=None)


def compile_regex(directive: Directive, pattern: str, *, caseless: bool) -> re.Pattern[str]:
    """A PCRE pattern as a Python regex; ConfigError at the directive (PCRE's wording where
    PCRE fails too)."""
    try:
        return re.compile(translate(pattern)[0], regex_flags(caseless))
    except re.error as error:
        pcre_error = compile_error(pattern, caseless=caseless)
        message = (
            pcre_error.nginx_text(pattern)
            if pcre_error
            else f'regex "{pattern}" uses a PCRE feature pushproxy cannot run: {error}'
        )
        raise ConfigError(message, file=directive.file, line=directive.end_line) from None
