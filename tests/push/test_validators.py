from __future__ import annotations

import calendar

import pytest

from pushproxy.push.validators import etag_matches, parse_http_time

T = calendar.timegm((2023, 11, 14, 22, 13, 20))


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (b"Thu, 01 Jan 1970 00:00:01 GMT", 1),
        (b"Tue, 14 Nov 2023 22:13:20 GMT", T),
        (b"Tue, 14 Nov 2023 22:13:20", T),
        # the zone is never read: UTC, an offset or nothing all mean GMT
        (b"Tue, 14 Nov 2023 22:13:20 UTC", T),
        (b"Tue, 14 Nov 2023 22:13:20 +0200", T),
        (b"Tuesday,   14 Nov 2023 22:13:20 GMT", T),
        (b"Sunday, 06-Nov-94 08:49:37 GMT", 784111777),
        (b"Sunday, 06-Nov-69 08:49:37 GMT", calendar.timegm((2069, 11, 6, 8, 49, 37))),
        (b"Sun Nov  6 08:49:37 1994", 784111777),
        (b"Sun Nov 16 08:49:37 1994", 784111777 + 10 * 86400),
        (b"Thu, 29 Feb 2024 00:00:00 GMT", calendar.timegm((2024, 2, 29, 0, 0, 0))),
        # nginx wants two-digit days, valid clocks and real dates
        (b"Thu, 1 Jan 1970 00:00:01 GMT", -1),
        (b"Thu, 01 Jan 1970 24:00:00 GMT", -1),
        (b"Thu, 31 Apr 2023 00:00:00 GMT", -1),
        (b"Thu, 29 Feb 2023 00:00:00 GMT", -1),
        (b"Thu, 29 Feb 1900 00:00:00 GMT", -1),
        (b"Thu, 01 Xyz 2023 00:00:00 GMT", -1),
        (b"Thu, 01-Jan-2023 00:00:00 GMT", -1),
        (b"Wed, 31 Dec 1969 23:59:59 GMT", -1),
        (b"Thu, 01 Jan 1970 00:00", -1),
        (b"null", -1),
        (b"", -1),
        (None, -1),
    ],
)
def test_parse_http_time(value: bytes | None, seconds: int) -> None:
    assert parse_http_time(value) == seconds


@pytest.mark.parametrize(
    ("header", "etag", "matches"),
    [
        (b"W/3", b"W/3", True),
        (b"3", b"W/3", True),
        (b"W/3", b"3", True),
        (b"W/4", b"W/3", False),
        (b"W/33", b"W/3", False),
        (b"W/1, W/3", b"W/3", True),
        (b"W/1 ,W/3 ", b"W/3", True),
        (b"W/3 x", b"W/3", False),
        (b'"3"', b"W/3", False),
        (b"*", b"W/3", True),
        (b"*", None, True),
        (b"W/3", None, False),
        (b"", b"W/3", False),
    ],
)
def test_etag_matches_weakly(header: bytes, etag: bytes | None, matches: bool) -> None:
    assert etag_matches(header, etag) is matches


def test_strong_comparison_keeps_the_weak_prefix() -> None:
    assert etag_matches(b"W/3", b"W/3", weak=False)
    assert not etag_matches(b"3", b"W/3", weak=False)
