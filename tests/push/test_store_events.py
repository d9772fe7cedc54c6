"""The events channel (§9.7): lifecycle events as JSON messages of their own channel."""

from __future__ import annotations

import pytest

from pushproxy.push.store import Store, StoreError

from .support import Clock, Recorder, channel, make_store


def events_texts(store: Store) -> list[bytes]:
    assert store.events_channel is not None
    return [message.text for message in store.events_channel.messages]


def test_events_channel_records_the_lifecycle() -> None:
    clock = Clock(1000)
    store = make_store(
        clock,
        events_channel_id=b"events",
        channel_inactivity_time=1,
        max_messages_stored_per_channel=10,
    )
    events = store.events_channel
    assert events is not None
    assert store.find_channel(b"events") is events
    assert store.totals().channels == 1
    a = channel(store, b"a")
    connection = store.register(Recorder())
    store.subscribe(connection, a)
    store.subscribe(connection, events)
    store.unregister(connection)
    clock.advance(2)
    store.memory_cleanup()
    assert events_texts(store) == [
        b'{"type": "channel_created", "channel": "a"}',
        b'{"type": "client_subscribed", "channel": "a"}',
        b'{"type": "client_unsubscribed", "channel": "a"}',
        b'{"type": "channel_destroyed", "channel": "a"}',
    ]
    first = events.messages[0]
    assert (first.event_type, first.event_id) == (b"channel_created", None)
    assert [m.tag for m in events.messages] == [1, 2, 3, 1]
    assert store.find_channel(b"events") is events
    totals = store.totals()
    assert (totals.published_messages, totals.stored_messages) == (0, 0)
    assert events.info().published_messages == 4


def test_events_are_stored_even_when_publishers_do_not_store() -> None:
    store = make_store(events_channel_id=b"ev", max_messages_stored_per_channel=1)
    channel(store, b"a")
    channel(store, b"b")
    assert events_texts(store) == [b'{"type": "channel_created", "channel": "b"}']


def test_delete_notifies_the_events_channel() -> None:
    clock = Clock(1000)
    store = make_store(clock, events_channel_id=b"ev")
    a = channel(store, b"a")
    store.subscribe(store.register(Recorder()), a)
    store.delete_channel(a)
    store.memory_cleanup()
    assert events_texts(store)[-2:] == [
        b'{"type": "client_unsubscribed", "channel": "a"}',
        b'{"type": "channel_destroyed", "channel": "a"}',
    ]


def test_events_channel_must_fit() -> None:
    with pytest.raises(StoreError):
        make_store(shared_memory_size=10, events_channel_id=b"ev")


def test_the_empty_id_is_an_ordinary_channel_without_events_channel() -> None:
    store = make_store()
    empty = channel(store, b"")
    assert not empty.for_events
    assert store.events_channel is None
