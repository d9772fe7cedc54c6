"""WebSocket subscribers over real sockets (PROTOCOL.md §8, §9.4, §9.6).

Byte-level checks use a raw socket, the way the module's own specs do; the usual flows use
trio-websocket, and Node's `ws` package serves as an independent client when node is there.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import trio
import trio.testing
import trio_websocket
from wsproto.frame_protocol import FrameProtocol

from pushproxy.push.memory import TRASH_TTL

from .test_websocket_frames import masked
from .wire import (
    MockClock,
    ServeFactory,
    config,
    publish,
    request,
    store_of,
    wait_connections,
    wait_subscribers,
)

CONF = """
events {}
http {
    push_stream_shared_memory_size 64m;
    push_stream_events_channel_id events;
    server {
        listen 127.0.0.1:0;
        location /pub {
            push_stream_publisher admin;
            push_stream_channels_path $arg_id;
            push_stream_store_messages on;
        }
        location ~ /ws/(.*)? {
            push_stream_subscriber websocket;
            push_stream_channels_path $1;
            push_stream_websocket_allow_publish on;
            push_stream_store_messages on;
            push_stream_message_template
                "{\\"channel\\":\\"~channel~\\", \\"id\\":\\"~id~\\", \\"message\\":\\"~text~\\"}";
        }
        location ~ /ws-raw/(.*)? {
            push_stream_subscriber websocket;
            push_stream_channels_path $1;
        }
        location ~ /ws-tpl/(.*)? {
            push_stream_subscriber websocket;
            push_stream_channels_path $1;
            push_stream_header_template "HEADER_TEMPLATE";
            push_stream_footer_template "FOOTER_TEMPLATE";
            push_stream_message_template "~id~:~text~";
        }
        location ~ /ws-if/(.*)? {
            push_stream_subscriber websocket;
            push_stream_channels_path $1;
            push_stream_header_template "HH";
            push_stream_footer_template "FF";
            push_stream_subscriber_connection_ttl 1s;
            if ($arg_x) { push_stream_channels_path x_$1; }
        }
        location ~ /ws-ttl/(.*)? {
            push_stream_subscriber websocket;
            push_stream_channels_path $1;
            push_stream_footer_template "FOOTER_TEMPLATE";
            push_stream_subscriber_connection_ttl 1s;
        }
        location ~ /ws-ping/(.*)? {
            push_stream_subscriber websocket;
            push_stream_channels_path $1;
            push_stream_ping_message_interval 1s;
        }
        location ~ /ws-auth/(.*)? {
            push_stream_subscriber websocket;
            push_stream_channels_path $1;
            push_stream_authorized_channels_only on;
        }
        location ~ /ws-quiet/(.*)? {
            push_stream_subscriber websocket;
            push_stream_channels_path $1;
        }
        location ~ /ws-events/(.*)? {
            push_stream_subscriber websocket;
            push_stream_channels_path $1;
            push_stream_allow_connections_to_events_channel on;
            push_stream_websocket_allow_publish on;
            push_stream_message_template "~channel~|~text~";
        }
        location ~ /ws-resume/(.*)? {
            push_stream_subscriber websocket;
            push_stream_channels_path $1;
            push_stream_last_received_message_time "$arg_time";
            push_stream_last_received_message_tag "$arg_tag";
        }
    }
}
"""

KEY = "/mQoZf6pRiv8+6o72GncLQ=="
ACCEPT = b"RaIOIcQ6CBoc74B9EKdH0avYZnw="
UPGRADE_HEADERS = (
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", KEY),
    ("Upgrade", "websocket"),
    ("Sec-WebSocket-Version", "8"),
)
SWITCHING = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Expires: Thu, 01 Jan 1970 00:00:01 GMT\r\n"
    b"Cache-Control: no-cache, no-store, must-revalidate\r\n"
    b"Upgrade: WebSocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: " + ACCEPT + b"\r\n\r\n"
)
# 'hello', masked with BD D0 E5 2A (the module's spec frame).
HELLO = bytes([0x81, 0x85, 0xBD, 0xD0, 0xE5, 0x2A, 0xD5, 0xB5, 0x89, 0x46, 0xD2])
MASKED_PONG = bytes([0x8A, 0x80, 0xBD, 0xD0, 0xE5, 0x2A])
MASKED_CLOSE = bytes([0x88, 0x80, 0xBD, 0xD0, 0xE5, 0x2A])


def json_frame(channel: str, message_id: int, text: str) -> bytes:
    payload = f'{{"channel":"{channel}", "id":"{message_id}", "message":"{text}"}}'.encode()
    assert len(payload) <= 125
    return bytes((0x81, len(payload))) + payload


class Raw:
    """A client that reads and writes bytes, as the module's specs do."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = bytearray()

    @classmethod
    async def connect(cls, port: int) -> Raw:
        return cls(await trio.open_tcp_stream("127.0.0.1", port))

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def _fill(self) -> bool:
        data = await self.stream.receive_some(65536)
        self.buffer += data
        return bool(data)

    async def read(self, size: int) -> bytes:
        with trio.fail_after(10):
            while len(self.buffer) < size:
                assert await self._fill(), bytes(self.buffer)
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    async def read_head(self) -> bytes:
        with trio.fail_after(10):
            while b"\r\n\r\n" not in self.buffer:
                assert await self._fill(), bytes(self.buffer)
        end = self.buffer.index(b"\r\n\r\n") + 4
        head = bytes(self.buffer[:end])
        del self.buffer[:end]
        return head

    async def read_to_eof(self) -> bytes:
        """What remains until the server closes; then the client closes too."""
        with trio.fail_after(10):
            while await self._fill():
                pass
        await self.aclose()
        data = bytes(self.buffer)
        self.buffer.clear()
        return data

    async def quiet_for(self, seconds: float) -> bool:
        """True when nothing arrives for that long (virtual seconds under autojump)."""
        with trio.move_on_after(seconds):
            await self._fill()
            return False
        return not self.buffer

    async def aclose(self) -> None:
        await self.stream.aclose()


