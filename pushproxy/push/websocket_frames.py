"""What a WebSocket subscriber sends, read the module's way (`websocket_reading()`, §8.4).

Sans-I/O: `ClientFrames.receive(bytes)` returns what the connection must do. wsproto's
`FrameDecoder` does the framing (header, 16/64-bit lengths, masking key, unmasking, frames that
arrive in pieces); this module adds only the module's policy on top:

- masked and unmasked frames are both accepted (wsproto insists on masked frames from a client,
  so the decoder is told, frame by frame, which kind comes next) and RSV bits are ignored (an
  extension that claims them, through wsproto's own extension hooks);
- the module's fragment sequencing: a continuation without a start, or a FIN=1 frame with an
  opcode (control frames included) while a fragmented message is open, closes with `\\x88\\x00`;
  a FIN=0 data frame inside an open message is taken as its continuation;
- every non-empty frame payload (control frames included, fragments each on their own) must be
  UTF-8, else the connection ends without a close frame. So a close frame with a status code
  (`\\x03\\xe8` for 1000 is not UTF-8) ends the connection without the `\\x88\\x00` reply, as
  the module does;
- binary and unknown opcodes close with `\\x88\\x00`.

Where wsproto is stricter than the module, its answer stands (the connection closes with
`\\x88\\x00`): control frames longer than 125 bytes or fragmented, lengths not in their shortest
form, a 64-bit length with the top bit set. Python's UTF-8 decoder also refuses encoded
surrogates, which nginx's `ngx_utf8_decode()` lets through.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from wsproto.extensions import Extension
from wsproto.frame_protocol import (
    MASK_MASK,
    CloseReason,
    Frame,
    FrameDecoder,
    FrameProtocol,
    Opcode,
    ParseFailed,
    RsvBits,
)

# The module keeps a message whatever its size; a bound keeps one client from taking all
# memory. 16 MiB is four times the largest message the module's specs send (4 MiB).
MAX_MESSAGE_BYTES = 16 * 1024 * 1024

_HANDLED = frozenset({Opcode.TEXT, Opcode.CLOSE, Opcode.PING, Opcode.PONG})


class Reply(enum.Enum):
    """What the connection does besides publishing."""

    PONG = "pong"  # answer `\x8A\x00` (the ping's payload is not echoed)
    CLOSE = "close"  # answer `\x88\x00`, then close
    DROP = "drop"  # close without a close frame


@dataclass(frozen=True, slots=True)
class TextMessage:
    """A complete, non-empty text message (its fragments joined), valid UTF-8."""

    text: bytes


Event = TextMessage | Reply


class _IgnoreReservedBits(Extension):
    """Claims the three RSV bits, so wsproto accepts frames that set them (the module ignores
    them); payloads pass through untouched."""

    name = "ignore-reserved-bits"

    def offer(self) -> bool:
        return False

    def frame_inbound_header(
        self,
        proto: FrameDecoder | FrameProtocol,
        opcode: Opcode,
        rsv: RsvBits,
        payload_length: int,
    ) -> CloseReason | RsvBits:
        return RsvBits(True, True, True)


class _AnyMaskDecoder(FrameDecoder):
    """wsproto's frame decoder, taking masked and unmasked frames alike.

    wsproto reads its `client` flag as "frames must come unmasked" (and a server's decoder as
    "masked"); setting it from the mask bit of the header about to be parsed accepts both.
    """

    def __init__(self) -> None:
        super().__init__(client=False, extensions=[_IgnoreReservedBits()])

    def parse_header(self) -> bool:
        pending = self.buffer.buffer
        second = self.buffer.bytes_used + 1
        if len(pending) > second:
            self.client = not pending[second] & MASK_MASK
        return super().parse_header()


class ClientFrames:
    """The client side of one WebSocket connection, frame by frame.

    After a CLOSE or DROP the connection is over: later bytes are ignored.
    """

    __slots__ = (
        "_decoder",
        "_fragmented",
        "_in_frame",
        "_last",
        "_limit",
        "_message",
        "_opcode",
        "_pieces",
        "_size",
        "done",
    )

    def __init__(self, *, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._decoder = _AnyMaskDecoder()
        self._limit = max_message_bytes
        self._in_frame = False  # more pieces of the current frame are to come
        self._pieces: list[bytes] = []  # the current frame's payload so far
        self._fragmented = False  # a fragmented message is open
        self._last = False  # the current frame ends its message
        self._opcode = Opcode.TEXT  # the opcode of the current message
        self._message = bytearray()  # earlier fragments of the open message, joined
        self._size = 0  # bytes of the open message so far
        self.done = False

    def receive(self, data: bytes) -> list[Event]:
        """Feed bytes from the client; what to do, in order."""
        if self.done:
            return []
        events: list[Event] = []
        self._decoder.receive_bytes(data)
        try:
            while (frame := self._decoder.process_buffer()) is not None:
                event = self._piece(frame)
                if event is None:
                    continue
                events.append(event)
                if isinstance(event, Reply) and event is not Reply.PONG:
                    self.done = True
                    break
        except ParseFailed:
            events.append(Reply.CLOSE)
            self.done = True
        return events

    def _piece(self, frame: Frame) -> Event | None:
        """One piece of a frame (wsproto hands data frames over as their bytes arrive)."""
        if not self._in_frame:
            refusal = self._start(frame.opcode, fin=frame.message_finished)
            if refusal is not None:
                return refusal
        payload = frame.payload
        assert isinstance(payload, bytes)  # only the message decoder makes text of it
        self._pieces.append(payload)
        self._size += len(payload)
        if self._size > self._limit:
            return Reply.DROP
        self._in_frame = not frame.frame_finished
        if self._in_frame:
            return None
        payload = b"".join(self._pieces)
        self._pieces = []
        return self._end(payload)

    def _start(self, opcode: Opcode, *, fin: bool) -> Reply | None:
        """A frame header, checked as the module does before it reads the payload."""
        if opcode is Opcode.CONTINUATION:
            if not self._fragmented:
                return Reply.CLOSE
        elif not fin:
            if not self._fragmented:
                self._fragmented = True
                self._opcode = opcode
        elif self._fragmented:
            return Reply.CLOSE
        else:
            self._opcode = opcode
        self._last = fin
        if self._opcode not in _HANDLED:
            return Reply.CLOSE
        return None

    def _end(self, payload: bytes) -> Event | None:
        """A whole frame: UTF-8 check, then the message, the pong or the close."""
        if payload:
            try:
                payload.decode("utf-8")
            except UnicodeDecodeError:
                return Reply.DROP
        opcode = self._opcode
        if self._fragmented:
            self._message += payload  # joined now: many small fragments cost their bytes only
            if not self._last:
                return None
            payload = bytes(self._message)
            self._message = bytearray()
            self._fragmented = False
        self._size = 0
        if opcode is Opcode.TEXT:
            return TextMessage(payload) if payload else None
        if opcode is Opcode.PING:
            return Reply.PONG
        if opcode is Opcode.CLOSE:
            return Reply.CLOSE
        return None
