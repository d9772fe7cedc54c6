from __future__ import annotations

import re

import pytest

from pushproxy.push.padding import (
    UNABLE_TO_PARSE,
    PaddingRule,
    Paddings,
    PaddingSyntaxError,
    choose_padding,
    max_padding,
    parse_paddings,
)


def entries(value: bytes) -> list[tuple[bytes, int, int]]:
    return [(r.agent.pattern, r.header_min, r.message_min) for r in parse_paddings(value)]


def test_parse_several_entries() -> None:
    assert entries(b"[T|t]est 1,0,1024:[T|t]est 2,4097,0") == [
        (b"[T|t]est 1", 0, 1024),
        (b"[T|t]est 2", 4097, 0),
    ]


def test_regex_part_may_hold_commas() -> None:
    assert entries(b"a,1,2;b,3,4") == [(b"a,1,2;b", 3, 4)]


def test_spec_example_error() -> None:
    with pytest.raises(PaddingSyntaxError) as caught:
        parse_paddings(b"user_agent,10,0:other_user_agent;20;0:another_user_agent,30,0")
    assert caught.value.lines == (
        "push stream module: error applying padding pattern to "
        "other_user_agent;20;0:another_user_agent,30,0",
        "push stream module: push stream module: unable to parse paddings by user agent",
    )


def test_no_match_error() -> None:
    with pytest.raises(PaddingSyntaxError) as caught:
        parse_paddings(b"ua,1,2:nothing here")
    assert caught.value.detail == (
        "push stream module: padding pattern not match the value nothing here"
    )
    assert caught.value.lines[1] == UNABLE_TO_PARSE


def test_the_byte_after_an_entry_is_skipped_whatever_it_is() -> None:
    with pytest.raises(PaddingSyntaxError, match=r"error applying padding pattern to :ub,3,4$"):
        parse_paddings(b"ua,1,2x:ub,3,4")


def test_bad_agent_regex() -> None:
    with pytest.raises(PaddingSyntaxError, match=r"unable to compile agent pattern a\($"):
        parse_paddings(b"a(,1,2")


def rule(pattern: bytes, header_min: int = 0, message_min: int = 0) -> PaddingRule:
    return PaddingRule(agent=re.compile(pattern), header_min=header_min, message_min=message_min)


def test_first_matching_rule_wins_and_matches_anywhere() -> None:
    rules = (rule(b"^Opera"), rule(b"MSIE [67]"), rule(b"MSIE"))
    assert choose_padding(rules, b"Mozilla/4.0 (compatible; MSIE 6.0)") is rules[1]
    assert choose_padding(rules, b"Mozilla/4.0 (compatible; MSIE 9.0)") is rules[2]
    assert choose_padding(rules, b"Chrome") is None
    assert choose_padding(rules, b"msie 6") is None
    assert choose_padding(rules, b"") is None
    assert choose_padding(rules, None) is None


def test_max_padding_spans_every_location() -> None:
    rule_sets = [(rule(b"a", 10, 545),), (), (rule(b"b", 4097, 0), rule(b"c", 1, 1))]
    assert max_padding(rule_sets) == 4097
    assert max_padding([]) == 0


@pytest.mark.parametrize(
    ("max_len", "target", "length", "size"),
    [
        # The spec examples (§5.5).
        (4097, 1024, len(b"0123456789"), 1100),
        (4097, 4097, len(b"0123456789"), 4097),
        (545, 545, 1, 545),
        (545, 545, 105, 500),
        # No padding once the piece is long enough.
        (545, 545, 545, 0),
        (545, 545, 600, 0),
        # Sizes step by hundreds: diff 99 → 100, diff 100 → 200.
        (1000, 200, 101, 100),
        (1000, 200, 100, 200),
        (50, 50, 1, 50),
    ],
)
def test_padding_sizes(max_len: int, target: int, length: int, size: int) -> None:
    paddings = Paddings(max_len)
    assert len(paddings.padding(target, length, eventsource=False)) == size
    assert len(paddings.padding(target, length, eventsource=True)) == size


def test_padding_bytes() -> None:
    paddings = Paddings(4097)
    assert paddings.padding(1024, 10, eventsource=False) == b"\r\n" * 550
    assert paddings.padding(4097, 10, eventsource=False) == b"\n" + b"\r\n" * 2048
    assert paddings.padding(4097, 10, eventsource=True) == b":" * 4096 + b"\n"
    assert paddings.padding(150, 10, eventsource=True) == b":" * 199 + b"\n"


def test_padding_chunks_are_shared() -> None:
    paddings = Paddings(1000)
    first = paddings.padding(500, 10, eventsource=False)
    assert paddings.padding(500, 20, eventsource=False) is first


def test_header_and_message_targets() -> None:
    paddings = Paddings(1024)
    chosen = rule(b"x", header_min=1024, message_min=300)
    assert len(paddings.after_header(chosen, 10, eventsource=False)) == 1024
    assert paddings.after_header(chosen, 0, eventsource=False) == b""
    assert len(paddings.after_message(chosen, 1, eventsource=False)) == 300
    assert paddings.after_message(None, 1, eventsource=False) == b""
