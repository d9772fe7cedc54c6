"""The per-request channel checks, answered as data: channels, or the refusal to send (§0.1).

Publisher (§4.1), subscriber (`validate_channels()`, §5.1) and statistics (§7.3) locations each
check the requested ids in path order; the first failure decides the response.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from pushproxy.push.channels import Channel
from pushproxy.push.explain import Explain
from pushproxy.push.info import ChannelInfo
from pushproxy.push.paths import ALL_CHANNELS, RequestedChannel, is_forbidden_id
from pushproxy.push.settings import LocationSettings
from pushproxy.push.store import Store

_CREATING = frozenset({"POST", "PUT"})


class StatisticsLookup(NamedTuple):
    """Channels for the statistics location; a `listing` (`ALL` or a prefix) always takes the
    group format, otherwise 0 found → 404, 1 → single format, more → group format.
    """

    channels: list[ChannelInfo]
    listing: bool


def check_channel_id(store: Store, channel_id: bytes) -> Explain | None:
    """`ALL` or `*` → 403, longer than `max_channel_id_length` → 400."""
    if is_forbidden_id(channel_id):
        return Explain.NOT_AUTHORIZED
    limit = store.settings.max_channel_id_length
    if limit is not None and len(channel_id) > limit:
        return Explain.CHANNEL_ID_TOO_LARGE
    return None


def publisher_channels(
    store: Store, requested: Sequence[RequestedChannel], method: str
) -> list[Channel] | Explain:
    """The publisher's checks: POST and PUT create channels (those created before a refusal
    stay created), other methods only look up (missing ones are left out); only GET may touch
    the events channel.
    """
    creating = method in _CREATING
    found: list[Channel] = []
    for wanted in requested:
        refusal = check_channel_id(store, wanted.id)
        if refusal is not None:
            return refusal
        channel: Channel | Explain | None
        if creating:
            channel = store.get_or_create_channel(wanted.id)
            if isinstance(channel, Explain):
                return channel
        else:
            channel = store.find_channel(wanted.id)
            if channel is None:
                continue
        if channel.for_events and method != "GET":
            return Explain.EVENTS_CHANNEL_READ_ONLY
        found.append(channel)
    return found


def subscriber_channels(
    store: Store, requested: Sequence[RequestedChannel], location: LocationSettings
) -> list[Channel] | Explain:
    """Per-id checks, then the wildcard quota, then missing channels are created (in every
    mode, polling included). The channels follow `requested`, duplicates included.
    """
    max_subscribers = store.settings.max_subscribers_per_channel
    wildcards = 0
    for wanted in requested:
        refusal = check_channel_id(store, wanted.id)
        if refusal is not None:
            return refusal
        wildcard = store.is_wildcard(wanted.id)
        wildcards += wildcard
        channel = store.find_channel(wanted.id)
        if (
            location.authorized_channels_only
            and not wildcard
            and (channel is None or not channel.messages)
        ):
            return Explain.CANNOT_CREATE_CHANNELS
        if channel is None:
            continue
        if max_subscribers is not None and len(channel.subscriptions) >= max_subscribers:
            return Explain.TOO_MANY_SUBSCRIBERS
        if channel.for_events and not location.allow_connections_to_events_channel:
            return Explain.EVENTS_CHANNEL_FORBIDDEN
    quota = location.wildcard_channel_max_qtd
    if quota is not None and wildcards and (wildcards > quota or wildcards == len(requested)):
        return Explain.TOO_MANY_WILDCARD_CHANNELS
    channels: list[Channel] = []
    for wanted in requested:
        created = store.get_or_create_channel(wanted.id)
        if isinstance(created, Explain):
            return created
        channels.append(created)
    return channels


def statistics_lookup(
    store: Store, requested: Sequence[RequestedChannel]
) -> StatisticsLookup | Explain:
    """Too long → 400; an id with `*` lists the channels whose id starts with the text before
    it (later ids are ignored); `ALL` lists every channel; other ids are looked up.
    """
    limit = store.settings.max_channel_id_length
    found: list[ChannelInfo] = []
    for wanted in requested:
        if limit is not None and len(wanted.id) > limit:
            return Explain.CHANNEL_ID_TOO_LARGE
        star = wanted.id.find(b"*")
        if star != -1 or wanted.id == ALL_CHANNELS:
            prefix = wanted.id[:star] if star != -1 else b""
            return StatisticsLookup([c.info() for c in store.channels(prefix)], listing=True)
        channel = store.find_channel(wanted.id)
        if channel is not None:
            found.append(channel.info())
    return StatisticsLookup(found, listing=False)
