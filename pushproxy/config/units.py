"""nginx's value parsers, as pure functions.

Each follows the C function named in its docstring (src/core/ngx_parse.c, ngx_string.c,
ngx_conf_file.c) so that a value nginx rejects is rejected here too. The parsers raise
`InvalidValue`; the caller words the message the way the directive's nginx handler does
(`"x" directive invalid value`, `invalid number`...), see `pushproxy.config.nginx_rules`.
"""

from __future__ import annotations

import re

# NGX_MAX_INT_T_VALUE, NGX_MAX_SIZE_T_VALUE and NGX_MAX_OFF_T_VALUE on a 64-bit build.
MAX_INT = 2**63 - 1

_DIGITS = re.compile(r"[0-9]+")

_KILO = 1024
_MEGA = 1024 * 1024
_GIGA = 1024 * 1024 * 1024
# ngx_parse_size() knows k and m only; ngx_parse_offset() adds g.
_SIZE_SCALES = {"k": _KILO, "K": _KILO, "m": _MEGA, "M": _MEGA}
_OFFSET_SCALES = {**_SIZE_SCALES, "g": _GIGA, "G": _GIGA}


class InvalidValue(ValueError):
    """The text is not a value of the asked kind; `value` is the offending text."""

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


def atoi(value: str | bytes) -> int | None:
    """ngx_atoi(): decimal digits only (no sign, no spaces), at most 2**63-1; None where
    nginx gets NGX_ERROR. Leading zeros go first: int() refuses thousands of digits, which
    a header or a configuration may well hold."""
    if isinstance(value, bytes):
        if not value.isdigit():  # (ASCII digits only, for bytes)
            return None
        digits: str | bytes = value.lstrip(b"0")
    else:
        if not _DIGITS.fullmatch(value):
            return None
        digits = value.lstrip("0")
    if len(digits) > 19:
        return None
    number = int(digits) if digits else 0
    return number if number <= MAX_INT else None


def parse_number(text: str) -> int:
    """ngx_atoi() (`atoi`), InvalidValue where nginx gets NGX_ERROR."""
    value = atoi(text)
    if value is None:
        raise InvalidValue(text)
    return value


def _parse_scaled(text: str, scales: dict[str, int]) -> int:
    if not text:
        raise InvalidValue(text)
    scale = scales.get(text[-1])
    digits = text[:-1] if scale else text
    scale = scale or 1
    number = parse_number(digits) if digits else None
    if number is None or number > MAX_INT // scale:
        raise InvalidValue(text)
    return number * scale


def parse_size(text: str) -> int:
    """ngx_parse_size(): bytes, with an optional k/K or m/M suffix (`512`, `8k`, `32M`)."""
    return _parse_scaled(text, _SIZE_SCALES)


def parse_offset(text: str) -> int:
    """ngx_parse_offset(): like a size, and g/G is allowed too (`2g`)."""
    return _parse_scaled(text, _OFFSET_SCALES)


# ngx_parse_time()'s steps: each unit may only follow a larger one.
_START, _YEAR, _MONTH, _WEEK, _DAY, _HOUR, _MIN, _SEC, _MSEC, _LAST = range(10)
# unit letter -> (its step, the last step it may follow, seconds)
_TIME_UNITS: dict[str, tuple[int, int, int]] = {
    "y": (_YEAR, _START, 60 * 60 * 24 * 365),
    "M": (_MONTH, _YEAR, 60 * 60 * 24 * 30),
    "w": (_WEEK, _MONTH, 60 * 60 * 24 * 7),
    "d": (_DAY, _WEEK, 60 * 60 * 24),
    "h": (_HOUR, _DAY, 60 * 60),
    "m": (_MIN, _HOUR, 60),
    "s": (_SEC, _MIN, 1),
    " ": (_LAST, _MIN, 1),  # a bare number followed by a space counts in seconds
}


def _parse_time(text: str, *, is_sec: bool) -> int:
    """ngx_parse_time(): seconds when `is_sec`, else milliseconds.

    Parts go from the largest unit to the smallest (`1h 30m`), each at most once; a trailing
    bare number counts in seconds. msec values cannot use `y` or `M`; sec values cannot use `ms`.
    """
    step = _START if is_sec else _MONTH
    value = total = 0
    valid = False
    pos = 0
    while pos < len(text):
        char = text[pos]
        pos += 1
        if "0" <= char <= "9":
            value = value * 10 + int(char)
            if value > MAX_INT:
                raise InvalidValue(text)
            valid = True
            continue
        if char == "m" and text[pos : pos + 1] == "s":
            if is_sec or step >= _MSEC:
                raise InvalidValue(text)
            pos += 1
            step, scale = _MSEC, 1
        elif char in _TIME_UNITS:
            unit_step, last_allowed, scale = _TIME_UNITS[char]
            if step > last_allowed:
                raise InvalidValue(text)
            step = unit_step
            if not is_sec:
                scale *= 1000
        else:
            raise InvalidValue(text)
        if value > MAX_INT // scale:
            raise InvalidValue(text)
        value *= scale
        if total > MAX_INT - value:
            raise InvalidValue(text)
        total += value
        value = 0
        while text[pos : pos + 1] == " ":
            pos += 1
    if not valid:
        raise InvalidValue(text)
    if not is_sec:
        if value > MAX_INT // 1000:
            raise InvalidValue(text)
        value *= 1000
    if total > MAX_INT - value:
        raise InvalidValue(text)
    return total + value


def parse_msec(text: str) -> int:
    """A time in milliseconds, as ngx_conf_set_msec_slot reads it (`500ms`, `30s`, `1h 30m`)."""
    return _parse_time(text, is_sec=False)


def parse_sec(text: str) -> int:
    """A time in seconds, as ngx_conf_set_sec_slot reads it (`30`, `30s`, `1d`, `1y`)."""
    return _parse_time(text, is_sec=True)


def parse_flag(text: str) -> bool:
    """ngx_conf_set_flag_slot: `on` or `off`, in any case."""
    lowered = text.lower()
    if lowered == "on":
        return True
    if lowered == "off":
        return False
    raise InvalidValue(text)


def parse_enum(text: str, values: tuple[str, ...]) -> str:
    """ngx_conf_set_enum_slot: one of `values`, in any case; returns the table's spelling."""
    for value in values:
        if value.lower() == text.lower():
            return value
    raise InvalidValue(text)


def parse_bufs(number: str, size: str) -> tuple[int, int]:
    """ngx_conf_set_bufs_slot: `number size`, both above zero (`4 8k`)."""
    count = parse_number(number)
    if count == 0:
        raise InvalidValue(number)
    nbytes = parse_size(size)
    if nbytes == 0:
        raise InvalidValue(size)
    return count, nbytes
