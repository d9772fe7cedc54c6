"""`expires` (ngx_http_headers_filter_module): `Expires` and `Cache-Control` on a response.

`expires [modified] TIME | @TIME | epoch | max | off;` sets, on answers with status 200, 201,
204, 206, 301, 302, 303, 304, 307 or 308, as ngx_http_set_expires() does:
- `Expires`: now + TIME (a negative TIME is in the past), or the response's `Last-Modified` +
  TIME with `modified` (now + TIME when it has none), or the next time of day `@TIME` (local
  time), or 1970-01-01 00:00:01 (`epoch`), or 2037-12-31 23:55:55 (`max`);
- `Cache-Control`: `max-age=` the seconds until then, `no-cache` when that is negative (or for
  `epoch`), `max-age=315360000` for `max`.
An `Expires` the response has already gets the new value; of its `Cache-Control`s, the first
does and the others go.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime

from pushproxy.config.model import Level
from pushproxy.config.units import InvalidValue, parse_sec

Headers = Sequence[tuple[bytes, bytes]]
_EPOCH = (b"Thu, 01 Jan 1970 00:00:01 GMT", b"no-cache")
_MAX = (b"Thu, 31 Dec 2037 23:55:55 GMT", b"max-age=315360000")
_DAY = 24 * 60 * 60


@dataclass(frozen=True, slots=True)
class Expires:
    """A compiled `expires`: `kind` is "access", "modified", "daily", "epoch" or "max";
    `seconds` the offset, or for "daily" the time of day."""

    kind: str
    seconds: int = 0

    @classmethod
    def of(cls, level: Level) -> Expires | None:
        directive = level.last("expires")
        if directive is None or not directive.args:
            return None
        args = directive.args
        kind = "access"
        if len(args) == 2:
            if args[0] != "modified":
                return None
            kind = "modified"
        value = args[-1]
        if kind == "access" and value in ("epoch", "max", "off"):
            return None if value == "off" else cls(value)
        sign = 1
        if value.startswith("@"):
            kind, value = "daily", value[1:]
        elif value[:1] in ("+", "-"):
            sign, value = (-1 if value[0] == "-" else 1), value[1:]
        try:
            seconds = parse_sec(value)
        except (ValueError, InvalidValue):
            return None
        return cls(kind, sign * seconds)

    def values(self, last_modified: bytes | None, now: float) -> tuple[bytes, bytes]:
        """The `Expires` and `Cache-Control` values for a response given now."""
        if self.kind == "epoch":
            return _EPOCH
        if self.kind == "max":
            return _MAX
        now_s = int(now)
        modified = _parsed(last_modified) if self.kind == "modified" else None
        if self.kind == "daily":
            at = _next_time(self.seconds, now_s)
            max_age = at - now_s
        elif modified is None:
            at, max_age = now_s + self.seconds, self.seconds
        else:
            at = modified + self.seconds
            max_age = at - now_s
        expires = formatdate(at, usegmt=True).encode()
        if self.seconds < 0 or max_age < 0:
            return expires, b"no-cache"
        return expires, b"max-age=%d" % max_age

    def apply(
        self, headers: list[tuple[bytes, bytes]], now: float, modified: bytes | None = None
    ) -> list[tuple[bytes, bytes]]:
        """`headers` with the response's `Expires` and `Cache-Control` set; `modified`: its
        own `Last-Modified` when it is not among them."""
        if modified is None:
            modified = next((v for n, v in headers if n.lower() == b"last-modified"), None)
        expires, cache_control = self.values(modified, now)
        out: list[tuple[bytes, bytes]] = []
        seen_expires = seen_cache = False
        for name, value in headers:
            lower = name.lower()
            if lower == b"expires":
                if seen_expires:
                    continue
                seen_expires, value = True, expires
            elif lower == b"cache-control":
                if seen_cache:
                    continue
                seen_cache, value = True, cache_control
            out.append((name, value))
        if not seen_expires:
            out.append((b"Expires", expires))
        if not seen_cache:
            out.append((b"Cache-Control", cache_control))
        return out


def _parsed(value: bytes | None) -> int | None:
    if value is None:
        return None
    try:
        return int(parsedate_to_datetime(value.decode("latin-1")).timestamp())
    except (TypeError, ValueError, IndexError):
        return None


def _next_time(seconds: int, now: int) -> int:
    """ngx_next_time(): the next moment at `seconds` past local midnight."""
    local = time.localtime(now)
    midnight = now - (local.tm_hour * 3600 + local.tm_min * 60 + local.tm_sec)
    at = midnight + seconds
    return at if at > now else at + _DAY
