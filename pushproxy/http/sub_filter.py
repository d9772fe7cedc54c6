"""nginx's sub filter: `sub_filter STRING REPLACEMENT` (several allowed, both with variables)
replaces text in the bodies of a location's answers whose type is among `sub_filter_types`
(text/html by default; `*`: any), as ngx_http_sub_filter_module does:

- strings are matched letter case aside (ASCII), the leftmost first, of two at one place the
  first written; with `sub_filter_once on` (the default) each string is replaced once;
- the answer loses its `Content-Length` (the body's length changes), and its
  `Last-Modified` and `ETag` unless `sub_filter_last_modified on` (then the tag is weak);
- a match may span the pieces a body comes in: what could begin one is held back until the
  next piece shows (`SubStream`; never more than the longest string).
Pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pushproxy.config.complex import ComplexValue, ComplexValueError, Lookup, compile_value
from pushproxy.config.model import Level
from pushproxy.http.static_rules import changed_body_headers

Headers = Sequence[tuple[bytes, bytes]]


def _compiled(text: str) -> ComplexValue:
    try:
        return compile_value(text)
    except ComplexValueError:  # `check` reports it
        return ComplexValue(text, (text,))


class SubStream:
    """One body's substitution, piece by piece."""

    __slots__ = ("_held", "_longest", "_once", "_regex", "_replacements", "_searches")

    def __init__(self, searches: list[bytes], replacements: list[bytes], once: bool) -> None:
        self._searches = searches
        self._replacements = replacements
        self._once = once
        self._longest = max(len(s) for s in searches)
        self._held = b""
        self._regex = self._compile()

    def _compile(self) -> re.Pattern[bytes] | None:
        alive = [s for s in self._searches if s]
        if not alive:
            return None
        alternatives = b"|".join(b"(" + re.escape(s) + b")" for s in self._searches if s)
        return re.compile(alternatives, re.IGNORECASE)

    def feed(self, data: bytes, *, last: bool = False) -> bytes:
        """The next piece of the body as it goes out; `last`: the body ends with it."""
        buffer = self._held + data if self._held else data
        regex = self._regex
        if regex is None:
            self._held = b""
            return buffer
        # What may begin a string is held back for the next piece (nothing else: a stream's
        # text goes out at once), unless the body ends.
        limit = len(buffer) if last else len(buffer) - self._partial(buffer)
        out: list[bytes] = []
        position = 0
        while regex is not None and position < limit:
            found = regex.search(buffer, position)
            if found is None or found.start() >= limit:
                break
            out.append(buffer[position : found.start()])
            index = self._alive_index(found.lastindex or 1)
            out.append(self._replacements[index])
            position = found.end()
            if self._once:
                self._searches[index] = b""  # replaced once: looked for no more
                regex = self._regex = self._compile()
        if regex is None:  # nothing more to look for: the rest passes as it is
            out.append(buffer[position:])
            self._held = b""
            return b"".join(out)
        end = max(position, limit)
        out.append(buffer[position:end])
        self._held = buffer[end:]
        return b"".join(out)

    def _partial(self, buffer: bytes) -> int:
        """How many bytes at the end of `buffer` begin a string looked for (the most)."""
        tail = buffer[-(self._longest - 1) :].lower() if self._longest > 1 else b""
        for size in range(len(tail), 0, -1):
            suffix = tail[-size:]
            if any(search.startswith(suffix) for search in self._searches if search):
                return size
        return 0

    def _alive_index(self, group: int) -> int:
        """The string a regex group stands for (groups count the strings still looked for)."""
        seen = 0
        for index, search in enumerate(self._searches):
            if search:
                seen += 1
                if seen == group:
                    return index
        raise AssertionError(group)


@dataclass(frozen=True, slots=True)
class SubFilter:
    """A location's `sub_filter`s, `sub_filter_types`, `sub_filter_once` and
    `sub_filter_last_modified`, read at load."""

    pairs: tuple[tuple[ComplexValue, ComplexValue], ...]
    types: frozenset[bytes] | None  # None: any (`*`)
    once: bool = True
    last_modified: bool = False

    @classmethod
    def of(cls, level: Level) -> SubFilter | None:
        pairs = tuple(
            (_compiled(d.args[0]), _compiled(d.args[1]))
            for d in level.all("sub_filter")
            if len(d.args) == 2
        )
        if not pairs:
            return None
        named = [arg.lower() for d in level.all("sub_filter_types") for arg in d.args]
        types = None if "*" in named else frozenset(t.encode() for t in ["text/html", *named])
        return cls(
            pairs=pairs,
            types=types,
            once=level.values.get("sub_filter_once", True) is not False,
            last_modified=level.values.get("sub_filter_last_modified") is True,
        )

    def start(self, content_type: bytes | None, length: bytes | None, lookup: Lookup) -> (
        SubStream | None
    ):
        """The substitution for an answer of this type and `Content-Length` (None: the
        answer goes as it is: no string, an empty body, or a type not listed)."""
        if length == b"0":
            return None
        if self.types is not None:
            kind = (content_type or b"").split(b";", 1)[0].strip().lower()
            if kind not in self.types:
                return None
        searches, replacements = [], []
        for search, replacement in self.pairs:
            text = search.evaluate(lookup).encode("utf-8", "surrogateescape").lower()
            if text:
                searches.append(text)
                replacements.append(replacement.evaluate(lookup).encode("utf-8", "surrogateescape"))
        return SubStream(searches, replacements, self.once) if searches else None

    def headers(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """The answer's other headers once its body is changed: no `Last-Modified` and `ETag`
        (a weak `ETag` with `sub_filter_last_modified on`)."""
        dropped = () if self.last_modified else (b"last-modified", b"etag")
        return changed_body_headers(headers, dropped)
