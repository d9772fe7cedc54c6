"""nginx variables from plain request data, and the request target split as nginx splits it.

`RequestVars.lookup` is the lookup `ComplexValue.evaluate` takes. Values are computed when first
asked for: `$arg_id` alone never looks at headers or cookies. Request bytes become text as the
configuration's do (UTF-8, undecodable bytes kept as surrogates), so they encode back unchanged.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from types import MappingProxyType
from typing import NamedTuple

from pushproxy.config.maps import VariableMap
from pushproxy.errors import PushProxyError

Headers = Sequence[tuple[bytes, bytes]]
_NO_MAPS: Mapping[str, VariableMap] = MappingProxyType({})
# ngx_http_variable_depth: how deep variables may be worked out inside one another (a map
# whose value uses itself, directly or not, stops there)
_MAP_DEPTH = 100
log = logging.getLogger("pushproxy")

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_HEX = {ord(c): int(c, 16) for c in "0123456789abcdefABCDEF"}
# `scheme://host[:port]` of an absolute-form target, with the host characters nginx's request
# line parser accepts (no `_`, no userinfo).
_ABSOLUTE = re.compile(rb"[A-Za-z][A-Za-z0-9+.\-]*://(\[[^\]/?#]*\]|[A-Za-z0-9.\-]*)(?::[0-9]*)?")
_USUAL, _SLASH, _DOT, _DOT_DOT, _QUOTED, _QUOTED_SECOND = range(6)
_SLASH_BYTE, _DOT_BYTE, _PERCENT = 0x2F, 0x2E, 0x25


class BadRequest(PushProxyError):
    """nginx answers 400; the message is the reason nginx logs."""


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


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
    text = _text(raw)
    request_uri = text if rest is raw else _text(rest)
    uri = normalize_path(path or b"/", merge_slashes=merge_slashes)
    args_text = _text(args)
    return RequestTarget(
        raw=text,
        host=host,
        request_uri=request_uri,
        uri=request_uri if uri == rest else _text(uri),
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


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionInfo:
    """A connection's ends, as its socket reports them (one object per connection)."""

    remote_addr: str
    remote_port: int
    server_addr: str
    server_port: int
    scheme: str = "http"


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    """What access logs read once the response is out; the server supplies it."""

    status: int
    body_bytes_sent: int = 0
    bytes_sent: int = 0
    request_length: int = 0
    headers: Headers = ()


def _by_name(headers: Headers) -> dict[str, list[bytes]]:
    """Header values by variable suffix: name lowercased, `-` as `_` (as nginx compares)."""
    index: dict[str, list[bytes]] = {}
    for name, value in headers:
        index.setdefault(name.lower().replace(b"-", b"_").decode("latin-1"), []).append(value)
    return index


def _cookie(values: list[bytes], name: bytes) -> bytes | None:
    """ngx_http_parse_multi_header_lines(): the first `name=value` pair (name without regard to
    case); a value runs to the next `;`, while a pair that does not match ends at `;` or `,`."""
    size = len(name)
    for value in values:
        start, end = 0, len(value)
        while start < end:
            if value[start : start + size].lower() == name:
                start += size
                while start < end and value[start] == 0x20:
                    start += 1
                if start < end:
                    start += 1
                    if value[start - 1] == 0x3D:  # `=`
                        while start < end and value[start] == 0x20:
                            start += 1
                        last = value.find(b";", start)
                        return value[start:] if last < 0 else value[start:last]
            while start < end:
                start += 1
                if value[start - 1] in (0x3B, 0x2C):  # `;` `,`
                    break
            while start < end and value[start] == 0x20:
                start += 1
    return None


class UpstreamTry(NamedTuple):
    """One try of a proxied request on a peer: `$upstream_addr`, `$upstream_status`,
    `$upstream_response_time` list one value per try, as nginx does."""

    addr: str
    status: int
    seconds: float


