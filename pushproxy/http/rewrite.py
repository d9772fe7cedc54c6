"""nginx's rewrite phase: `set`, `if`, `return`, `break` and `rewrite`.

A level's rewrite directives run in configuration order, as nginx runs its script: `set`
assigns a variable; an `if` whose condition holds runs its block's directives and makes the
request's configuration the block's, then the outer directives after it go on (so of several
`if`s that hold, the last one's block serves the request); `return` ends the phase with its
answer, `break` without one. A `rewrite` (see `rewrite_rule`) changes the URI and goes on,
or ends the phase: `last` to find the location again, `break` to stay, or with a redirect.
A phase that changed the URI without ending finds the location again too, unless a `break`
stopped it. Conditions and rules are compiled once per configuration.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from pushproxy.config import pcre
from pushproxy.config.complex import ComplexValue, ComplexValueError, compile_value
from pushproxy.config.model import Location
from pushproxy.config.tree import Directive
from pushproxy.config.variable_rules import REGEX_MATCHES
from pushproxy.http.captures import Captures
from pushproxy.http.rewrite_rule import Redirect, RewriteRule, apply_rule, compile_rule
from pushproxy.http.target import RequestTarget
from pushproxy.http.variables import RequestVars
from pushproxy.logs import request_context

log = logging.getLogger("pushproxy")
_FILE_TESTS: dict[str, Callable[[str], bool]] = {
    "-f": os.path.isfile,
    "-d": os.path.isdir,
    "-e": os.path.exists,
    "-x": lambda path: os.access(path, os.X_OK),
}
_REWRITE_DIRECTIVES = frozenset({"set", "if", "return", "break", "rewrite"})


class SearchAgain:
    """The phase changed the URI (`rewrite ... last`, or without a flag): nginx finds the
    request's location anew."""


SEARCH_AGAIN = SearchAgain()
# How a level's phase ended: a `return`, a rewrite's redirect, a new location search, or a
# status nginx answers (500 for a rewritten URI of zero length); None: the location's handler.
Ending = Directive | Redirect | SearchAgain | int


@dataclass(frozen=True, slots=True)
class Condition:
    """One `if (...)` condition. `kind`: "var", "=", "!=", a regex operator, or a file test."""

    kind: str
    subject: ComplexValue
    value: ComplexValue | None = None
    regex: re.Pattern[str] | None = None

    def holds(self, variables: RequestVars) -> bool:
        subject = self.subject.evaluate(variables.lookup)
        if self.kind == "var":
            return subject not in ("", "0")
        if self.regex is not None:
            match = self.regex.search(subject)
            if match is not None and not self.kind.startswith("!"):
                variables.add_captures(
                    Captures(
                        tuple(g or "" for g in match.groups()),
                        {k: v or "" for k, v in match.groupdict().items()},
                    )
                )
            return (match is not None) != self.kind.startswith("!")
        if self.kind in ("=", "!="):
            assert self.value is not None
            return (subject == self.value.evaluate(variables.lookup)) == (self.kind == "=")
        negated = self.kind.startswith("!")
        return _FILE_TESTS[self.kind.lstrip("!")](subject) != negated


def compile_condition(directive: Directive) -> Condition | None:
    """The condition of an `if` directive, split as ngx_http_rewrite_if_condition() does."""
    args = list(directive.args)
    if not args or not args[0].startswith("(") or not args[-1].endswith(")"):
        return None
    args[0] = args[0][1:]
    args[-1] = args[-1][:-1]
    args = [a for i, a in enumerate(args) if a or 0 < i < len(args) - 1]
    try:
        if len(args) == 1 and args[0].startswith("$"):
            return Condition("var", compile_value(args[0]))
        if len(args) == 2 and args[0].lstrip("!") in _FILE_TESTS:
            return Condition(args[0], compile_value(args[1]))
        if len(args) == 3 and args[1] in ("=", "!="):
            return Condition(args[1], compile_value(args[0]), compile_value(args[2]))
        if len(args) == 3 and args[1] in REGEX_MATCHES:
            caseless = args[1].endswith("*")
            python = pcre.translate(args[2])[0]
            regex = re.compile(python, pcre.regex_flags(caseless))
            return Condition(args[1], compile_value(args[0]), regex=regex)
    except (ComplexValueError, re.error):
        return None
    return None


