"""Diagnostics: what `pushproxy check` reports, and the stable codes users select or ignore."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.Enum):
    ERROR = "error"  # nginx refuses to start
    WARNING = "warning"  # nginx starts, but the config very likely does not do what was meant
    NOTICE = "notice"  # worth knowing: something pushproxy ignores or that nginx only logs


@dataclass(frozen=True, slots=True, kw_only=True)
class Code:
    code: str
    severity: Severity
    title: str


# Stable codes. E0xx syntax and files, E1xx nginx's directive judgements, E2xx the push stream
# module's startup validations, E3xx and W3xx checks nginx does not make, N4xx notices.
CODES: tuple[Code, ...] = (
    Code(code="E001", severity=Severity.ERROR, title="syntax error"),
    Code(code="E002", severity=Severity.ERROR, title="file cannot be read"),
    Code(code="E003", severity=Severity.ERROR, title="include cycle"),
    Code(code="E101", severity=Severity.ERROR, title="unknown directive"),
    Code(code="E102", severity=Severity.ERROR, title="directive not allowed here"),
    Code(code="E103", severity=Severity.ERROR, title="invalid number of arguments"),
    Code(code="E104", severity=Severity.ERROR, title="block directive without a block"),
    Code(code="E105", severity=Severity.ERROR, title="simple directive given a block"),
    Code(code="E106", severity=Severity.ERROR, title="invalid value"),
    Code(code="E107", severity=Severity.ERROR, title="duplicate directive"),
    Code(code="E108", severity=Severity.ERROR, title="invalid location"),
    Code(code="E109", severity=Severity.ERROR, title="duplicate location"),
    Code(code="E110", severity=Severity.ERROR, title="regular expression does not compile"),
    Code(code="E111", severity=Severity.ERROR, title="invalid configuration structure"),
    Code(code="E112", severity=Severity.ERROR, title="unknown upstream host"),
    Code(code="E113", severity=Severity.ERROR, title="unknown variable"),
    Code(code="E201", severity=Severity.ERROR, title="push stream validation"),
    Code(code="E301", severity=Severity.ERROR, title="capture not defined by the location regex"),
    Code(code="W301", severity=Severity.WARNING, title="location can never match"),
    Code(code="W302", severity=Severity.WARNING, title="listen clash"),
    Code(code="W303", severity=Severity.WARNING, title="shared memory too small"),
    Code(code="W304", severity=Severity.WARNING, title="push location problem"),
    Code(code="W305", severity=Severity.WARNING, title="listen protocol not spoken"),
    Code(code="N401", severity=Severity.NOTICE, title="directive ignored by pushproxy"),
    Code(code="N402", severity=Severity.NOTICE, title="third-party module directive"),
    Code(code="N403", severity=Severity.NOTICE, title="nginx notice"),
)
CODE_BY_NAME: dict[str, Code] = {c.code: c for c in CODES}


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnostic:
    """One finding. `message` is nginx's own text wherever nginx has one.

    `nginx_level` is the level nginx logs it at (`emerg`, `error`, `warn`, `notice`), used by
    `check --nginx`; findings nginx does not make have `nginx_level=None`. `nginx_fatal` tells
    whether nginx stops there (an error logged at `warn` can be fatal, and some `error` lines
    are only logged before the fatal one). `nginx_place` is where nginx reports it when that
    differs from where the problem stands (checks nginx makes when a block closes).
    `nginx_order` is where nginx's reading was when it made the check, when it reports the
    finding elsewhere (the http block's end, for `host not found in upstream`).
    `nginx_after_syntax`: nginx finds it once the whole file is read, as its modules start
    (no `events` block, a zone used but never declared): `-t` says "syntax is ok" first.
    """

    code: str
    message: str
    file: str
    line: int
    column: int = 1
    hint: str | None = None
    nginx_level: str | None = "emerg"
    nginx_fatal: bool = True
    nginx_place: tuple[str, int] | None = None
    nginx_message: str | None = None  # nginx's text where `message` says it more clearly
    nginx_order: tuple[str, int] | None = None
    nginx_after_syntax: bool = False  # found as nginx starts, after its "syntax is ok"

    @property
    def nginx_file_line(self) -> tuple[str, int]:
        return self.nginx_place or (self.file, self.line)

    @property
    def severity(self) -> Severity:
        return CODE_BY_NAME[self.code].severity
