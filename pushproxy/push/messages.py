"""Messages: what publishers send, plus the module's special messages (ping, deleted, timeout)."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import formatdate

from pushproxy.push.memory import STR_SIZE, slab

PING_MESSAGE_ID = -1
DELETED_MESSAGE_ID = -2
TIMEOUT_MESSAGE_ID = -3
TIMEOUT_MESSAGE_TEXT = b"Timed out"


def http_date(seconds: int) -> bytes:
    """RFC 1123 GMT date, 29 bytes, e.g. `Thu, 01 Jan 1970 00:00:00 GMT` (`ngx_http_time`)."""
    return formatdate(seconds, usegmt=True).encode("ascii")


@dataclass(slots=True, eq=False)
class Message:
    """One message as the channel stores it.

    `time` is whole seconds, `tag` tells apart messages of the same second (§4.5). `event_id` and
    `event_type` are None when the publisher sent no such header (an empty header is b"").
    `rendered` caches the bytes per template (keyed by the template object), filled when a
    subscriber first needs one, so fan-out renders once and every subscriber shares the same
    bytes object; streaming subscribers keep their framed bytes there too (keyed by templates
    and framing); `size` is what the memory budget was charged.

    Not keyword-only, unlike the other data classes: the store makes one per publish, and a
    class called with keywords costs twice as much as with positions. Elsewhere, use keywords.
    """

    id: int
    channel: bytes
    text: bytes
    time: int = 0
    tag: int = 0
    event_id: bytes | None = None
    event_type: bytes | None = None
    expires: float = 0.0
    event_id_line: bytes | None = field(init=False, default=None)
    event_type_line: bytes | None = field(init=False, default=None)
    rendered: dict[object, bytes] = field(init=False, default_factory=dict)
    size: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        # The eventsource `id:` and `event:` lines are written as pieces of their own.
        if self.event_id is not None:
            self.event_id_line = b"id: " + self.event_id + b"\n"
        if self.event_type is not None:
            self.event_type_line = b"event: " + self.event_type + b"\n"

    @property
    def own_bytes(self) -> int:
        """What the message's own allocations take in the module's slab allocator, rendered
        copies excluded: its text and, when given, its event id and type with their lines."""
        size = slab(len(self.text) + 1)
        if self.event_id_line is not None:  # set exactly when there is an event id
            size += slab(STR_SIZE + len(self.event_id or b"") + 1)
            size += slab(STR_SIZE + len(self.event_id_line))
        if self.event_type_line is not None:
            size += slab(STR_SIZE + len(self.event_type or b"") + 1)
            size += slab(STR_SIZE + len(self.event_type_line))
        return size


def ping_message(text: bytes) -> Message:
    """The ping (id -1, empty channel, tag 0, epoch time)."""
    return Message(id=PING_MESSAGE_ID, channel=b"", text=text)


def timeout_message() -> Message:
    """The long-polling timeout body (id -3, `Timed out`) sent with `timeout_with_body on`."""
    return Message(id=TIMEOUT_MESSAGE_ID, channel=b"", text=TIMEOUT_MESSAGE_TEXT)


def deleted_message(channel_id: bytes, text: bytes) -> Message:
    """What subscribers of a deleted channel receive (id -2, the channel's id, epoch time)."""
    return Message(id=DELETED_MESSAGE_ID, channel=channel_id, text=text)
