"""A validated subscriber request and what every subscriber mode reads from it (§5.3-§5.5)."""

from __future__ import annotations

from dataclasses import dataclass

from pushproxy.config.model import Location
from pushproxy.http.exchange import Exchange
from pushproxy.push.channels import Channel
from pushproxy.push.padding import PaddingRule
from pushproxy.push.paths import unescape_uri
from pushproxy.push.runtime import PushLocation, PushRuntime
from pushproxy.push.selection import LastReceived, parse_tag
from pushproxy.push.settings import LocationType
from pushproxy.push.validators import parse_http_time

_MODE_HEADER = b"x-nginx-pushstream-mode"


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    """A validated subscriber request, ready for its mode's session."""

    exchange: Exchange
    location: Location
    push: PushLocation
    runtime: PushRuntime
    channels: list[tuple[Channel, int]]  # (channel, backtrack) in path order, duplicates kept
    last: LastReceived
    headers: list[tuple[bytes, bytes]]  # anti-cache and CORS
    padding: PaddingRule | None
    callback: bytes | None  # JSONP function name


def _optional(
    exchange: Exchange, push: PushLocation, directive_value: str, header: bytes
) -> bytes | None:
    """A last-received value: the directive's (unescaped; empty means absent) or the header's."""
    value = push.complex(directive_value)
    if value is not None:
        evaluated = unescape_uri(exchange.evaluate_bytes(value))
        return evaluated or None
    return exchange.header(header)


def last_received(exchange: Exchange, push: PushLocation) -> LastReceived:
    """`get_last_received_message_values()` (§5.3)."""
    ims = _optional(exchange, push, "last_received_message_time", b"if-modified-since")
    tag = _optional(exchange, push, "last_received_message_tag", b"if-none-match")
    event = push.complex("last_event_id")
    if event is not None:
        last_event_id = unescape_uri(exchange.evaluate_bytes(event)) or None
    else:
        last_event_id = exchange.header(b"last-event-id")
    return LastReceived(ims=parse_http_time(ims), tag=parse_tag(tag), last_event_id=last_event_id)


def user_agent(exchange: Exchange, push: PushLocation) -> bytes | None:
    value = push.complex("user_agent")
    if value is not None:
        return unescape_uri(exchange.evaluate_bytes(value))
    return exchange.header(b"user-agent")


def callback(exchange: Exchange) -> bytes | None:
    value = exchange.lookup("arg_callback")
    if value is None:
        return None
    return unescape_uri(value.encode("utf-8", "surrogateescape"))


def polling_mode(exchange: Exchange, kind: LocationType) -> tuple[bool, bool]:
    """(polling, long-polling) from the location and `X-Nginx-PushStream-Mode` (§5.2)."""
    asked = (exchange.header(_MODE_HEADER) or b"").lower()
    polling = kind is LocationType.POLLING or asked == b"polling"
    longpolling = kind is LocationType.LONG_POLLING or asked == b"long-polling"
    return polling, longpolling
