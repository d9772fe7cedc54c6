"""Regex captures as nginx keeps them for a request: `$1`..`$9` and named groups."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Captures:
    """Regex captures: `$1`..`$9` (`positional`) and named groups (`named`)."""

    positional: tuple[str, ...] = ()
    named: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def then(self, later: Captures | None) -> Captures:
        """After a later match (None: none): every match sets `$1`.. anew, even one without
        groups (nginx's `r->ncaptures`), while named captures are variables each match sets."""
        if later is None:
            return self
        if not self.named or not later.named:
            return Captures(later.positional, later.named or self.named)
        return Captures(later.positional, MappingProxyType({**self.named, **later.named}))


NO_CAPTURES = Captures()


def captures_of(match: re.Match[str]) -> Captures:
    """A regex match's captures (`$1`..., named ones)."""
    named = match.groupdict("")
    if not named:  # the usual case: one shared empty mapping
        return Captures(match.groups(""), NO_CAPTURES.named)
    return Captures(match.groups(""), MappingProxyType(named))