async def send_request(
    port: int,
    target: str,
    headers: tuple[tuple[str, str], ...] = UPGRADE_HEADERS,
    *,
    method: str = "GET",
    version: str = "1.0",
) -> Raw:
    raw = await Raw.connect(port)
    host = ["Host: localhost"] if version == "1.1" else []
    lines = [f"{method} {target} HTTP/{version}", *host, *(f"{k}: {v}" for k, v in headers)]
    await raw.send(("\r\n".join(lines) + "\r\n\r\n").encode())
    return raw


async def upgrade(port: int, target: str, extra: tuple[tuple[str, str], ...] = ()) -> Raw:
    """A WebSocket connection with its 101 read and checked."""
    raw = await send_request(port, target, UPGRADE_HEADERS + extra)
    assert await raw.read_head() == SWITCHING
    return raw


def header_value(head: bytes, name: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b": ")
        if key.lower() == name.lower():
            return value
    return None


# handshake (§8.1)


async def test_handshake_then_header_template_frame(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        raw = await upgrade(server.port(), "/ws-tpl/ch1.b1")
        assert await raw.read(17) == b"\x81\x0fHEADER_TEMPLATE"
        await wait_subscribers(server, b"ch1", 1)
        await raw.aclose()
        await wait_connections(server, 0)


async def test_an_if_block_frames_an_inherited_header_twice(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    """PROTOCOL §10.7: the module frames the header and footer of a WebSocket `if` block (they
    are the location's: the templates are not allowed in `if`) a second time."""
    async with serve(CONF) as server:
        port = server.port()
        plain = await upgrade(port, "/ws-if/a")
        inside = await upgrade(port, "/ws-if/a?x=1")
        assert await plain.read(4) == b"\x81\x02HH"
        assert await inside.read(6) == b"\x81\x04\x81\x02HH"
        await wait_subscribers(server, b"x_a", 1)  # the block's channels path
        # The TTL ends both: footer, then close.
        assert await plain.read(4) == b"\x81\x02FF"
        assert await inside.read(6) == b"\x81\x04\x81\x02FF"
        for raw in (plain, inside):
            await raw.aclose()
        await wait_connections(server, 0)


@pytest.mark.parametrize("method", ["HEAD", "PUT", "POST", "DELETE", "OPTIONS"])
async def test_only_get(serve: ServeFactory, autojump_clock: MockClock, method: str) -> None:
    async with serve(CONF) as server:
        raw = await send_request(server.port(), "/ws/ch1", method=method, version="1.1")
        head = await raw.read_to_eof()  # keep-alive is off
        assert head.startswith(b"HTTP/1.1 405 ")
        assert header_value(head, b"Allow") == b"GET"
        assert header_value(head, b"Content-Length") == b"0"
        assert header_value(head, b"Expires") is None
        assert header_value(head, b"Cache-Control") is None
        assert store_of(server).find_channel(b"ch1") is None


async def test_mandatory_headers(serve: ServeFactory, autojump_clock: MockClock) -> None:
    explain = (
        b"Don't have at least one of the mandatory headers: "
        b"Connection, Upgrade, Sec-WebSocket-Key and Sec-WebSocket-Version"
    )
    async with serve(CONF) as server:
        for count in range(len(UPGRADE_HEADERS)):
            raw = await send_request(server.port(), "/ws/ch1.b1", UPGRADE_HEADERS[:count])
            head = await raw.read_to_eof()
            assert head.startswith(b"HTTP/1.1 400 "), head
            assert header_value(head, b"X-Nginx-PushStream-Explain") == explain
            assert header_value(head, b"Content-Length") == b"0"
            assert header_value(head, b"Expires") == b"Thu, 01 Jan 1970 00:00:01 GMT"
        # Values are not checked, only the version.
        odd = (
            ("Connection", "x"),
            ("Sec-WebSocket-Key", "y"),
            ("Upgrade", "z"),
            ("Sec-WebSocket-Version", "13"),
        )
        raw = await send_request(server.port(), "/ws/ch1", odd)
        assert (await raw.read_head()).startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
        await raw.aclose()


@pytest.mark.parametrize(
    ("version", "accepted"), [("7", False), ("9", False), ("x", False), ("8", True), ("13", True)]
)
async def test_versions(
    serve: ServeFactory, autojump_clock: MockClock, version: str, accepted: bool
) -> None:
    headers = (*UPGRADE_HEADERS[:3], ("Sec-WebSocket-Version", version))
    async with serve(CONF) as server:
        raw = await send_request(server.port(), "/ws/ch1.b1", headers)
        head = await raw.read_head()
        if accepted:
            assert head == SWITCHING
        else:
            assert head.startswith(b"HTTP/1.1 400 ")
            assert header_value(head, b"Sec-WebSocket-Version") == b"8, 13"
            assert header_value(head, b"X-Nginx-PushStream-Explain") == (
                b"Version not supported. Supported versions: 8, 13"
            )
            assert await raw.read_to_eof() == b""
        await raw.aclose()


async def test_refusal_after_the_101_is_a_close_frame(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        raw = await upgrade(port, "/ws-auth/ch1.b1")
        assert await raw.read_to_eof() == (
            b'\x88I\x03\xf0{"http_status": 403, "explain":"Subscriber could not create channels."}'
        )
        raw = await upgrade(port, "/ws/ALL")
        assert await raw.read_to_eof() == (
            b'\x88N\x03\xf0{"http_status": 403, '
            b'"explain":"Channel id not authorized for this method."}'
        )
        raw = await upgrade(port, "/ws/events")
        assert (await raw.read_to_eof()).endswith(
            b'{"http_status": 403, "explain":"Subscription to events channel is not allowed."}'
        )


async def test_empty_path_just_closes(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        raw = await upgrade(server.port(), "/ws/")
        assert await raw.read_to_eof() == b""


async def test_trio_websocket_sees_the_refusal(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server, trio.open_nursery() as nursery:
        # Our own stream: trio-websocket leaves it open when the server closes first.
        stream = await trio.open_tcp_stream("127.0.0.1", server.port())
        async with stream:
            ws = await trio_websocket.wrap_client_stream(
                nursery, stream, "127.0.0.1", "/ws-auth/nothing"
            )
            with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                await ws.get_message()
        reason = closed.value.reason
        assert reason is not None
        assert reason.code == 1008
        assert reason.reason == (
            '{"http_status": 403, "explain":"Subscriber could not create channels."}'
        )


async def test_a_failure_after_the_101_only_closes(
    serve: ServeFactory,
    autojump_clock: MockClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("broken store")

    monkeypatch.setattr("pushproxy.push.websocket.subscriber_channels", broken)
    async with serve(CONF) as server:
        raw = await upgrade(server.port(), "/ws/ch1")
        assert await raw.read_to_eof() == b""  # no HTTP error page on a WebSocket
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        "websocket session failed for b'/ws/ch1'"
    ]


# server frames (§8.2)


@pytest.mark.parametrize(
    ("size", "head"),
    [
        (5, b"\x81\x05"),
        (125, b"\x81\x7d"),
        (126, b"\x81\x7e\x00\x7e"),
        (65535, b"\x81\x7e\xff\xff"),
        (65536, b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ],
)
async def test_frame_lengths(
    serve: ServeFactory, autojump_clock: MockClock, size: int, head: bytes
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        raw = await upgrade(port, "/ws-raw/ch1")
        await wait_subscribers(server, b"ch1", 1)
        await publish(port, "ch1", b"a" * size)
        assert await raw.read(len(head) + size) == head + b"a" * size
        await raw.aclose()


async def test_any_bytes_go_out_in_text_frames(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    body = bytes(range(256)) * 2
    async with serve(CONF) as server:
        port = server.port()
        await publish(port, "ch1", body)
        raw = await upgrade(port, "/ws-raw/ch1.b1")
        assert await raw.read(4 + len(body)) == b"\x81\x7e\x02\x00" + body
        await raw.aclose()


async def test_old_messages_then_live_ones(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        for text in (b"one", b"two", b"three"):
            await publish(port, "ch1", text)
        await publish(port, "ch2", b"other")
        raw = await upgrade(port, "/ws-tpl/ch1.b2/ch2.b5")
        expected = b"\x81\x0fHEADER_TEMPLATE\x81\x052:two\x81\x073:three\x81\x071:other"
        assert await raw.read(len(expected)) == expected
        await wait_subscribers(server, b"ch2", 1)
        await publish(port, "ch1", b"four")
        assert await raw.read(8) == b"\x81\x064:four"
        await raw.aclose()


async def test_resume_by_time_and_tag_or_event_id(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        store = store_of(server)
        await publish(port, "ch1", b"m1", [("Event-Id", "e1")])
        await publish(port, "ch1", b"m2", [("Event-Id", "e2")])
        await publish(port, "ch1", b"m3")
        second = store.find_channel(b"ch1")
        assert second is not None
        m2 = second.messages[1]
        when = f"{m2.time}"
        raw = await upgrade(
            port, f"/ws-resume/ch1?tag={m2.tag}&time=" + _quoted_http_time(int(when))
        )
        assert await raw.read(4) == b"\x81\x02m3"
        await raw.aclose()
        raw = await upgrade(port, "/ws-raw/ch1", (("Last-Event-Id", "e1"),))
        assert await raw.read(8) == b"\x81\x02m2\x81\x02m3"
        await raw.aclose()


def _quoted_http_time(seconds: int) -> str:
    from email.utils import formatdate

    return formatdate(seconds, usegmt=True).replace(" ", "%20").replace(",", "%2C")


async def test_ping_every_interval_reset_by_live_messages(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        raw = await upgrade(port, "/ws-ping/ch1")
        start = trio.current_time()
        assert await raw.read(2) == b"\x89\x00"
        assert trio.current_time() - start == pytest.approx(1, abs=0.01)
        await trio.sleep(0.5)
        await publish(port, "ch1", b"live")
        assert await raw.read(6) == b"\x81\x04live"
        published = trio.current_time()
        assert await raw.read(2) == b"\x89\x00"
        assert trio.current_time() - published == pytest.approx(1, abs=0.01)
        await raw.aclose()


async def test_ttl_ends_with_footer_and_close(
    serve: ServeFactory, autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with serve(CONF) as server:
        raw = await upgrade(server.port(), "/ws-ttl/ch1")
        start = trio.current_time()
        assert await raw.read(19) == b"\x81\x0fFOOTER_TEMPLATE\x88\x00"
        assert trio.current_time() - start == pytest.approx(1, abs=0.01)
        assert store_of(server).totals().subscribers == 0
        # Data after the server's close is ignored.
        await raw.send(b"WRITE SOMETHING UNKNOWN\r\n")
        assert await raw.read_to_eof() == b""
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_channel_deleted(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        raw = await upgrade(port, "/ws-tpl/ch1/ch2")
        assert await raw.read(17) == b"\x81\x0fHEADER_TEMPLATE"
        await wait_subscribers(server, b"ch2", 1)
        assert (await request(port, "DELETE", "/pub?id=ch1")).status == 200
        assert await raw.read(20) == b"\x81\x12-2:Channel deleted"
        await publish(port, "ch2", b"still here")
        assert await raw.read(14) == b"\x81\x0c1:still here"
        assert (await request(port, "DELETE", "/pub?id=ch2")).status == 200
        assert await raw.read_to_eof() == (
            b"\x81\x12-2:Channel deleted\x81\x0fFOOTER_TEMPLATE\x88\x00"
        )
        assert store_of(server).totals().subscribers == 0


async def test_server_stop_ends_with_footer_and_close(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        raw = await upgrade(server.port(), "/ws-tpl/ch1")
        assert await raw.read(17) == b"\x81\x0fHEADER_TEMPLATE"
        await wait_subscribers(server, b"ch1", 1)
        await server.stop(grace=0)
        assert await raw.read_to_eof() == b"\x81\x0fFOOTER_TEMPLATE\x88\x00"


# client frames (§8.4)


async def test_publish_to_every_channel_of_the_connection(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        raw = await upgrade(port, "/ws/ch2/ch1")
        await wait_subscribers(server, b"ch1", 1)
        await raw.send(HELLO)
        expected = json_frame("ch2", 1, "hello") + json_frame("ch1", 1, "hello")
        assert expected.startswith(b'\x81.{"channel":"ch2", "id":"1", "message":"hello"}')
        assert await raw.read(len(expected)) == expected
        store = store_of(server)
        assert [c.id for c in store.channels() if c.id != b"events"] == [b"ch2", b"ch1"]
        for channel_id in (b"ch2", b"ch1"):
            channel = store.find_channel(channel_id)
            assert channel is not None
            assert (channel.published_messages, channel.stored_messages) == (1, 1)
        await raw.aclose()


async def test_publish_skips_the_events_channel(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        port = server.port()
        raw = await upgrade(port, "/ws-events/events/ch1")
        event = b'events|{"type": "client_subscribed", "channel": "ch1"}'
        assert await raw.read(2 + len(event)) == bytes((0x81, len(event))) + event
        await raw.send(masked(0x81, b"hi"))
        assert await raw.read(8) == b"\x81\x06ch1|hi"
        events = store_of(server).find_channel(b"events")
        assert events is not None
        assert b"hi" not in [message.text for message in events.messages]
        await raw.aclose()


async def test_publish_off_ignores_text(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        raw = await upgrade(server.port(), "/ws-quiet/ch1")
        await wait_subscribers(server, b"ch1", 1)
        await raw.send(HELLO)
        assert await raw.quiet_for(1)
        channel = store_of(server).find_channel(b"ch1")
        assert channel is not None
        assert (channel.published_messages, channel.subscribers) == (0, 1)
        await raw.aclose()


async def test_ping_pong_and_close(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        raw = await upgrade(server.port(), "/ws/ch1.b1")
        await wait_subscribers(server, b"ch1", 1)
        await raw.send(b"\x89\x05Hello")  # unmasked, with a payload that is not echoed
        assert await raw.read(2) == b"\x8a\x00"
        await raw.send(MASKED_PONG)
        assert await raw.quiet_for(1)
        channel = store_of(server).find_channel(b"ch1")
        assert channel is not None
        assert (channel.published_messages, channel.subscribers) == (0, 1)
        await raw.send(MASKED_CLOSE)
        assert await raw.read(2) == b"\x88\x00"
        assert store_of(server).totals().subscribers == 0
        assert await raw.read_to_eof() == b""


async def test_close_with_a_status_code_gets_no_close_frame(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        raw = await upgrade(server.port(), "/ws/ch1")
        await raw.send(bytes(FrameProtocol(client=True, extensions=[]).close(1000)))
        assert await raw.read_to_eof() == b""
        await wait_connections(server, 0)


async def test_binary_frame_closes(serve: ServeFactory, autojump_clock: MockClock) -> None:
    binary = bytes([0x82, *HELLO[1:]])
    async with serve(CONF) as server:
        raw = await upgrade(server.port(), "/ws/ch1.b1")
        await raw.send(binary)
        assert await raw.read_to_eof() == b"\x88\x00"
        channel = store_of(server).find_channel(b"ch1")
        assert channel is not None
        assert (channel.published_messages, channel.subscribers) == (0, 0)


async def test_invalid_utf8_drops_without_close_frame(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    text = "أَبْجَدِيَّة عَ".encode()[1:]
    async with serve(CONF) as server:
        raw = await upgrade(server.port(), "/ws/ch1")
        await raw.send(masked(0x81, text))
        assert await raw.read_to_eof() == b""
        channel = store_of(server).find_channel(b"ch1")
        assert channel is not None
        assert (channel.published_messages, channel.subscribers) == (0, 0)


async def test_fragmented_message(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        port = server.port()
        raw = await upgrade(port, "/ws/ch1")
        await raw.send(masked(0x01, b"hel") + masked(0x00, b"l") + b"\x80\x01o")
        expected = json_frame("ch1", 1, "hello")
        assert await raw.read(len(expected)) == expected
        await raw.send(masked(0x80, b"no start"))
        assert await raw.read_to_eof() == b"\x88\x00"
        raw = await upgrade(port, "/ws/ch1")
        await raw.send(masked(0x01, b"start") + b"\x89\x00")
        assert await raw.read_to_eof() == b"\x88\x00"


async def test_low_bitrate(serve: ServeFactory, autojump_clock: MockClock) -> None:
    async with serve(CONF) as server:
        raw = await upgrade(server.port(), "/ws-events/ch1")
        for byte in masked(0x81, b"Hello"):
            await raw.send(bytes([byte]))
            await trio.sleep(2)
        assert await raw.read(11) == b"\x81\x09ch1|Hello"
        await raw.aclose()


async def test_pipelined_frames_after_the_head(
    serve: ServeFactory, autojump_clock: MockClock
) -> None:
    async with serve(CONF) as server:
        raw = await Raw.connect(server.port())
        lines = [
            "GET /ws-events/ch1 HTTP/1.1",
            "Host: x",
            *(f"{k}: {v}" for k, v in UPGRADE_HEADERS),
        ]
        await raw.send(("\r\n".join(lines) + "\r\n\r\n").encode() + masked(0x81, b"early"))
        assert await raw.read_head() == SWITCHING
        assert await raw.read(11) == b"\x81\x09ch1|early"
        await raw.aclose()


# with WebSocket clients


async def test_trio_websocket_client(serve: ServeFactory, autojump_clock: MockClock) -> None:
    non_latin = "أَبْجَدِيَّة عَ"
    async with serve(CONF) as server:
        port = server.port()
        await publish(port, "ch1", b"old")
        url = f"ws://127.0.0.1:{port}/ws/ch1.b1"
        async with trio_websocket.open_websocket_url(url) as ws:
            assert json.loads(await ws.get_message())["message"] == "old"
            await ws.send_message(non_latin)
            echoed = json.loads(await ws.get_message())
            assert (echoed["message"], echoed["id"]) == (non_latin, "2")
            await publish(port, "ch1", b"from the publisher")
            assert json.loads(await ws.get_message())["message"] == "from the publisher"
        await wait_connections(server, 0)


async def test_large_messages(serve: ServeFactory) -> None:
    # Real time: under an autojump clock, time would jump while megabytes are in flight.
    large = "^|" + "0123456789" * 419430 + "|$"
    small = "^|" + "0123456789" * 1020 + "|$"
    async with serve(CONF) as server:
        url = f"ws://127.0.0.1:{server.port()}/ws/big"
        async with trio_websocket.open_websocket_url(url, max_message_size=8 << 20) as ws:
            await ws.send_message(large)
            received = json.loads(await ws.get_message())
            assert len(received["message"]) == 4194304
            assert received["message"] == large
            await ws.send_message(small)
            assert json.loads(await ws.get_message())["message"] == small


async def test_a_slow_client_is_dropped(serve: ServeFactory, mock_clock: MockClock) -> None:
    """Past the zone's size queued (8 MiB here): the clock runs at real speed (megabytes
    cross the sockets) and leaps to let the trash give the zone's memory back."""
    mock_clock.rate = 1
    conf = """
events {}
http {
    push_stream_shared_memory_size 8m;
    send_timeout 1h;
    server {
        listen 127.0.0.1:0;
        location /pub { push_stream_publisher admin; push_stream_channels_path $arg_id;
                        client_max_body_size 2m; }
        location ~ /ws/(.*) { push_stream_subscriber websocket; push_stream_channels_path $1; }
    }
}
"""
    async with serve(conf) as server:
        port = server.port()
        raw = await upgrade(port, "/ws/ch1")  # and never reads
        await wait_subscribers(server, b"ch1", 1)
        published = 0
        while store_of(server).totals().subscribers:
            assert published < 60
            await publish(port, "ch1", b"x" * (1 << 20))  # one a turn fits in the zone
            published += 1
            mock_clock.jump(TRASH_TTL + 1)
            await trio.testing.wait_all_tasks_blocked()
        assert published > 8  # more than the bound and the socket's buffers
        await raw.aclose()


# Node's `ws` package, an independent client


@pytest.fixture(scope="session")
def node_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `ws` package installed into a temporary directory (never into the repository)."""
    if shutil.which("node") is None:
        if os.environ.get("CI"):
            pytest.fail("node is required in CI")
        pytest.skip("node is not installed")
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed to install the ws package"
    prefix = tmp_path_factory.mktemp("node-ws")
    subprocess.run(
        [npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(prefix), "ws@8"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return prefix / "node_modules" / "ws"


NODE_CLIENT = """
const WebSocket = require(process.argv[2]);
const ws = new WebSocket(process.argv[3]);
const say = (what) => console.log(JSON.stringify(what));
let received = 0;
ws.on('message', (data, isBinary) => {
  say({message: data.toString(), binary: isBinary});
  received += 1;
  if (received === 1) ws.send('from node');
  if (received === 2) ws.close();
});
ws.on('close', (code) => say({close: code}));
ws.on('error', (error) => { say({error: String(error)}); process.exit(1); });
"""


async def test_node_ws_client(serve: ServeFactory, node_ws: Path, tmp_path: Path) -> None:
    script = tmp_path / "client.js"
    script.write_text(NODE_CLIENT)
    async with serve(CONF) as server:
        port = server.port()
        await publish(port, "ch1", b"before")
        with trio.fail_after(30):
            done = await trio.run_process(
                ["node", str(script), str(node_ws), f"ws://127.0.0.1:{port}/ws/ch1.b1"],
                capture_stdout=True,
                capture_stderr=True,
            )
        lines = [json.loads(line) for line in done.stdout.decode().splitlines()]
        assert lines == [
            {"message": '{"channel":"ch1", "id":"1", "message":"before"}', "binary": False},
            {"message": '{"channel":"ch1", "id":"2", "message":"from node"}', "binary": False},
            {"close": 1005},
        ]
        await wait_connections(server, 0)


async def test_a_session_is_in_the_access_log_when_it_ends(
    serve: ServeFactory, tmp_path: Path, autojump_clock: MockClock
) -> None:
    """nginx logs the upgraded request, as 101, once the connection ends."""
    log = tmp_path / "access.log"
    conf = config(
        f"""
        location ~ /ws/(.*) {{
            push_stream_subscriber websocket;
            push_stream_channels_path $1;
            access_log {log} session;
        }}
        """,
        http="    log_format session '$request_method $uri $status';",
    )
    async with serve(conf) as server:
        raw = await upgrade(server.port(), "/ws/ch1")
        assert not log.exists() or log.read_text() == ""  # logged when it ends, not before
        await raw.send(b"\x88\x80" + b"\x00" * 4)  # a masked close frame
        await raw.read_to_eof()
        for _ in range(100):
            if log.exists() and log.read_text():
                break
            await trio.sleep(0.01)
    assert log.read_text() == "GET /ws/ch1 101\n"


async def test_a_flood_of_tiny_frames_leaves_the_others_their_turns(serve: ServeFactory) -> None:
    """180 KB of empty continuation frames (30,000 of them, several µs each to decode) are
    decoded a slice at a time, with the other tasks' turns in between: the longest time the
    loop spends away from them stays a few ms, not a whole read's (64 KiB: about 70 ms)."""
    flood = masked(0x01, b"start") + bytes([0x00, 0x80, 0, 0, 0, 0]) * 30_000  # masked, FIN=0
    gaps: list[float] = []
    async with serve(CONF) as server:
        raw = await upgrade(server.port(), "/ws-raw/ch1")
        done = trio.Event()

        async def tick() -> None:
            last = trio.current_time()
            while not done.is_set():
                await trio.lowlevel.checkpoint()
                now = trio.current_time()
                gaps.append(now - last)
                last = now

        async with trio.open_nursery() as nursery:
            nursery.start_soon(tick)
            await raw.send(flood)
            await wait_for_decoding(raw)
            done.set()
        await raw.aclose()
    assert max(gaps) < 0.03, f"the loop was held for {max(gaps) * 1000:.0f} ms"


async def wait_for_decoding(raw: Raw) -> None:
    """Until the server has decoded every frame sent: the message ends (an empty FIN frame),
    then a ping after it gets its pong."""
    await raw.send(bytes([0x80, 0x80, 0, 0, 0, 0, 0x89, 0x80, 0, 0, 0, 0]))
    assert await raw.read(2) == b"\x8a\x00"
