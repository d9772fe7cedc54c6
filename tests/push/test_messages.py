from __future__ import annotations

from pushproxy.push.memory import slab
from pushproxy.push.messages import (
    Message,
    deleted_message,
    http_date,
    ping_message,
    timeout_message,
)


def test_http_date() -> None:
    assert http_date(0) == b"Thu, 01 Jan 1970 00:00:00 GMT"
    assert http_date(1_700_000_000) == b"Tue, 14 Nov 2023 22:13:20 GMT"
    assert len(http_date(1_700_000_000)) == 29


def test_special_messages() -> None:
    ping, timeout, deleted = ping_message(b" "), timeout_message(), deleted_message(b"c", b"bye")
    assert (ping.id, ping.channel, ping.text, ping.time, ping.tag) == (-1, b"", b" ", 0, 0)
    assert (timeout.id, timeout.channel, timeout.text) == (-3, b"", b"Timed out")
    assert (deleted.id, deleted.channel, deleted.text, deleted.tag) == (-2, b"c", b"bye", 0)


def test_eventsource_lines_are_built_once() -> None:
    message = Message(id=1, channel=b"c", text=b"t", event_id=b"7", event_type=b"")
    assert (message.event_id_line, message.event_type_line) == (b"id: 7\n", b"event: \n")
    plain = Message(id=1, channel=b"c", text=b"t")
    assert (plain.event_id_line, plain.event_type_line) == (None, None)
    # The text, then each value and its line as an ngx_str_t with the bytes, in size classes.
    assert message.own_bytes == slab(2) + slab(16 + 2) + slab(16 + 6) + slab(16 + 1) + slab(16 + 8)
    assert (slab(2), slab(18), slab(22), slab(17), slab(24)) == (8, 32, 32, 32, 32)


def test_messages_compare_by_identity() -> None:
    assert Message(id=1, channel=b"c", text=b"t") != Message(id=1, channel=b"c", text=b"t")
