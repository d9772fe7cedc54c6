"""Printing diagnostics: text with the source line and a caret, JSON, GitHub annotations, and
exactly what `nginx -t` prints."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache

from pushproxy.config.diagnostics import Diagnostic, Severity


@cache
def _source_lines(path: str) -> list[str]:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return []
    return data.decode("utf-8", "replace").splitlines()


def _source_line(diagnostic: Diagnostic) -> str | None:
    lines = _source_lines(diagnostic.file)
    if 0 < diagnostic.line <= len(lines):
        return lines[diagnostic.line - 1]
    return None


def text(diagnostics: Sequence[Diagnostic], files: Sequence[str]) -> str:
    """`file:line:col: severity[CODE] message`, the source line with a caret, a summary."""
    out: list[str] = []
    for d in diagnostics:
        out.append(f"{d.file}:{d.line}:{d.column}: {d.severity.value}[{d.code}] {d.message}")
        source = _source_line(d)
        if source is not None:
            out.append(f"    {source}")
            out.append("    " + " " * max(d.column - 1, 0) + "^")
        if d.hint:
            out.append(f"    hint: {d.hint}")
    out.append(summary(diagnostics, files))
    return "\n".join(out) + "\n"


def summary(diagnostics: Sequence[Diagnostic], files: Sequence[str]) -> str:
    counts = {s: sum(1 for d in diagnostics if d.severity is s) for s in Severity}
    checked = f"{len(files)} file{'s' if len(files) != 1 else ''} checked"
    return (
        f"{checked}: {counts[Severity.ERROR]} error(s), {counts[Severity.WARNING]} warning(s), "
        f"{counts[Severity.NOTICE]} notice(s)"
    )


def as_json(diagnostics: Sequence[Diagnostic]) -> str:
    return (
        json.dumps(
            [
                {
                    "file": d.file,
                    "line": d.line,
                    "column": d.column,
                    "severity": d.severity.value,
                    "code": d.code,
                    "message": d.message,
                    "hint": d.hint,
                }
                for d in diagnostics
            ],
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )


_GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTICE: "notice"}


def _github_escape(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github(diagnostics: Sequence[Diagnostic]) -> str:
    """GitHub Actions workflow commands, so findings annotate the pull request."""
    lines = []
    for d in diagnostics:
        properties = f"file={d.file},line={d.line},col={d.column},title={d.code}"
        lines.append(f"::{_GITHUB_LEVEL[d.severity]} {properties}::{_github_escape(d.message)}")
    return "".join(line + "\n" for line in lines)


def nginx(first_error: Diagnostic | None, notices: Sequence[Diagnostic], conf: str) -> str:
    """What `nginx -t -c conf` prints: logged notices/warnings, then the verdict."""
    out = [f"nginx: [{d.nginx_level}] {_placed(d)}" for d in notices]
    if first_error is not None:
        if first_error.nginx_after_syntax:
            out.append(f"nginx: the configuration file {conf} syntax is ok")
        out.append(f"nginx: [{first_error.nginx_level}] {_placed(first_error)}")
        out.append(f"nginx: configuration file {conf} test failed")
    else:
        out.append(f"nginx: the configuration file {conf} syntax is ok")
        out.append(f"nginx: configuration file {conf} test is successful")
    return "\n".join(out) + "\n"


def _placed(d: Diagnostic) -> str:
    file, line = d.nginx_file_line
    message = d.nginx_message or d.message
    return f"{message} in {file}:{line}" if line else message
