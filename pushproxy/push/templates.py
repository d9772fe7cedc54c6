"""Message templates (§6.2), the eventsource and WebSocket forms (§6.3, §8.2), JSONP (§6.4-6.5).

A template is compiled once into literal and field parts; rendering never rescans inserted
values and escapes nothing. Each message caches its rendering per template, so fan-out renders
once and hands the same bytes object to every subscriber of that template.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from pushproxy.push.explain import Explain
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

FIELDS: Mapping[bytes, Field] = {
    b"id": lambda message, text: b"%d" % message.id,
    b"text": lambda message, text: text,
    b"size": lambda message, text: b"%d" % len(text),
    b"channel": lambda message, text: message.channel,
    b"time": lambda message, text: http_date(message.time),
    b"tag": lambda message, text: b"%d" % message.tag,
    b"event-id": lambda message, text: message.event_id or b"",
    b"event-type": lambda message, text: message.event_type or b"",
}


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


def compile_parts(source: bytes) -> tuple[bytes | Field, ...]:
    """Literal bytes and fields, left to right; a `~` that starts no token stays literal."""
    parts: list[bytes | Field] = []
    last = 0
    for match in _TOKEN.finditer(source):
        if match.start() > last:
            parts.append(source[last : match.start()])
        parts.append(FIELDS[match.group(1).lower()])
        last = match.end()
    if last < len(source):
        parts.append(source[last:])
    return tuple(parts)


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


def websocket_text_frame(payload: bytes) -> bytes:
    """One FIN-set text frame; the payload is never checked for UTF-8."""
    return websocket_frame(0x81, payload)


def websocket_close_frame(refusal: Explain) -> bytes:
    """The close frame a validation failure after the 101 becomes (§8.3): code 1008 + JSON."""
    reason = b'{"http_status": %d, "explain":"%s"}' % (refusal.status, refusal.text.encode())
    return websocket_frame(0x88, b"\x03\xf0" + reason)


def split_lines(text: bytes) -> list[bytes]:
    """Non-empty lines, split on CRLF, CR or LF."""
    return [line for line in _LINE_BREAK.split(text) if line]


@dataclass(frozen=True, slots=True, eq=False, kw_only=True)
class MessageTemplate:
    """A compiled message template in one render mode; identity is the cache key."""

    source: bytes
    mode: RenderMode
    parts: tuple[bytes | Field, ...]

    def format(self, message: Message, text: bytes) -> bytes:
        return b"".join(
            [part if isinstance(part, bytes) else part(message, text) for part in self.parts]
        )

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

    The store renders every published message once per registered template, which is also
    what it charges to the memory budget.
    """

    __slots__ = ("_templates",)

    def __init__(self) -> None:
        self._templates: dict[tuple[bytes, RenderMode], MessageTemplate] = {}

    def add(self, source: bytes, mode: RenderMode) -> MessageTemplate:
        key = (source, mode)
        template = self._templates.get(key)
        if template is None:
            template = MessageTemplate(source=source, mode=mode, parts=compile_parts(source))
            self._templates[key] = template
        return template

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

    @classmethod
    def build(cls, location: LocationSettings, registry: TemplateRegistry) -> LocationTemplates:
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
            header = websocket_text_frame(header) if header else b""
            footer = websocket_text_frame(footer) if footer else b""
        return cls(mode=mode, header=header, footer=footer, message=registry.add(source, mode))

    def render(self, message: Message) -> bytes:
        return self.message.rendered(message)

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


def rendered_all(templates: Iterable[MessageTemplate], message: Message) -> int:
    """Render a message for every template; the bytes it took (what the store charges)."""
    return sum(len(template.rendered(message)) for template in templates)