class RequestVars:
    """The variables of one request. `lookup` is what `ComplexValue.evaluate` takes; `set` is
    `set $name value;`; the proxy gives `$proxy_host`/`$proxy_port` with `set_proxy`, and the
    server gives the response (`$status`, `$body_bytes_sent`...) with `respond`."""

    __slots__ = (
        "_captures", "_clock", "_connection", "_cookies", "_headers", "_host",
        "_hostname", "_http_version", "_index", "_map_depth", "_maps", "_method", "_proxy",
        "_response", "_server_name", "_started", "_target", "_tz", "_upstream", "_variables",
    )  # fmt: skip

    def __init__(
        self,
        *,
        method: bytes,
        target: RequestTarget,
        http_version: bytes,
        headers: Headers,
        connection: ConnectionInfo,
        server_name: str,
        host: str = "",
        hostname: str = "",
        captures: Captures = NO_CAPTURES,
        started: float | None = None,
        clock: Callable[[], float] = time.time,
        tz: tzinfo | None = None,
        maps: Mapping[str, VariableMap] = _NO_MAPS,
    ) -> None:
        self._method = _text(method)
        self._target = target
        self._http_version = http_version.decode("latin-1")
        self._headers = headers
        self._connection = connection
        self._server_name = server_name
        self._host = host
        self._hostname = hostname
        self._captures = captures.positional
        self._variables: dict[str, str] = dict(captures.named)
        self._clock = clock
        self._started = clock() if started is None else started
        self._tz = tz  # None: the machine's local time zone
        self._proxy = ("", "")
        self._response: Response | None = None
        self._index: dict[str, list[bytes]] | None = None
        self._cookies: dict[str, str | None] = {}
        self._upstream: Sequence[UpstreamTry] = ()
        self._maps = maps
        self._map_depth = 0  # maps being worked out, one inside another

    def lookup(self, name: str) -> str | None:
        """The value of `$name`; None for an unknown or unset variable (evaluated as empty)."""
        value = self._variables.get(name)
        if value is not None:
            return value
        mapped = self._maps.get(name) if self._maps else None
        if mapped is not None:
            return self._map(mapped)
        getter = _GETTERS.get(name)
        if getter is not None:
            return getter(self)
        lowered = name.lower()  # nginx lowercases variable names when it compiles them
        if lowered != name:
            return self.lookup(lowered)
        for prefix, prefixed in _PREFIXED:
            if name.startswith(prefix):
                return prefixed(self, name[len(prefix) :])
        return None

    def set(self, name: str, value: str) -> None:
        self._variables[name.lower()] = value

    def add_captures(self, captures: Captures) -> None:
        """A later regex match (`rewrite`, `if`): its `$1`.. replace the earlier ones."""
        self._captures = captures.positional
        self._variables.update(captures.named)

    def set_proxy(self, host: str, port: int) -> None:
        self._proxy = (host, str(port))

    def respond(self, response: Response) -> None:
        self._response = response

    def record_upstream(self, tries: Sequence[UpstreamTry]) -> None:
        """The proxy's tries of this request, for `$upstream_*`."""
        self._upstream = tries

    def _upstream_list(self, text: Callable[[UpstreamTry], str]) -> str | None:
        return ", ".join(text(one) for one in self._upstream) if self._upstream else None

    def _map(self, mapped: VariableMap) -> str | None:
        """A `map` variable: worked out on first use and kept for the request (unless
        `volatile`). A regex variant's captures become the request's, as in nginx."""
        if self._map_depth >= _MAP_DEPTH:
            log.error('cycle while evaluating variable "%s"', mapped.name)
            return None  # nginx gives up at the same depth; the value is then empty
        self._map_depth += 1
        try:
            value, match = mapped.find(mapped.source.evaluate(self.lookup))
            if match is not None and match.re.groups:
                self.add_captures(Captures(match.groups(""), MappingProxyType(match.groupdict(""))))
            result = value.evaluate(self.lookup)
        finally:
            self._map_depth -= 1
        if not mapped.volatile:
            self._variables[mapped.name] = result
        return result

    # computed on demand

    def _capture(self, index: int) -> str | None:
        return self._captures[index - 1] if index <= len(self._captures) else None

    def _by_name(self) -> dict[str, list[bytes]]:
        if self._index is None:
            self._index = _by_name(self._headers)
        return self._index

    def _header(self, key: str) -> str | None:
        values = self._by_name().get(key)
        return _text((b"; " if key == "cookie" else b", ").join(values)) if values else None

    def _sent_header(self, key: str) -> str | None:
        values = _by_name(self._response.headers).get(key) if self._response else None
        return _text(b", ".join(values)) if values else None

    def _arg(self, name: str) -> str | None:
        return self._target.arg_map.get(name)

    def _cookie(self, name: str) -> str | None:
        if name not in self._cookies:
            found = _cookie(self._by_name().get("cookie", []), name.encode())
            self._cookies[name] = None if found is None else _text(found)
        return self._cookies[name]

    def _forwarded_for(self) -> str:
        values = self._by_name().get("x_forwarded_for")
        addr = self._connection.remote_addr
        return f"{_text(b', '.join(values))}, {addr}" if values else addr

    def _time(self, *, iso: bool) -> str:
        t = datetime.fromtimestamp(self._clock(), self._tz).astimezone(self._tz)
        offset = t.utcoffset()
        minutes = int(offset.total_seconds()) // 60 if offset else 0
        sign, hours, minutes = "-" if minutes < 0 else "+", abs(minutes) // 60, abs(minutes) % 60
        if iso:
            return f"{t:%Y-%m-%dT%H:%M:%S}{sign}{hours:02d}:{minutes:02d}"
        month = _MONTHS[t.month - 1]  # English whatever the locale
        return f"{t.day:02d}/{month}/{t.year}:{t:%H:%M:%S} {sign}{hours:02d}{minutes:02d}"

    def _request_time(self) -> str:
        return _millis(max(0, int(self._clock() * 1000) - int(self._started * 1000)))

    def _status(self) -> str | None:
        return None if self._response is None else f"{self._response.status:03d}"

    def _sent_count(self, field: str) -> str:
        return "0" if self._response is None else str(getattr(self._response, field))


