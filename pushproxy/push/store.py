"""The channel store: one per process, like the module's shared memory zone (§4.5, §9).

Everything here is synchronous and takes time from the injected clock (wall-clock seconds,
truncated like `ngx_time()`), so TTLs and sweeps are tested without sleeping. The I/O layer
calls `collect_expired_messages()` every `BUFFER_CLEANUP_INTERVAL` and `memory_cleanup()` every
`MEMORY_CLEANUP_INTERVAL` seconds. Resolve channels and publish (or subscribe) in one
synchronous step: between an `await` and the next call a channel may have been deleted.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable

from pushproxy.errors import PushProxyError
from pushproxy.push.channels import Channel, Connection, Subscriber, Subscription
from pushproxy.push.explain import Explain
from pushproxy.push.info import Totals
from pushproxy.push.memory import (
    CHANNEL_OVERHEAD,
    MESSAGE_OVERHEAD,
    SUBSCRIPTION_OVERHEAD,
    TRASH_TTL,
    MemoryBudget,
    MessageTrash,
    slab,
)
from pushproxy.push.messages import Message, deleted_message, ping_message, timeout_message
from pushproxy.push.settings import MainSettings
from pushproxy.push.templates import TemplateRegistry

MEMORY_CLEANUP_INTERVAL = 4.0
BUFFER_CLEANUP_INTERVAL = 5.0

CHANNEL_CREATED = b"channel_created"
CHANNEL_DESTROYED = b"channel_destroyed"
CLIENT_SUBSCRIBED = b"client_subscribed"
CLIENT_UNSUBSCRIBED = b"client_unsubscribed"
_EVENT_BODY = b'{"type": "%s", "channel": "%s"}'


# A message and the subscriptions it goes to, as they were when it was published.
HeldDelivery = tuple[tuple[Subscription, ...], Message]


def deliver_held(held: list[HeldDelivery]) -> None:
    """Make held deliveries, in publish order, and empty the list (a second call does nothing).
    No wait may come between the publish and this: the subscriptions are the publish's. One
    that ended meanwhile (a long-poll answered by an earlier message) gets nothing more."""
    for subscriptions, message in held:
        for subscription in subscriptions:
            if not subscription.connection.closed:
                subscription.deliver(message)
    held.clear()


class StoreError(PushProxyError):
    """The store cannot start (the events channel does not fit in memory)."""


class DeleteResult(enum.Enum):
    """What `delete_channel` did: the publisher answers 200 if any channel of the request was
    deleted, 404 if none, 500 when the deleted-channel message did not fit in memory.
    """

    DELETED = "deleted"
    ALREADY_DELETED = "already deleted"
    OUT_OF_MEMORY = "out of memory"


class Store:
    """Channels, their messages and subscriptions, limits, trash and the events channel."""

    def __init__(
        self,
        settings: MainSettings,
        *,
        templates: TemplateRegistry | None = None,
        clock: Callable[[], float] = time.time,
        memory: int | None = None,
    ) -> None:
        """`memory`: the bytes channels, messages and subscriptions may take (by default
        `shared_memory_size`; the server's runtime gives what its zone leaves them)."""
        self.settings = settings
        self.templates = templates if templates is not None else TemplateRegistry()
        self.budget = MemoryBudget(settings.shared_memory_size if memory is None else memory)
        self._clock = clock
        self._channels: dict[bytes, Channel] = {}  # active ones, in creation order
        self._deleting: dict[Channel, None] = {}
        self._channel_trash: deque[Channel] = deque()
        self._message_trash = MessageTrash()
        self._normal_channels = 0
        self._wildcard_channels = 0
        self._published = 0
        self._stored = 0
        self._connections = 0
        self._last_time = 0
        self._last_tag = 0
        self.startup = self.now()
        self.ping_message = ping_message(settings.ping_message_text)
        self.timeout_message = timeout_message()
        self.events_channel: Channel | None = None
        if settings.events_channel_id:
            created = self.get_or_create_channel(settings.events_channel_id)
            if isinstance(created, Explain):
                raise StoreError("push stream module: unable to create events channel")
            self.events_channel = created

    def now(self) -> int:
        return int(self._clock())

    def reconfigure(self, settings: MainSettings, templates: TemplateRegistry) -> None:
        """A reload: channels, messages and counters stay; the zone size cannot change."""
        self.settings = settings
        self.templates = templates
        self.ping_message = ping_message(settings.ping_message_text)

    # channels

    def is_wildcard(self, channel_id: bytes) -> bool:
        prefix = self.settings.wildcard_channel_prefix
        return bool(prefix) and channel_id.startswith(prefix)

    def find_channel(self, channel_id: bytes) -> Channel | None:
        """An active channel (deleted and collected ones are gone)."""
        return self._channels.get(channel_id)

    def channels(self, prefix: bytes = b"") -> list[Channel]:
        """Active channels in creation order, events and wildcard channels included."""
        return [channel for channel in self._channels.values() if channel.id.startswith(prefix)]

    def get_or_create_channel(self, channel_id: bytes) -> Channel | Explain:
        """The channel, created if missing (`channel_created` event); the channel or
        wildcard-channel limit gives TOO_MANY_CHANNELS, the memory budget OUT_OF_MEMORY.
        """
        channel = self._channels.get(channel_id)
        if channel is not None:
            return channel
        settings = self.settings
        wildcard = self.is_wildcard(channel_id)
        limit, count = (
            (settings.max_number_of_wildcard_channels, self._wildcard_channels)
            if wildcard
            else (settings.max_number_of_channels, self._normal_channels)
        )
        if limit is not None and count >= limit:
            return Explain.TOO_MANY_CHANNELS
        size = CHANNEL_OVERHEAD + slab(len(channel_id) + 1)
        if not self.budget.take(size):
            return Explain.OUT_OF_MEMORY
        channel = Channel(
            channel_id,
            wildcard=wildcard,
            # the empty id is an ordinary channel when no events channel is configured
            for_events=bool(settings.events_channel_id)
            and channel_id == settings.events_channel_id,
            expires=self.now() + settings.channel_inactivity_time,
            size=size,
        )
        self._channels[channel_id] = channel
        if wildcard:
            self._wildcard_channels += 1
        else:
            self._normal_channels += 1
        self._emit(CHANNEL_CREATED, channel)
        return channel

    # messages

    def publish(
        self,
        channel: Channel,
        text: bytes,
        *,
        event_id: bytes | None = None,
        event_type: bytes | None = None,
        store_messages: bool,
        held: list[HeldDelivery] | None = None,
    ) -> Message | None:
        """Add a message and hand it to every subscriber (`add_msg_to_channel()`).

        None when the memory budget refuses it (the publisher answers 500). Returns without
        waiting on anyone: `Subscriber.deliver` only queues. With `held`, the deliveries go
        there instead, for the caller to make (`deliver_held`) before its next wait.
        """
        now = int(self._clock())
        settings = self.settings
        # The zone's tag advances even when the allocation below fails, as in the module.
        tag = self._last_tag + 1 if now == self._last_time else 1
        self._last_time, self._last_tag = now, tag
        # id, channel, text, time, tag, event_id, event_type, expires (positional: see Message)
        message = Message(
            channel.last_message_id + 1,
            channel.id,
            text,
            now,
            tag,
            event_id,
            event_type,
            now + settings.message_ttl,
        )
        size = MESSAGE_OVERHEAD + message.own_bytes + self.templates.rendered_size(message)
        if not self.budget.take(size):
            return None
        message.size = size
        channel.last_message_id = message.id
        channel.last_message_time = now
        channel.last_message_tag = tag
        channel.expires = now + settings.channel_inactivity_time
        messages = channel.messages
        stored = store_messages and not channel.deleted
        if stored:
            messages.append(message)
        limit = settings.max_messages_stored_per_channel
        removed = 0
        if limit is not None and len(messages) > limit:
            removed = self._trim(channel, limit, now)
        if not channel.for_events:
            self._published += 1
            self._stored += stored - removed
        if channel.subscriptions:
            subscriptions = tuple(channel.subscriptions)
            if held is not None:
                held.append((subscriptions, message))
            else:
                for subscription in subscriptions:
                    subscription.deliver(message)
        if not stored:
            self._trash_message(message, now)
        return message

    def _trim(self, channel: Channel, limit: int, now: int) -> int:
        """Trash the oldest messages beyond `limit`; how many went."""
        messages = channel.messages
        removed = len(messages) - limit
        trash, frees_after = self._message_trash, now + TRASH_TTL
        for _ in range(removed):
            trash.add(messages.popleft().size, frees_after)  # `_trash_message()`
        return removed

    def _trash_message(self, message: Message, now: int) -> None:
        self._message_trash.add(message.size, now + TRASH_TTL)

    def delete_channel(self, channel: Channel, text: bytes = b"") -> DeleteResult:
        """An admin DELETE (§9.4): the channel leaves the active set now and its subscribers
        get the deleted-channel message (`text`, or the configured one when empty).
        """
        if channel.deleted:
            return DeleteResult.ALREADY_DELETED
        message = deleted_message(channel.id, text or self.settings.channel_deleted_message_text)
        size = MESSAGE_OVERHEAD + message.own_bytes + self.templates.rendered_size(message)
        if not self.budget.take(size):
            return DeleteResult.OUT_OF_MEMORY
        message.size = size
        channel.deleted_message = message
        self._deactivate(channel)
        self._deleting[channel] = None
        for subscription in tuple(channel.subscriptions):
            connection = subscription.connection
            self._remove_subscription(subscription)
            connection.subscriber.channel_deleted(message, len(connection.subscriptions))
        return DeleteResult.DELETED

    def _deactivate(self, channel: Channel) -> None:
        channel.deleted = True
        del self._channels[channel.id]
        if channel.wildcard:
            self._wildcard_channels -= 1
        else:
            self._normal_channels -= 1

    # subscribers

    def register(self, subscriber: Subscriber) -> Connection:
        """A subscriber connection (counted in `subscribers`); subscribe it to its channels."""
        self._connections += 1
        return Connection(subscriber)

    def subscribe(self, connection: Connection, channel: Channel) -> bool:
        """Add a subscription (`client_subscribed` event); False when the channel is gone or
        the memory budget refuses it.
        """
        if channel.deleted or connection.closed or not self.budget.take(SUBSCRIPTION_OVERHEAD):
            return False
        subscription = Subscription(channel, connection)
        channel.subscriptions[subscription] = None
        connection.subscriptions[subscription] = None
        channel.expires = self.now() + self.settings.channel_inactivity_time
        self._emit(CLIENT_SUBSCRIBED, channel)
        return True

    def unregister(self, connection: Connection) -> None:
        """The connection ended: drop its subscriptions (`client_unsubscribed` each)."""
        if connection.closed:
            return
        connection.closed = True
        for subscription in tuple(connection.subscriptions):
            self._remove_subscription(subscription)
        self._connections -= 1

    def _remove_subscription(self, subscription: Subscription) -> None:
        subscription.channel.subscriptions.pop(subscription, None)
        subscription.connection.subscriptions.pop(subscription, None)
        self.budget.release(SUBSCRIPTION_OVERHEAD)
        self._emit(CLIENT_UNSUBSCRIBED, subscription.channel)

    # events channel

    def _emit(self, event_type: bytes, channel: Channel) -> None:
        events = self.events_channel
        if events is None or channel is events:
            return
        body = _EVENT_BODY % (event_type, channel.id)
        # Out of memory an event is lost, as in the module; the operation itself goes on.
        self.publish(events, body, event_type=event_type, store_messages=True)

    # sweeps

    def collect_expired_messages(self) -> None:
        """Buffer cleanup: expired messages move from each channel's head to the trash."""
        now = self.now()
        for channel in self._channels.values():
            messages = channel.messages
            while messages and messages[0].expires <= now:
                self._trash_message(messages.popleft(), now)
                if not channel.for_events:
                    self._stored -= 1

    def memory_cleanup(self) -> None:
        """Memory cleanup: deleted channels and inactive ones go to the trash, then trash
        older than `TRASH_TTL` is freed (the only way memory comes back).
        """
        now = self.now()
        for channel in tuple(self._deleting):
            while channel.messages:
                self._trash_message(channel.messages.popleft(), now)
                self._stored -= 1
            if not channel.subscriptions:
                del self._deleting[channel]
                self._trash_channel(channel, now)
        self.collect_expired_messages()
        inactive = [
            channel
            for channel in self._channels.values()
            if not channel.messages
            and not channel.subscriptions
            and channel.expires < now
            and not channel.for_events
        ]
        for channel in inactive:
            self._deactivate(channel)
            self._trash_channel(channel, now)
        self._free_trash(now)

    def _trash_channel(self, channel: Channel, now: int) -> None:
        channel.expires = now + TRASH_TTL
        self._channel_trash.append(channel)
        self._emit(CHANNEL_DESTROYED, channel)

    def _free_trash(self, now: int) -> None:
        self.budget.release(self._message_trash.free(now))
        channels = self._channel_trash
        while channels and now > channels[0].expires:
            channel = channels.popleft()
            deleted = channel.deleted_message
            self.budget.release(channel.size + (deleted.size if deleted is not None else 0))

    # statistics

    def totals(self) -> Totals:
        return Totals(
            channels=self._normal_channels,
            wildcard_channels=self._wildcard_channels,
            published_messages=self._published,
            stored_messages=self._stored,
            messages_in_trash=self._message_trash.count,
            channels_in_delete=len(self._deleting),
            channels_in_trash=len(self._channel_trash),
            subscribers=self._connections,
            uptime=self.now() - self.startup,
        )
