"""Test doubles for the push store: a settable clock and a subscriber that records calls."""

from __future__ import annotations

from typing import Any

from pushproxy.push.channels import Channel
from pushproxy.push.messages import Message
from pushproxy.push.settings import MainSettings
from pushproxy.push.store import Store
from pushproxy.push.templates import TemplateRegistry

START = 1_700_000_000.0


class Clock:
    """Wall-clock seconds that only move when a test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder:
    """A subscriber that keeps what the store handed it."""

    def __init__(self) -> None:
        self.delivered: list[Message] = []
        self.deleted: list[tuple[Message, int]] = []

    def deliver(self, message: Message) -> None:
        self.delivered.append(message)

    def channel_deleted(self, message: Message, remaining: int) -> None:
        self.deleted.append((message, remaining))

    @property
    def texts(self) -> list[bytes]:
        return [message.text for message in self.delivered]


def make_store(
    clock: Clock | None = None, templates: TemplateRegistry | None = None, **settings: Any
) -> Store:
    settings.setdefault("shared_memory_size", 10 * 1024 * 1024)
    return Store(MainSettings(**settings), templates=templates, clock=clock or Clock())


def channel(store: Store, channel_id: bytes) -> Channel:
    created = store.get_or_create_channel(channel_id)
    assert isinstance(created, Channel)
    return created


def publish(store: Store, target: Channel, text: bytes, *, stored: bool = True) -> Message:
    message = store.publish(target, text, store_messages=stored)
    assert message is not None
    return message
