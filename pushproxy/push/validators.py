"""HTTP validators as nginx reads them: `ngx_parse_http_time()` and `ngx_http_test_if_match()`.

Subscribers say where they stopped with If-Modified-Since (or a directive's value), parsed by
nginx's own date parser: its three formats, two-digit days, the zone never read. Polling
answers carry an Etag, so nginx's not-modified filter may turn them into a 304 when the request
has If-None-Match (and no If-Modified-Since: the module switches that check off).
"""

from __future__ import annotations

_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_RFC822, _RFC850, _ISOC = 1, 2, 3  # Tue, 10 Nov 2002 23:50:13 / Tuesday, 10-Dec-02 / asctime
_SPACE, _TAB, _COMMA = 0x20, 0x09, 0x2C


class _Cursor:
    """Bytes read as C reads a NUL-terminated buffer: past the end is 0."""

    __slots__ = ("data", "end", "p")

    def __init__(self, data: bytes) -> None:
        self.data, self.p, self.end = data, 0, len(data)

    def at(self, offset: int = 0) -> int:
        index = self.p + offset
        return self.data[index] if index < self.end else 0

    def left(self) -> int:
        return self.end - self.p

    def digits(self, count: int) -> int | None:
        """`count` decimal digits at the cursor (and past them), or None."""
        value = 0
        for offset in range(count):
            byte = self.at(offset)
            if not 0x30 <= byte <= 0x39:
                return None
            value = value * 10 + byte - 0x30
        self.p += count
        return value


def _month(cursor: _Cursor) -> int | None:
    first, second, third = cursor.at(), cursor.at(1), cursor.at(2)
    month = {
        ord("J"): 0 if second == ord("a") else 5 if third == ord("n") else 6,
        ord("F"): 1,
        ord("M"): 2 if third == ord("r") else 4,
        ord("A"): 3 if second == ord("p") else 7,
        ord("S"): 8,
        ord("O"): 9,
        ord("N"): 10,
        ord("D"): 11,
    }.get(first)
    cursor.p += 3
    return month


def _clock(cursor: _Cursor) -> tuple[int, int, int] | None:
    """` HH:MM:SS` (the leading space included)."""
    if cursor.at() != _SPACE:
        return None
    cursor.p += 1
    hour = cursor.digits(2)
    if hour is None or cursor.at() != ord(":"):
        return None
    cursor.p += 1
    minute = cursor.digits(2)
    if minute is None or cursor.at() != ord(":"):
        return None
    cursor.p += 1
    second = cursor.digits(2)
    if second is None:
        return None
    return hour, minute, second


def parse_http_time(value: bytes | None) -> int:
    """Seconds since the epoch, or -1 (missing, malformed, or before 1970)."""
    if not value:
        return -1
    cursor = _Cursor(value)
    fmt = 0
    while cursor.p < cursor.end and cursor.at() not in (_COMMA, _SPACE):
        cursor.p += 1
    if cursor.at() == _SPACE and cursor.p < cursor.end:
        fmt = _ISOC
    cursor.p += 1
    while cursor.p < cursor.end and cursor.at() == _SPACE:
        cursor.p += 1
    if cursor.left() < 18:
        return -1
    day = 0
    if fmt != _ISOC:
        parsed_day = cursor.digits(2)
        if parsed_day is None:
            return -1
        day = parsed_day
        if cursor.at() == _SPACE:
            if cursor.left() < 18:
                return -1
            fmt = _RFC822
        elif cursor.at() == ord("-"):
            fmt = _RFC850
        else:
            return -1
        cursor.p += 1
    month = _month(cursor)
    if month is None:
        return -1
    separator = {_RFC822: _SPACE, _RFC850: ord("-")}.get(fmt)
    if separator is not None and cursor.at() != separator:
        return -1
    cursor.p += 1
    year = 0
    if fmt in (_RFC822, _RFC850):
        parsed_year = cursor.digits(4 if fmt == _RFC822 else 2)
        if parsed_year is None:
            return -1
        year = parsed_year
        if fmt == _RFC850:
            year += 2000 if year < 70 else 1900
    else:
        if cursor.at() == _SPACE:
            cursor.p += 1
        first = cursor.digits(1)
        if first is None:
            return -1
        day = first
        if cursor.at() != _SPACE:
            second = cursor.digits(1)
            if second is None:
                return -1
            day = day * 10 + second
        if cursor.left() < 14:
            return -1
    clock = _clock(cursor)
    if clock is None:
        return -1
    hour, minute, second = clock
    if fmt == _ISOC:
        if cursor.at() != _SPACE:
            return -1
        cursor.p += 1
        parsed_year = cursor.digits(4)
        if parsed_year is None:
            return -1
        year = parsed_year
    return _seconds(year, month, day, hour, minute, second)


def _seconds(year: int, month: int, day: int, hour: int, minute: int, second: int) -> int:
    if hour > 23 or minute > 59 or second > 59:
        return -1
    if day == 29 and month == 1:
        if year & 3 or (year % 100 == 0 and year % 400 != 0):
            return -1
    elif day > _MONTH_DAYS[month]:
        return -1
    # Gauss' formula from March 1, 1 BC, as nginx computes it
    month -= 1
    if month <= 0:
        month += 12
        year -= 1
    days = (
        (365 * year + year // 4 - year // 100 + year // 400 + 367 * month // 12 - 30 + day - 1)
        - 719527
        + 31
        + 28
    )
    seconds = days * 86400 + hour * 3600 + minute * 60 + second
    return seconds if seconds >= 0 else -1


def etag_matches(header: bytes, etag: bytes | None, *, weak: bool = True) -> bool:
    """`ngx_http_test_if_match()`: whether an If-None-Match (weak) or If-Match list names the
    response's Etag; `*` names any response, even one without an Etag.
    """
    if header == b"*":
        return True
    if etag is None:
        return False
    if weak and len(etag) > 2 and etag.startswith(b"W/"):
        etag = etag[2:]
    start, end = 0, len(header)
    while start < end:
        if weak and end - start > 2 and header.startswith(b"W/", start):
            start += 2
        if len(etag) > end - start:
            return False
        if header.startswith(etag, start):
            after = start + len(etag)
            while after < end and header[after] in (_SPACE, _TAB):
                after += 1
            if after == end or header[after] == _COMMA:
                return True
        while start < end and header[start] != _COMMA:
            start += 1
        while start < end and header[start] in (_SPACE, _TAB, _COMMA):
            start += 1
    return False
