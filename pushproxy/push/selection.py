"""Which stored messages a subscriber gets when it connects (§5.3, §5.4, §6.4).

A subscriber says where it stopped with a backtrack count (`/ch.b3`), an If-Modified-Since
time plus tag, or a Last-Event-Id. Streaming sends every message after that point; polling also
computes the Last-Modified/Etag of the answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice

from pushproxy.config.units import atoi
from pushproxy.push.channels import Channel
from pushproxy.push.messages import Message


@dataclass(frozen=True, slots=True, kw_only=True)
class LastReceived:
    """Where a subscriber stopped: `ims` and `tag` are -1 when absent; `last_event_id` is None
    when absent (an empty header is b"" and matches messages with an empty event id).
    """

    ims: int = -1
    tag: int = -1
    last_event_id: bytes | None = None


def parse_tag(value: bytes | None) -> int:
    """An If-None-Match (or `push_stream_last_received_message_tag`) value as a tag.

    A leading `W/` is stripped when more follows; the rest must be decimal digits, else -1
    (so a quoted `"5"` is absent).
    """
    if value is None:
        return -1
    if len(value) > 2 and value.startswith(b"W/"):
        value = value[2:]
    tag = atoi(value)
    return -1 if tag is None else tag


def _start(messages: Iterable[Message], last: LastReceived) -> int | None:
    """Index of the first message to send, or None if no message marks the point."""
    for position, message in enumerate(messages):
        if (
            last.last_event_id is not None
            and message.event_id is not None
            and message.event_id == last.last_event_id
        ):
            return position + 1
        if last.ims >= 0 and (
            message.time > last.ims
            or (message.time == last.ims and last.tag >= 0 and message.tag >= last.tag)
        ):
            if message.time == last.ims and message.tag == last.tag:
                return position + 1
            return position
    return None


def has_old_messages(channel: Channel, backtrack: int, last: LastReceived) -> bool:
    """Whether the channel has something to send for this request (`has_old_messages_to_send`)."""
    messages = channel.messages
    if not messages:
        return False
    if backtrack > 0:
        return True
    if last.last_event_id is None and last.ims < 0:
        return False
    start = _start(messages, last)
    return start is not None and start < len(messages)


def old_messages(
    channel: Channel,
    backtrack: int,
    last: LastReceived,
    greater: tuple[int, int] | None = None,
) -> list[Message]:
    """The stored messages to send on connect, oldest first.

    With a backtrack, the newest `min(N, stored)` (the other values are ignored). Otherwise
    every message after the first one that marks where the subscriber stopped. A polling
    request passes `greater` (time, tag) so nothing newer than its Etag goes out.
    """
    if not has_old_messages(channel, backtrack, last):
        return []
    messages = channel.messages
    if backtrack > 0:
        return list(islice(messages, len(messages) - min(backtrack, len(messages)), None))
    start = _start(messages, last)
    selected = list(islice(messages, start, None))
    if greater is None or greater == (0, -1):
        return selected
    greater_time, greater_tag = greater
    return [
        message
        for message in selected
        if greater_time > message.time
        or (greater_time == message.time and greater_tag >= message.tag)
    ]


@dataclass(frozen=True, slots=True, kw_only=True)
class PollResult:
    """A polling answer: the messages, channel by channel in path order, and the values of
    `Last-Modified` (sent if > 0) and `Etag: W/<etag>` (sent if >= 0).
    """

    messages: tuple[Message, ...]
    found: bool
    last_modified: int
    etag: int


def poll(requested: Sequence[tuple[Channel, int]], last: LastReceived) -> PollResult:
    """Polling and the first look of long-polling (`subscriber_polling_handler()`).

    `requested` pairs each validated channel with its backtrack, in path order. When nothing
    is found, `last_modified`/`etag` echo the request's values (304), and a long-poll waits.
    """
    greater_time = max(last.ims, 0)
    greater_tag = last.tag
    found = False
    for channel, backtrack in requested:
        if not has_old_messages(channel, backtrack, last):
            continue
        found = True
        if channel.last_message_time > greater_time:
            greater_time = channel.last_message_time
            greater_tag = channel.last_message_tag
        elif channel.last_message_time == greater_time and channel.last_message_tag > greater_tag:
            greater_tag = channel.last_message_tag
    messages: list[Message] = []
    if found:
        for channel, backtrack in requested:
            messages += old_messages(channel, backtrack, last, (greater_time, greater_tag))
    return PollResult(
        messages=tuple(messages), found=found, last_modified=greater_time, etag=greater_tag
    )
