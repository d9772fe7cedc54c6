from __future__ import annotations

import pytest

from pushproxy.push.explain import Explain
from pushproxy.push.memory import slab
from pushproxy.push.messages import Message, deleted_message, ping_message, timeout_message
from pushproxy.push.settings import LocationSettings, LocationType
from pushproxy.push.templates import (
    LocationTemplates,
    RenderMode,
    TemplateRegistry,
    eventsource_footer,
    eventsource_header,
    eventsource_message_template,
    split_lines,
    websocket_close_frame,
    websocket_text_frame,
)

JSON_TEMPLATE = (
    b'{"id":"~id~", "message":"~text~", "channel":"~channel~", "tag":"~tag~", "time":"~time~"}'
)


def location(
    kind: LocationType = LocationType.STREAMING,
    *,
    header: bytes = b"",
    message: bytes = b"~text~",
    footer: bytes = b"",
) -> LocationTemplates:
    settings = LocationSettings(
        type=kind, header_template=header, message_template=message, footer_template=footer
    )
    return LocationTemplates.build(settings, TemplateRegistry())


def msg(text: bytes, **fields: object) -> Message:
    values: dict[str, object] = {"id": 5, "channel": b"ch", "time": 0, "tag": 3} | fields
    return Message(text=text, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (b"~text~", b"hello"),
        (b"~id~|~channel~|~tag~|~size~", b"5|ch|3|5"),
        (b"~ID~ ~Text~ ~CHANNEL~ ~Size~ ~TaG~", b"5 hello ch 5 3"),
        (b"~time~", b"Thu, 01 Jan 1970 00:00:00 GMT"),
        (b"[~event-id~][~event-type~]", b"[][]"),
        (b"~~id~~ ~foo~ ~", b"~5~ ~foo~ ~"),
        (b"no tokens", b"no tokens"),
    ],
)
def test_template_tokens(template: bytes, expected: bytes) -> None:
    assert location(message=template).render(msg(b"hello")) == expected


def test_event_fields_and_time_of_a_real_message() -> None:
    message = msg(b"x", time=1_700_000_000, event_id=b"e1", event_type=b"t1")
    rendered = location(message=b"~time~|~event-id~|~event-type~").render(message)
    assert rendered == b"Tue, 14 Nov 2023 22:13:20 GMT|e1|t1"


def test_inserted_values_are_not_rescanned_nor_escaped() -> None:
    message = msg(b'~channel~~text~"<&>', channel=b"~id~")
    assert location(message=b"~text~|~channel~").render(message) == b'~channel~~text~"<&>|~id~'


def test_size_counts_bytes() -> None:
    assert location(message=b"~size~").render(msg("ção".encode())) == b"5"


@pytest.mark.parametrize(
    ("template", "text", "expected"),
    [
        # §6.1 ping examples: id -1, empty channel, epoch time.
        (b"~text~", b" ", b" "),
        (b"~id~:~text~", b" ", b"-1: "),
        (b"~id~:~text~", b"pinging you!!!", b"-1:pinging you!!!"),
        (b"~channel~|~tag~|~time~", b" ", b"|0|Thu, 01 Jan 1970 00:00:00 GMT"),
    ],
)
def test_ping_rendering(template: bytes, text: bytes, expected: bytes) -> None:
    assert location(message=template).ping(ping_message(text)) == expected


def test_eventsource_ping_is_literal_and_websocket_ping_is_a_frame() -> None:
    ping = ping_message(b"anything")
    assert location(LocationType.EVENTSOURCE, message=b"~id~").ping(ping) == b": -1\n"
    assert location(LocationType.WEBSOCKET).ping(ping) == b"\x89\x00"


