"""Differential tests: the real `nginx -t` and `pushproxy check --nginx` on the same files.

The nginx installed here is the oracle: Debian's nginx, without the push stream and lua modules, so
only files without their directives are compared. Besides the recorded cases, each case with an
accepted configuration is mutated (a structural character inserted or deleted, the file cut
short) with fixed seeds; both must then agree on valid/invalid and on the first error line.
nginx missing: the tests skip, except under CI (the environment variable CI set), where they fail.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from confhelpers import Case, Verdict, case_ids, cases, check_output, nginx_t

ORACLE_CASES = [c for c in cases() if c.from_nginx and not c.uses_modules_missing_here()]
VALID_BASES = [c for c in ORACLE_CASES if c.expect()[1] == 0]

# characters that steer nginx's reader; mutations touch only positions next to whitespace or to
# one of these, so that words are split or joined, not rewritten into other values
STRUCTURAL = ";{}\"'#\\\n"
MUTATIONS = 90


def test_oracle_covers_the_cases() -> None:
    assert len(ORACLE_CASES) >= 80
    assert len(VALID_BASES) >= 30


@pytest.mark.parametrize("case", ORACLE_CASES, ids=case_ids(ORACLE_CASES))
def test_expect_is_what_nginx_prints(nginx: str, case: Case) -> None:
    """The recorded expect.txt is still what the installed nginx prints."""
    assert nginx_t(nginx, case.conf) == case.expect()


@pytest.mark.parametrize("case", ORACLE_CASES, ids=case_ids(ORACLE_CASES))
def test_check_agrees_with_nginx(nginx: str, case: Case) -> None:
    assert Verdict.of(*check_output(case.conf)) == Verdict.of(*nginx_t(nginx, case.conf))


def mutate(text: bytes, seed: int) -> tuple[bytes, str]:
    """One structural mutation of `text`, chosen by `seed`."""
    rng = random.Random(seed)
    boundaries = [
        i
        for i in range(len(text) + 1)
        if i in (0, len(text))
        or chr(text[i - 1]) in STRUCTURAL + " \t\r"
        or chr(text[i]) in STRUCTURAL + " \t\r"
    ]
    op = rng.choice(("insert", "insert", "delete", "truncate"))
    if op == "insert":
        at = rng.choice(boundaries)
        char = rng.choice(STRUCTURAL).encode()
        return text[:at] + char + text[at:], f"insert {char!r} at {at}"
    if op == "delete":
        spots = [i for i, b in enumerate(text) if chr(b) in STRUCTURAL]
        at = rng.choice(spots)
        return text[:at] + text[at + 1 :], f"delete {text[at : at + 1]!r} at {at}"
    at = rng.randrange(len(text))
    return text[:at], f"truncate at {at}"


VARIATIONS = [(VALID_BASES[i % len(VALID_BASES)], i) for i in range(MUTATIONS)]


@pytest.mark.parametrize(
    ("base", "seed"), VARIATIONS, ids=[f"{seed:03d}-{base.name}" for base, seed in VARIATIONS]
)
def test_mutation_agrees_with_nginx(nginx: str, base: Case, seed: int, tmp_path: Path) -> None:
    work = tmp_path / "case"
    shutil.copytree(base.dir, work)
    conf = work / "nginx.conf"
    mutated, how = mutate(conf.read_bytes(), seed)
    conf.write_bytes(mutated)
    theirs = Verdict.of(*nginx_t(nginx, conf))
    ours = Verdict.of(*check_output(conf))
    assert ours == theirs, how
