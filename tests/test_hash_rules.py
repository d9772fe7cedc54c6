"""Names too long for nginx's hash buckets fail the check as they fail nginx's start (the
limits below are what nginx 1.22 said on this machine, whose cache line is 64 bytes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushproxy.config.check import check_file


def _errors(tmp_path: Path, http: str) -> list[tuple[str, int, str]]:
    path = tmp_path / "nginx.conf"
    path.write_text(f"events {{}}\nhttp {{\n{http}\n}}\n")
    result = check_file(str(path))
    return [(d.code, d.line, d.message) for d in result.diagnostics if d.code == "E111"]


def _two_servers(name: str, before: str = "") -> str:
    return (
        f"{before}\n  server {{ listen 8080; server_name x; }}\n"
        f"  server {{ listen 8080;\n    server_name {name}; }}"
    )


SERVER_NAMES = (
    "could not build server_names_hash, you should increase server_names_hash_bucket_size"
)


@pytest.mark.parametrize(
    ("http", "size"),
    [
        (_two_servers("a" * 47), 64),
        (_two_servers("." + "a" * 47), 64),  # `.a.com` also puts `a.com` in the exact hash
        (_two_servers("A" * 111, "  server_names_hash_bucket_size 128;"), 128),
        (_two_servers("a" * 111, "  server_names_hash_bucket_size 100;"), 128),  # rounded up
    ],
)
def test_a_server_name_too_long_for_its_bucket(tmp_path: Path, http: str, size: int) -> None:
    ((code, line, message),) = _errors(tmp_path, http)
    assert (code, message) == ("E111", f"{SERVER_NAMES}: {size}")
    assert line == http.count("\n") + 3  # the `server_name` of the long name


@pytest.mark.parametrize(
    "http",
    [
        _two_servers("a" * 46),
        _two_servers("a" * 110, "  server_names_hash_bucket_size 128;"),
        _two_servers("*." + "a" * 60),  # wildcard names go to hashes of their parts
        _two_servers("~^" + "a" * 60 + "$"),
        "  server { listen 8080; server_name " + "a" * 60 + "; }",  # one server: no hash
    ],
)
def test_names_that_fit_or_need_no_hash(tmp_path: Path, http: str) -> None:
    assert _errors(tmp_path, http) == []


def test_a_map_key_too_long_for_its_bucket(tmp_path: Path) -> None:
    long_key, fits = "/" + "a" * 46, "/" + "a" * 45
    found = _errors(
        tmp_path,
        f"  map $uri $m {{\n    {fits} 1;\n    {long_key} 2;\n    default {'b' * 80};\n  }}",
    )
    assert found == [
        ("E111", 5, "could not build map_hash, you should increase map_hash_bucket_size: 64")
    ]
    assert (
        _errors(tmp_path, f"  map_hash_bucket_size 128;\n  map $uri $m {{ {long_key} 1; }}") == []
    )
    assert _errors(tmp_path, f"  map $uri $m {{ ~{long_key} 1; }}") == []  # a regex: no hash
