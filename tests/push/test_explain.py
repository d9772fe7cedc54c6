from __future__ import annotations

import pytest

from pushproxy.push.explain import Explain


@pytest.mark.parametrize(
    ("explain", "status", "text"),
    [
        (Explain.NO_CHANNEL_ID, 400, "No channel id provided."),
        (Explain.NOT_AUTHORIZED, 403, "Channel id not authorized for this method."),
        (Explain.CHANNEL_ID_TOO_LARGE, 400, "Channel id is too large."),
        (Explain.EMPTY_POST, 400, "Empty post requests are not allowed."),
        (Explain.TOO_MANY_CHANNELS, 403, "Number of channels were exceeded."),
        (
            Explain.EVENTS_CHANNEL_READ_ONLY,
            403,
            "Only internal routines can change events channel.",
        ),
        (Explain.CANNOT_CREATE_CHANNELS, 403, "Subscriber could not create channels."),
        (Explain.TOO_MANY_SUBSCRIBERS, 403, "Subscribers limit per channel has been exceeded."),
        (Explain.TOO_MANY_WILDCARD_CHANNELS, 403, "Subscribed too much wildcard channels."),
        (Explain.EVENTS_CHANNEL_FORBIDDEN, 403, "Subscription to events channel is not allowed."),
        (
            Explain.WEBSOCKET_MISSING_HEADERS,
            400,
            "Don't have at least one of the mandatory headers: Connection, Upgrade, "
            "Sec-WebSocket-Key and Sec-WebSocket-Version",
        ),
        (Explain.WEBSOCKET_VERSION, 400, "Version not supported. Supported versions: 8, 13"),
        (Explain.CHANNEL_DELETED, 200, "Channel deleted."),
        (Explain.OUT_OF_MEMORY, 500, ""),
    ],
)
def test_explain_table(explain: Explain, status: int, text: str) -> None:
    assert (explain.status, explain.text) == (status, text)


def test_table_is_complete() -> None:
    assert len(Explain) == 14
