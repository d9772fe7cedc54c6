"""A streaming subscriber's outbox, without sockets: shared pieces, padding, the bound."""

from __future__ import annotations

import re

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
    big = message(b"x" * MEGABYTE)
    for _ in range(OUTBOX_LIMIT // MEGABYTE):
        stream.deliver(big)
    assert (stream.pending_bytes, stream.overflow) == (OUTBOX_LIMIT, False)
    stream.deliver(big)
    # dropped: nothing kept, the writer's write cancelled, later messages ignored
    assert (stream.pending, stream.pending_bytes, stream.overflow) == ([], 0, True)
    assert stream.writer.cancel_called
    stream.deliver(big)
    assert stream.pending == []
