"""nginx's value parsers: the values nginx accepts, with what they mean, and those it rejects."""

from __future__ import annotations

import pytest

from pushproxy.config import units
from pushproxy.config.units import InvalidValue


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("512", 512), ("8k", 8192), ("8K", 8192), ("1m", 1048576), ("32M", 33554432)],
)
def test_size(text: str, expected: int) -> None:
    assert units.parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "k", "1g", "1G", "1.5m", "-1", "1 k", "10x", "0x10"])
def test_size_rejects(text: str) -> None:
    # ngx_parse_size() knows k and m only: a gigabyte size must be written 1024m
    with pytest.raises(InvalidValue):
        units.parse_size(text)


def test_size_overflow() -> None:
    with pytest.raises(InvalidValue):
        units.parse_size("9007199254740992m")
    assert units.parse_size(str(2**63 - 1)) == 2**63 - 1


@pytest.mark.parametrize(("text", "expected"), [("2g", 2 * 1024**3), ("3G", 3 * 1024**3),
                                                ("10m", 10 * 1024**2), ("7", 7)])
def test_offset(text: str, expected: int) -> None:
    assert units.parse_offset(text) == expected


@pytest.mark.parametrize("text", ["", "1t", "g", "1gb"])
def test_offset_rejects(text: str) -> None:
    with pytest.raises(InvalidValue):
        units.parse_offset(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30", 30), ("30s", 30), ("1m", 60), ("1h 30m", 5400), ("1h30m", 5400),
        ("1d", 86400), ("1w", 604800), ("1M", 2592000), ("1y", 31536000),
        ("1y 1M 1w 1d 1h 1m 1s", 31536000 + 2592000 + 604800 + 86400 + 3600 + 60 + 1),
        ("30 ", 30), ("1m 30", 90),
    ],
)
def test_sec(text: str, seconds: int) -> None:
    assert units.parse_sec(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "500ms", "1m 1h", "1s 1s", "1x", "1.5s", "-1s"])
def test_sec_rejects(text: str) -> None:
    with pytest.raises(InvalidValue):
        units.parse_sec(text)


@pytest.mark.parametrize(
    ("text", "msec"),
    [("500ms", 500), ("30", 30000), ("30s", 30000), ("1s 500ms", 1500), ("1h 30m", 5400000),
     ("1w", 604800000), ("2d 1ms", 172800001)],
)
def test_msec(text: str, msec: int) -> None:
    assert units.parse_msec(text) == msec


@pytest.mark.parametrize("text", ["1y", "1M", "1ms 1s", "ms", "1mss", ""])
def test_msec_rejects(text: str) -> None:
    # msec slots start nginx's unit ladder below months: no `y`, no `M`
    with pytest.raises(InvalidValue):
        units.parse_msec(text)


def test_time_overflow() -> None:
    with pytest.raises(InvalidValue):
        units.parse_msec("300000000y")
    with pytest.raises(InvalidValue):
        units.parse_sec("99999999999999999999")


@pytest.mark.parametrize(("text", "value"), [("on", True), ("ON", True), ("Off", False)])
def test_flag(text: str, value: bool) -> None:
    assert units.parse_flag(text) is value


@pytest.mark.parametrize("text", ["maybe", "yes", "1", "", "on "])
def test_flag_rejects(text: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        units.parse_flag(text)
    assert caught.value.value == text


def test_number() -> None:
    assert units.parse_number("0") == 0
    assert units.parse_number("1000") == 1000
    for text in ("", "-1", "+1", "1k", " 1", "1.0", str(2**63)):
        with pytest.raises(InvalidValue):
            units.parse_number(text)


def test_atoi_reads_text_and_bytes_of_any_length() -> None:
    """Headers and configurations may hold thousands of digits, which int() refuses."""
    assert units.atoi("0" * 5000 + "13") == units.atoi(b"0" * 5000 + b"13") == 13
    assert units.atoi(str(2**63 - 1)) == 2**63 - 1
    for value in ("9" * 5000, b"9" * 5000, str(2**63), b"", b"1 ", "\u00b2", b"-1"):
        assert units.atoi(value) is None


def test_enum_keeps_the_table_spelling() -> None:
    assert units.parse_enum("ON", ("off", "on", "always")) == "on"
    with pytest.raises(InvalidValue):
        units.parse_enum("sometimes", ("off", "on", "always"))


def test_bufs() -> None:
    assert units.parse_bufs("4", "8k") == (4, 8192)
    for number, size in (("0", "8k"), ("4", "0"), ("x", "8k"), ("4", "8q")):
        with pytest.raises(InvalidValue):
            units.parse_bufs(number, size)
