"""Message templates (§6.2), the eventsource and WebSocket forms (§6.3, §8.2), JSONP (§6.4-6.5).

A template is compiled once into literal and field parts; rendering never rescans inserted
values and escapes nothing. Each message caches its rendering per template, so fan-out renders
once and hands the same bytes object to every subscriber of that template.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from pushproxy.push.explain import Explain
from pushproxy.push.memory import STR_SIZE, slab
from pushproxy.push.messages import Message, http_date
from pushproxy.push.settings import LocationSettings, LocationType

EVENTSOURCE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
JSONP_CONTENT_TYPE = "application/javascript"
JSONP_OPEN = b"(["
JSONP_SEPARATOR = b","
JSONP_CLOSE = b"]);"
EVENTSOURCE_PING = b": -1\n"
WEBSOCKET_PING_FRAME = b"\x89\x00"
WEBSOCKET_CLOSE_FRAME = b"\x88\x00"

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_TOKEN = re.compile(rb"~(id|event-id|event-type|channel|text|tag|time|size)~", re.IGNORECASE)

Field = Callable[[Message, bytes], bytes]
"""A template field: the message and the text being rendered (one line in eventsource)."""
FieldSize = Callable[[Message, bytes], int]
"""The length of what a field renders, found without rendering it."""

HTTP_DATE_SIZE = 29  # `http_date()` is fixed width up to the year 9999

FIELDS: Mapping[bytes, tuple[Field, FieldSize]] = {
    b"id": (lambda message, text: b"%d" % message.id, lambda message, text: _digits(message.id)),
    b"text": (lambda message, text: text, lambda message, text: len(text)),
    b"size": (lambda message, text: b"%d" % len(text), lambda message, text: _digits(len(text))),
    b"channel": (lambda message, text: message.channel, lambda message, text: len(message.channel)),
    b"time": (lambda message, text: http_date(message.time), lambda message, text: HTTP_DATE_SIZE),
    b"tag": (lambda message, text: b"%d" % message.tag, lambda message, text: _digits(message.tag)),
    b"event-id": (
        lambda message, text: message.event_id or b"",
        lambda message, text: len(message.event_id or b""),
    ),
    b"event-type": (
        lambda message, text: message.event_type or b"",
        lambda message, text: len(message.event_type or b""),
    ),
}


def _digits(number: int) -> int:
    return len(b"%d" % number)


class RenderMode(enum.Enum):
    """How a location's messages are written: as text, as eventsource lines, as WebSocket frames."""

    TEXT = "text"
    EVENTSOURCE = "eventsource"
    WEBSOCKET = "websocket"

    @classmethod
    def for_location(cls, location_type: LocationType) -> RenderMode:
        if location_type is LocationType.EVENTSOURCE:
            return cls.EVENTSOURCE
        if location_type is LocationType.WEBSOCKET:
            return cls.WEBSOCKET
        return cls.TEXT


def compile_parts(source: bytes) -> list[bytes | tuple[Field, FieldSize]]:
    """Literal bytes and fields, left to right; a `~` that starts no token stays literal."""
    parts: list[bytes | tuple[Field, FieldSize]] = []
    last = 0
    for match in _TOKEN.finditer(source):
        if match.start() > last:
            parts.append(source[last : match.start()])
        parts.append(FIELDS[match.group(1).lower()])
        last = match.end()
    if last < len(source):
        parts.append(source[last:])
    return parts


def websocket_frame(first_byte: int, payload: bytes) -> bytes:
    """One unmasked frame: FIN and opcode byte, 7/16/64-bit length, payload."""
    length = len(payload)
    if length <= 125:
        head = bytes((first_byte, length))
    elif length < 1 << 16:
        head = bytes((first_byte, 126)) + length.to_bytes(2, "big")
    else:
        head = bytes((first_byte, 127)) + length.to_bytes(8, "big")
    return head + payload


def websocket_frame_size(payload_size: int) -> int:
    """The length of `websocket_frame()` for a payload of that length."""
    if payload_size <= 125:
        return 2 + payload_size
    if payload_size < 1 << 16:
        return 4 + payload_size
    return 10 + payload_size


def websocket_text_frame(payload: bytes) -> bytes:
    """One FIN-set text frame; the payload is never checked for UTF-8."""
    return websocket_frame(0x81, payload)


def websocket_close_frame(refusal: Explain) -> bytes:
    """The close frame a validation failure after the 101 becomes (§8.3): code 1008 + JSON."""
    reason = b'{"http_status": %d, "explain":"%s"}' % (refusal.status, refusal.text.encode())
    return websocket_frame(0x88, b"\x03\xf0" + reason)


