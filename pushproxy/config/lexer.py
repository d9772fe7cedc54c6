"""nginx's tokenizer, as far as a regex cannot say it: the scan over the grammar's terminals, the
character after a closing quote, raw Lua bodies, the 4096-byte token limit, and where lines are.

Tokens are plain tuples (terminal name, text, offset): the parser touches every one, and lines
and columns are looked up only for what is reported.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator

# What may follow a closing quote (nginx's `need_space`): whitespace, ";", "{", or ")" which
# then starts a new word (so `if ($a = "b")` reads `b` and `)`).
AFTER_QUOTE_OK = frozenset(" \t\r\n;{)")
WORDS = frozenset({"WORD", "DQUOTED", "SQUOTED"})
TERMINALS = ("COMMENT", "SEMI", "LBRACE", "RBRACE", "DQUOTED", "SQUOTED", "WORD")
EOF_ERROR = 'unexpected end of file, expecting ";" or "}"'
EOF_IN_BLOCK = 'unexpected end of file, expecting "}"'
LUA_EOF_ERROR = "unexpected end of file, expecting terminating characters for lua code block"

# Lua as lua-nginx-module's reader skips it while looking for the block's closing brace:
# comments, long brackets and strings may hold braces.
_LUA_PIECE = re.compile(
    r"""--\[(?P<c>=*)\[[\s\S]*?\](?P=c)\]
      | --[^\n]*
      | \[(?P<s>=*)\[[\s\S]*?\](?P=s)\]
      | "(?:[^"\\\n]|\\[\s\S])*"
      | '(?:[^'\\\n]|\\[\s\S])*'
      | [{}]
      | [^-\["'{}]+
      | [\s\S]""",
    re.VERBOSE,
)

# A token: (terminal name, text, offset). Plain tuples: the parser touches every one; lines
# and columns are looked up only for what is reported (statement heads, ends, errors).
Token = tuple[str, str, int]


def one_byte(char: str) -> str:
    """nginx prints one byte of the offending character (`%c`)."""
    return char.encode("utf-8", "surrogateescape")[:1].decode("utf-8", "surrogateescape")


class LexError(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class Lines:
    """Offsets to (line, column), by binary search over where the newlines are."""

    __slots__ = ("newlines", "size")

    def __init__(self, text: str) -> None:
        self.newlines = [m.start() for m in _NEWLINE.finditer(text)]
        self.size = len(text)

    def line(self, offset: int) -> int:
        return bisect_left(self.newlines, offset) + 1

    def column(self, offset: int) -> int:
        index = bisect_left(self.newlines, offset)
        return offset - (self.newlines[index - 1] if index else -1)

    @property
    def eof_line(self) -> int:
        """nginx counts a line per LF read, so at the end the line is one past the last LF."""
        return len(self.newlines) + 1


_NEWLINE = re.compile("\n")


def tokens(text: str, scan: re.Pattern[str]) -> Iterator[Token]:
    """nginx's tokenizer: terminals by regex, plus the quote and Lua rules. Ends with `$END`."""
    size = len(text)
    lua = "_by_lua_block" in text
    first_word: str | None = None  # first word of the statement being read (for Lua)
    quote_end = -1  # where the last quoted word ended
    pos = 0
    while pos <= size:
        for match in scan.finditer(text, pos):
            kind = match.lastgroup
            # judged before an unclosed quote: in `"a"";`, the second `"` is the error
            if pos == quote_end and pos < size and text[pos] not in AFTER_QUOTE_OK:
                raise LexError(f'unexpected "{one_byte(text[pos])}"', pos)
            if match.start() != pos:  # nothing matched at pos: an unclosed quote or final "\\"
                raise _unclosed(text, pos)
            if kind is None:
                yield ("$END", "", size)
                return
            value = match.group(kind)
            pos = match.end()
            if len(value) >= _MAY_BE_TOO_LONG:
                _check_length(kind, value, pos, text)
            if kind == "DQUOTED" or kind == "SQUOTED":
                quote_end = pos
            if not lua:
                yield (kind, value, pos - len(value))
                continue
            if kind in WORDS:
                if first_word is None:
                    first_word = value if kind == "WORD" else value[1:-1]
            elif (
                kind == "LBRACE" and first_word is not None and first_word.endswith("_by_lua_block")
            ):
                body_end = _lua_body_end(text, pos)
                yield ("LUA_BODY", text[pos:body_end], pos - 1)
                first_word = None
                pos = body_end + 1
                break  # scan on after the Lua body
            elif kind != "COMMENT":
                first_word = None
            yield (kind, value, pos - len(value))
    raise LexError(EOF_ERROR, size)


# nginx reads the file through a 4096-byte buffer: a token (from where its scan started) that
# needs more than that fails. Only tokens this long in characters can be that long in bytes.
_BUFFER = 4096
_MAY_BE_TOO_LONG = _BUFFER // 4


def _byte_length(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


def _started(start_text: str, offset: int) -> LexError:
    return LexError(f'too long parameter "{start_text[:10]}..." started', offset)


def _check_length(kind: str, value: str, end: int, text: str) -> None:
    """nginx's "too long parameter" errors (the token scan outgrew the read buffer)."""
    start = end - len(value)
    if kind in ("WORD", "COMMENT"):
        # The character after the token must be read too, unless the file ends there.
        length = _byte_length(value)
        if length > _BUFFER or (length == _BUFFER and end < len(text)):
            raise _started(value, start)
    elif kind in ("DQUOTED", "SQUOTED"):
        content = _byte_length(value) - 2  # the scan starts after the opening quote
        if content >= _BUFFER:
            raise LexError(
                f'too long parameter, probably missing terminating "{value[0]}" character', start
            )
        # After the closing quote nginx reads one more character, and after whitespace there
        # one more again, before the scan's start moves on.
        after = len(text) - end
        if (content == _BUFFER - 1 and after >= 1) or (
            content == _BUFFER - 2 and after >= 2 and text[end] in " \t\r\n"
        ):
            raise _started(value[1:], start)


def _unclosed(text: str, start: int) -> LexError:
    """Nothing matched at `start`: a quote never closed, or a backslash at the very end."""
    start += len(text[start:]) - len(text[start:].lstrip(" \t\r\n"))
    if text[start] in "\"'" and _byte_length(text[start + 1 :]) > _BUFFER:
        return LexError(
            f'too long parameter, probably missing terminating "{text[start]}" character', start
        )
    return LexError(EOF_ERROR, len(text))


def _lua_body_end(text: str, start: int) -> int:
    """Index of the brace that closes a Lua block whose body starts at `start`."""
    depth, pos, size = 1, start, len(text)
    last_open = start - 1  # lua-nginx-module reports a missing end at the last "{" it read
    scan = _LUA_PIECE.match
    while pos < size:
        match = scan(text, pos)
        assert match is not None  # the last alternative takes any character
        piece = match.group()
        if piece == "{":
            depth += 1
            last_open = pos
        elif piece == "}":
            depth -= 1
            if depth == 0:
                return pos
        pos = match.end()
    raise LexError(LUA_EOF_ERROR, last_open)
