"""nginx.conf reader cases (tests/configs/<case>/) and real-world configs (tests/configs/real/).

Each case holds what nginx itself does with the files: `expect.txt` (nginx -t's messages and exit
code), `parsed.json` (the statements, for accepted syntax) or `parse-error.txt` (the first syntax
error). The layout is described in tests/confhelpers.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from confhelpers import (
    JSON,
    Case,
    Flat,
    RealConfig,
    as_crossplane_if,
    case_ids,
    cases,
    check_output,
    crossplane_flat,
    flatten,
    parse_payload,
    real_configs,
    single_payload,
    without_includes,
)

from pushproxy.config.crossplane import payload
from pushproxy.config.includes import load
from pushproxy.config.parse import parse_text
from pushproxy.config.tree import Directive
from pushproxy.errors import ConfigError


def expected(case: Case, name: str = "parsed.json") -> JSON:
    data = case.payload(name)
    assert data is not None, f"{case.name}: no {name}"
    return data


CASES = cases()
WITH_PAYLOAD = [c for c in CASES if (c.dir / "parsed.json").exists()]
WITH_ERROR = [c for c in CASES if (c.dir / "parse-error.txt").exists()]
WITH_COMMENTS = [c for c in CASES if (c.dir / "parsed-comments.json").exists()]
WITH_INCLUDES = [c for c in WITH_PAYLOAD if len(expected(c)["config"]) > 1]
REAL = real_configs()


def directive_json(d: Directive) -> JSON:
    """A parsed statement in the payload's shape (without `includes`)."""
    out: dict[str, Any] = {"directive": d.name, "line": d.line, "args": list(d.args)}
    if d.comment is not None:
        out["comment"] = d.comment
    if d.block is not None:
        out["block"] = [directive_json(b) for b in d.block]
    return out


def main_text(case: Case) -> str:
    # the str form of a file parse_text receives: bytes that are not UTF-8 kept as surrogates
    return case.conf.read_bytes().decode("utf-8", "surrogateescape")


def test_every_case_is_complete() -> None:
    assert len(CASES) >= 100
    for case in CASES:
        assert case.conf.is_file(), case.name
        assert (case.dir / "expect.txt").is_file(), case.name
        has_payload = (case.dir / "parsed.json").exists()
        assert has_payload != (case.dir / "parse-error.txt").exists(), case.name
        case.expect()  # well formed


# ----------------------------------------------------------------------------- pushproxy parse


@pytest.mark.parametrize("case", WITH_PAYLOAD, ids=case_ids(WITH_PAYLOAD))
def test_parse_cli_payload(case: Case) -> None:
    assert parse_payload(case.conf) == expected(case)


@pytest.mark.parametrize("case", WITH_INCLUDES, ids=case_ids(WITH_INCLUDES))
def test_parse_cli_single(case: Case) -> None:
    assert parse_payload(case.conf, "--single") == single_payload(expected(case))


@pytest.mark.parametrize("case", WITH_COMMENTS, ids=case_ids(WITH_COMMENTS))
def test_parse_cli_comments(case: Case) -> None:
    assert parse_payload(case.conf, "--include-comments") == expected(case, "parsed-comments.json")


@pytest.mark.parametrize("case", WITH_ERROR, ids=case_ids(WITH_ERROR))
def test_parse_cli_first_error(case: Case) -> None:
    error = case.parse_error()
    assert error is not None
    got = parse_payload(case.conf)
    assert got["status"] == "failed"
    assert got["errors"][0] == error.as_payload_error()


# ---------------------------------------------------------------------------- the library API


@pytest.mark.parametrize("case", WITH_PAYLOAD, ids=case_ids(WITH_PAYLOAD))
def test_load_payload(case: Case) -> None:
    parsed = load(str(case.conf))
    assert parsed.ok
    assert payload(parsed) == expected(case)


@pytest.mark.parametrize("case", WITH_ERROR, ids=case_ids(WITH_ERROR))
def test_load_first_error(case: Case) -> None:
    error = case.parse_error()
    assert error is not None
    parsed = load(str(case.conf))
    assert not parsed.ok
    first = parsed.errors[0]
    assert (first.nginx_text(), first.file, first.line) == (error.error, error.file, error.line)


@pytest.mark.parametrize("case", WITH_PAYLOAD, ids=case_ids(WITH_PAYLOAD))
def test_parse_text_statements(case: Case) -> None:
    tree = parse_text(main_text(case), file=str(case.conf))
    assert [directive_json(d) for d in tree] == without_includes(
        expected(case)["config"][0]["parsed"]
    )


@pytest.mark.parametrize("case", WITH_COMMENTS, ids=case_ids(WITH_COMMENTS))
def test_parse_text_comments(case: Case) -> None:
    tree = parse_text(main_text(case), file=str(case.conf), comments=True)
    assert [directive_json(d) for d in tree] == without_includes(
        expected(case, "parsed-comments.json")["config"][0]["parsed"]
    )


TEXT_ERRORS = [
    c
    for c in WITH_ERROR
    if (e := c.parse_error()) is not None
    and e.file == str(c.conf)
    and not e.error.startswith("open() ")  # include errors: parse_text reads no other file
]


@pytest.mark.parametrize("case", TEXT_ERRORS, ids=case_ids(TEXT_ERRORS))
def test_parse_text_first_error(case: Case) -> None:
    error = case.parse_error()
    assert error is not None
    with pytest.raises(ConfigError) as caught:
        parse_text(main_text(case), file=str(case.conf))
    assert (caught.value.nginx_text(), caught.value.line) == (error.error, error.line)


# -------------------------------------------------------------------- pushproxy check --nginx


@pytest.mark.parametrize("case", CASES, ids=case_ids(CASES))
def test_check_prints_what_nginx_prints(case: Case) -> None:
    assert check_output(case.conf) == case.expect()


# --------------------------------------------------------------------------- real-world configs


def test_real_configs_are_documented() -> None:
    assert len(REAL) >= 40
    for real in REAL:
        source = (real.dir / "SOURCE").read_text(encoding="utf-8")
        assert "licence:" in source, real.name
        assert real.file.is_file()


@pytest.mark.parametrize("real", REAL, ids=[r.name for r in REAL])
def test_real_config_reads_without_error(real: RealConfig) -> None:
    parsed = load(str(real.file), single=True)
    assert [e.nginx_text() for e in parsed.errors] == []
    recorded = real.dir / "parsed.json"  # once recorded, the payload must not change
    if recorded.exists():
        text = recorded.read_text(encoding="utf-8")
        want = json.loads(text.replace("{dir}", json.dumps(str(real.dir))[1:-1]))
        assert parse_payload(real.file, "--single") == want


@pytest.mark.parametrize("real", REAL, ids=[r.name for r in REAL])
def test_real_config_agrees_with_crossplane(real: RealConfig) -> None:
    """Same statements, lines and arguments as crossplane, except the documented differences."""
    read = payload(load(str(real.file), single=True))
    ours = as_crossplane_if(flatten(read["config"][0]["parsed"]))
    theirs = crossplane_flat(real.file)
    differences = real.differs()
    assert not isinstance(theirs, str), theirs

    def outside(flat: list[Flat]) -> list[Flat]:
        return [s for s in flat if not any(d.covers(s[0]) for d in differences)]

    assert outside(ours) == outside(theirs)
    for d in differences:  # each documented difference is real
        assert [s for s in ours if d.covers(s[0])] != [s for s in theirs if d.covers(s[0])], d
