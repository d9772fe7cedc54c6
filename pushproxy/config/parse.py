"""Reading nginx.conf text into Directives, exactly as nginx's reader splits it.

Lark compiles grammar/nginx.lark into LALR tables once; a small driver here runs those tables
over the lexer's tokens and builds Directives directly (Lark's own tree builder costs several
times more per token, and parsing speed is a feature). The lexer (lexer.py) scans with one
regex made of the grammar's terminals and adds the rules of nginx's reader that are not regular.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark
from lark.parsers.lalr_analysis import Shift

from pushproxy.config.lexer import (
    EOF_ERROR,
    EOF_IN_BLOCK,
    TERMINALS,
    WORDS,
    LexError,
    Lines,
    Token,
    tokens,
)
from pushproxy.config.tree import Directive
from pushproxy.errors import ConfigError

# nginx resolves these escapes in every word; any other `\X` stays as the two characters.
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "t": "\t", "r": "\r", "n": "\n"}
_ESCAPE_RE = re.compile(r"\\([\s\S])")

class ConfigSyntaxError(ConfigError):
    """A syntax error, with what nginx had already read and acted on before reaching it."""

    stops_reading = True

    def __init__(self, message: str, *, file: str, line: int, column: int = 0) -> None:
        super().__init__(message, file=file, line=line, column=column)
        self.partial: tuple[Directive, ...] = ()


def grammar_text() -> str:
    """The grammar, from the installed package or, in a checkout, from the top-level folder."""
    packaged = resources.files("pushproxy").joinpath("grammar/nginx.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parents[2] / "grammar" / "nginx.lark"
    return checkout.read_text(encoding="utf-8")


def _resolve(escape: re.Match[str]) -> str:
    return _ESCAPES.get(escape[1], escape[0])


def unescape(word: str) -> str:
    """nginx's escape resolution, applied to every word after quotes are removed."""
    if "\\" not in word:
        return word
    return _ESCAPE_RE.sub(_resolve, word)


def decode(data: bytes) -> str:
    """nginx reads bytes; undecodable ones survive the round trip as surrogates."""
    return data.decode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class _Tables:
    """The grammar compiled: scanner regex, LALR actions (>= 0 shift, < 0 reduce) and rules."""

    scan: re.Pattern[str]
    actions: dict[int, dict[str, int]]
    rules: tuple[tuple[str, int, tuple[str, ...]], ...]  # (origin, size, expansion names)
    start: int
    end: int


@cache
def _tables() -> _Tables:
    lark = Lark(grammar_text(), parser="lalr", lexer="basic")
    patterns = {t.name: t.pattern.to_regexp() for t in lark.terminals}
    alternatives = "|".join(f"(?P<{name}>{patterns[name]})" for name in TERMINALS)
    # Leading whitespace rides along with each token; `\Z` takes trailing whitespace.
    scan = re.compile(f"(?:{patterns['WS']})?(?:{alternatives}|\\Z)")
    rules = tuple(lark.rules)
    index = {id(rule): i for i, rule in enumerate(rules)}
    table = lark.parser.parser.parser.parse_table
    actions = {
        state: {
            str(symbol): arg if action is Shift else -1 - index[id(arg)]
            for symbol, (action, arg) in row.items()
        }
        for state, row in table.states.items()
    }
    return _Tables(
        scan=scan,
        actions=actions,
        rules=tuple(
            (str(r.origin.name), len(r.expansion), tuple(str(s.name) for s in r.expansion))
            for r in rules
        ),
        start=table.start_states["start"],
        end=table.end_states["start"],
    )


