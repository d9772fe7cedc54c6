"""The request target split as nginx splits it: `$request_uri`, `$uri`, `$args`, `$arg_NAME`.

`parse_target` splits an origin-form or absolute-form target; `normalize_path` makes `$uri`
from the raw path as ngx_http_parse_complex_uri() does; both raise BadRequest where nginx
answers 400. Request bytes become text as the configuration's do (`as_text`: UTF-8,
undecodable bytes kept as surrogates), so they encode back unchanged.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from pushproxy.errors import PushProxyError

_HEX = {ord(c): int(c, 16) for c in "0123456789abcdefABCDEF"}
# `scheme://host[:port]` of an absolute-form target, with the host characters nginx's request
# line parser accepts (no `_`, no userinfo).
_ABSOLUTE = re.compile(rb"[A-Za-z][A-Za-z0-9+.\-]*://(\[[^\]/?#]*\]|[A-Za-z0-9.\-]*)(?::[0-9]*)?")
_USUAL, _SLASH, _DOT, _DOT_DOT, _QUOTED, _QUOTED_SECOND = range(6)
_SLASH_BYTE, _DOT_BYTE, _PERCENT = 0x2F, 0x2E, 0x25


class BadRequest(PushProxyError):
    """nginx answers 400; the message is the reason nginx logs."""


def as_text(data: bytes) -> str:
    """Request bytes as text, as the configuration's are."""
    return data.decode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestTarget:
    """A request target as nginx splits it: `request_uri` is `$request_uri` (from the path on,
    without an absolute form's scheme and host), `uri` is `$uri`."""

    raw: str
    host: bytes | None  # the host of an absolute-form target, not yet validated
    request_uri: str
    uri: str
    args: str
    # `$arg_NAME` values by lower-cased name (the first of a name), split once per target
    arg_map: Mapping[str, str] = field(default_factory=lambda: _NO_ARGS)
    # Changed by a `rewrite` (nginx's `r->internal`): `uri` is no longer the client's, and
    # goes upstream escaped. `left_location`: a `rewrite ... break` (nginx's cleared
    # `valid_location`): the location's `proxy_pass` URI part no longer applies.
    rewritten: bool = False
    left_location: bool = False

    def rewrite(self, uri: str, args: str, *, left_location: bool = False) -> RequestTarget:
        """The target once a `rewrite` set its URI and arguments (`$request_uri` stays)."""
        arg_map = _arg_map(args) if args else _NO_ARGS
        return replace(
            self, uri=uri, args=args, arg_map=arg_map, rewritten=True, left_location=left_location
        )


def with_args(target: RequestTarget, args: str) -> RequestTarget:
    """The target once `set $args` changed its arguments (`$query_string`, `$is_args` and
    `$arg_*` read them too, as nginx's `r->args`)."""
    return replace(target, args=args, arg_map=_arg_map(args) if args else _NO_ARGS)


def parse_target(raw: bytes, *, merge_slashes: bool = True) -> RequestTarget:
    """Parse an origin-form or absolute-form target; BadRequest where nginx answers 400.
    Short targets come back remembered (a client asks for the same few URLs again and again)."""
    if len(raw) <= _REMEMBERED_TARGET and merge_slashes:
        return _parse_remembered(raw)
    return _parse_target(raw, merge_slashes=merge_slashes)


def _parse_target(raw: bytes, *, merge_slashes: bool = True) -> RequestTarget:
    host = None
    rest = raw
    if not raw.startswith(b"/"):
        absolute = _ABSOLUTE.match(raw)
        if absolute is None or raw[absolute.end() : absolute.end() + 1] not in (b"", b"/", b"?"):
            raise BadRequest("client sent invalid request")
        host, rest = absolute[1], raw[absolute.end() :]
    fragment = rest.find(b"#")  # a raw `#` ends path and args; `%23` does not
    path, _, args = (rest if fragment < 0 else rest[:fragment]).partition(b"?")
    # Equal texts are one string: a target may be held for a subscriber's whole life.
    text = as_text(raw)
    request_uri = text if rest is raw else as_text(rest)
    uri = normalize_path(path or b"/", merge_slashes=merge_slashes)
    args_text = as_text(args)
    return RequestTarget(
        raw=text,
        host=host,
        request_uri=request_uri,
        uri=request_uri if uri == rest else as_text(uri),
        args=args_text,
        arg_map=_arg_map(args_text) if args_text else _NO_ARGS,
    )


def _arg_map(args: str) -> Mapping[str, str]:
    found: dict[str, str] = {}
    for pair in args.split("&"):
        key, equals, value = pair.partition("=")
        if equals and key.isascii():  # nginx compares names in ASCII only
            found.setdefault(key.lower(), value)
    return MappingProxyType(found)


_NO_ARGS: Mapping[str, str] = MappingProxyType({})
_REMEMBERED_TARGET = 256  # bytes: 4096 remembered targets hold a few MB at most
_parse_remembered = functools.lru_cache(maxsize=4096)(_parse_target)


def normalize_path(path: bytes, *, merge_slashes: bool = True) -> bytes:
    """`$uri` from the raw path, as ngx_http_parse_complex_uri() makes it: `%XX` decoded,
    slashes merged, `.` and `..` segments resolved (a decoded `/` or `.` counts as one)."""
    if b"%" not in path and b"/." not in path and not (merge_slashes and b"//" in path):
        return path
    out = bytearray()
    state = quoted_state = _USUAL
    decoded = 0
    pending = -1  # a decoded byte, read again in the state the `%` appeared in
    index, size = 0, len(path)
    while True:
        if pending >= 0:
            ch, pending = pending, -1
        elif index < size:
            ch = path[index]
            index += 1
        else:
            break
        if state in (_QUOTED, _QUOTED_SECOND):
            digit = _HEX.get(ch)
            if digit is None:
                raise BadRequest("client sent invalid request")
            if state == _QUOTED:
                decoded, state = digit, _QUOTED_SECOND
                continue
            ch = (decoded << 4) + digit
            if ch in (0x25, 0x23, 0x3F):  # `%`, `#`, `?` stay literal
                out.append(ch)
                state = _USUAL
            elif ch == 0:
                raise BadRequest("client sent invalid request")
            else:
                state, pending = quoted_state, ch
            continue
        if ch == _PERCENT:
            quoted_state, state = state, _QUOTED
        elif ch == _SLASH_BYTE:
            if state == _USUAL or (state == _SLASH and not merge_slashes):
                out.append(ch)
            elif state == _DOT:
                out.pop()  # `/./` is `/`
            elif state == _DOT_DOT:
                _climb(out)
            state = _SLASH
        elif ch == _DOT_BYTE and state in (_SLASH, _DOT):
            out.append(ch)
            state = _DOT if state == _SLASH else _DOT_DOT
        else:
            out.append(ch)
            state = _USUAL
    if state in (_QUOTED, _QUOTED_SECOND):
        raise BadRequest("client sent invalid request")
    if state == _DOT:
        out.pop()
    elif state == _DOT_DOT:
        _climb(out)
    return bytes(out)


def _climb(out: bytearray) -> None:
    """Drop `/..` and the segment before it; above the root is a bad request."""
    end = out.rfind(b"/", 0, len(out) - 3)
    if end < 0:
        raise BadRequest("client sent invalid request")
    del out[end + 1 :]
