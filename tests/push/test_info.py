from __future__ import annotations

import pytest

from pushproxy.push.info import (
    JSON,
    PLAIN,
    X_JSON,
    X_YAML,
    XML,
    YAML,
    ChannelInfo,
    InfoFormat,
    Totals,
    WorkerInfo,
    iso_time,
    negotiate,
    render_channel,
    render_channels,
    render_group,
    render_summary,
)

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20
CH1 = ChannelInfo(id=b"ch1", published_messages=3, stored_messages=2, subscribers=1)
CH2 = ChannelInfo(id=b"ch2", published_messages=7, stored_messages=0, subscribers=4)
TOTALS = Totals(
    channels=5,
    wildcard_channels=1,
    published_messages=30,
    stored_messages=20,
    messages_in_trash=9,
    channels_in_delete=2,
    channels_in_trash=3,
    subscribers=6,
    uptime=120,
)
WORKERS = [
    WorkerInfo(pid=1234, subscribers=2, uptime=100),
    WorkerInfo(pid=1235, subscribers=4, uptime=90),
]


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        (b"", JSON),
        (b"*/*", JSON),
        (b"text/html", JSON),
        (b"text/plain", PLAIN),
        (b"application/json", JSON),
        (b"application/yaml", YAML),
        (b"application/xml", XML),
        (b"text/xml", XML),
        (b"text/x-json", X_JSON),
        (b"text/x-yaml", X_YAML),
        (b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", XML),
        (b"application/jso", JSON),
        (b"text/plainish", PLAIN),
        (b"application/json, text/plain", JSON),
    ],
)
def test_accept_negotiation(accept: bytes | None, expected: InfoFormat) -> None:
    assert negotiate(accept) is expected


@pytest.mark.parametrize(
    ("info_format", "content_type"),
    [
        (PLAIN, "text/plain"),
        (JSON, "application/json"),
        (YAML, "application/yaml"),
        (XML, "application/xml"),
        (X_JSON, "text/x-json"),
        (X_YAML, "text/x-yaml"),
    ],
)
def test_content_types(info_format: InfoFormat, content_type: str) -> None:
    assert info_format.content_type == content_type


def test_iso_time() -> None:
    assert iso_time(NOW) == b"2023-11-14T22:13:20"
    assert iso_time(0.9) == b"1970-01-01T00:00:00"


@pytest.mark.parametrize(
    ("info_format", "expected"),
    [
        (
            JSON,
            b'{"channel": "ch1", "published_messages": 3, "stored_messages": 2, '
            b'"subscribers": 1}\r\n',
        ),
        (
            PLAIN,
            b"channel: ch1\r\npublished_messages: 3\r\nstored_messages: 2\r\n"
            b"active_subscribers: 1\r\n",
        ),
        (
            YAML,
            b"  channel: ch1\r\n  published_messages: 3\r\n  stored_messages: 2\r\n"
            b"  subscribers: 1\r\n",
        ),
        (
            XML,
            b'<?xml version="1.0" encoding="UTF-8" ?>\r\n<channel>\r\n  <name>ch1</name>\r\n'
            b"  <published_messages>3</published_messages>\r\n"
            b"  <stored_messages>2</stored_messages>\r\n  <subscribers>1</subscribers>\r\n"
            b"</channel>\r\n\r\n",
        ),
    ],
)
def test_single_channel(info_format: InfoFormat, expected: bytes) -> None:
    assert render_channel(info_format, CH1) == expected


def test_ids_are_not_escaped() -> None:
    info = ChannelInfo(id=b'a"<b>%s', published_messages=0, stored_messages=0, subscribers=0)
    assert render_channel(JSON, info).startswith(b'{"channel": "a"<b>%s", ')
    assert b'<name>a"<b>%s</name>' in render_channel(XML, info)


def group(info_format: InfoFormat, infos: list[ChannelInfo]) -> bytes:
    return render_group(info_format, infos, hostname=b"Host.Example", now=NOW, totals=TOTALS)


def test_group_json() -> None:
    assert group(JSON, [CH1, CH2]) == (
        b'{"hostname": "host.example", "time": "2023-11-14T22:13:20", "channels": 5, '
        b'"wildcard_channels": 1, "uptime": 120, "infos": [\r\n'
        b'{"channel": "ch1", "published_messages": 3, "stored_messages": 2, "subscribers": 1},\r\n'
        b'{"channel": "ch2", "published_messages": 7, "stored_messages": 0, "subscribers": 4}\r\n'
        b"]}\r\n"
    )


def test_group_json_without_items() -> None:
    assert group(JSON, []) == (
        b'{"hostname": "host.example", "time": "2023-11-14T22:13:20", "channels": 5, '
        b'"wildcard_channels": 1, "uptime": 120, "infos": [\r\n]}\r\n'
    )


def test_group_plain() -> None:
    assert group(PLAIN, [CH1, CH2]) == (
        b"hostname: host.example, time: 2023-11-14T22:13:20, channels: 5, wildcard_channels: 1, "
        b"uptime: 120, infos: \r\n"
        b"channel: ch1\r\npublished_messages: 3\r\nstored_messages: 2\r\nactive_subscribers: 1,"
        b"\r\n"
        b"channel: ch2\r\npublished_messages: 7\r\nstored_messages: 0\r\nactive_subscribers: 4"
        b"\r\n"
    )


