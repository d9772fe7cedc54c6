"""What every push location adds to its answers: anti-cache headers, CORS, explain texts."""

from __future__ import annotations

import functools
from collections.abc import Callable

from pushproxy.config.complex import ComplexValue
from pushproxy.http.connection import Headers
from pushproxy.http.exchange import Exchange
from pushproxy.push.explain import EXPLAIN_HEADER, Explain
from pushproxy.push.paths import RequestedChannel, channels_from_path, unescape_uri
from pushproxy.push.runtime import PushLocation

ANTI_CACHE: tuple[tuple[bytes, bytes], ...] = (
    (b"Expires", b"Thu, 01 Jan 1970 00:00:01 GMT"),
    (b"Cache-Control", b"no-cache, no-store, must-revalidate"),
)
CORS_ALLOWED_HEADERS = b"If-Modified-Since,If-None-Match,Etag,Event-Id,Event-Type,Last-Event-Id"


def cors(exchange: Exchange, push: PushLocation, methods: bytes) -> list[tuple[bytes, bytes]]:
    """CORS headers when `push_stream_allowed_origins` evaluates to a value (Origin unchecked)."""
    value = push.complex("allowed_origins")
    if value is None:
        return []
    return cors_headers(exchange, value, methods)


def cors_headers(
    exchange: Exchange, origins: ComplexValue, methods: bytes
) -> list[tuple[bytes, bytes]]:
    """CORS headers when `origins` (`push_stream_allowed_origins`) evaluates to a value,
    URL-unescaped as the module's complex values are (`http%3A%2F%2Fa.com` is `http://a.com`)."""
    origin = unescape_uri(exchange.evaluate_bytes(origins))
    if not origin or b"\r" in origin or b"\n" in origin:
        return []  # an escaped line break would split the response: no CORS headers then
    return [
        (b"Access-Control-Allow-Origin", origin),
        (b"Access-Control-Allow-Methods", methods),
        (b"Access-Control-Allow-Headers", CORS_ALLOWED_HEADERS),
    ]


# Evaluated channels paths → their channels. Clients repeat the same few paths, and the parse
# is pure and its result immutable, so one parse serves every request of a path. Bounded: short
# paths only, the 4096 most recent (a miss only costs the parse).
_parsed = functools.lru_cache(maxsize=4096)(channels_from_path)
_PARSED_PATH_SIZE = 256  # longer paths are parsed each time


def parse_channels_path(evaluated: bytes) -> tuple[RequestedChannel, ...]:
    """`channels_from_path`, remembered for short paths."""
    if len(evaluated) > _PARSED_PATH_SIZE:
        return channels_from_path(evaluated)
    return _parsed(evaluated)


def requested_channels(exchange: Exchange, push: PushLocation) -> tuple[RequestedChannel, ...]:
    """The request's channels: `push_stream_channels_path` evaluated, unescaped, split (§3)."""
    path = push.complex("channels_path")
    return parse_channels_path(exchange.evaluate_bytes(path)) if path else ()


async def header_only(
    exchange: Exchange,
    status: int,
    headers: Headers = (),
    *,
    explain: str | None = None,
    then: Callable[[], None] | None = None,
) -> None:
    """A response with no body (`send_only_header_response()`); `then`: see `send_soon`."""
    full = list(headers)
    if explain is not None:
        full.append((EXPLAIN_HEADER.encode(), explain.encode()))
    await exchange.conn.respond(status, full, then=then)


async def refuse(exchange: Exchange, refusal: Explain, headers: Headers = ()) -> None:
    await header_only(exchange, refusal.status, headers, explain=refusal.text)


async def method_not_allowed(exchange: Exchange, allow: bytes, headers: Headers = ()) -> None:
    await header_only(exchange, 405, [*headers, (b"Allow", allow)])
