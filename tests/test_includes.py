"""Includes: globs, prefix-relative paths, missing files, cycles, and nginx's reading order."""

from __future__ import annotations

from pathlib import Path

from pushproxy.config.includes import inline, load


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "nginx.conf"


def test_globs_are_sorted_and_may_match_nothing(tmp_path: Path) -> None:
    conf = _write(
        tmp_path,
        {
            "nginx.conf": "http { include conf.d/*.conf; include none/*.conf; }\n",
            "conf.d/b.conf": "server { listen 2; }\n",
            "conf.d/a.conf": "server { listen 1; }\n",
        },
    )
    parsed = load(str(conf))
    assert parsed.ok
    assert [Path(f.file).name for f in parsed.files] == ["nginx.conf", "a.conf", "b.conf"]
    http_block = parsed.files[0].parsed[0].block
    assert http_block is not None
    include = http_block[0]
    assert include.includes == (1, 2)
    tree, stop = inline(parsed)
    assert stop is None
    http = tree[0].block
    assert http is not None
    assert [(d.name, d.args) for d in http if d.name != "include"] == [
        ("server", ()),
        ("server", ()),
    ]
    assert [d.block[0].args for d in http if d.block] == [("1",), ("2",)]


def test_paths_are_relative_to_the_prefix(tmp_path: Path) -> None:
    conf = _write(
        tmp_path,
        {"conf/nginx.conf": "include extra.conf;\n", "extra.conf": "worker_processes 2;\n"},
    )
    conf = tmp_path / "conf" / "nginx.conf"
    assert not load(str(conf)).ok
    parsed = load(str(conf), prefix=str(tmp_path))
    assert parsed.ok
    assert inline(parsed)[0][1].args == ("2",)


def test_missing_literal_file_is_an_error_at_the_include_line(tmp_path: Path) -> None:
    conf = _write(tmp_path, {"nginx.conf": "events {}\n\ninclude gone.conf;\nlater;\n"})
    parsed = load(str(conf))
    (error,) = parsed.errors
    assert error.nginx_text() == (
        f'open() "{tmp_path}/gone.conf" failed (2: No such file or directory) in {conf}:3'
    )
    tree, stop = inline(parsed, stop_at_error=True)
    assert stop is error
    assert [d.name for d in tree] == ["events", "include"]  # nginx stops reading there


def test_include_cycles_are_errors(tmp_path: Path) -> None:
    conf = _write(
        tmp_path,
        {
            "nginx.conf": "include a.conf;\n",
            "a.conf": "x 1;\ninclude b.conf;\n",
            "b.conf": "include a.conf;\n",
        },
    )
    parsed = load(str(conf))
    (error,) = parsed.errors
    assert error.file.endswith("b.conf")
    assert error.line == 1
    assert error.message.startswith("include cycle:")
    assert "a.conf -> " in error.message


def test_syntax_error_in_an_included_file_stops_reading_there(tmp_path: Path) -> None:
    conf = _write(
        tmp_path,
        {
            "nginx.conf": "a 1;\ninclude bad.conf;\nz 9;\n",
            "bad.conf": "b 2;\nc 3 }\n",
        },
    )
    parsed = load(str(conf))
    (error,) = parsed.errors
    assert (Path(error.file).name, error.line, error.message) == ("bad.conf", 2, 'unexpected "}"')
    full, _ = inline(parsed)
    assert [d.name for d in full] == ["a", "include", "b", "z"]
    cut, stop = inline(parsed, stop_at_error=True)
    assert stop is error
    assert [d.name for d in cut] == ["a", "include", "b"]


def test_single_does_not_follow_includes(tmp_path: Path) -> None:
    conf = _write(tmp_path, {"nginx.conf": "include missing.conf;\n"})
    parsed = load(str(conf), single=True)
    assert parsed.ok
    assert len(parsed.files) == 1


def test_unreadable_main_file_is_reported_without_a_line(tmp_path: Path) -> None:
    parsed = load(str(tmp_path / "nope.conf"))
    (error,) = parsed.errors
    assert error.nginx_text() == (
        f'open() "{tmp_path}/nope.conf" failed (2: No such file or directory)'
    )
