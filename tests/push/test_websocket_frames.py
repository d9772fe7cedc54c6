"""Client frames read the module's way (PROTOCOL.md §8.4), without sockets."""

from __future__ import annotations

import os
import tracemalloc

import pytest
from wsproto.frame_protocol import FrameProtocol

from pushproxy.push.templates import websocket_frame
from pushproxy.push.websocket_frames import ClientFrames, Reply, TextMessage

CLOSE, DROP, PONG = Reply.CLOSE, Reply.DROP, Reply.PONG


def client() -> FrameProtocol:
    """What a browser's WebSocket writes: masked frames."""
    return FrameProtocol(client=True, extensions=[])


def masked(first_byte: int, payload: bytes) -> bytes:
    """A masked frame with any first byte (sequences wsproto's writer refuses to make)."""
    key = os.urandom(4)
    body = bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))
    length = len(payload)
    if length <= 125:
        head = bytes((first_byte, 0x80 | length))
    elif length < 1 << 16:
        head = bytes((first_byte, 0x80 | 126)) + length.to_bytes(2, "big")
    else:
        head = bytes((first_byte, 0x80 | 127)) + length.to_bytes(8, "big")
    return head + key + body


def test_masked_and_unmasked_text_frames() -> None:
    frames = ClientFrames()
    assert frames.receive(bytes(client().send_data("hello"))) == [TextMessage(b"hello")]
    assert frames.receive(websocket_frame(0x81, b"plain")) == [TextMessage(b"plain")]
    # The module's spec frame: 'hello', masked with BD D0 E5 2A.
    spec = bytes([0x81, 0x85, 0xBD, 0xD0, 0xE5, 0x2A, 0xD5, 0xB5, 0x89, 0x46, 0xD2])
    assert frames.receive(spec) == [TextMessage(b"hello")]


def test_bytes_arriving_one_at_a_time() -> None:
    frames = ClientFrames()
    data = bytes(client().send_data("Hello"))
    events = [event for byte in data for event in frames.receive(bytes([byte]))]
    assert events == [TextMessage(b"Hello")]


def test_several_frames_in_one_read_in_order() -> None:
    writer = client()
    data = bytes(writer.send_data("a") + writer.ping(b"x") + writer.send_data("b"))
    assert ClientFrames().receive(data) == [TextMessage(b"a"), PONG, TextMessage(b"b")]


@pytest.mark.parametrize("size", [125, 126, 65535, 65536, 4 * 1024 * 1024])
def test_16_and_64_bit_lengths(size: int) -> None:
    text = "x" * size
    assert ClientFrames().receive(bytes(client().send_data(text))) == [TextMessage(text.encode())]


def test_rsv_bits_are_ignored() -> None:
    assert ClientFrames().receive(masked(0x81 | 0x70, b"hi")) == [TextMessage(b"hi")]


def test_empty_text_publishes_nothing() -> None:
    assert ClientFrames().receive(masked(0x81, b"")) == []


def test_fragmented_message_is_joined() -> None:
    writer = client()
    data = bytes(
        writer.send_data("hel", fin=False)
        + writer.send_data("l", fin=False)
        + writer.send_data("o", fin=True)
    )
    assert ClientFrames().receive(data) == [TextMessage(b"hello")]


def test_fin0_data_frame_inside_a_message_continues_it() -> None:
    # The module keeps the first opcode and reads a FIN=0 text frame as a continuation.
    data = masked(0x01, b"ab") + masked(0x01, b"cd") + masked(0x80, b"ef")
    assert ClientFrames().receive(data) == [TextMessage(b"abcdef")]


@pytest.mark.parametrize(
    "frames",
    [
        [masked(0x80, b"lonely continuation")],
        [masked(0x00, b"unfinished continuation")],
        [masked(0x01, b"start"), masked(0x81, b"new text")],
        [masked(0x01, b"start"), masked(0x89, b"")],  # a ping inside the message
        [masked(0x01, b"start"), masked(0x88, b"")],
    ],
)
def test_wrong_sequences_close(frames: list[bytes]) -> None:
    assert ClientFrames().receive(b"".join(frames)) == [CLOSE]


def test_control_frames() -> None:
    frames = ClientFrames()
    assert frames.receive(b"\x89\x05Hello") == [PONG]  # unmasked, as the module's spec sends
    assert frames.receive(bytes(client().ping())) == [PONG]
    assert frames.receive(bytes(client().pong(b"x"))) == []
    assert frames.receive(masked(0x88, b"")) == [CLOSE]
    assert frames.done
    assert frames.receive(bytes(client().send_data("after close"))) == []


def test_close_with_a_status_code_is_not_utf8() -> None:
    # 1000 is `\x03\xe8`: the module drops the connection without answering.
    assert ClientFrames().receive(bytes(client().close(1000))) == [DROP]


@pytest.mark.parametrize("first_byte", [0x82, 0x83, 0x8B, 0x02])
def test_binary_and_unknown_opcodes_close(first_byte: int) -> None:
    assert ClientFrames().receive(masked(first_byte, b"data")) == [CLOSE]


def test_binary_continuation_closes() -> None:
    assert ClientFrames().receive(masked(0x02, b"a") + masked(0x80, b"b")) == [CLOSE]


def test_invalid_utf8_drops() -> None:
    bad = "أَ".encode()[1:]  # starts inside a character
    assert ClientFrames().receive(masked(0x81, bad)) == [DROP]


def test_each_fragment_must_be_utf8_on_its_own() -> None:
    text = "أَبْ".encode()
    data = masked(0x01, text[:3]) + masked(0x80, text[3:])  # cut inside a character
    assert ClientFrames().receive(data) == [DROP]


def test_non_latin_text() -> None:
    text = "أَبْجَدِيَّة عَ"
    assert ClientFrames().receive(bytes(client().send_data(text))) == [TextMessage(text.encode())]


def test_message_over_the_bound_drops() -> None:
    frames = ClientFrames(max_message_bytes=10)
    assert frames.receive(masked(0x01, b"123456") + masked(0x80, b"78901")) == [DROP]
    assert ClientFrames(max_message_bytes=10).receive(masked(0x81, b"x" * 11)) == [DROP]


@pytest.mark.parametrize("fragment", [b"", b"x"])
def test_small_fragments_cost_their_bytes_only(fragment: bytes) -> None:
    """A message left open while tiny continuation frames stream in holds their payload and
    nothing per fragment: the message bound counts payload bytes."""
    frames = ClientFrames()
    assert frames.receive(masked(0x01, b"start")) == []
    fragments = masked(0x00, fragment) * 10_000
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(3):
            assert frames.receive(fragments) == []
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024 + 2 * 30_000 * len(fragment)
    end = frames.receive(masked(0x80, b"!"))
    assert end == [TextMessage(b"start" + fragment * 30_000 + b"!")]


def test_wsproto_strictness_closes() -> None:
    # A length not in its shortest form: refused by wsproto, answered with a close frame.
    assert ClientFrames().receive(b"\x81\x7e\x00\x02hi") == [CLOSE]
