"""The JSON that `pushproxy parse` prints: crossplane's schema, with nginx's argument values."""

from __future__ import annotations

from typing import Any

from pushproxy.config.tree import Directive, ParsedConfig
from pushproxy.errors import ConfigError


def _statement(directive: Directive, single: bool = False) -> dict[str, Any]:
    if directive.is_comment:
        return {"directive": "#", "line": directive.line, "args": [], "comment": directive.comment}
    entry: dict[str, Any] = {
        "directive": directive.name,
        "line": directive.line,
        "args": list(directive.args),
    }
    if directive.includes or (directive.name == "include" and not single):
        entry["includes"] = list(directive.includes)  # [] when a glob matched nothing
    if directive.block is not None:
        entry["block"] = [_statement(d, single) for d in directive.block]
    return entry


def _error(error: ConfigError) -> tuple[int | None, str]:
    return (error.line or None), error.nginx_text()


def payload(parsed: ParsedConfig, *, single: bool = False) -> dict[str, Any]:
    """crossplane's payload; a file that stopped at a syntax error lists no statements."""
    config = []
    for config_file in parsed.files:
        errors = [_error(e) for e in config_file.errors]
        config.append(
            {
                "file": config_file.file,
                "status": "failed" if errors else "ok",
                "errors": [{"error": text, "line": line} for line, text in errors],
                "parsed": []
                if config_file.stopped_early
                else [_statement(d, single) for d in config_file.parsed],
            }
        )
    return {
        "status": "failed" if parsed.errors else "ok",
        "errors": [
            {"file": e.file, "error": text, "line": line}
            for e, (line, text) in ((e, _error(e)) for e in parsed.errors)
        ],
        "config": config,
    }
