"""A streaming subscriber's outbox, without sockets: shared pieces, padding, the bound."""

from __future__ import annotations

import re

import trio
import trio.testing

from pushproxy.push.messages import Message, ping_message
from pushproxy.push.padding import PaddingRule, Paddings
from pushproxy.push.settings import LocationSettings, LocationType
from pushproxy.push.streaming import OUTBOX_LIMIT, StreamSession
from pushproxy.push.templates import LocationTemplates, TemplateRegistry

MEGABYTE = 1024 * 1024


def session(
    kind: LocationType = LocationType.STREAMING,
    padding: PaddingRule | None = None,
    **settings: bytes,
) -> StreamSession:
    templates = LocationTemplates.build(
        LocationSettings(type=kind, **settings),  # type: ignore[arg-type]
        TemplateRegistry(),
    )
    return StreamSession(templates, Paddings(500), padding, clock=lambda: 0.0)


def message(text: bytes, number: int = 1) -> Message:
    return Message(id=number, channel=b"ch", text=text)


def test_pieces_are_shared_between_subscribers() -> None:
    templates = LocationTemplates.build(
        LocationSettings(type=LocationType.STREAMING, message_template=b"~id~:~text~"),
        TemplateRegistry(),
    )
    first = StreamSession(templates, Paddings(0), None, clock=lambda: 0.0)
    second = StreamSession(templates, Paddings(0), None, clock=lambda: 0.0)
    shared = message(b"hello")
    first.deliver(shared)
    second.deliver(shared)
    (mine,), (theirs,) = first.take(), second.take()
    # rendered once: the very same bytes object goes to every subscriber
    assert mine == b"1:hello"
    assert mine is theirs


def test_padding_follows_the_rule() -> None:
    rule = PaddingRule(agent=re.compile(b"x"), header_min=0, message_min=150)
    padded = session(padding=rule, header_template=b"H")
    assert padded.header_pieces() == [b"H"]
    padded.deliver(message(b"m"))
    assert [len(piece) for piece in padded.take()] == [1, 200]


def test_eventsource_pings_are_comments() -> None:
    events = session(LocationType.EVENTSOURCE)
    assert events.ping_pieces(ping_message(b" ")) == [b": -1\n"]
    assert events.header_pieces() == [b": \n"]
    assert session().ping_pieces(ping_message(b" ")) == [b" "]


def test_deleting_the_last_channel_finishes() -> None:
    stream = session()
    stream.channel_deleted(message(b"Channel deleted", -2), 1)
    assert not stream.finished
    stream.channel_deleted(message(b"Channel deleted", -2), 0)
    assert stream.finished
    assert stream.take() == [b"Channel deleted", b"Channel deleted"]


def test_the_outbox_is_bounded() -> None:
    stream = session()
    stream.scope = trio.CancelScope()  # as if the task were writing
    big = message(b"x" * MEGABYTE)
    for _ in range(OUTBOX_LIMIT // MEGABYTE):
        stream.deliver(big)
    assert (stream.pending_bytes, stream.dropped) == (OUTBOX_LIMIT, False)
    stream.deliver(big)
    # dropped: nothing kept, the task's write cancelled, later messages ignored
    assert (stream.pending, stream.pending_bytes, stream.dropped) == ([], 0, True)
    assert stream.scope.cancel_called
    stream.deliver(big)
    assert stream.pending == []


async def parked(stream: StreamSession, nursery: trio.Nursery) -> None:
    """A task waiting as the session's task does, once it is parked."""

    async def wait() -> None:
        stream.parked = trio.lowlevel.current_task()
        await trio.lowlevel.wait_task_rescheduled(stream.unpark)

    nursery.start_soon(wait)
    await trio.testing.wait_all_tasks_blocked()
    assert stream.parked is not None


async def test_a_delivery_reschedules_the_waiting_task_not_a_write() -> None:
    stream = session()
    stream.scope = trio.CancelScope()
    stream.writing = True  # the write in progress takes the queue when it is done
    stream.deliver(message(b"during the write"))
    assert not stream.scope.cancel_called
    stream.scope, stream.writing = None, False
    async with trio.open_nursery() as nursery:
        await parked(stream, nursery)
        stream.deliver(message(b"while waiting"))
        assert stream.parked is None  # rescheduled: the task returns, the nursery ends
    assert stream.take() == [b"during the write", b"while waiting"]


async def test_the_last_deletion_and_the_client_wake_the_task() -> None:
    stream = session()
    async with trio.open_nursery() as nursery:
        await parked(stream, nursery)
        stream.channel_deleted(message(b"Channel deleted", -2), 0)
        assert stream.finished
        assert stream.parked is None
    async with trio.open_nursery() as nursery:
        await parked(stream, nursery)
        stream.client_event()
        assert stream.readable
        assert stream.parked is None


async def test_a_cancelled_wait_is_never_rescheduled() -> None:
    stream = session()
    async with trio.open_nursery() as nursery:
        await parked(stream, nursery)
        nursery.cancel_scope.cancel()  # the task is on its way out
        assert stream.parked is None
        stream.deliver(message(b"too late"))  # must not reschedule it a second time


async def test_a_stop_cuts_even_a_write() -> None:  # async: `cancel_called` reads trio's clock
    stream = session()
    stream.scope = trio.CancelScope()
    stream.writing = True
    stream.cancel()
    assert (stream.stopped, stream.dropped, stream.scope.cancel_called) == (True, False, True)


def test_the_bound_is_the_sessions_own_and_one_message_always_fits() -> None:
    templates = LocationTemplates.build(
        LocationSettings(type=LocationType.STREAMING), TemplateRegistry()
    )
    roomy = StreamSession(templates, Paddings(0), None, clock=None, limit=3 * OUTBOX_LIMIT)
    roomy.scope = trio.CancelScope()  # as if the task were writing
    for _ in range(3 * OUTBOX_LIMIT // MEGABYTE):
        roomy.deliver(message(b"x" * MEGABYTE))
    assert (roomy.pending_bytes, roomy.dropped) == (3 * OUTBOX_LIMIT, False)
    huge = StreamSession(templates, Paddings(0), None, clock=None)
    huge.scope = trio.CancelScope()
    huge.deliver(message(b"x" * (OUTBOX_LIMIT + 1)))  # larger than the bound, alone: kept
    assert (huge.pending_bytes, huge.dropped) == (OUTBOX_LIMIT + 1, False)
    huge.deliver(message(b"x"))
    assert huge.dropped
