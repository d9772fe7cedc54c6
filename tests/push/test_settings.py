from __future__ import annotations

import dataclasses

import pytest

from pushproxy.push.settings import (
    LocationSettings,
    LocationType,
    MainSettings,
    publisher_type,
    subscriber_type,
)


def test_main_defaults() -> None:
    settings = MainSettings(shared_memory_size=32 * 4096)
    assert settings.shared_memory_zone == "push_stream_module"
    assert settings.channel_deleted_message_text == b"Channel deleted"
    assert settings.ping_message_text == b" "
    assert (settings.channel_inactivity_time, settings.message_ttl) == (30.0, 1800.0)
    assert settings.timeout_with_body is False
    assert settings.max_subscribers_per_channel is None
    assert settings.max_messages_stored_per_channel is None
    assert settings.max_channel_id_length is None
    assert settings.max_number_of_channels is None
    assert settings.max_number_of_wildcard_channels is None
    assert (settings.wildcard_channel_prefix, settings.events_channel_id) == (b"", b"")


def test_location_defaults() -> None:
    location = LocationSettings(type=LocationType.STREAMING)
    assert (location.store_messages, location.channel_info_on_publish) == (False, True)
    assert location.authorized_channels_only is False
    assert (location.header_template, location.message_template, location.footer_template) == (
        b"",
        b"~text~",
        b"",
    )
    assert location.ping_message_interval is None
    assert location.subscriber_connection_ttl is None
    assert location.paddings == ()


def test_settings_are_frozen_slotted_and_keyword_only() -> None:
    settings = MainSettings(shared_memory_size=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.message_ttl = 1.0  # type: ignore[misc]
    assert not hasattr(settings, "__dict__")
    with pytest.raises(TypeError):
        MainSettings(1)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, LocationType.STREAMING),
        ("streaming", LocationType.STREAMING),
        ("POLLING", LocationType.POLLING),
        ("Long-Polling", LocationType.LONG_POLLING),
        ("eventsource", LocationType.EVENTSOURCE),
        ("WebSocket", LocationType.WEBSOCKET),
    ],
)
def test_subscriber_modes(value: str | None, expected: LocationType) -> None:
    assert subscriber_type(value) is expected
    assert expected.is_subscriber
    assert not expected.is_publisher


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, LocationType.PUBLISHER),
        ("Normal", LocationType.PUBLISHER),
        ("ADMIN", LocationType.PUBLISHER_ADMIN),
    ],
)
def test_publisher_modes(value: str | None, expected: LocationType) -> None:
    assert publisher_type(value) is expected
    assert expected.is_publisher
    assert not expected.is_subscriber


def test_invalid_mode_messages() -> None:
    with pytest.raises(
        ValueError,
        match=r"^push stream module: invalid push_stream_subscriber "
        r"mode value: pull, accepted values \(streaming, polling, long-polling, "
        r"eventsource, websocket\)$",
    ):
        subscriber_type("pull")
    with pytest.raises(
        ValueError,
        match=r"^push stream module: invalid push_stream_publisher "
        r"mode value: root, accepted values \(normal, admin\)$",
    ):
        publisher_type("root")
    with pytest.raises(ValueError, match="mode value: websoc\u212aet,"):
        subscriber_type("websoc\u212aet")


def test_statistics_is_neither() -> None:
    assert not LocationType.STATISTICS.is_publisher
    assert not LocationType.STATISTICS.is_subscriber
