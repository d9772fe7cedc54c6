"""Push stream settings, already parsed and merged: what the config model hands the module.

Texts and templates are bytes (they reach the wire byte for byte); times are seconds as float;
`None` means unset (unlimited, off). Complex values (`push_stream_channels_path`,
`push_stream_allowed_origins`, `push_stream_last_received_message_*`, `push_stream_last_event_id`,
`push_stream_user_agent`) are evaluated per request by the HTTP layer, so they are kept here as
opaque objects owned by the config model.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from pushproxy.push.padding import PaddingRule

DEFAULT_ZONE_NAME = "push_stream_module"


class LocationType(enum.Enum):
    """What a push stream location serves. nginx keeps publisher and subscriber modes in one
    field, which is why a second `push_stream_publisher`/`push_stream_subscriber` is a duplicate.
    """

    PUBLISHER = "normal"
    PUBLISHER_ADMIN = "admin"
    STREAMING = "streaming"
    POLLING = "polling"
    LONG_POLLING = "long-polling"
    EVENTSOURCE = "eventsource"
    WEBSOCKET = "websocket"
    STATISTICS = "statistics"

    @property
    def is_publisher(self) -> bool:
        return self in _PUBLISHERS

    @property
    def is_subscriber(self) -> bool:
        return self in _SUBSCRIBERS


# In the order the module lists them in its error messages.
_PUBLISHERS = (LocationType.PUBLISHER, LocationType.PUBLISHER_ADMIN)
_SUBSCRIBERS = (
    LocationType.STREAMING,
    LocationType.POLLING,
    LocationType.LONG_POLLING,
    LocationType.EVENTSOURCE,
    LocationType.WEBSOCKET,
)

PUBLISHER_MODES: Mapping[str, LocationType] = {t.value: t for t in _PUBLISHERS}
SUBSCRIBER_MODES: Mapping[str, LocationType] = {t.value: t for t in _SUBSCRIBERS}


def _mode(
    directive: str, value: str | None, default: str, modes: Mapping[str, LocationType]
) -> LocationType:
    if value is None:
        return modes[default]
    # nginx compares ASCII case-insensitively; str.lower() alone would fold non-ASCII letters.
    found = modes.get(value.lower()) if value.isascii() else None
    if found is None:
        accepted = ", ".join(modes)
        raise ValueError(
            f"push stream module: invalid {directive} mode value: {value}, "
            f"accepted values ({accepted})"
        )
    return found


def publisher_type(value: str | None) -> LocationType:
    """`push_stream_publisher [normal|admin]`; ValueError carries the module's message."""
    return _mode("push_stream_publisher", value, "normal", PUBLISHER_MODES)


def subscriber_type(value: str | None) -> LocationType:
    """`push_stream_subscriber [mode]`; ValueError carries the module's message."""
    return _mode("push_stream_subscriber", value, "streaming", SUBSCRIBER_MODES)


@dataclass(frozen=True, slots=True, kw_only=True)
class MainSettings:
    """The http-level directives (PROTOCOL.md §1.2), shared by every location."""

    shared_memory_size: int
    shared_memory_zone: str = DEFAULT_ZONE_NAME
    channel_deleted_message_text: bytes = b"Channel deleted"
    channel_inactivity_time: float = 30.0
    ping_message_text: bytes = b" "
    timeout_with_body: bool = False
    message_ttl: float = 1800.0
    max_subscribers_per_channel: int | None = None
    max_messages_stored_per_channel: int | None = None
    max_channel_id_length: int | None = None
    max_number_of_channels: int | None = None
    max_number_of_wildcard_channels: int | None = None
    wildcard_channel_prefix: bytes = b""
    events_channel_id: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class LocationSettings:
    """A push stream location after the http → server → location merge (§1.3).

    Templates are the configured text (a header file already read); the eventsource and
    WebSocket rewrites are applied by `templates.LocationTemplates`. The merge fills
    `wildcard_channel_max_qtd` from `max_number_of_wildcard_channels` and
    `longpolling_connection_ttl` from `subscriber_connection_ttl` when they are not set.
    """

    type: LocationType
    channels_path: object | None = None
    store_messages: bool = False
    channel_info_on_publish: bool = True
    authorized_channels_only: bool = False
    header_template: bytes = b""
    message_template: bytes = b"~text~"
    footer_template: bytes = b""
    wildcard_channel_max_qtd: int | None = None
    ping_message_interval: float | None = None
    subscriber_connection_ttl: float | None = None
    longpolling_connection_ttl: float | None = None
    websocket_allow_publish: bool = False
    allow_connections_to_events_channel: bool = False
    paddings: tuple[PaddingRule, ...] = ()
    last_received_message_time: object | None = None
    last_received_message_tag: object | None = None
    last_event_id: object | None = None
    user_agent: object | None = None
    allowed_origins: object | None = None
