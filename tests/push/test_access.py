from __future__ import annotations

from typing import Any

import pytest

from pushproxy.push.access import (
    StatisticsLookup,
    publisher_channels,
    statistics_lookup,
    subscriber_channels,
)
from pushproxy.push.channels import Channel
from pushproxy.push.explain import Explain
from pushproxy.push.memory import CHANNEL_OVERHEAD
from pushproxy.push.paths import parse_channel_ids
from pushproxy.push.settings import LocationSettings, LocationType
from pushproxy.push.store import Store

from .support import Clock, Recorder, make_store


def subscribe_check(store: Store, path: bytes, **location: Any) -> list[Channel] | Explain:
    settings = LocationSettings(type=LocationType.STREAMING, **location)
    return subscriber_channels(store, parse_channel_ids(path), settings)


def ids(result: list[Channel] | Explain) -> list[bytes]:
    assert isinstance(result, list)
    return [channel.id for channel in result]


@pytest.mark.parametrize(
    ("path", "refusal"),
    [
        (b"ALL", Explain.NOT_AUTHORIZED),
        (b"ok/a*", Explain.NOT_AUTHORIZED),
        (b"*", Explain.NOT_AUTHORIZED),
        (b"ok/0123456789a", Explain.CHANNEL_ID_TOO_LARGE),
        # The first failing id decides.
        (b"0123456789a/ALL", Explain.CHANNEL_ID_TOO_LARGE),
        (b"ALL/0123456789a", Explain.NOT_AUTHORIZED),
    ],
)
def test_subscriber_id_checks(path: bytes, refusal: Explain) -> None:
    store = make_store(max_channel_id_length=10)
    assert subscribe_check(store, path) is refusal
    assert store.find_channel(b"ok") is None


def test_subscribers_create_missing_channels_in_path_order() -> None:
    store = make_store(events_channel_id=b"ev")
    result = subscribe_check(store, b"b/a/b")
    assert ids(result) == [b"b", b"a", b"b"]
    assert isinstance(result, list)
    assert result[0] is result[2]
    assert [c.id for c in store.channels()] == [b"ev", b"b", b"a"]


def test_authorized_channels_only() -> None:
    clock = Clock(1000)
    store = make_store(clock, wildcard_channel_prefix=b"bd_", message_ttl=5)
    refused = Explain.CANNOT_CREATE_CHANNELS
    assert subscribe_check(store, b"a", authorized_channels_only=True) is refused
    a = store.get_or_create_channel(b"a")
    assert isinstance(a, Channel)
    assert subscribe_check(store, b"a", authorized_channels_only=True) is refused
    store.publish(a, b"x", store_messages=True)
    assert ids(subscribe_check(store, b"a/bd_new", authorized_channels_only=True)) == [
        b"a",
        b"bd_new",
    ]
    clock.advance(5)
    store.collect_expired_messages()
    assert subscribe_check(store, b"a", authorized_channels_only=True) is refused


def test_subscribers_limit_per_channel() -> None:
    store = make_store(max_subscribers_per_channel=1)
    a = store.get_or_create_channel(b"a")
    assert isinstance(a, Channel)
    store.subscribe(store.register(Recorder()), a)
    assert subscribe_check(store, b"new/a") is Explain.TOO_MANY_SUBSCRIBERS
    assert store.find_channel(b"new") is None


def test_events_channel_needs_the_location_permission() -> None:
    store = make_store(events_channel_id=b"ev")
    assert subscribe_check(store, b"a/ev") is Explain.EVENTS_CHANNEL_FORBIDDEN
    assert ids(subscribe_check(store, b"a/ev", allow_connections_to_events_channel=True)) == [
        b"a",
        b"ev",
    ]


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        (b"bd_", False),
        (b"bd1", True),
        (b"bd1/bd2/bd_1/bd_2", True),
        (b"bd1/bd2/bd_1/bd_2/bd_3", False),
        (b"bd_1/bd_2", False),
    ],
)
def test_wildcard_quota_spec(path: bytes, allowed: bool) -> None:
    store = make_store(wildcard_channel_prefix=b"bd_")
    result = subscribe_check(store, path, wildcard_channel_max_qtd=2)
    if allowed:
        assert isinstance(result, list)
    else:
        assert result is Explain.TOO_MANY_WILDCARD_CHANNELS