def test_eventsource_header_rewrite_example() -> None:
    header = b"header line 1\nheader line 2\rheader line 3\r\nheader line 4"
    expected = b": header line 1\n: header line 2\n: header line 3\n: header line 4\n"
    assert eventsource_header(header) == expected
    # Rewriting again (an `if` block merges twice) changes nothing.
    assert eventsource_header(expected) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [(b"", b": \n"), (b": kept\r\n", b": kept\r\n"), (b"\r\n\n", b""), (b"a\n\nb", b": a\n: b\n")],
)
def test_eventsource_header_cases(header: bytes, expected: bytes) -> None:
    assert eventsource_header(header) == expected


@pytest.mark.parametrize(
    ("footer", "expected"), [(b"", b""), (b"bye", b": bye\n"), (b": as is", b": as is")]
)
def test_eventsource_footer(footer: bytes, expected: bytes) -> None:
    assert eventsource_footer(footer) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (b"~text~", b"data: ~text~\n"),
        (b"", b"data: ~text~\n"),
        (b"{~id~}", b"data: {~id~}\n"),
        (b"data: ~text~", b"data: ~text~"),
        (b"data: ~text~\n", b"data: ~text~\n"),
        (b"data:~text~", b"data: data:~text~\n"),
    ],
)
def test_eventsource_message_template_rewrite(template: bytes, expected: bytes) -> None:
    assert eventsource_message_template(template) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b"line 1\nline 2\rline 3\r\nline 4",
            b"data: line 1\ndata: line 2\ndata: line 3\ndata: line 4\n\n",
        ),
        (b"test message", b"data: test message\n\n"),
        (b"\n\r\n\r", b"\n"),
        (b"\nx\n\n", b"data: x\n\n"),
    ],
)
def test_eventsource_message_rendering(body: bytes, expected: bytes) -> None:
    assert location(LocationType.EVENTSOURCE).render(msg(body)) == expected


def test_eventsource_fields_are_per_line() -> None:
    templates = location(LocationType.EVENTSOURCE, message=b"~size~:~text~")
    assert templates.render(msg(b"ab\ncde")) == b"data: 2:ab\ndata: 3:cde\n\n"


def test_eventsource_simple_message_after_connect() -> None:
    templates = location(LocationType.EVENTSOURCE)
    assert templates.header + templates.render(msg(b"test message")) == (
        b": \ndata: test message\n\n"
    )


def test_eventsource_id_and_event_lines_are_pieces_of_their_own() -> None:
    templates = location(LocationType.EVENTSOURCE)
    message = msg(b"x", event_id=b"2", event_type=b"ev")
    assert templates.message_pieces(message) == [b"id: 2\n", b"event: ev\n", b"data: x\n\n"]
    empty_id = msg(b"x", event_id=b"")
    assert templates.message_pieces(empty_id) == [b"id: \n", b"data: x\n\n"]
    assert location().message_pieces(message) == [b"x"]


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        (b"a\r\nb\rc\nd", [b"a", b"b", b"c", b"d"]),
        (b"one line", [b"one line"]),
        (b"one line\n", [b"one line"]),
        (b"one line\n\n\n", [b"one line"]),
        (b"one line\r\n", [b"one line"]),
        (b"\nafter a break", [b"after a break"]),
        (b"\n\r\n", []),
        (b"", []),
    ],
)
def test_split_lines(text: bytes, lines: list[bytes]) -> None:
    assert split_lines(text) == lines