class _Builder:
    """Semantic actions: turn reduced statements into Directives."""

    __slots__ = ("comments", "file", "lines")

    def __init__(self, file: str, comments: bool, lines: Lines) -> None:
        self.file = file
        self.comments = comments
        self.lines = lines

    def comment(self, token: Token, line: int | None = None) -> Directive:
        own_line = self.lines.line(token[2])
        return Directive(
            name="#",
            args=(),
            file=self.file,
            line=own_line if line is None else line,
            column=self.lines.column(token[2]),
            end_line=own_line,
            comment=token[1][1:],
        )

    def statement(
        self,
        head: Token,
        words: list[Token],
        end: Token,
        block: tuple[Directive, ...] | None,
        close: Token | None = None,
    ) -> list[Directive]:
        args: list[str] = []
        comments: list[Token] = []
        for kind, text, offset in words:
            if kind != "WORD":
                if kind == "COMMENT":
                    comments.append((kind, text, offset))
                    continue
                text = text[1:-1]
            args.append(_ESCAPE_RE.sub(_resolve, text) if "\\" in text else text)
        if end[0] == "LUA_BODY":
            args.append(end[1])
        lines = self.lines
        directive = Directive(
            name=unescape(head[1] if head[0] == "WORD" else head[1][1:-1]),
            args=tuple(args),
            file=self.file,
            line=lines.line(head[2]),
            column=lines.column(head[2]),
            end_line=lines.line(end[2]),
            block=block,
            close_line=lines.line(close[2]) if close is not None else 0,
        )
        if not (comments and self.comments):
            return [directive]
        return [directive, *(self.comment(c, line=directive.line) for c in comments)]

    def items(self, values: list[Any]) -> tuple[Directive, ...]:
        items: list[Directive] = []
        for value in values:
            if isinstance(value, tuple):  # a comment token between statements
                if self.comments:
                    items.append(self.comment(value))
            else:
                items.extend(value)
        return tuple(items)

    def reduce(self, origin: str, names: tuple[str, ...], children: list[Any]) -> Any:
        if origin == "start":
            return self.items(children[0]) if children else ()
        head = children[0]
        words: list[Token] = []
        block: tuple[Directive, ...] | None = None
        end = children[-1]
        for name, child in zip(names[1:], children[1:], strict=True):
            if name == "LBRACE":
                end = child
                block = ()
            elif name.startswith("__"):
                if block is None:
                    words = child
                else:
                    block = self.items(child)
        return self.statement(head, words, end, block, children[-1] if block is not None else None)

    def partial(self, values: list[Any]) -> tuple[Directive, ...]:
        """The statements a failed parse had completed, inside the blocks still open.

        Walks the parser's value stack: lists after a statement's first word are its
        arguments, other lists are items; a statement without its `;` was never acted on.
        """
        items: list[Directive] = []
        words: list[Token] | None = None  # the statement being read
        open_blocks: list[tuple[list[Token], Token, list[Directive]]] = []
        for value in values:
            if isinstance(value, list):
                if words is not None:
                    words.extend(value)
                else:
                    items.extend(self.items(value))
                continue
            kind = value[0]
            if kind in WORDS and words is None:
                words = [value]
            elif kind == "COMMENT" or kind in WORDS:
                if words is not None:
                    words.append(value)
                else:
                    items.extend(self.items([value]))
            elif kind == "LBRACE" and words is not None:
                open_blocks.append((words, value, items))
                words, items = None, []
            elif kind in ("SEMI", "LUA_BODY") and words is not None:
                items.extend(self.statement(words[0], words[1:], value, None))
                words = None
            elif kind == "RBRACE" and open_blocks:
                head, brace, outer = open_blocks.pop()
                outer.extend(self.statement(head[0], head[1:], brace, tuple(items), value))
                items = outer
        while open_blocks:
            head, brace, outer = open_blocks.pop()
            outer.extend(self.statement(head[0], head[1:], brace, tuple(items)))
            items = outer
        return tuple(items)


def parse_text(
    text: str, *, file: str = "<string>", comments: bool = False
) -> tuple[Directive, ...]:
    """Parse one file's text; raise ConfigSyntaxError with nginx's message for the first error."""
    tables = _tables()
    actions, rules, end_state = tables.actions, tables.rules, tables.end
    lines = Lines(text)
    builder = _Builder(file, comments, lines)
    reduce = builder.reduce
    states: list[int] = [tables.start]
    values: list[Any] = []
    stream = tokens(text, tables.scan)
    try:
        for token in stream:
            kind = token[0]
            while True:
                action = actions[states[-1]].get(kind)
                if action is None:
                    raise _unexpected(
                        token, lines, file, actions[states[-1]], builder.partial(values)
                    )
                if action >= 0:
                    states.append(action)
                    values.append(token)
                    break
                origin, size, names = rules[-1 - action]
                if origin[0] == "_":  # a repetition: one list that grows, built in place
                    if size == 1:
                        values[-1] = [values[-1]]
                        states.pop()
                    else:
                        item = values.pop()
                        values[-1].append(item)
                        del states[-2:]
                    states.append(actions[states[-1]][origin])
                    continue
                if size:
                    children = values[-size:]
                    del values[-size:]
                    del states[-size:]
                else:
                    children = []
                states.append(actions[states[-1]][origin])
                values.append(reduce(origin, names, children))
                if kind == "$END" and states[-1] == end_state:
                    result: tuple[Directive, ...] = values[-1]
                    return result
    except LexError as error:
        syntax = _located(str(error), error.offset, lines, file)
        syntax.partial = builder.partial(values)
        raise syntax from None
    raise AssertionError("the token stream always ends with $END")


def _located(message: str, offset: int, lines: Lines, file: str) -> ConfigSyntaxError:
    if offset >= lines.size:
        return ConfigSyntaxError(message, file=file, line=lines.eof_line)
    return ConfigSyntaxError(
        message, file=file, line=lines.line(offset), column=lines.column(offset)
    )


def _unexpected(
    token: Token,
    lines: Lines,
    file: str,
    expected: dict[str, int],
    partial: tuple[Directive, ...],
) -> ConfigSyntaxError:
    kind, value, offset = token
    if kind == "$END":
        message = EOF_ERROR if "SEMI" in expected else EOF_IN_BLOCK
    else:
        message = f'unexpected "{value[0]}"'
    error = _located(message, offset, lines, file)
    error.partial = partial
    return error
