from __future__ import annotations

import pytest

from pushproxy.push.channels import Channel
from pushproxy.push.explain import Explain
from pushproxy.push.memory import CHANNEL_OVERHEAD, MESSAGE_OVERHEAD, TRASH_TTL, MessageTrash, slab
from pushproxy.push.messages import Message
from pushproxy.push.store import DeleteResult, HeldDelivery, deliver_held
from pushproxy.push.templates import RenderMode, TemplateRegistry

from .support import Clock, Recorder, channel, make_store, publish


def test_ids_count_from_one_per_channel_even_with_store_off() -> None:
    store = make_store()
    a, b = channel(store, b"a"), channel(store, b"b")
    assert [publish(store, a, b"1").id, publish(store, a, b"2", stored=False).id] == [1, 2]
    assert publish(store, b, b"x").id == 1
    assert a.published_messages == 2
    assert a.stored_messages == 1


def test_tag_counts_publishes_of_the_same_second_across_channels() -> None:
    clock = Clock(100.3)
    store = make_store(clock)
    a, b = channel(store, b"a"), channel(store, b"b")
    first, second = publish(store, a, b"1"), publish(store, b, b"2")
    assert (first.time, first.tag, second.time, second.tag) == (100, 1, 100, 2)
    clock.advance(0.8)
    third = publish(store, a, b"3")
    assert (third.time, third.tag) == (101, 1)
    assert (a.last_message_time, a.last_message_tag) == (101, 1)


def test_event_id_and_type_are_kept() -> None:
    store = make_store()
    message = store.publish(
        channel(store, b"a"), b"x", event_id=b"", event_type=b"t", store_messages=True
    )
    assert message is not None
    assert (message.event_id, message.event_type) == (b"", b"t")


def test_max_stored_discards_the_oldest_into_the_trash() -> None:
    store = make_store(max_messages_stored_per_channel=2)
    a = channel(store, b"a")
    for text in (b"1", b"2", b"3"):
        publish(store, a, text)
    assert [m.text for m in a.messages] == [b"2", b"3"]
    totals = store.totals()
    assert (totals.stored_messages, totals.messages_in_trash, totals.published_messages) == (
        2,
        1,
        3,
    )


def test_store_off_delivers_then_trashes() -> None:
    store = make_store()
    a = channel(store, b"a")
    recorder = Recorder()
    connection = store.register(recorder)
    assert store.subscribe(connection, a)
    message = publish(store, a, b"live", stored=False)
    assert recorder.delivered == [message]
    assert not a.messages
    assert (store.totals().stored_messages, store.totals().messages_in_trash) == (0, 1)


def test_fan_out_shares_one_message_and_duplicates_deliver_twice() -> None:
    store = make_store()
    a, b = channel(store, b"a"), channel(store, b"b")
    first, second = Recorder(), Recorder()
    one = store.register(first)
    for target in (a, a, b):
        assert store.subscribe(one, target)
    two = store.register(second)
    assert store.subscribe(two, a)
    message = publish(store, a, b"m")
    assert first.delivered == [message, message]
    assert second.delivered[0] is message
    assert a.subscribers == 3
    assert store.totals().subscribers == 2


def test_a_subscriber_may_unregister_while_being_delivered_to() -> None:
    store = make_store()
    a = channel(store, b"a")
    later = Recorder()

    class LongPoll(Recorder):
        def deliver(self, message: Message) -> None:
            super().deliver(message)
            store.unregister(connection)

    poller = LongPoll()
    connection = store.register(poller)
    store.subscribe(connection, a)
    store.subscribe(store.register(later), a)
    publish(store, a, b"1")
    publish(store, a, b"2")
    assert poller.texts == [b"1"]
    assert later.texts == [b"1", b"2"]
    assert a.subscribers == 1


def test_held_deliveries_wait_for_deliver_held_and_go_once_in_order() -> None:
    store = make_store()
    a, b = channel(store, b"a"), channel(store, b"b")
    recorder = Recorder()
    connection = store.register(recorder)
    for target in (a, b):
        assert store.subscribe(connection, target)
    held: list[HeldDelivery] = []
    for target, text in ((a, b"1"), (b, b"2"), (a, b"3")):
        assert store.publish(target, text, store_messages=True, held=held) is not None
    assert recorder.delivered == []
    assert a.published_messages == 2  # stored and counted at once
    late = Recorder()  # joins after the publish: the stored messages are its to fetch
    assert store.subscribe(store.register(late), a)
    deliver_held(held)
    deliver_held(held)
    assert recorder.texts == [b"1", b"2", b"3"]
    assert late.delivered == []


