"""The sub filter's substitution on its own: whatever pieces a body comes in, the text that
goes out is the same as for the body whole, letter case aside, once or throughout."""

from __future__ import annotations

import pytest

from pushproxy.http.sub_filter import SubStream

BODY = b"Hello world, hello WORLD, say hello to the world"


def _whole(searches: list[bytes], replacements: list[bytes], once: bool) -> bytes:
    return SubStream(list(searches), replacements, once).feed(BODY, last=True)


@pytest.mark.parametrize("once", [True, False])
@pytest.mark.parametrize(
    ("searches", "replacements"),
    [([b"world"], [b"there"]), ([b"hello", b"hell"], [b"bye", b"heaven"]),
     ([b"o", b"hello world"], [b"0", b"HW"]), ([b"d, h"], [b"|"])],
)  # fmt: skip
def test_any_split_gives_the_same_text(
    searches: list[bytes], replacements: list[bytes], once: bool
) -> None:
    expected = _whole(searches, replacements, once)
    for cut in range(len(BODY) + 1):
        for second in range(cut, len(BODY) + 1):
            stream = SubStream(list(searches), replacements, once)
            pieces = [BODY[:cut], BODY[cut:second], BODY[second:]]
            out = b"".join(stream.feed(p) for p in pieces[:-1]) + stream.feed(pieces[-1], last=True)
            assert out == expected, (cut, second)


def test_case_once_and_order() -> None:
    assert _whole([b"world"], [b"there"], True) == (
        b"Hello there, hello WORLD, say hello to the world"
    )
    assert _whole([b"world"], [b"there"], False) == (
        b"Hello there, hello there, say hello to the there"
    )
    # of two strings at one place, the first written wins
    assert _whole([b"hello", b"hell"], [b"bye", b"heaven"], False).startswith(b"bye world")


def test_only_what_may_begin_a_string_waits_for_the_next_piece() -> None:
    stream = SubStream([b"hello"], [b"bye"], False)
    assert stream.feed(b"HEAD") == b"HEAD"  # a stream's text goes out at once
    assert stream.feed(b"say HEL") == b"say "
    assert stream.feed(b"lo there") == b"bye there"
