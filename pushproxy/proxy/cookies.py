"""`proxy_cookie_domain` and `proxy_cookie_path`: an upstream's `Set-Cookie` made to fit the
names and paths clients see, as ngx_http_proxy_rewrite_cookie() does.

In each `Set-Cookie` (its first `name=value` aside), the `domain=` and `path=` attributes go
through the location's rules, the first that matches winning:
- `proxy_cookie_domain DOMAIN REPLACEMENT`: the whole domain, letter case aside and a leading
  dot (kept) aside; leading dots of DOMAIN and REPLACEMENT are dropped;
- `proxy_cookie_path PATH REPLACEMENT`: a path that starts with PATH, which is replaced;
- either with `~` (`~*`: letter case aside) and a regex, searched in the value, which is then
  replaced whole (REPLACEMENT may use the captures);
- `off` forgets the rules inherited or given before it.
A header a rule changed is written anew, its attributes trimmed and joined by `; `; any other
stays as the upstream sent it. Values may use variables.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pushproxy.config.complex import (
    ComplexValue,
    ComplexValueError,
    Lookup,
    compile_value,
    with_captures,
)
from pushproxy.config.pcre import compile_regex
from pushproxy.config.tree import Directive
from pushproxy.errors import ConfigError


@dataclass(frozen=True, slots=True)
class CookieRule:
    """One rule: a pattern (text with variables) or a regex, and the replacement."""

    replacement: ComplexValue
    pattern: ComplexValue | None = None
    regex: re.Pattern[str] | None = None

    def apply(self, value: str, lookup: Lookup, *, domain: bool) -> str | None:
        """The attribute's new value, or None when the rule does not match."""
        if self.regex is not None:
            match = self.regex.search(value)
            if match is None:
                return None
            return self.replacement.evaluate(with_captures(match, lookup))
        assert self.pattern is not None
        pattern = self.pattern.evaluate(lookup)
        if domain:
            dot = "." if value.startswith(".") else ""
            if value[len(dot) :].lower() != pattern.lower():
                return None
            return dot + self.replacement.evaluate(lookup)
        if not value.startswith(pattern):
            return None
        return self.replacement.evaluate(lookup) + value[len(pattern) :]


def cookie_rules(directives: Sequence[Directive], *, domain: bool) -> tuple[CookieRule, ...]:
    """The rules of a location's `proxy_cookie_domain` or `proxy_cookie_path` directives."""
    rules: list[CookieRule] = []
    for directive in directives:
        args = directive.args
        if args == ("off",):
            rules.clear()
            continue
        if len(args) != 2:
            continue
        source, target = args
        if domain and target.startswith("."):
            target = target[1:]
        try:
            replacement = compile_value(target)
            if source.startswith("~"):
                caseless = source.startswith("~*")
                pattern = source[2 if caseless else 1 :]
                regex = compile_regex(directive, pattern, caseless=caseless)
                rules.append(CookieRule(replacement, regex=regex))
            else:
                if domain and source.startswith("."):
                    source = source[1:]
                rules.append(CookieRule(replacement, pattern=compile_value(source)))
        except (ComplexValueError, ConfigError):
            continue
    return tuple(rules)


def rewrite_cookie(
    value: bytes,
    domains: Sequence[CookieRule],
    paths: Sequence[CookieRule],
    lookup: Lookup,
) -> bytes:
    """A `Set-Cookie` value once the rules went over its `domain=` and `path=`."""
    text = value.decode("utf-8", "surrogateescape")
    attributes: list[tuple[str, str | None]] = []
    for part in text.split(";"):
        key, equals, rest = part.partition("=")
        attributes.append((key.strip(" \t"), rest.strip(" \t") if equals else None))
    if not attributes or attributes[0][1] is None:
        return value
    changed = False
    for index, (key, current) in enumerate(attributes[1:], start=1):
        lower = key.lower()
        if current is None or lower not in ("domain", "path"):
            continue
        rules = domains if lower == "domain" else paths
        for rule in rules:
            new = rule.apply(current, lookup, domain=lower == "domain")
            if new is not None:
                attributes[index] = (key, new)
                changed = True
                break
    if not changed:
        return value
    joined = "; ".join(key if rest is None else f"{key}={rest}" for key, rest in attributes)
    return joined.encode("utf-8", "surrogateescape")