def test_wildcard_quota_applies_only_when_set() -> None:
    store = make_store(wildcard_channel_prefix=b"bd_")
    assert ids(subscribe_check(store, b"bd_1")) == [b"bd_1"]


def test_subscriber_channel_creation_refusals() -> None:
    store = make_store(max_number_of_channels=1)
    assert subscribe_check(store, b"a/b") is Explain.TOO_MANY_CHANNELS
    assert store.find_channel(b"a") is not None
    tight = make_store(shared_memory_size=CHANNEL_OVERHEAD)
    refusal = subscribe_check(tight, b"abc")
    assert refusal is Explain.OUT_OF_MEMORY
    assert (refusal.status, refusal.text) == (500, "")


def publisher(store: Store, path: bytes, method: str) -> list[Channel] | Explain:
    return publisher_channels(store, parse_channel_ids(path), method)


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_publishers_refuse_all_and_stars_for_every_method(method: str) -> None:
    store = make_store(max_channel_id_length=5)
    assert publisher(store, b"ALL", method) is Explain.NOT_AUTHORIZED
    assert publisher(store, b"a/x*", method) is Explain.NOT_AUTHORIZED
    assert publisher(store, b"abcdef", method) is Explain.CHANNEL_ID_TOO_LARGE


def test_post_creates_and_get_only_looks_up() -> None:
    store = make_store()
    assert publisher(store, b"a/b", "GET") == []
    created = publisher(store, b"a/a", "POST")
    assert isinstance(created, list)
    assert created[0] is created[1] is store.find_channel(b"a")
    assert publisher(store, b"b/a/b", "DELETE") == [store.find_channel(b"a")]


def test_channels_created_before_a_refusal_stay() -> None:
    store = make_store(max_number_of_channels=1)
    assert publisher(store, b"a/b", "PUT") is Explain.TOO_MANY_CHANNELS
    assert store.find_channel(b"a") is not None


@pytest.mark.parametrize(
    ("method", "refused"), [("GET", False), ("POST", True), ("PUT", True), ("DELETE", True)]
)
def test_only_get_may_touch_the_events_channel(method: str, refused: bool) -> None:
    store = make_store(events_channel_id=b"ev")
    result = publisher(store, b"ev", method)
    if refused:
        assert result is Explain.EVENTS_CHANNEL_READ_ONLY
    else:
        assert result == [store.events_channel]


def stats(store: Store, path: bytes) -> StatisticsLookup | Explain:
    return statistics_lookup(store, parse_channel_ids(path))


def listed(result: StatisticsLookup | Explain) -> tuple[list[bytes], bool]:
    assert isinstance(result, StatisticsLookup)
    return [info.id for info in result.channels], result.listing


def test_statistics_lookups() -> None:
    store = make_store(max_channel_id_length=5, events_channel_id=b"ev")
    for name in (b"ch1", b"ch3", b"other", b"ch2"):
        store.get_or_create_channel(name)
    assert listed(stats(store, b"ch3/ch4")) == ([b"ch3"], False)
    assert listed(stats(store, b"ch4")) == ([], False)
    assert listed(stats(store, b"ch1/ch2")) == ([b"ch1", b"ch2"], False)
    assert listed(stats(store, b"ALL")) == ([b"ev", b"ch1", b"ch3", b"other", b"ch2"], True)
    assert listed(stats(store, b"*")) == ([b"ev", b"ch1", b"ch3", b"other", b"ch2"], True)
    assert listed(stats(store, b"c*x/toolongid")) == ([b"ch1", b"ch3", b"ch2"], True)
    assert listed(stats(store, b"nope/ch*")) == ([b"ch1", b"ch3", b"ch2"], True)
    assert stats(store, b"toolong/ALL") is Explain.CHANNEL_ID_TOO_LARGE