def split_lines(text: bytes) -> list[bytes]:
    """Non-empty lines, split on CRLF, CR or LF."""
    line = text.rstrip(b"\n")
    if b"\n" not in line and b"\r" not in line:  # one line (the usual message): no regex
        return [line] if line else []
    return [line for line in _LINE_BREAK.split(text) if line]


@dataclass(frozen=True, slots=True, eq=False, kw_only=True)
class MessageTemplate:
    """A compiled message template in one render mode; identity is the cache key.

    `literal_size`, `text_fields` (how many `~text~`) and `field_sizes` (the other fields)
    give the length of a rendering without making it: the store charges every template's
    rendering at publish, but renders only for subscribers.
    """

    source: bytes
    mode: RenderMode
    parts: tuple[bytes | Field, ...]
    literal_size: int
    text_fields: int
    field_sizes: tuple[FieldSize, ...]

    @classmethod
    def compile(cls, source: bytes, mode: RenderMode) -> MessageTemplate:
        parts = compile_parts(source)
        fields = [part for part in parts if not isinstance(part, bytes)]
        text = FIELDS[b"text"]
        return cls(
            source=source,
            mode=mode,
            parts=tuple(part if isinstance(part, bytes) else part[0] for part in parts),
            literal_size=sum(len(part) for part in parts if isinstance(part, bytes)),
            text_fields=fields.count(text),
            field_sizes=tuple(field[1] for field in fields if field is not text),
        )

    def format(self, message: Message, text: bytes) -> bytes:
        return b"".join(
            [part if isinstance(part, bytes) else part(message, text) for part in self.parts]
        )

    def format_size(self, message: Message, text: bytes) -> int:
        """`len(self.format(message, text))`."""
        size = self.literal_size + self.text_fields * len(text)
        for field_size in self.field_sizes:
            size += field_size(message, text)
        return size

    def size(self, message: Message) -> int:
        """`len(self.render(message))`, without rendering (nor caching) it."""
        if self.mode is RenderMode.EVENTSOURCE:
            return sum([self.format_size(message, line) for line in split_lines(message.text)]) + 1
        size = self.format_size(message, message.text)
        return websocket_frame_size(size) if self.mode is RenderMode.WEBSOCKET else size

    def render(self, message: Message) -> bytes:
        """The message's bytes for this template, without looking at the cache."""
        if self.mode is RenderMode.EVENTSOURCE:
            # Each non-empty line goes through the template (`~text~`/`~size~` are the line),
            # then one blank line ends the event.
            lines = [self.format(message, line) for line in split_lines(message.text)]
            return b"".join(lines) + b"\n"
        body = self.format(message, message.text)
        if self.mode is RenderMode.WEBSOCKET:
            return websocket_text_frame(body)
        return body

    def rendered(self, message: Message) -> bytes:
        """The cached rendering, made on first use."""
        cached = message.rendered.get(self)
        if cached is None:
            cached = message.rendered[self] = self.render(message)
        return cached


class TemplateRegistry:
    """The distinct message templates of a configuration (`find_or_add_template()`).

    The store charges the memory budget for every published message rendered once per
    registered template, as the module formats them all at publish (`rendered_size()`); the
    renderings themselves are made when a subscriber first needs them.
    """

    __slots__ = ("_all", "_array", "_templates")

    def __init__(self) -> None:
        self._templates: dict[tuple[bytes, RenderMode], MessageTemplate] = {}
        self._all: tuple[MessageTemplate, ...] = ()
        self._array = 0  # the slab bytes of the array of a message's renderings

    def add(self, source: bytes, mode: RenderMode) -> MessageTemplate:
        key = (source, mode)
        template = self._templates.get(key)
        if template is None:
            template = MessageTemplate.compile(source, mode)
            self._templates[key] = template
            self._all += (template,)
            self._array = slab(STR_SIZE * len(self._all))
        return template

    def rendered_size(self, message: Message) -> int:
        """What a message's renderings take in the module's slab allocator, one per template
        and the array that holds them (what the store charges), found without rendering."""
        size = self._array
        for template in self._all:
            size += slab(template.size(message))
        return size

    def __iter__(self) -> Iterator[MessageTemplate]:
        return iter(self._templates.values())

    def __len__(self) -> int:
        return len(self._templates)


def _comment_lines(text: bytes) -> bytes:
    return b"".join(b": " + line + b"\n" for line in split_lines(text))


def eventsource_header(template: bytes) -> bytes:
    """Header rewrite: kept if it starts with `": "`, else one comment line per line."""
    if template.startswith(b": "):
        return template
    return _comment_lines(template) if template else b": \n"


