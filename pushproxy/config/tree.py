"""The syntax tree nginx's reader produces: directives with their arguments and blocks.

Nothing here judges meaning (contexts, arity, unknown names); that is the directive table's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pushproxy.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class Directive:
    """One statement: `name args... ;` or `name args... { block }`.

    `args` hold the values nginx sees (quotes removed, escapes resolved).
    `line`/`column` locate the name (crossplane's `line`); `end_line` is the line of the
    terminating `;` or `{`, which is where nginx reports errors about the directive.
    A comment (only kept on request) is a Directive named `#` with `comment` set.
    `includes` indexes `ParsedConfig.files` for an expanded `include`.
    `close_line` is the line of a block's closing brace (nginx reports what it checks when a
    block closes, such as the http block's merge-time validations, at that line).
    """

    name: str
    args: tuple[str, ...]
    file: str
    line: int
    column: int
    end_line: int
    block: tuple[Directive, ...] | None = None
    includes: tuple[int, ...] = ()
    comment: str | None = None
    close_line: int = 0

    @property
    def is_comment(self) -> bool:
        return self.comment is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigFile:
    """One file as read: its statements and its errors.

    After a syntax error, `parsed` holds the statements nginx had read (and acted on) before it.
    """

    file: str
    parsed: tuple[Directive, ...]
    errors: tuple[ConfigError, ...] = ()

    @property
    def stopped_early(self) -> bool:
        """Reading stopped at a syntax error (or the file could not be read at all)."""
        return any(e.stops_reading for e in self.errors if e.file == self.file)


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedConfig:
    """Every file read for one configuration, the main file first, in the order nginx reads them."""

    files: tuple[ConfigFile, ...]
    errors: tuple[ConfigError, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.errors
