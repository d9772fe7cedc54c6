"""nginx's complex values: strings with `$name`, `${name}` and `$1`..`$9`, compiled once.

Evaluation takes a lookup function from variable name to value, so the HTTP layer supplies the
request's variables and this module stays pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")

Lookup = Callable[[str], str | None]


class ComplexValueError(ValueError):
    """nginx's message for a value it cannot compile, e.g. `invalid variable name in "$"`."""


@dataclass(frozen=True, slots=True)
class ComplexValue:
    """Literal text and variable names, alternating: `parts[0]` text, `parts[1]` name, ..."""

    source: str
    parts: tuple[str, ...]

    @property
    def is_literal(self) -> bool:
        return len(self.parts) == 1

    @property
    def variables(self) -> tuple[str, ...]:
        return self.parts[1::2]

    def evaluate(self, lookup: Lookup) -> str:
        parts = self.parts
        if len(parts) == 1:
            return parts[0]
        if len(parts) == 3 and not parts[0] and not parts[2]:  # one variable alone: `$host`
            return lookup(parts[1]) or ""
        out = [parts[0]]
        for index in range(1, len(parts), 2):
            out.append(lookup(parts[index]) or "")  # an unknown or unset variable is empty
            out.append(parts[index + 1])
        return "".join(out)


def compile_value(source: str) -> ComplexValue:
    """Split as ngx_http_script_compile() does; raise ComplexValueError with nginx's message."""
    parts: list[str] = []
    literal_start = 0
    i, size = 0, len(source)
    while i < size:
        if source[i] != "$":
            i += 1
            continue
        parts.append(source[literal_start:i])
        i += 1
        if i == size:
            raise ComplexValueError("invalid variable name")
        if "1" <= source[i] <= "9":  # a capture takes exactly one digit
            parts.append(source[i])
            i += 1
            literal_start = i
            continue
        bracket = source[i] == "{"
        if bracket:
            i += 1
        start = i
        while i < size and source[i] in _NAME_CHARS:
            i += 1
        name = source[start:i]
        if bracket:
            if i == size or source[i] != "}":
                raise ComplexValueError(f'the closing bracket in "{name}" variable is missing')
            i += 1
        if not name:
            raise ComplexValueError("invalid variable name")
        parts.append(name)
        literal_start = i
    parts.append(source[literal_start:])
    return ComplexValue(source, tuple(parts))


def with_captures(match: re.Match[str], lookup: Lookup) -> Lookup:
    """`lookup` with a regex match's captures in front: `$1`..`$9` (empty past the last
    group, or for one that matched nothing) and its named groups."""
    groups = match.groups("")
    named = match.groupdict()

    def captured(name: str) -> str | None:
        if name.isdigit():
            index = int(name)
            return groups[index - 1] if index <= len(groups) else ""
        found = named.get(name)
        return found if found is not None else lookup(name)

    return captured