class RewritePhase:
    """The rewrite directives of one configuration, compiled on first use and kept."""

    def __init__(self) -> None:
        self._conditions: dict[int, Condition | None] = {}
        self._values: dict[int, ComplexValue | None] = {}
        self._rules: dict[int, RewriteRule | None] = {}
        self._scripts: dict[int, tuple[tuple[Directive, Location | None], ...]] = {}

    def _script(self, location: Location) -> tuple[tuple[Directive, Location | None], ...]:
        """The level's rewrite directives in order, each `if` with its block's location: worked
        out once per level, not on every request (a server block holds much else)."""
        key = id(location)
        script = self._scripts.get(key)
        if script is None:
            block = location.directive.block if location.directive is not None else None
            inner = {id(c.directive): c for c in location.conditions if c.directive is not None}
            script = tuple(
                (d, inner.get(id(d))) for d in block or () if d.name in _REWRITE_DIRECTIVES
            )
            self._scripts[key] = script
        return script

    def scripted(self, location: Location) -> bool:
        """Whether the level has rewrite directives (`rewrite`, `if`, `set`, `return`...)."""
        return bool(self._script(location))

    def _condition(self, directive: Directive) -> Condition | None:
        key = id(directive)
        if key not in self._conditions:
            self._conditions[key] = compile_condition(directive)
        return self._conditions[key]

    def _value(self, directive: Directive) -> ComplexValue | None:
        key = id(directive)
        if key not in self._values:
            try:
                self._values[key] = compile_value(directive.args[1])
            except (ComplexValueError, IndexError):
                self._values[key] = None
        return self._values[key]

    def _rule(self, directive: Directive) -> RewriteRule | None:
        key = id(directive)
        if key not in self._rules:
            self._rules[key] = compile_rule(directive)
        return self._rules[key]

    def run(self, location: Location, variables: RequestVars) -> tuple[Location, Ending | None]:
        """The location whose configuration serves the request, and how the phase ended (None:
        that configuration's handler answers)."""
        if not self._script(location):  # most levels have no rewrite directive at all
            return location, None
        before = variables.target
        chosen, ending, stopped = self._run(location, variables, before)
        if not stopped and variables.target is not before:
            return chosen, SEARCH_AGAIN
        return chosen, ending

    def _run(
        self, location: Location, variables: RequestVars, before: RequestTarget
    ) -> tuple[Location, Ending | None, bool]:
        """`location`'s directives; (configuration, ending, whether the phase stopped). The
        configuration is the location's, or that of the last `if` inside it that held.
        `before`: the target when the phase began."""
        chosen = location
        for directive, inner in self._script(location):
            name = directive.name
            if name == "rewrite":
                rule = self._rule(directive)
                if rule is None:
                    continue
                result = apply_rule(rule, variables)
                if result is None:
                    continue
                if isinstance(result, Redirect):
                    return chosen, result, True
                if not result.uri:
                    context = request_context(variables.lookup)
                    log.error("the rewritten URI has a zero length, %s", context)
                    return chosen, 500, True
                variables.retarget(result)
                if rule.flag == "last":
                    return chosen, SEARCH_AGAIN, True
                if rule.flag == "break":
                    return chosen, None, True
            elif name == "set" and len(directive.args) == 2:
                value = self._value(directive)
                if value is not None:
                    variables.set(directive.args[0].lstrip("$"), value.evaluate(variables.lookup))
            elif name == "if" and inner is not None:
                condition = self._condition(directive)
                if condition is not None and condition.holds(variables):
                    chosen, ending, stopped = self._run(inner, variables, before)
                    if stopped:
                        return chosen, ending, True
            elif name == "return":
                return chosen, directive, True
            elif name == "break":
                if variables.target is not before:  # as `rewrite ... break` would have
                    variables.retarget(replace(variables.target, left_location=True))
                return chosen, None, True
        return chosen, None, False