def _millis(ms: int) -> str:
    return f"{ms // 1000}.{ms % 1000:03d}"


def _positional(index: int) -> Callable[[RequestVars], str | None]:
    return lambda v: v._capture(index)


_GETTERS: dict[str, Callable[[RequestVars], str | None]] = {
    "uri": lambda v: v._target.uri,
    "document_uri": lambda v: v._target.uri,
    "request_uri": lambda v: v._target.request_uri,
    "args": lambda v: v._target.args,
    "query_string": lambda v: v._target.args,
    "is_args": lambda v: "?" if v._target.args else "",
    "request": lambda v: f"{v._method} {v._target.raw} HTTP/{v._http_version}",
    "request_method": lambda v: v._method,
    "server_protocol": lambda v: f"HTTP/{v._http_version}",
    "scheme": lambda v: v._connection.scheme,
    "https": lambda v: "on" if v._connection.scheme == "https" else "",
    "host": lambda v: v._host or v._server_name,
    "hostname": lambda v: v._hostname,
    "server_name": lambda v: v._server_name,
    "remote_addr": lambda v: v._connection.remote_addr,
    "remote_port": lambda v: str(v._connection.remote_port),
    "server_addr": lambda v: v._connection.server_addr,
    "server_port": lambda v: str(v._connection.server_port),
    "content_length": lambda v: v._header("content_length"),
    "content_type": lambda v: v._header("content_type"),
    "proxy_host": lambda v: v._proxy[0],
    "proxy_port": lambda v: v._proxy[1],
    "proxy_add_x_forwarded_for": lambda v: v._forwarded_for(),
    "msec": lambda v: _millis(int(v._clock() * 1000)),
    "time_local": lambda v: v._time(iso=False),
    "time_iso8601": lambda v: v._time(iso=True),
    "request_time": lambda v: v._request_time(),
    "status": lambda v: v._status(),
    "body_bytes_sent": lambda v: v._sent_count("body_bytes_sent"),
    "bytes_sent": lambda v: v._sent_count("bytes_sent"),
    "request_length": lambda v: v._sent_count("request_length"),
    "upstream_addr": lambda v: v._upstream_list(lambda one: one.addr),
    "upstream_status": lambda v: v._upstream_list(lambda one: str(one.status)),
    "upstream_response_time": lambda v: v._upstream_list(
        lambda one: _millis(max(0, round(one.seconds * 1000)))
    ),
    **{str(index): _positional(index) for index in range(1, 10)},
}

# Variables named by a prefix and a name: `$http_x_real_ip`, `$arg_id`, `$cookie_sid`...
_PREFIXED: tuple[tuple[str, Callable[[RequestVars, str], str | None]], ...] = (
    ("http_", RequestVars._header),
    ("arg_", RequestVars._arg),
    ("cookie_", RequestVars._cookie),
    ("sent_http_", RequestVars._sent_header),
)
