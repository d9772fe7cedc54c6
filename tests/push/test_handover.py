"""The store a retiring worker hands to the next (push/handover.py), without processes."""

from __future__ import annotations

import pytest

from pushproxy.push import handover
from pushproxy.push.memory import SUBSCRIPTION_OVERHEAD

from .support import Clock, Recorder, channel, make_store, publish

ZONE = 10 * 1024 * 1024


def test_channels_messages_and_counters_go_over() -> None:
    clock = Clock()
    old = make_store(clock, events_channel_id=b"events")
    kept = channel(old, b"kept")
    publish(old, kept, b"first")
    publish(old, kept, b"second")
    publish(old, channel(old, b"gone"), b"x", stored=False)
    kept.messages[0].rendered[object()] = b"framed for this worker"
    clock.advance(3)
    before = old.totals()
    used = old.budget.used
    new = make_store(clock, events_channel_id=b"events")
    assert handover.give(new, handover.take(old, ZONE)) == ZONE
    assert new.totals() == before  # uptime too: the zone's, not the worker's
    moved = channel(new, b"kept")
    assert [m.text for m in moved.messages] == [b"first", b"second"]
    assert all(not m.rendered for m in moved.messages)  # keyed by the old templates
    assert new.budget.used == used
    events, old_events = new.events_channel, old.events_channel
    assert events is not None
    assert old_events is not None
    assert events.published_messages == old_events.published_messages == 2  # (both created)
    # ids and tags go on where they were
    assert publish(new, moved, b"third").id == 3


def test_subscriptions_stay_behind_and_their_memory_is_freed() -> None:
    old = make_store()
    connection = old.register(Recorder())
    assert old.subscribe(connection, channel(old, b"room"))
    used = old.budget.used
    new = make_store()
    handover.give(new, handover.take(old, ZONE))
    assert channel(new, b"room").subscribers == 0
    assert new.totals().subscribers == 0
    assert new.budget.used == used - SUBSCRIPTION_OVERHEAD


def test_a_new_events_channel_id_gets_its_channel() -> None:
    old = make_store(events_channel_id=b"events")
    new = make_store(events_channel_id=b"news")
    handover.give(new, handover.take(old, ZONE))
    assert new.events_channel is not None
    assert new.events_channel.id == b"news"
    without = make_store()
    handover.give(without, handover.take(make_store(events_channel_id=b"events"), ZONE))
    assert without.events_channel is None


def test_a_handover_cut_short_leaves_the_new_store_as_it_was() -> None:
    old = make_store()
    publish(old, channel(old, b"kept"), b"first")
    handed = handover.take(old, ZONE)
    new = make_store()
    before = new.totals()
    with pytest.raises(handover.HandoverCut):
        handover.give(new, handed[: len(handed) // 2])
    assert new.totals() == before
