"""Channel paths (§3): `push_stream_channels_path` after evaluation, as channel ids.

The module URL-unescapes the evaluated value with nginx's `ngx_unescape_uri(NGX_UNESCAPE_URI)`,
then splits it on `/`, reading an optional `.bN` backtrack before each separator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pushproxy.config.units import atoi

# `((\.b([0-9]+))?(/|$))`; `\Z` rather than `$`, which in PCRE and Python also matches before a
# final newline and would make the module loop forever on an id ending in `\n`.
_SEPARATOR = re.compile(rb"(?:\.b([0-9]+))?(?:/|\Z)")

ALL_CHANNELS = b"ALL"

_QUESTION = 0x3F
_PERCENT = 0x25


@dataclass(frozen=True, slots=True)
class RequestedChannel:
    """One id of a channels path; `backtrack` 0 means no `.bN` (or `.b0`)."""

    id: bytes
    backtrack: int = 0


def _hex_digit(byte: int) -> int | None:
    if 0x30 <= byte <= 0x39:
        return byte - 0x30
    lower = byte | 0x20
    if 0x61 <= lower <= 0x66:
        return lower - 0x61 + 10
    return None


def unescape_uri(value: bytes) -> bytes:
    """`ngx_unescape_uri(..., NGX_UNESCAPE_URI)` in place, as the module calls it.

    Quirks kept: decoding stops after a `?` (literal or `%3F`); `%` before a non-hex byte is
    dropped; `%X` followed by a non-hex byte drops both. The module only shortens the value when
    the output is shorter than what was read, so an undecoded `?` keeps the whole value.
    """
    if b"%" not in value:
        return value
    out = bytearray()
    state = 0  # 0 usual, 1 after `%`, 2 after `%X`
    decoded = 0
    consumed = 0
    for byte in value:
        consumed += 1
        if state == 0:
            if byte == _QUESTION:
                out.append(byte)
                break
            if byte == _PERCENT:
                state = 1
            else:
                out.append(byte)
        elif state == 1:
            digit = _hex_digit(byte)
            if digit is None:
                state = 0
                out.append(byte)
            else:
                decoded = digit
                state = 2
        else:
            state = 0
            digit = _hex_digit(byte)
            if digit is None:
                continue
            char = (decoded << 4) + digit
            out.append(char)
            if char == _QUESTION:
                break
    if len(out) < consumed:
        return bytes(out)
    return bytes(out) + value[consumed:]


_ATOI_ERROR = 2**64 - 1  # ngx_atoi()'s NGX_ERROR in an ngx_uint_t


def parse_channel_ids(path: bytes) -> tuple[RequestedChannel, ...]:
    """Split an unescaped channels path; empty ids and duplicates are kept, as the module does.

    An empty path gives no channels (the caller answers 400, or the statistics summary).
    """
    channels: list[RequestedChannel] = []
    position = 0
    while position < len(path):
        match = _SEPARATOR.search(path, position)
        if match is None:  # unreachable: `\Z` always matches
            break
        digits = match.group(1)
        channels.append(RequestedChannel(path[position : match.start()], _backtrack(digits)))
        position = match.end()
    return tuple(channels)


def _backtrack(digits: bytes | None) -> int:
    """`.bN` read as ngx_atoi() reads it into the module's unsigned count: a number past
    2^63 - 1 is its error, -1, which the count takes as 2^64 - 1 (every message)."""
    value = atoi(digits or b"0")
    return _ATOI_ERROR if value is None else value


def channels_from_path(evaluated: bytes) -> tuple[RequestedChannel, ...]:
    """The evaluated `push_stream_channels_path`, unescaped and split."""
    return parse_channel_ids(unescape_uri(evaluated))


def is_forbidden_id(channel_id: bytes) -> bool:
    """`ALL` and ids containing `*` are refused to publishers and subscribers."""
    return channel_id == ALL_CHANNELS or b"*" in channel_id