def test_group_yaml() -> None:
    assert group(YAML, [CH1, CH2]) == (
        b"hostname: host.example\r\ntime: 2023-11-14T22:13:20\r\nchannels: 5\r\n"
        b"wildcard_channels: 1\r\nuptime: 120\r\ninfos: \r\n"
        b" -\r\n  channel: ch1\r\n  published_messages: 3\r\n  stored_messages: 2\r\n"
        b"  subscribers: 1\r\n"
        b" -\r\n  channel: ch2\r\n  published_messages: 7\r\n  stored_messages: 0\r\n"
        b"  subscribers: 4"
        b"\r\n"
    )


def test_group_xml() -> None:
    assert group(XML, [CH1, CH2]) == (
        b'<?xml version="1.0" encoding="UTF-8" ?>\r\n<root>\r\n'
        b"  <hostname>host.example</hostname>\r\n  <time>2023-11-14T22:13:20</time>\r\n"
        b"  <channels>5</channels>\r\n  <wildcard_channels>1</wildcard_channels>\r\n"
        b"  <uptime>120</uptime>\r\n  <infos>\r\n"
        b"<channel>\r\n  <name>ch1</name>\r\n  <published_messages>3</published_messages>\r\n"
        b"  <stored_messages>2</stored_messages>\r\n  <subscribers>1</subscribers>\r\n"
        b"</channel>\r\n"
        b"<channel>\r\n  <name>ch2</name>\r\n  <published_messages>7</published_messages>\r\n"
        b"  <stored_messages>0</stored_messages>\r\n  <subscribers>4</subscribers>\r\n"
        b"</channel>\r\n"
        b"  </infos>\r\n</root>\r\n"
    )


def test_lookup_result_picks_the_format_by_count() -> None:
    def lookup(infos: list[ChannelInfo]) -> bytes | None:
        return render_channels(JSON, infos, hostname=b"h", now=NOW, totals=TOTALS)

    assert lookup([]) is None
    assert lookup([CH2]) == render_channel(JSON, CH2)
    assert lookup([CH1, CH2]) == render_group(
        JSON, [CH1, CH2], hostname=b"h", now=NOW, totals=TOTALS
    )


def summary(info_format: InfoFormat, workers: list[WorkerInfo] = WORKERS) -> bytes:
    return render_summary(info_format, workers, hostname=b"HOST", now=NOW, totals=TOTALS)


def test_summary_json() -> None:
    assert summary(JSON) == (
        b'{"hostname": "host", "time": "2023-11-14T22:13:20", "channels": 5, '
        b'"wildcard_channels": 1, "published_messages": 30, "stored_messages": 20, '
        b'"messages_in_trash": 9, "channels_in_delete": 2, "channels_in_trash": 3, '
        b'"subscribers": 6, "uptime": 120, "by_worker": [\r\n'
        b'{"pid": "1234", "subscribers": 2, "uptime": 100},\r\n'
        b'{"pid": "1235", "subscribers": 4, "uptime": 90}\r\n'
        b"]}\r\n"
    )


def test_summary_plain() -> None:
    assert summary(PLAIN, WORKERS[:1] + WORKERS[1:]) == (
        b"hostname: host\r\ntime: 2023-11-14T22:13:20\r\nchannels: 5\r\nwildcard_channels: 1\r\n"
        b"published_messages: 30\r\nstored_messages: 20\r\nmessages_in_trash: 9\r\n"
        b"channels_in_delete: 2\r\nchannels_in_trash: 3\r\nsubscribers: 6\r\nuptime: 120\r\n"
        b"by_worker:\r\n"
        b"  pid: 1234\r\n  subscribers: 2\r\n  uptime: 100,\r\n"
        b"  pid: 1235\r\n  subscribers: 4\r\n  uptime: 90\r\n"
    )


def test_summary_yaml() -> None:
    assert summary(YAML) == (
        b"  hostname: host\r\n  time: 2023-11-14T22:13:20\r\n  channels: 5\r\n"
        b"  wildcard_channels: 1\r\n  published_messages: 30\r\n  stored_messages: 20\r\n"
        b"  messages_in_trash: 9\r\n  channels_in_delete: 2\r\n  channels_in_trash: 3\r\n"
        b"  subscribers: 6\r\n  uptime: 120\r\n  by_worker:\r\n"
        b"   -\r\n    pid: 1234\r\n    subscribers: 2\r\n    uptime: 100\r\n"
        b"   -\r\n    pid: 1235\r\n    subscribers: 4\r\n    uptime: 90\r\n"
    )


def test_summary_xml() -> None:
    assert summary(XML, WORKERS[:1]) == (
        b'<?xml version="1.0" encoding="UTF-8" ?>\r\n<infos>\r\n'
        b"  <hostname>host</hostname>\r\n  <time>2023-11-14T22:13:20</time>\r\n"
        b"  <channels>5</channels>\r\n  <wildcard_channels>1</wildcard_channels>\r\n"
        b"  <published_messages>30</published_messages>\r\n"
        b"  <stored_messages>20</stored_messages>\r\n"
        b"  <messages_in_trash>9</messages_in_trash>\r\n"
        b"  <channels_in_delete>2</channels_in_delete>\r\n"
        b"  <channels_in_trash>3</channels_in_trash>\r\n"
        b"  <subscribers>6</subscribers>\r\n  <uptime>120</uptime>\r\n"
        b"  <by_worker><worker>\r\n  <pid>1234</pid>\r\n  <subscribers>2</subscribers>\r\n"
        b"  <uptime>100</uptime>\r\n</worker>\r\n</by_worker>\r\n"
        b"</infos>\r\n"
    )


def test_x_formats_share_their_layouts() -> None:
    assert render_channel(X_JSON, CH1) == render_channel(JSON, CH1)
    assert summary(X_YAML) == summary(YAML)
