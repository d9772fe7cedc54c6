"""Channels, subscriptions and the subscriber interface the I/O layer implements."""

from __future__ import annotations

from collections import deque
from typing import Protocol

from pushproxy.push.info import ChannelInfo
from pushproxy.push.messages import Message


class Subscriber(Protocol):
    """What the store calls on a connected subscriber. Neither method may block or await:
    they put bytes in the subscriber's bounded outbox (or close it) and return. Both may call
    back into the store (a long-poll answers once and unregisters from inside `deliver`).
    """

    def deliver(self, message: Message) -> None:
        """A live message published on one of this subscriber's channels (`message.channel`)."""

    def channel_deleted(self, message: Message, remaining: int) -> None:
        """Its channel `message.channel` was deleted: `message` is the deleted-channel message
        (id -2); `remaining` counts the subscriptions the connection still has. Long-polling
        answers with it; other modes end the stream only when `remaining` is 0 (§9.4).
        """


class Channel:
    """A channel: its stored messages (oldest first), subscriptions and counters (§4.5)."""

    __slots__ = (
        "deleted",
        "deleted_message",
        "expires",
        "for_events",
        "id",
        "last_message_id",
        "last_message_tag",
        "last_message_time",
        "messages",
        "size",
        "subscriptions",
        "wildcard",
    )

    def __init__(
        self, channel_id: bytes, *, wildcard: bool, for_events: bool, expires: float, size: int
    ) -> None:
        self.id = channel_id
        self.wildcard = wildcard
        self.for_events = for_events
        self.expires = expires  # inactivity deadline; once trashed, when it is freed
        self.size = size  # bytes charged to the memory budget
        self.last_message_id = 0
        self.last_message_time = 0
        self.last_message_tag = 0
        self.messages: deque[Message] = deque()
        # Insertion-ordered set: O(1) add and remove, iteration in subscription order.
        self.subscriptions: dict[Subscription, None] = {}
        self.deleted = False
        self.deleted_message: Message | None = None

    @property
    def stored_messages(self) -> int:
        return len(self.messages)

    @property
    def subscribers(self) -> int:
        return len(self.subscriptions)

    @property
    def published_messages(self) -> int:
        return self.last_message_id

    def info(self) -> ChannelInfo:
        return ChannelInfo(
            self.id, self.last_message_id, len(self.messages), len(self.subscriptions)
        )

    def __repr__(self) -> str:
        return f"Channel({self.id!r}, messages={len(self.messages)}, deleted={self.deleted})"


class Connection:
    """A registered subscriber connection and its subscriptions, in subscription order."""

    __slots__ = ("closed", "subscriber", "subscriptions")

    def __init__(self, subscriber: Subscriber) -> None:
        self.subscriber = subscriber
        self.subscriptions: dict[Subscription, None] = {}
        self.closed = False


class Subscription:
    """One channel of one connection; `sub/a/a` makes two of them."""

    __slots__ = ("channel", "connection", "deliver")

    def __init__(self, channel: Channel, connection: Connection) -> None:
        self.channel = channel
        self.connection = connection
        # Bound once: fan-out calls it for every subscription of every message.
        self.deliver = connection.subscriber.deliver