def test_a_subscriber_that_ended_gets_no_held_delivery() -> None:
    store = make_store()
    a, b = channel(store, b"a"), channel(store, b"b")

    class LongPoll(Recorder):  # answers once, with the first message of any channel
        def deliver(self, message: Message) -> None:
            super().deliver(message)
            store.unregister(connection)

    poller = LongPoll()
    connection = store.register(poller)
    for target in (a, b):
        assert store.subscribe(connection, target)
    held: list[HeldDelivery] = []
    for target, text in ((a, b"1"), (b, b"2")):
        assert store.publish(target, text, store_messages=True, held=held) is not None
    deliver_held(held)
    assert poller.texts == [b"1"]


def test_messages_expire_between_ttl_and_the_next_sweep() -> None:
    clock = Clock(1000)
    store = make_store(clock, message_ttl=12)
    a = channel(store, b"a")
    publish(store, a, b"x")
    clock.advance(6)
    store.collect_expired_messages()
    assert a.stored_messages == 1
    clock.advance(5.9)
    store.collect_expired_messages()
    assert a.stored_messages == 1
    clock.advance(0.1)
    store.collect_expired_messages()
    assert a.stored_messages == 0
    totals = store.totals()
    assert (totals.stored_messages, totals.messages_in_trash) == (0, 1)


def test_message_trash_frees_by_second_in_order() -> None:
    trash = MessageTrash()
    trash.add(10, 5)
    trash.add(20, 5)
    trash.add(40, 7)
    assert trash.count == 3
    assert trash.free(5) == 0  # freed once its second has passed, not during it
    assert (trash.free(6), trash.count) == (30, 1)
    assert (trash.free(100), trash.count) == (40, 0)
    assert trash.free(100) == 0


def test_trash_spread_over_seconds_comes_back_second_by_second() -> None:
    clock = Clock(1000)
    store = make_store(clock, channel_inactivity_time=100, max_messages_stored_per_channel=1)
    a = channel(store, b"a")
    before = store.budget.used
    sizes = []
    for _ in range(3):
        sizes.append(publish(store, a, b"x" * 10).size)  # each trims the one before
        clock.advance(1)
    assert store.totals().messages_in_trash == 2
    clock.advance(TRASH_TTL - 1)  # now 1012: the first, trashed at 1001, is past its second
    store.memory_cleanup()
    assert store.totals().messages_in_trash == 1
    assert store.budget.used == before + sizes[1] + sizes[2]


def test_trash_is_freed_after_its_ttl_and_memory_comes_back() -> None:
    clock = Clock(1000)
    store = make_store(clock, channel_inactivity_time=100)
    a = channel(store, b"a")
    before = store.budget.used
    publish(store, a, b"x" * 100, stored=False)
    assert store.budget.used >= before + MESSAGE_OVERHEAD + 100
    clock.advance(TRASH_TTL)
    store.memory_cleanup()
    assert store.totals().messages_in_trash == 1
    clock.advance(1)
    store.memory_cleanup()
    assert store.totals().messages_in_trash == 0
    assert store.budget.used == before


def test_inactive_channels_are_collected_and_come_back_fresh() -> None:
    clock = Clock(1000)
    store = make_store(clock, channel_inactivity_time=5)
    a = channel(store, b"a")
    publish(store, a, b"x", stored=False)
    clock.advance(5)
    store.memory_cleanup()
    assert store.find_channel(b"a") is a
    clock.advance(1)
    store.memory_cleanup()
    assert store.find_channel(b"a") is None
    totals = store.totals()
    assert (totals.channels, totals.channels_in_trash) == (0, 1)
    again = channel(store, b"a")
    assert again is not a
    assert publish(store, again, b"y").id == 1
    clock.advance(TRASH_TTL + 1)
    store.memory_cleanup()
    assert store.totals().channels_in_trash == 0


