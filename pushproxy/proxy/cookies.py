"""`proxy_cookie_domain`, `proxy_cookie_path` and `proxy_cookie_flags`: an upstream's
`Set-Cookie` made to fit the names and paths clients see, and given the flags the server
wants, as ngx_http_proxy_rewrite_cookie() does.

In each `Set-Cookie` (its first `name=value` aside), the `domain=` and `path=` attributes go
through the location's rules, the first that matches winning:
- `proxy_cookie_domain DOMAIN REPLACEMENT`: the whole domain, letter case aside and a leading
  dot (kept) aside; leading dots of DOMAIN and REPLACEMENT are dropped;
- `proxy_cookie_path PATH REPLACEMENT`: a path that starts with PATH, which is replaced;
- either with `~` (`~*`: letter case aside) and a regex, searched in the value, which is then
  replaced whole (REPLACEMENT may use the captures);
- `off` forgets the rules inherited or given before it.
`proxy_cookie_flags COOKIE FLAG...` (COOKIE a name, letter case aside, or `~` and a regex; the
first rule naming the cookie wins) adds `secure`, `httponly` and `samesite=strict|lax|none`
where the cookie lacks them (a SameSite of another value is replaced) and takes away
`nosecure`, `nohttponly`, `nosamesite`; unknown flags are passed over.
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


Attributes = list[tuple[str, str | None]]  # a Set-Cookie's `name=value` first, then the rest
FLAGS = frozenset(
    {"secure", "nosecure", "httponly", "nohttponly", "nosamesite"}
    | {"samesite=strict", "samesite=lax", "samesite=none"}
)
_SAMESITE = (("samesite=strict", "Strict"), ("samesite=lax", "Lax"), ("samesite=none", "None"))


@dataclass(frozen=True, slots=True)
class FlagRule:
    """One `proxy_cookie_flags`: the cookie (a name with variables, or a regex) and flags."""

    flags: tuple[ComplexValue, ...]
    name: ComplexValue | None = None
    regex: re.Pattern[str] | None = None

    def names(self, cookie: str, lookup: Lookup) -> bool:
        if self.regex is not None:
            return self.regex.search(cookie) is not None
        assert self.name is not None
        return self.name.evaluate(lookup).lower() == cookie.lower()

    def given(self, lookup: Lookup) -> set[str]:
        """The flags, worked out (unknown ones left out, as nginx passes over them)."""
        return {flag.evaluate(lookup).lower() for flag in self.flags} & FLAGS


def flag_rules(directives: Sequence[Directive]) -> tuple[FlagRule, ...]:
    """The rules of a location's `proxy_cookie_flags` directives."""
    rules: list[FlagRule] = []
    for directive in directives:
        args = directive.args
        if args == ("off",):
            rules.clear()
            continue
        if len(args) < 2:
            continue
        try:
            flags = tuple(compile_value(arg) for arg in args[1:])
            if args[0].startswith("~"):
                regex = compile_regex(directive, args[0][1:], caseless=True)
                rules.append(FlagRule(flags, regex=regex))
            else:
                rules.append(FlagRule(flags, name=compile_value(args[0])))
        except (ComplexValueError, ConfigError):
            continue
    return tuple(rules)


def _same_site(flags: set[str], value: str | None) -> tuple[str, str | None] | None:
    """A `SameSite` attribute under the flags left (taken from `flags` as used): kept (its
    key and value), replaced, or None: taken away."""
    for flag, written in _SAMESITE:
        if flag in flags:
            flags.discard(flag)
            if (value or "").lower() != written.lower():
                return "SameSite", written
            return "", value
    return None if "nosamesite" in flags else ("", value)


def _set_flags(attributes: Attributes, rules: Sequence[FlagRule], lookup: Lookup) -> bool:
    """ngx_http_proxy_rewrite_cookie_flags() and ngx_http_proxy_edit_cookie_flags(): the
    first rule naming the cookie, applied attribute by attribute as nginx's bit mask is (a
    flag met is used up; what is left is added at the end); whether there were flags."""
    rule = next((r for r in rules if r.names(attributes[0][0], lookup)), None)
    flags = rule.given(lookup) if rule is not None else set()
    if not flags:
        return False
    kept: Attributes = [attributes[0]]
    for key, value in attributes[1:]:
        lower = key.lower()
        if lower in ("secure", "httponly"):
            if lower in flags:
                flags.discard(lower)
            elif "no" + lower in flags:
                continue
        elif lower == "samesite":
            edited = _same_site(flags, value)
            if edited is None:
                continue
            key, value = (edited[0] or key), edited[1]
        kept.append((key, value))
    kept += [(name, None) for name in ("Secure", "HttpOnly") if name.lower() in flags]
    kept += [("SameSite", written) for flag, written in _SAMESITE if flag in flags][:1]
    attributes[:] = kept
    return True


@dataclass(frozen=True, slots=True)
class CookieRules:
    """A location's `proxy_cookie_domain`, `proxy_cookie_path` and `proxy_cookie_flags`."""

    domains: tuple[CookieRule, ...] = ()
    paths: tuple[CookieRule, ...] = ()
    flags: tuple[FlagRule, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.domains or self.paths or self.flags)

    def rewrite(self, value: bytes, lookup: Lookup) -> bytes:
        """A `Set-Cookie` value once the rules went over it."""
        text = value.decode("utf-8", "surrogateescape")
        attributes: Attributes = []
        for part in text.split(";"):
            key, equals, rest = part.partition("=")
            attributes.append((key.strip(" \t"), rest.strip(" \t") if equals else None))
        if not attributes or attributes[0][1] is None:
            return value
        changed = self._rewrite_values(attributes, lookup)
        if self.flags and _set_flags(attributes, self.flags, lookup):
            changed = True
        if not changed:
            return value
        joined = "; ".join(key if rest is None else f"{key}={rest}" for key, rest in attributes)
        return joined.encode("utf-8", "surrogateescape")

    def _rewrite_values(self, attributes: Attributes, lookup: Lookup) -> bool:
        """The `domain=` and `path=` rules; whether one changed anything."""
        changed = False
        for index, (key, current) in enumerate(attributes[1:], start=1):
            lower = key.lower()
            if current is None or lower not in ("domain", "path"):
                continue
            rules = self.domains if lower == "domain" else self.paths
            for rule in rules:
                new = rule.apply(current, lookup, domain=lower == "domain")
                if new is not None:
                    attributes[index] = (key, new)
                    changed = True
                    break
        return changed


NO_COOKIE_RULES = CookieRules()
