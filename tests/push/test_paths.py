from __future__ import annotations

import pytest

from pushproxy.push.paths import (
    RequestedChannel,
    channels_from_path,
    is_forbidden_id,
    parse_channel_ids,
    unescape_uri,
)


def parsed(path: bytes) -> list[tuple[bytes, int]]:
    return [(channel.id, channel.backtrack) for channel in parse_channel_ids(path)]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # The table of PROTOCOL.md §3.
        (b"ch1.b3/ch2", [(b"ch1", 3), (b"ch2", 0)]),
        (b"room.b18.beautiful.b3", [(b"room.b18.beautiful", 3)]),
        (b"ch.b", [(b"ch.b", 0)]),
        (b"ch1/", [(b"ch1", 0)]),
        (b"/ch1", [(b"", 0), (b"ch1", 0)]),
        (b"a//b", [(b"a", 0), (b"", 0), (b"b", 0)]),
        # From the directive docs.
        (
            b"channel1.b3/channel2.b5/channel3.b2",
            [(b"channel1", 3), (b"channel2", 5), (b"channel3", 2)],
        ),
        (b"channel1/channel2.b6", [(b"channel1", 0), (b"channel2", 6)]),
    ],
)
def test_protocol_path_table(path: bytes, expected: list[tuple[bytes, int]]) -> None:
    assert parsed(path) == expected


def test_empty_path_has_no_channels() -> None:
    assert parse_channel_ids(b"") == ()


def test_a_lone_slash_is_one_empty_id() -> None:
    assert parsed(b"/") == [(b"", 0)]


def test_duplicates_are_kept() -> None:
    assert parsed(b"a/a") == [(b"a", 0), (b"a", 0)]


def test_publishers_strip_backtrack_too() -> None:
    assert parse_channel_ids(b"ch.b2") == (RequestedChannel(b"ch", 2),)


def test_b0_is_no_backtrack_but_is_stripped() -> None:
    assert parsed(b"ch.b0") == [(b"ch", 0)]


def test_backtrack_only_counts_before_a_separator() -> None:
    assert parsed(b"a.b3.b4/x.b2y") == [(b"a.b3", 4), (b"x.b2y", 0)]


def test_every_other_byte_is_part_of_an_id() -> None:
    assert parsed(b"\x00\xff ~*.b") == [(b"\x00\xff ~*.b", 0)]


def test_trailing_newline_stays_in_the_id() -> None:
    assert parsed(b"ch\n") == [(b"ch\n", 0)]


@pytest.mark.parametrize(
    ("digits", "backtrack"),
    [
        (b"9223372036854775807", 2**63 - 1),
        (b"0" * 5000 + b"7", 7),  # leading zeros do not overflow
        # Past ngx_atoi()'s range, its error (-1) in the module's unsigned count: every message.
        (b"9223372036854775808", 2**64 - 1),
        (b"99999999999999999999999", 2**64 - 1),
        (b"9" * 5000, 2**64 - 1),  # (more digits than Python's int() takes)
    ],
)
def test_backtrack_read_as_the_module_reads_it(digits: bytes, backtrack: int) -> None:
    (channel,) = parse_channel_ids(b"ch.b" + digits)
    assert channel.backtrack == backtrack


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"plain", b"plain"),
        (b"a%20b", b"a b"),
        (b"%41%4a%4A", b"AJJ"),
        (b"ch%2Fother", b"ch/other"),
        # `%` before a non-hex byte is dropped, the byte kept.
        (b"%zz", b"zz"),
        # `%X` then a non-hex byte: both dropped.
        (b"a%4zb", b"ab"),
        # A truncated escape at the end is dropped.
        (b"ab%4", b"ab"),
        (b"ab%", b"ab"),
        # Decoding stops after `?`; the value is cut only if it got shorter before that.
        (b"a?b%20c", b"a?b%20c"),
        (b"a%20b?c", b"a b?"),
        (b"a%3Fb", b"a?"),
        (b"a%3fb%20", b"a?"),
    ],
)
def test_unescape_uri_like_nginx(raw: bytes, expected: bytes) -> None:
    assert unescape_uri(raw) == expected


def test_escaped_slash_splits_channels() -> None:
    assert [c.id for c in channels_from_path(b"ch1%2Fch2.b1")] == [b"ch1", b"ch2"]
    assert channels_from_path(b"ch2.b1")[0].backtrack == 1


@pytest.mark.parametrize(
    ("channel_id", "forbidden"),
    [(b"ALL", True), (b"all", False), (b"ALLx", False), (b"a*", True), (b"*", True), (b"", False)],
)
def test_forbidden_ids(channel_id: bytes, forbidden: bool) -> None:
    assert is_forbidden_id(channel_id) is forbidden