@pytest.mark.parametrize("keep", ["subscriber", "message"])
def test_channels_with_subscribers_or_messages_stay(keep: str) -> None:
    clock = Clock(1000)
    store = make_store(clock, channel_inactivity_time=1)
    a = channel(store, b"a")
    if keep == "subscriber":
        store.subscribe(store.register(Recorder()), a)
    else:
        publish(store, a, b"x")
    clock.advance(60)
    store.memory_cleanup()
    assert store.find_channel(b"a") is a


def test_subscribing_and_publishing_push_the_inactivity_deadline() -> None:
    clock = Clock(1000)
    store = make_store(clock, channel_inactivity_time=30)
    a = channel(store, b"a")
    assert a.expires == 1030
    clock.advance(10)
    connection = store.register(Recorder())
    store.subscribe(connection, a)
    assert a.expires == 1040
    clock.advance(10)
    publish(store, a, b"x", stored=False)
    assert a.expires == 1050
    store.unregister(connection)
    assert a.expires == 1050


def test_delete_spec_sequence() -> None:
    clock = Clock(1000)
    store = make_store(clock)
    ch1, ch2 = channel(store, b"ch1"), channel(store, b"ch2")
    recorder = Recorder()
    connection = store.register(recorder)
    store.subscribe(connection, ch1)
    store.subscribe(connection, ch2)

    assert store.delete_channel(ch1) is DeleteResult.DELETED
    ((deleted, remaining),) = recorder.deleted
    assert (deleted.id, deleted.channel, deleted.text, remaining) == (
        -2,
        b"ch1",
        b"Channel deleted",
        1,
    )
    assert store.find_channel(b"ch1") is None
    totals = store.totals()
    assert (totals.channels, totals.channels_in_delete) == (1, 1)

    assert publish(store, ch2, b"still here").id == 1
    assert recorder.texts == [b"still here"]

    assert store.delete_channel(ch2, b"gone") is DeleteResult.DELETED
    assert [(m.text, left) for m, left in recorder.deleted] == [
        (b"Channel deleted", 1),
        (b"gone", 0),
    ]
    assert not connection.subscriptions
    assert store.delete_channel(ch2) is DeleteResult.ALREADY_DELETED


def test_deleted_channel_goes_to_trash_at_the_next_cleanup() -> None:
    clock = Clock(1000)
    store = make_store(clock)
    ch = channel(store, b"ch")
    publish(store, ch, b"1")
    publish(store, ch, b"2")
    assert store.delete_channel(ch) is DeleteResult.DELETED
    assert store.totals().stored_messages == 2
    renewed = channel(store, b"ch")
    assert renewed is not ch
    assert publish(store, renewed, b"new").id == 1
    store.memory_cleanup()
    totals = store.totals()
    assert (totals.channels_in_delete, totals.channels_in_trash) == (0, 1)
    assert (totals.stored_messages, totals.messages_in_trash) == (1, 2)


def test_channel_limits_count_normal_and_wildcard_channels_apart() -> None:
    store = make_store(
        max_number_of_channels=2,
        max_number_of_wildcard_channels=1,
        wildcard_channel_prefix=b"bd_",
        events_channel_id=b"events",
    )
    assert isinstance(store.get_or_create_channel(b"a"), Channel)
    assert store.get_or_create_channel(b"b") is Explain.TOO_MANY_CHANNELS
    assert store.get_or_create_channel(b"a") is store.find_channel(b"a")
    assert isinstance(store.get_or_create_channel(b"bd_1"), Channel)
    assert store.get_or_create_channel(b"bd_2") is Explain.TOO_MANY_CHANNELS
    totals = store.totals()
    assert (totals.channels, totals.wildcard_channels) == (2, 1)


def _message_cost(text: bytes) -> int:
    """A message with no template: its struct, its text and the empty array of renderings."""
    return MESSAGE_OVERHEAD + slab(len(text) + 1) + slab(0)


CHANNEL_A = CHANNEL_OVERHEAD + slab(len(b"a") + 1)


def test_memory_budget_refuses_instead_of_growing() -> None:
    store = make_store(shared_memory_size=CHANNEL_A + _message_cost(b"x" * 40) + 50)
    a = channel(store, b"a")
    publish(store, a, b"x" * 40)
    assert store.get_or_create_channel(b"b") is Explain.OUT_OF_MEMORY
    assert store.publish(a, b"y" * 40, store_messages=True) is None
    assert (a.last_message_id, a.stored_messages) == (1, 1)
    assert store.totals().published_messages == 1
    assert not store.subscribe(store.register(Recorder()), a)


