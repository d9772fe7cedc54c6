"""The WebSocket handshake bytes and the session's outbox, without sockets (§8.1, §8.2)."""

from __future__ import annotations

import pytest

from pushproxy.push.settings import LocationSettings, LocationType
from pushproxy.push.streaming import OUTBOX_LIMIT
from pushproxy.push.templates import LocationTemplates, TemplateRegistry
from pushproxy.push.websocket import (
    INTERNAL_ERROR_FRAME,
    Ending,
    WebSocketSession,
    supported_version,
    switching_protocols,
)

from .support import channel, make_store, publish


def test_switching_protocols_is_exact() -> None:
    assert switching_protocols(b"/mQoZf6pRiv8+6o72GncLQ==") == (
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Expires: Thu, 01 Jan 1970 00:00:01 GMT\r\n"
        b"Cache-Control: no-cache, no-store, must-revalidate\r\n"
        b"Upgrade: WebSocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: RaIOIcQ6CBoc74B9EKdH0avYZnw=\r\n"
        b"\r\n"
    )


@pytest.mark.parametrize(
    ("value", "supported"),
    [
        (b"8", True),
        (b"13", True),
        (b"013", True),
        (b"0" * 5000 + b"13", True),
        (b"7", False),
        (b"", False),
        (b"13a", False),
        (b"9" * 5000, False),
    ],
)
def test_supported_versions(value: bytes, supported: bool) -> None:
    assert supported_version(value) is supported


def test_internal_error_frame() -> None:
    assert INTERNAL_ERROR_FRAME == b'\x88\x24\x03\xf0{"http_status": 500, "explain":""}'


def templates(registry: TemplateRegistry, source: bytes = b"~id~:~text~") -> LocationTemplates:
    settings = LocationSettings(type=LocationType.WEBSOCKET, message_template=source)
    return LocationTemplates.build(settings, registry)


def test_every_subscriber_gets_the_same_bytes_object() -> None:
    registry = TemplateRegistry()
    location = templates(registry)
    store = make_store(templates=registry)
    ch1 = channel(store, b"ch1")
    sessions = [WebSocketSession(location, clock=lambda: 5.0) for _ in range(2)]
    for session in sessions:
        store.subscribe(store.register(session), ch1)
    publish(store, ch1, b"hello")
    (first,), (second,) = (session.take() for session in sessions)
    assert first == b"\x81\x071:hello"
    assert first is second
    assert all(session.live_at == 5.0 for session in sessions)  # the ping timer starts over


def test_a_slow_client_overflows() -> None:
    registry = TemplateRegistry()
    store = make_store(templates=registry, shared_memory_size=64 * 1024 * 1024)
    ch1 = channel(store, b"ch1")
    session = WebSocketSession(templates(registry, b"~text~"), clock=lambda: 0.0)
    store.subscribe(store.register(session), ch1)
    chunk = b"x" * (1024 * 1024)
    while session.pending_bytes <= OUTBOX_LIMIT:
        assert not session.overflow
        publish(store, ch1, chunk, stored=False)
    assert session.overflow


def test_channel_deleted_ends_only_with_the_last_channel() -> None:
    registry = TemplateRegistry()
    store = make_store(templates=registry)
    ch1, ch2 = channel(store, b"ch1"), channel(store, b"ch2")
    session = WebSocketSession(templates(registry), clock=lambda: 0.0)
    connection = store.register(session)
    store.subscribe(connection, ch1)
    store.subscribe(connection, ch2)
    store.delete_channel(ch1)
    assert session.take() == [b"\x81\x12-2:Channel deleted"]
    assert session.ending is None
    store.delete_channel(ch2)
    assert session.take() == [b"\x81\x12-2:Channel deleted"]
    assert session.ending is Ending.FOOTER


def test_nothing_is_queued_after_the_end() -> None:
    registry = TemplateRegistry()
    store = make_store(templates=registry)
    ch1 = channel(store, b"ch1")
    session = WebSocketSession(templates(registry), clock=lambda: 0.0)
    store.subscribe(store.register(session), ch1)
    session.end(Ending.CLOSE)
    session.end(Ending.DROP)
    publish(store, ch1, b"late")
    assert (session.ending, session.pending) == (Ending.CLOSE, [])


def test_a_session_with_a_larger_bound_holds_more() -> None:
    registry = TemplateRegistry()
    store = make_store(templates=registry, shared_memory_size=64 * 1024 * 1024)
    ch1 = channel(store, b"ch1")
    limit = 2 * OUTBOX_LIMIT
    session = WebSocketSession(templates(registry, b"~text~"), clock=lambda: 0.0, limit=limit)
    store.subscribe(store.register(session), ch1)
    while session.pending_bytes <= limit:
        assert not session.overflow
        publish(store, ch1, b"x" * (1024 * 1024), stored=False)
    assert session.overflow
    assert session.pending_bytes > OUTBOX_LIMIT + 1024 * 1024
