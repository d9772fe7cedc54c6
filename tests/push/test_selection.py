from __future__ import annotations

import pytest

from pushproxy.push.channels import Channel
from pushproxy.push.messages import Message
from pushproxy.push.paths import unescape_uri
from pushproxy.push.selection import (
    LastReceived,
    has_old_messages,
    old_messages,
    parse_tag,
    poll,
)
from pushproxy.push.validators import parse_http_time

T = 1_700_000_000


def channel_with(*messages: Message) -> Channel:
    channel = Channel(b"ch", wildcard=False, for_events=False, expires=0, size=0)
    for message in messages:
        channel.messages.append(message)
        channel.last_message_id = message.id
        channel.last_message_time = message.time
        channel.last_message_tag = message.tag
    return channel


def message(number: int, time: int, tag: int, event_id: bytes | None = None) -> Message:
    return Message(
        id=number + 1,
        channel=b"ch",
        text=b"msg %d" % number,
        time=time,
        tag=tag,
        event_id=event_id,
    )


def texts(messages: list[Message] | tuple[Message, ...]) -> list[bytes]:
    return [m.text for m in messages]


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        (None, -1),
        (b"", -1),
        (b"5", 5),
        (b"0", 0),
        (b"W/5", 5),
        (b"W/", -1),
        (b"W/W/5", -1),
        (b'"5"', -1),
        (b"-5", -1),
        (b" 5", -1),
        (b"99999999999999999999", -1),
        (b"9223372036854775807", 9223372036854775807),
        (b"0" * 5000 + b"5", 5),
        (b"9" * 5000, -1),  # more digits than Python's int() takes
    ],
)
def test_parse_tag(value: bytes | None, tag: int) -> None:
    assert parse_tag(value) == tag


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (b"Thu, 01 Jan 1970 00:00:01 GMT", 1),
        (b"Tue, 14 Nov 2023 22:13:20 GMT", T),
        (b"Sunday, 06-Nov-94 08:49:37 GMT", 784111777),
        (b"Sun Nov  6 08:49:37 1994", 784111777),
        (b"null", -1),
        (b"", -1),
        (None, -1),
    ],
)
def test_parse_http_time(value: bytes | None, seconds: int) -> None:
    assert parse_http_time(value) == seconds


def test_untie_example() -> None:
    channel = channel_with(*(message(n, T, n + 1) for n in range(10)))
    result = poll([(channel, 0)], LastReceived(ims=T, tag=6))
    assert texts(result.messages) == [b"msg 6", b"msg 7", b"msg 8", b"msg 9"]
    assert (result.found, result.last_modified, result.etag) == (True, T, 10)


def test_ims_without_tag_never_resends_the_same_second() -> None:
    channel = channel_with(message(0, T, 1), message(1, T, 2), message(2, T + 1, 1))
    assert texts(old_messages(channel, 0, LastReceived(ims=T))) == [b"msg 2"]
    assert texts(old_messages(channel, 0, LastReceived(ims=T - 1))) == [
        b"msg 0",
        b"msg 1",
        b"msg 2",
    ]


def test_backtrack_sends_the_newest_oldest_first_and_ignores_the_rest() -> None:
    channel = channel_with(*(message(n, T, n + 1, event_id=b"%d" % n) for n in range(5)))
    last = LastReceived(ims=T + 100, tag=1, last_event_id=b"4")
    assert texts(old_messages(channel, 2, last)) == [b"msg 3", b"msg 4"]
    assert texts(old_messages(channel, 9, last)) == [b"msg %d" % n for n in range(5)]


def test_last_event_id_resumes_after_the_matching_message() -> None:
    channel = channel_with(
        message(0, T, 1, event_id=b"a"), message(1, T, 2), message(2, T, 3, event_id=b"b")
    )
    assert texts(old_messages(channel, 0, LastReceived(last_event_id=b"a"))) == [b"msg 1", b"msg 2"]
    assert old_messages(channel, 0, LastReceived(last_event_id=b"b")) == []
    assert old_messages(channel, 0, LastReceived(last_event_id=b"unknown")) == []
    assert not has_old_messages(channel, 0, LastReceived(last_event_id=b"b"))


def test_empty_last_event_id_matches_only_an_empty_event_id() -> None:
    channel = channel_with(message(0, T, 1), message(1, T, 2, event_id=b""), message(2, T, 3))
    assert texts(old_messages(channel, 0, LastReceived(last_event_id=b""))) == [b"msg 2"]


def test_either_rule_starts_delivery() -> None:
    channel = channel_with(message(0, T, 1, event_id=b"x"), message(1, T + 5, 1))
    last = LastReceived(ims=T + 1, last_event_id=b"missing")
    assert texts(old_messages(channel, 0, last)) == [b"msg 1"]


def test_nothing_without_backtrack_or_a_position() -> None:
    channel = channel_with(message(0, T, 1))
    assert old_messages(channel, 0, LastReceived()) == []
    assert not has_old_messages(channel_with(), 3, LastReceived())


def test_expired_messages_not_yet_collected_are_still_sent() -> None:
    expired = message(0, T, 1)
    expired.expires = 1.0
    assert old_messages(channel_with(expired), 1, LastReceived()) == [expired]


def test_poll_without_anything_new_echoes_the_request() -> None:
    channel = channel_with(message(0, T, 1))
    echoed = poll([(channel, 0)], LastReceived(ims=T, tag=3))
    assert (echoed.found, echoed.messages, echoed.last_modified, echoed.etag) == (False, (), T, 3)
    bare = poll([(channel, 0)], LastReceived())
    assert (bare.found, bare.last_modified, bare.etag) == (False, 0, -1)


def test_poll_takes_the_greatest_position_over_channels_in_path_order() -> None:
    first = channel_with(message(0, T, 1), message(1, T + 1, 2))
    second = channel_with(message(2, T + 1, 1), message(3, T + 1, 4))
    result = poll([(second, 0), (first, 0)], LastReceived(ims=T))
    assert texts(result.messages) == [b"msg 2", b"msg 3", b"msg 1"]
    assert (result.last_modified, result.etag) == (T + 1, 4)


def test_poll_with_backtrack() -> None:
    channel = channel_with(message(0, T, 1), message(1, T, 2), message(2, T + 2, 7))
    result = poll([(channel, 2)], LastReceived())
    assert texts(result.messages) == [b"msg 1", b"msg 2"]
    assert (result.last_modified, result.etag) == (T + 2, 7)


def test_greater_limits_what_a_poll_sends() -> None:
    channel = channel_with(message(0, T, 1), message(1, T, 2), message(2, T + 1, 1))
    selected = old_messages(channel, 0, LastReceived(ims=0), greater=(T, 1))
    assert texts(selected) == [b"msg 0"]


def test_time_argument_is_unescaped_before_parsing() -> None:
    assert parse_http_time(unescape_uri(b"Thu,%2001%20Jan%201970%2000:00:01%20GMT")) == 1


def test_polling_echoes_a_weak_etag() -> None:
    channel = channel_with(message(0, T, 1))
    result = poll([(channel, 0)], LastReceived(ims=T, tag=parse_tag(b"W/3")))
    assert (result.found, result.etag) == (False, 3)