def eventsource_footer(template: bytes) -> bytes:
    """Footer rewrite: like the header, but an empty footer stays empty."""
    if template.startswith(b": "):
        return template
    return _comment_lines(template)


def eventsource_message_template(template: bytes) -> bytes:
    """Message rewrite: `data: T\\n` unless T already starts with `data: ` (then unchanged)."""
    if template.startswith(b"data: "):
        return template
    return b"data: " + (template or b"~text~") + b"\n"


def _pieces(*pieces: bytes) -> list[bytes]:
    # An empty piece is nothing to send (and would end a chunked body), so it is dropped.
    return [piece for piece in pieces if piece]


@dataclass(frozen=True, slots=True, kw_only=True)
class LocationTemplates:
    """A subscriber location's header, message template and footer in their final form.

    Methods return the pieces the module writes one by one (one chunk each); padding is the
    caller's, measured with `render()`.
    """

    mode: RenderMode
    header: bytes
    footer: bytes
    message: MessageTemplate
    # One key object per framing, shared by every subscriber that uses it (see `wire_key`).
    _wire_keys: dict[tuple[bool, ...], tuple[object, ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def build(
        cls,
        location: LocationSettings,
        registry: TemplateRegistry,
        *,
        reframed: bool = False,
    ) -> LocationTemplates:
        """`reframed`: a WebSocket `if` block, whose inherited header and footer the module
        frames a second time (its merge frames the location's framed values again, PROTOCOL
        §10.7; eventsource has a guard, WebSocket none)."""
        mode = RenderMode.for_location(location.type)
        header, source, footer = (
            location.header_template,
            location.message_template,
            location.footer_template,
        )
        if mode is RenderMode.EVENTSOURCE:
            header = eventsource_header(header)
            source = eventsource_message_template(source)
            footer = eventsource_footer(footer)
        elif mode is RenderMode.WEBSOCKET:
            for _ in range(2 if reframed else 1):  # an `if` block frames them twice (§10.7)
                header = websocket_text_frame(header) if header else b""
                footer = websocket_text_frame(footer) if footer else b""
        return cls(mode=mode, header=header, footer=footer, message=registry.add(source, mode))

    def render(self, message: Message) -> bytes:
        return self.message.rendered(message)

    def wire_key(self, framing: tuple[bool, ...]) -> tuple[object, ...]:
        """The key under which a message keeps its pieces of this location framed one way
        (`Message.rendered`): the same object for every subscriber, which holds it."""
        key = self._wire_keys.get(framing)
        if key is None:
            key = self._wire_keys[framing] = (self, *framing)
        return key

    def ping(self, ping: Message) -> bytes:
        """A ping: a literal comment in eventsource, a ping frame in WebSocket, else templated."""
        if self.mode is RenderMode.EVENTSOURCE:
            return EVENTSOURCE_PING
        if self.mode is RenderMode.WEBSOCKET:
            return WEBSOCKET_PING_FRAME
        return self.render(ping)

    def message_pieces(
        self,
        message: Message,
        *,
        callback: bytes | None = None,
        wrap: bool = False,
        separator: bool = False,
    ) -> list[bytes]:
        """One message as `send_response_message()` writes it.

        `callback` is the JSONP function name (None: no JSONP); `wrap` puts this message alone
        in `callback([...]);`, `separator` writes the `,` before it inside a JSONP array.
        """
        jsonp = callback is not None
        eventsource = self.mode is RenderMode.EVENTSOURCE
        return _pieces(
            (message.event_id_line or b"") if eventsource else b"",
            (message.event_type_line or b"") if eventsource else b"",
            (callback or b"") if jsonp and wrap else b"",
            JSONP_OPEN if jsonp and wrap else b"",
            JSONP_SEPARATOR if jsonp and separator else b"",
            self.render(message),
            JSONP_CLOSE if jsonp and wrap else b"",
        )

    def polling_pieces(self, messages: Sequence[Message], callback: bytes | None) -> list[bytes]:
        """A polling 200 body: header, `cb([`, messages comma-separated, `]);`, footer."""
        pieces = _pieces(self.header)
        if callback is not None:
            pieces += _pieces(callback, JSONP_OPEN)
        for position, message in enumerate(messages):
            pieces += self.message_pieces(message, callback=callback, separator=position > 0)
        if callback is not None:
            pieces.append(JSONP_CLOSE)
        return pieces + _pieces(self.footer)

    def single_message_pieces(self, message: Message, callback: bytes | None) -> list[bytes]:
        """A long-poll answer with one message (live, deleted or timeout): header, message
        (alone in `cb([...]);` with JSONP), footer.
        """
        return (
            _pieces(self.header)
            + self.message_pieces(message, callback=callback, wrap=True)
            + _pieces(self.footer)
        )