@pytest.mark.parametrize(
    ("length", "head"),
    [
        (0, b"\x81\x00"),
        (125, b"\x81\x7d"),
        (126, b"\x81\x7e\x00\x7e"),
        (65535, b"\x81\x7e\xff\xff"),
        (65536, b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ],
)
def test_websocket_frame_lengths(length: int, head: bytes) -> None:
    payload = b"x" * length
    assert websocket_text_frame(payload) == head + payload


def test_websocket_close_frame_example() -> None:
    assert websocket_close_frame(Explain.CANNOT_CREATE_CHANNELS) == (
        b'\x88I\x03\xf0{"http_status": 403, "explain":"Subscriber could not create channels."}'
    )
    assert websocket_close_frame(Explain.OUT_OF_MEMORY) == (
        b'\x88\x24\x03\xf0{"http_status": 500, "explain":""}'
    )


def test_websocket_location_frames_header_footer_and_messages() -> None:
    templates = location(
        LocationType.WEBSOCKET,
        header=b"HEADER_TEMPLATE",
        message=b'{"channel":"~channel~", "id":"~id~"}',
        footer=b"FOOTER_TEMPLATE",
    )
    assert templates.header == b"\x81\x0fHEADER_TEMPLATE"
    assert templates.footer == b"\x81\x0fFOOTER_TEMPLATE"
    assert templates.render(msg(b"x")) == b'\x81\x1a{"channel":"ch", "id":"5"}'
    assert location(LocationType.WEBSOCKET).header == b""


def test_polling_jsonp_body() -> None:
    pieces = location().polling_pieces([msg(b"body"), msg(b"body1")], b"callback_function")
    assert pieces == [b"callback_function", b"([", b"body", b",", b"body1", b"]);"]
    assert b"".join(pieces) == b"callback_function([body,body1]);"


def test_polling_without_jsonp_concatenates_between_header_and_footer() -> None:
    templates = location(header=b"H", footer=b"F")
    assert templates.polling_pieces([msg(b"a"), msg(b"b")], None) == [b"H", b"a", b"b", b"F"]


def test_header_template_precedes_the_callback() -> None:
    pieces = location(header=b"<h>").polling_pieces([msg(b"m")], b"cb")
    assert b"".join(pieces) == b"<h>cb([m]);"


def test_empty_callback_still_wraps() -> None:
    assert b"".join(location().polling_pieces([msg(b"m")], b"")) == b"([m]);"


def test_jsonp_separator_follows_eventsource_lines() -> None:
    templates = location(LocationType.EVENTSOURCE)
    messages = [msg(b"a", event_id=b"1"), msg(b"b", event_id=b"2")]
    pieces = templates.polling_pieces(messages, b"cb")
    assert pieces == [
        b": \n",
        b"cb",
        b"([",
        b"id: 1\n",
        b"data: a\n\n",
        b"id: 2\n",
        b",",
        b"data: b\n\n",
        b"]);",
    ]


def test_long_polling_timeout_with_body_example() -> None:
    pieces = location(message=JSON_TEMPLATE).single_message_pieces(
        timeout_message(), b"callback_function"
    )
    assert b"".join(pieces) == (
        b'callback_function([{"id":"-3", "message":"Timed out", "channel":"", "tag":"0", '
        b'"time":"Thu, 01 Jan 1970 00:00:00 GMT"}]);'
    )


def test_long_polling_jsonp_pieces_are_written_one_by_one() -> None:
    pieces = location(header=b"H", footer=b"F").single_message_pieces(msg(b"m"), b"cb")
    assert pieces == [b"H", b"cb", b"([", b"m", b"]);", b"F"]


def test_long_polling_deleted_channel_example() -> None:
    templates = location(message=b'{"id":"~id~", "message":"~text~", "channel":"~channel~"}')
    deleted = deleted_message(b"ch1", b"Channel deleted")
    assert b"".join(templates.single_message_pieces(deleted, b"cb")) == (
        b'cb([{"id":"-2", "message":"Channel deleted", "channel":"ch1"}]);'
    )


def test_deleted_message_uses_each_location_templates() -> None:
    deleted = deleted_message(b"ch", b"Channel deleted")
    templates = location(header=b"<html><body>", message=b"|~text~|", footer=b"</body></html>")
    assert b"".join(templates.single_message_pieces(deleted, None)) == (
        b"<html><body>|Channel deleted|</body></html>"
    )
    assert location(message=b"~id~").render(deleted) == b"-2"


def test_rendering_is_cached_and_shared() -> None:
    registry = TemplateRegistry()
    settings = LocationSettings(type=LocationType.STREAMING, message_template=b"<~text~>")
    first = LocationTemplates.build(settings, registry)
    second = LocationTemplates.build(settings, registry)
    assert first.message is second.message
    message = msg(b"x")
    assert first.render(message) is second.render(message)
    assert len(registry) == 1


def test_registry_keeps_modes_apart() -> None:
    registry = TemplateRegistry()
    text = registry.add(b"~text~", RenderMode.TEXT)
    eventsource = registry.add(b"~text~", RenderMode.EVENTSOURCE)
    assert text is not eventsource
    assert registry.add(b"~text~", RenderMode.TEXT) is text
    message = msg(b"abc")
    # An array of two renderings (ngx_str_t each), then each rendering, in slab size classes.
    assert registry.rendered_size(message) == slab(32) + slab(len(b"abc")) + slab(len(b"abc\n"))
    assert message.rendered == {}  # sized, not rendered: rendering waits for a subscriber
    assert (text.rendered(message), eventsource.rendered(message)) == (b"abc", b"abc\n")
    assert message.rendered == {text: b"abc", eventsource: b"abc\n"}


SIZED_TEMPLATES = [
    b"~text~",
    b"",
    JSON_TEMPLATE,
    b"~id~|~channel~|~tag~|~size~|~event-id~|~event-type~|~time~",
    b"~~id~~ ~foo~ ~ ~SIZE~",
    b"data: ~text~ (~size~)\n",
]
SIZED_MESSAGES = [
    msg(b"hello"),
    msg(b""),
    msg(b"\n\r\n"),
    msg("ção\r\nline two\rthree\n".encode(), id=123456, tag=0, time=1_700_000_000),
    msg(b"x" * 125),
    msg(b"x" * 126, event_id=b"e-1", event_type=b""),
    msg(b"y" * 65535, channel=b"a/longer/channel"),
    msg(b"y" * 65536, id=-2),
    deleted_message(b"ch", b"Channel deleted"),
    ping_message(b" "),
]


@pytest.mark.parametrize("mode", list(RenderMode))
@pytest.mark.parametrize("source", SIZED_TEMPLATES)
def test_size_is_the_length_of_the_rendering(mode: RenderMode, source: bytes) -> None:
    template = TemplateRegistry().add(source, mode)
    for message in SIZED_MESSAGES:
        assert template.size(message) == len(template.render(message)), message


def test_render_mode_per_location_type() -> None:
    assert RenderMode.for_location(LocationType.EVENTSOURCE) is RenderMode.EVENTSOURCE
    assert RenderMode.for_location(LocationType.WEBSOCKET) is RenderMode.WEBSOCKET
    assert RenderMode.for_location(LocationType.LONG_POLLING) is RenderMode.TEXT


def test_registry_size_is_every_rendering_in_its_slab_class() -> None:
    registry = TemplateRegistry()
    templates = [registry.add(source, mode) for mode in RenderMode for source in SIZED_TEMPLATES]
    for message in SIZED_MESSAGES:
        expected = slab(16 * len(templates))
        expected += sum(slab(len(template.render(message))) for template in templates)
        assert registry.rendered_size(message) == expected


@pytest.mark.parametrize(
    ("size", "taken"),
    [(0, 8), (1, 8), (8, 8), (9, 16), (100, 128), (128, 128), (129, 256), (2048, 2048),
     (2049, 4096), (4096, 4096), (4097, 8192), (10_000, 12_288)],
)
def test_slab_size_classes(size: int, taken: int) -> None:
    assert slab(size) == taken


def test_an_id_with_one_more_digit_mostly_costs_the_same() -> None:
    """nginx's size classes absorb the byte: refilling a zone fits as many messages again."""
    registry = TemplateRegistry()
    registry.add(b"<script>p(~id~,'~channel~','~text~');</script>", RenderMode.TEXT)
    text = b"message to create a channel"
    sizes = {
        registry.rendered_size(Message(id=n, channel=b"ch_test_message_cleanup", text=text))
        for n in (9, 10, 99, 100, 999, 1000, 1500)
    }
    assert len(sizes) == 1
