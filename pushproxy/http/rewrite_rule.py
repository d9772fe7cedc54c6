"""The `rewrite` directive: a rule compiled once, applied to the request's `$uri` (pure).

`rewrite REGEX REPLACEMENT [last|break|redirect|permanent]` does what ngx_http_rewrite() and
nginx's script codes do:
- the regex is searched in `$uri`; a match sets `$1`.. (a miss clears them);
- a replacement that starts with `http://`, `https://` or `$scheme` redirects (302), as do the
  `redirect` (302) and `permanent` (301) flags: the replacement is the `Location`;
- otherwise it is the new URI, taken as it is (not decoded), and the first `?` in it starts
  the new arguments;
- the request's arguments follow (after `&`, or `?` in a redirect without one), unless the
  replacement ends with `?`;
- a capture that lands in the arguments or in a redirect is escaped as an argument when the
  client's URI had `%`-escapes or a `+` (nginx's `quoted_uri`, `plus_in_uri`); a redirect's
  path is then unescaped where that gives a plain printable character.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from pushproxy.config.complex import ComplexValue, ComplexValueError, compile_value
from pushproxy.config.pcre import compile_regex
from pushproxy.config.tree import Directive
from pushproxy.errors import ConfigError
from pushproxy.http.captures import NO_CAPTURES, captures_of
from pushproxy.http.target import RequestTarget
from pushproxy.http.variables import RequestVars

_REDIRECT_STARTS = ("http://", "https://", "$scheme")
_STATUS = {"redirect": 302, "permanent": 301}
# What ngx_escape_uri(NGX_ESCAPE_ARGS) escapes: controls, space, `#%&+;?`, bytes past 0x7e.
_ARGS_ESCAPED = frozenset([*range(0x21), *b"#%&+;?", *range(0x7F, 0x100)])
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


@dataclass(frozen=True, slots=True)
class RewriteRule:
    """One compiled `rewrite`. `args`: the replacement past its first `?` (None: no new
    arguments); `status`: 301 or 302 for a redirect, else 0; `flag`: "last", "break" or ""."""

    regex: re.Pattern[str]
    path: ComplexValue
    args: ComplexValue | None
    keeps_args: bool
    status: int
    flag: str
    has_question_mark: bool  # a `?` in the replacement's text: a redirect's args follow `&`


@dataclass(frozen=True, slots=True)
class Redirect:
    status: int
    location: str


def compile_rule(directive: Directive) -> RewriteRule | None:
    """The rule of a `rewrite` directive; None for one `check` refuses (never served)."""
    args = directive.args
    if len(args) not in (2, 3):
        return None
    pattern, replacement = args[0], args[1]
    flag = args[2] if len(args) == 3 else ""
    status = 302 if replacement.startswith(_REDIRECT_STARTS) else 0
    status = _STATUS.get(flag, status)
    keeps_args = not replacement.endswith("?")  # the last `?` drops the client's arguments
    if not keeps_args:
        replacement = replacement[:-1]
    path, question, rest = replacement, False, None
    if not status and "?" in replacement:
        path, _, rest = replacement.partition("?")
        question = True
    try:
        regex = compile_regex(directive, pattern, caseless=False)
        return RewriteRule(
            regex=regex,
            path=compile_value(path),
            args=compile_value(rest) if rest is not None else None,
            keeps_args=keeps_args,
            status=status,
            flag=flag if flag in ("last", "break") else "",
            has_question_mark=question or "?" in replacement,
        )
    except (ComplexValueError, ConfigError):
        return None


def apply_rule(rule: RewriteRule, variables: RequestVars) -> RequestTarget | Redirect | None:
    """The request's target once `rule` rewrote it, the redirect it answers, or None when the
    regex does not match `$uri` (the captures are then cleared, as in nginx)."""
    target = variables.target
    match = rule.regex.search(target.uri)
    if match is None:
        variables.add_captures(NO_CAPTURES)
        return None
    variables.add_captures(captures_of(match))
    lookup = variables.lookup
    quoted = _quoted(target.request_uri)
    escaped = _escaping_captures(lookup) if quoted else lookup
    if rule.status:
        location = _unescape_redirect(rule.path.evaluate(escaped))
        if rule.keeps_args and target.args:
            location += ("&" if rule.has_question_mark else "?") + target.args
        return Redirect(rule.status, location)
    uri = rule.path.evaluate(lookup)
    if rule.args is not None:
        args = rule.args.evaluate(escaped)
        if rule.keeps_args and target.args:
            args += "&" + target.args
    else:
        args = target.args if rule.keeps_args else ""
    return target.rewrite(uri, args, left_location=rule.flag == "break")


def _quoted(request_uri: str) -> bool:
    """Whether the client's path had `%`-escapes or a `+`."""
    path = request_uri.partition("?")[0]
    return "%" in path or "+" in path


def _escaping_captures(lookup: Callable[[str], str | None]) -> Callable[[str], str | None]:
    def escaped(name: str) -> str | None:
        value = lookup(name)
        if value is None or not name.isdigit():
            return value
        return escape_args(value)

    return escaped


def escape_args(text: str) -> str:
    """ngx_escape_uri(NGX_ESCAPE_ARGS), upper-case hex, over the text's UTF-8 bytes."""
    data = text.encode("utf-8", "surrogateescape")
    if not any(byte in _ARGS_ESCAPED for byte in data):
        return text
    out = "".join(f"%{byte:02X}" if byte in _ARGS_ESCAPED else chr(byte) for byte in data)
    return out.encode("latin-1").decode("utf-8", "surrogateescape")


def _unescape_redirect(text: str) -> str:
    """ngx_unescape_uri(NGX_UNESCAPE_REDIRECT) up to the first `?` (the rest stays): `%XX`
    becomes its character when that is printable past `%`; a `%` without two hex digits
    loses what it does not take, as in nginx."""
    data = text.encode("utf-8", "surrogateescape")
    if b"%" not in data:
        return text
    out = bytearray()
    index, size = 0, len(data)
    while index < size:
        byte = data[index]
        if byte == 0x3F:  # `?`: the arguments stay as they are
            out += data[index:]
            break
        if byte != 0x25:
            out.append(byte)
            index += 1
            continue
        first = data[index + 1] if index + 1 < size else -1
        if first not in _HEX_DIGITS:
            if first >= 0:
                out.append(first)  # nginx keeps the character after a stray `%`
            index += 2
            continue
        second = data[index + 2] if index + 2 < size else -1
        if second not in _HEX_DIGITS:
            index += 3  # both dropped
            continue
        value = int(bytes((first, second)), 16)
        if value == 0x3F:
            out.append(value)
            out += data[index + 3 :]
            break
        if 0x25 < value < 0x7F:
            out.append(value)
        else:
            out += data[index : index + 3]
        index += 3
    return out.decode("utf-8", "surrogateescape")
