"""Every refusal the module answers with a status and an `X-Nginx-PushStream-Explain` text."""

from __future__ import annotations

import enum

EXPLAIN_HEADER = "X-Nginx-PushStream-Explain"


class Explain(enum.Enum):
    """A status code and its explain text, verbatim from the module (PROTOCOL.md §0.1).

    `OUT_OF_MEMORY` carries the empty explain a subscriber gets when channel creation runs out
    of shared memory; publishers answer the same condition with a bare 500 (no explain header).
    """

    NO_CHANNEL_ID = (400, "No channel id provided.")
    NOT_AUTHORIZED = (403, "Channel id not authorized for this method.")
    CHANNEL_ID_TOO_LARGE = (400, "Channel id is too large.")
    EMPTY_POST = (400, "Empty post requests are not allowed.")
    TOO_MANY_CHANNELS = (403, "Number of channels were exceeded.")
    EVENTS_CHANNEL_READ_ONLY = (403, "Only internal routines can change events channel.")
    CANNOT_CREATE_CHANNELS = (403, "Subscriber could not create channels.")
    TOO_MANY_SUBSCRIBERS = (403, "Subscribers limit per channel has been exceeded.")
    TOO_MANY_WILDCARD_CHANNELS = (403, "Subscribed too much wildcard channels.")
    EVENTS_CHANNEL_FORBIDDEN = (403, "Subscription to events channel is not allowed.")
    WEBSOCKET_MISSING_HEADERS = (
        400,
        "Don't have at least one of the mandatory headers: "
        "Connection, Upgrade, Sec-WebSocket-Key and Sec-WebSocket-Version",
    )
    WEBSOCKET_VERSION = (400, "Version not supported. Supported versions: 8, 13")
    CHANNEL_DELETED = (200, "Channel deleted.")
    OUT_OF_MEMORY = (500, "")

    @property
    def status(self) -> int:
        status: int = self.value[0]
        return status

    @property
    def text(self) -> str:
        text: str = self.value[1]
        return text