def test_a_refused_publish_still_uses_a_tag() -> None:
    store = make_store(shared_memory_size=CHANNEL_A + 2 * _message_cost(b"small") + 20)
    a = channel(store, b"a")
    assert publish(store, a, b"small").tag == 1
    assert store.publish(a, b"big" * 100, store_messages=True) is None
    assert publish(store, a, b"small").tag == 3


def test_memory_comes_back_through_the_trash_only() -> None:
    clock = Clock(1000)
    store = make_store(
        clock, shared_memory_size=CHANNEL_A + _message_cost(b"x" * 40) + 50, message_ttl=5
    )
    a = channel(store, b"a")
    publish(store, a, b"x" * 40)
    clock.advance(5)
    store.memory_cleanup()
    assert store.totals().messages_in_trash == 1
    assert store.publish(a, b"y" * 40, store_messages=True) is None
    clock.advance(TRASH_TTL + 1)
    store.memory_cleanup()
    assert store.publish(a, b"y" * 40, store_messages=True) is not None


def test_rendered_copies_are_charged() -> None:
    registry = TemplateRegistry()
    registry.add(b"<~text~>", RenderMode.TEXT)
    registry.add(b"~text~", RenderMode.EVENTSOURCE)
    store = make_store(templates=registry)
    a = channel(store, b"a")
    before = store.budget.used
    message = publish(store, a, b"abc")
    # Its struct, its text, the array of its two renderings and each rendering, in the
    # module's slab size classes.
    assert message.size == MESSAGE_OVERHEAD + slab(4) + slab(32) + slab(5) + slab(4)
    assert store.budget.used == before + message.size
    # Charged at publish, rendered when a subscriber first needs it, then shared.
    assert message.rendered == {}
    text_template = registry.add(b"<~text~>", RenderMode.TEXT)
    assert text_template.rendered(message) == b"<abc>"
    assert text_template.rendered(message) is message.rendered[text_template]


def test_a_message_costs_what_the_module_allocates_for_it() -> None:
    """The module's message struct (ngx_http_push_stream_msg_t: a queue, two times, a flag,
    an id, the text, a tag, five pointers and two counts) is 128 bytes on 64 bits, a size
    class of its own. So a 1-byte message with one template takes 128 + 8 (its text and NUL)
    + 16 (the array of renderings) + 8 (its rendering): the module's own measure is about
    168 bytes for it (measure_memory_spec)."""
    registry = TemplateRegistry()
    registry.add(b"~text~", RenderMode.TEXT)
    store = make_store(templates=registry)
    assert publish(store, channel(store, b"a"), b"1").size == 128 + 8 + 16 + 8


def test_subscriptions_are_refused_on_gone_channels_and_closed_connections() -> None:
    store = make_store()
    a = channel(store, b"a")
    connection = store.register(Recorder())
    store.unregister(connection)
    store.unregister(connection)
    assert store.totals().subscribers == 0
    assert not store.subscribe(connection, a)
    store.delete_channel(a)
    assert not store.subscribe(store.register(Recorder()), a)


def test_publishing_into_a_deleted_channel_stores_nothing() -> None:
    store = make_store()
    a = channel(store, b"a")
    store.delete_channel(a)
    assert publish(store, a, b"late").id == 1
    assert a.stored_messages == 0
    assert store.totals().stored_messages == 0


def test_channels_listing_follows_creation_order_and_prefix() -> None:
    store = make_store(events_channel_id=b"events")
    for name in (b"ch2", b"x", b"ch1"):
        channel(store, name)
    assert [c.id for c in store.channels()] == [b"events", b"ch2", b"x", b"ch1"]
    assert [c.id for c in store.channels(b"ch")] == [b"ch2", b"ch1"]


def test_uptime_and_reload_keep_the_zone() -> None:
    clock = Clock(1000)
    store = make_store(clock)
    a = channel(store, b"a")
    clock.advance(42)
    store.reconfigure(store.settings, TemplateRegistry())
    assert store.totals().uptime == 42
    assert store.find_channel(b"a") is a
