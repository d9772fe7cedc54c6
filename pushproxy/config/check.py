"""`pushproxy check`: every problem of a configuration, and nginx's own first verdict.

Passes run over the tree nginx would act on (includes spliced in, reading order): nginx's
directive judgements, the push stream module's startup validations, then checks nginx does not
make. All findings are kept; for `--nginx`, the same passes run over the tree cut where nginx's
reading stops, and the first error in reading order is nginx's answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from pushproxy.config import (
    hash_rules,
    limit_rules,
    lint_rules,
    nginx_rules,
    push_rules,
    variable_rules,
)
from pushproxy.config.diagnostics import Diagnostic, Severity
from pushproxy.config.includes import inline, load
from pushproxy.config.parse import ConfigSyntaxError
from pushproxy.config.tree import Directive, ParsedConfig
from pushproxy.errors import ConfigError

# A pass takes the spliced tree and whether reading stopped early (merge-time checks, which
# nginx makes when a block closes, then cannot run for the blocks left open).
Pass = Callable[[Sequence[Directive], bool], list[Diagnostic]]
PASSES: tuple[Pass, ...] = (
    lambda tree, stopped: nginx_rules.validate(tree, complete=not stopped),
    push_rules.validate,
    variable_rules.validate,
    limit_rules.validate,
    lint_rules.listen_clashes,
    hash_rules.validate,
    lambda tree, stopped: nginx_rules.missing_events(tree, complete=not stopped),
)
LINT_PASSES: tuple[Pass, ...] = (lint_rules.validate,)


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    files: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]
    nginx_error: Diagnostic | None  # what `nginx -t` reports, if it fails
    nginx_logged: tuple[Diagnostic, ...]  # warnings nginx logs before its verdict

    @property
    def failed(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.diagnostics)


def _read_diagnostic(error: ConfigError) -> Diagnostic:
    if isinstance(error, ConfigSyntaxError):
        code = "E001"
    elif error.message.startswith("include cycle"):
        code = "E003"
    else:
        code = "E002"
    return Diagnostic(
        code=code,
        message=error.message,
        file=error.file,
        line=error.line,
        column=max(error.column, 1),
        nginx_level=error.level,
        nginx_message=error.nginx_message,
    )


def _in_reading_order(
    tree: Sequence[Directive], diagnostics: Iterable[Diagnostic]
) -> list[Diagnostic]:
    """Sort findings by where nginx meets them: the first statement ending on their line."""
    order: dict[tuple[str, int], int] = {}

    def number(items: Sequence[Directive]) -> None:
        for directive in items:
            order.setdefault((directive.file, directive.end_line), len(order))
            if directive.block:
                number(directive.block)
            if directive.close_line:
                order.setdefault((directive.file, directive.close_line), len(order))

    number(tree)
    return sorted(
        diagnostics, key=lambda d: order.get(d.nginx_order or d.nginx_file_line, len(order))
    )


def _run(
    passes: Sequence[Pass], tree: Sequence[Directive], stopped: bool, main: str
) -> list[Diagnostic]:
    """The passes' findings; those about the whole configuration (no file: an empty one has
    no statement to name it) are placed in the main file."""
    found: list[Diagnostic] = []
    for run in passes:
        found.extend(run(tree, stopped))
    return [d if d.file else replace(d, file=main) for d in found]


def check_parsed(parsed: ParsedConfig) -> CheckResult:
    read_errors = [_read_diagnostic(e) for e in parsed.errors]
    tree, _ = inline(parsed)
    main = parsed.files[0].file if parsed.files else ""
    stopped = bool(read_errors)
    found = _run(PASSES, tree, stopped, main) + _run(LINT_PASSES, tree, stopped, main)
    diagnostics = read_errors + _in_reading_order(tree, found)

    cut_tree, stop = inline(parsed, stop_at_error=True)
    nginx_found = [
        d
        for d in _in_reading_order(cut_tree, _run(PASSES, cut_tree, stop is not None, main))
        if d.nginx_level is not None
    ]
    fatal = [i for i, d in enumerate(nginx_found) if d.nginx_fatal and d.severity is Severity.ERROR]
    if fatal:
        first: Diagnostic | None = nginx_found[fatal[0]]
        logged = nginx_found[: fatal[0]]
    else:
        first = _read_diagnostic(stop) if stop is not None else None
        logged = nginx_found
    logged = [d for d in logged if not d.nginx_fatal or d.severity is not Severity.ERROR]
    return CheckResult(
        files=tuple(f.file for f in parsed.files),
        diagnostics=tuple(diagnostics),
        nginx_error=first,
        nginx_logged=tuple(d for d in logged if d.nginx_level in ("warn", "error")),
    )


def check_file(path: str, *, prefix: str | None = None) -> CheckResult:
    return check_parsed(load(path, prefix=prefix))


def select(
    diagnostics: Iterable[Diagnostic], *, only: Sequence[str] = (), ignore: Sequence[str] = ()
) -> list[Diagnostic]:
    """Keep findings whose code starts with one of `only` (all if empty) and none of `ignore`."""
    return [
        d
        for d in diagnostics
        if (not only or d.code.startswith(tuple(only))) and not d.code.startswith(tuple(ignore))
    ]
