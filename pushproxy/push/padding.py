"""Padding by user agent (§5.5): old browsers buffer a stream until enough bytes arrived.

`push_stream_padding_by_user_agent` is parsed into rules; `Paddings` holds the padding bytes,
built once for the largest minimum in the whole configuration, as the module does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pushproxy.errors import PushProxyError

# The module's own pattern; searched (not anchored) so a match that does not start at the
# beginning of the rest is reported as a separate error.
_ENTRY = re.compile(rb"([^:]+),(\d+),(\d+)")

UNABLE_TO_PARSE = "push stream module: push stream module: unable to parse paddings by user agent"


class PaddingSyntaxError(PushProxyError):
    """A `push_stream_padding_by_user_agent` value the module rejects.

    `lines` are the two errors nginx logs, in order: the detail, then `UNABLE_TO_PARSE`.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.lines = (detail, UNABLE_TO_PARSE)


@dataclass(frozen=True, slots=True, kw_only=True)
class PaddingRule:
    """One `regex,hdr_min,msg_min` entry; `agent` is searched anywhere in the user agent."""

    agent: re.Pattern[bytes]
    header_min: int
    message_min: int


def _text(value: bytes) -> str:
    return value.decode("utf-8", "backslashreplace")


def parse_paddings(value: bytes) -> tuple[PaddingRule, ...]:
    """Parse `regex,hdr_min,msg_min[:regex,hdr_min,msg_min...]` as `parse_paddings()` does."""
    rules: list[PaddingRule] = []
    rest = value
    while rest:
        match = _ENTRY.search(rest)
        if match is None:
            raise PaddingSyntaxError(
                f"push stream module: padding pattern not match the value {_text(rest)}"
            )
        if match.start() != 0:
            raise PaddingSyntaxError(
                f"push stream module: error applying padding pattern to {_text(rest)}"
            )
        pattern = match.group(1)
        try:
            agent = re.compile(pattern)
        except re.error as exc:
            raise PaddingSyntaxError(
                f"push stream module: unable to compile agent pattern {_text(pattern)}"
            ) from exc
        rules.append(
            PaddingRule(
                agent=agent, header_min=int(match.group(2)), message_min=int(match.group(3))
            )
        )
        # The module skips one byte after the match, whatever it is (normally the `:`).
        rest = rest[match.end() + 1 :]
    return tuple(rules)


def max_padding(rule_sets: Iterable[Sequence[PaddingRule]]) -> int:
    """The largest header or message minimum in the configuration (the module's MAX)."""
    return max(
        (max(rule.header_min, rule.message_min) for rules in rule_sets for rule in rules),
        default=0,
    )


def choose_padding(rules: Sequence[PaddingRule], user_agent: bytes | None) -> PaddingRule | None:
    """The first rule whose regex matches anywhere in the user agent; none for an empty one."""
    if not user_agent:
        return None
    for rule in rules:
        if rule.agent.search(user_agent) is not None:
            return rule
    return None


class Paddings:
    """Padding chunks for one configuration, shared by every subscriber.

    Chunk k is `(k+1)*100` bytes, except the last (`k == MAX // 100`), which is MAX bytes.
    Normal modes use the tail of a repeated CRLF (odd sizes start with `\\n`); eventsource
    uses `size-1` colons and a `\\n`, a comment line the browser ignores.
    """

    __slots__ = ("_eventsource", "_text", "max_len")

    def __init__(self, max_len: int) -> None:
        self.max_len = max_len
        steps = max_len // 100
        sizes = [(k + 1) * 100 for k in range(steps)] + [max_len]
        even = max_len + max_len % 2
        crlf = b"\r\n" * (even // 2)
        self._text = tuple(crlf[len(crlf) - size :] if size else b"" for size in sizes)
        self._eventsource = tuple(b":" * (size - 1) + b"\n" if size else b"" for size in sizes)

    def padding(self, target: int, length: int, *, eventsource: bool) -> bytes:
        """Bytes to send after a piece of `length` bytes whose minimum is `target`."""
        diff = target - length
        if diff <= 0 or self.max_len <= 0:
            return b""
        chunks = self._eventsource if eventsource else self._text
        return chunks[min(diff // 100, len(chunks) - 1)]

    def after_header(self, rule: PaddingRule | None, length: int, *, eventsource: bool) -> bytes:
        """Padding after a non-empty header template."""
        if rule is None or length == 0:
            return b""
        return self.padding(rule.header_min, length, eventsource=eventsource)

    def after_message(self, rule: PaddingRule | None, length: int, *, eventsource: bool) -> bytes:
        """Padding after a message (live, old, ping or deleted), measured on its rendering."""
        if rule is None:
            return b""
        return self.padding(rule.message_min, length, eventsource=eventsource)
