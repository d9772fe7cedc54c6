"""The store handed from a worker to the next at a reload, as nginx's shared zone outlives the
workers that use it: channels, stored messages, the trash and the counters go over; the
subscriptions stay behind (their subscribers were ended and reconnect to the new worker).

`take` returns bytes, so the state crosses a socket between processes; `give` puts them into
the new worker's store, whose configuration (settings, templates, clock) stays its own.
"""

from __future__ import annotations

import pickle
from typing import Any

from pushproxy.push.channels import Channel
from pushproxy.push.memory import SUBSCRIPTION_OVERHEAD
from pushproxy.push.store import Store

# What the zone holds; the rest of a store (settings, templates, clock, the ping and timeout
# messages) comes from the configuration of the worker that takes it over.
_CARRIED = (
    "budget",
    "_channels",
    "_deleting",
    "_channel_trash",
    "_message_trash",
    "_normal_channels",
    "_wildcard_channels",
    "_published",
    "_stored",
    "_last_time",
    "_last_tag",
    "startup",
    "events_channel",
)


class HandoverCut(Exception):
    """What a retiring worker handed over ends before its end."""


def take(store: Store, zone_size: int) -> bytes:
    """The state of `store` (a retiring worker's: it is not used after this), with the size
    of the zone it was made with (a reload cannot change it)."""
    state: dict[str, Any] = {name: getattr(store, name) for name in _CARRIED}
    channels = [*store._channels.values(), *store._deleting, *store._channel_trash]
    left = 0
    for channel in channels:
        left += len(channel.subscriptions)
        channel.subscriptions = {}  # (sockets and tasks of this process)
        for message in channel.messages:
            message.rendered = {}  # keyed by this configuration's templates
        if channel.deleted_message is not None:
            channel.deleted_message.rendered = {}
    store.budget.release(left * SUBSCRIPTION_OVERHEAD)
    return pickle.dumps((zone_size, state), protocol=pickle.HIGHEST_PROTOCOL)


def give(store: Store, handed: bytes) -> int:
    """Put a retired worker's state into `store` (just made, with no subscriber yet); the
    size of the zone it was made with comes back. HandoverCut when they did not all come (the
    old worker was killed as it sent them): the store stays as it was made."""
    try:
        size, state = pickle.loads(handed)
    except (pickle.UnpicklingError, EOFError, ValueError) as error:
        raise HandoverCut(str(error)) from None
    own_events = store.settings.events_channel_id
    for name, value in state.items():
        setattr(store, name, value)
    events = store.events_channel
    if not own_events:
        store.events_channel = None
    elif events is None or events.id != own_events:
        created = store.get_or_create_channel(own_events)
        store.events_channel = created if isinstance(created, Channel) else None
    return int(size)
