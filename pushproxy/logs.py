"""The error log, in nginx's line format: `2026/11/27 12:53:11 [error] 1234#0: message`.

`error_log FILE [LEVEL]` at the main level chooses the file (`stderr` is the standard error)
and the lowest level written. Python's `logging` records of the `pushproxy` logger go to the
same place, so an unexpected exception is logged like any nginx error; or, while a task answers
a request whose location (or server, or http block) has an `error_log` of its own, there
(`REQUEST_LOG`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import TextIO

from pushproxy.config.model import Config
from pushproxy.config.tree import Directive

# nginx's notice level, between Python's INFO and WARNING
NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")
LEVELS = ("debug", "info", "notice", "warn", "error", "crit", "alert", "emerg")
_PYTHON_LEVELS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    NOTICE: "notice",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "crit",
}


# The `error_log` of the request the running task answers, when its level names one.
REQUEST_LOG: ContextVar[ErrorLog | None] = ContextVar("request_log", default=None)


def error_log_target(config: Config, prefix: str | None) -> tuple[str | None, str]:
    """The main `error_log`'s file (None: standard error) and level."""
    return directive_target(config.main.last("error_log"), prefix)


def directive_target(directive: Directive | None, prefix: str | None) -> tuple[str | None, str]:
    """An `error_log` directive's file (None: standard error) and level."""
    if directive is None or not directive.args:
        return None, "error"
    target = directive.args[0]
    level = directive.args[1] if len(directive.args) > 1 else "error"
    if target == "stderr" or target.startswith("syslog:") or target.startswith("memory:"):
        return None, level
    path = target if os.path.isabs(target) else os.path.join(prefix or os.getcwd(), target)
    return path, level


class ErrorLog:
    """Where errors go. Writes are line-buffered: a line is either whole or absent."""

    def __init__(self, path: str | None, level: str = "error", *, main: bool = True) -> None:
        """`main`: the process's log, which the `pushproxy` logger writes to (else the log of
        an http, server or location level, written to through `REQUEST_LOG`)."""
        self.path = path  # None: standard error
        self.level = LEVELS.index(level) if level in LEVELS else LEVELS.index("error")
        self._stream: TextIO | None = None
        # A daemon's standard error is this file: a reopen points it at the new one.
        self.stderr_follows = False
        if main:
            logger = logging.getLogger("pushproxy")
            logger.handlers = [_Handler(self)]
            logger.propagate = False
            logger.setLevel(logging.DEBUG)

    @classmethod
    def from_config(cls, config: Config, prefix: str | None) -> ErrorLog:
        return cls(*error_log_target(config, prefix))

    def _output(self) -> TextIO:
        if self.path is None:
            return sys.stderr
        if self._stream is None:
            self._stream = open(self.path, "a", encoding="utf-8", errors="surrogateescape")  # noqa: SIM115
        return self._stream

    def open(self) -> None:
        """Create the file now, as nginx does at its start (a failure shows at the first line:
        it then goes to the standard error)."""
        with contextlib.suppress(OSError):
            self._output()

    def log(self, level: str, message: str) -> None:
        if LEVELS.index(level) < self.level:
            return
        stamp = time.strftime("%Y/%m/%d %H:%M:%S")
        line = f"{stamp} [{level}] {os.getpid()}#0: {message}\n"
        try:
            output = self._output()
            output.write(line)
            output.flush()
        except OSError:
            # The file went (its directory removed, the disk full): a log line must never
            # take the server down; it goes to the standard error instead.
            if self._stream is not None:
                with contextlib.suppress(OSError):
                    self._stream.close()
            self._stream = None
            with contextlib.suppress(OSError):
                sys.stderr.write(line)

    def emerg(self, message: str) -> None:
        self.log("emerg", message)

    def notice(self, message: str) -> None:
        self.log("notice", message)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def reopen(self) -> None:
        """USR1: the file may have been rotated away; open the name anew, at once, as nginx
        does (and point a daemon's standard error at it)."""
        self.close()
        if self.path is not None and self.stderr_follows:
            with contextlib.suppress(OSError):
                stderr_to(self.path)
        self.open()


def stderr_to(path: str) -> None:
    """Point the standard error (descriptor 2) at the file `path`, created if missing."""
    target = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(target, 2)
    os.close(target)


class _Handler(logging.Handler):
    def __init__(self, error_log: ErrorLog) -> None:
        super().__init__()
        self.error_log = error_log

    def emit(self, record: logging.LogRecord) -> None:
        message = _connection_mark(record.args) + record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        target = REQUEST_LOG.get() or self.error_log
        target.log(_PYTHON_LEVELS.get(record.levelno, "error"), message)


class RequestContext(str):
    """`request_context`'s text, which also knows its connection's number: nginx starts an
    error line about a request with it (`*7 `), and the log handler puts it there."""

    connection = ""


def request_context(look: Callable[[str], str | None], upstream: str = "") -> str:
    """`client: ..., server: ..., request: "...", host: "..."`: what nginx ends an error line
    about a request with (`upstream`, when given, goes before the host; `referrer` ends it
    when the request has a `Referer`)."""
    referer = look("http_referer")
    context = RequestContext(
        f"client: {look('remote_addr') or ''}, server: {look('server_name') or ''}, "
        f'request: "{look("request") or ""}"{upstream}, host: "{look("http_host") or ""}"'
        + (f', referrer: "{referer}"' if referer is not None else "")
    )
    context.connection = look("connection") or ""
    return context


def _connection_mark(args: object) -> str:
    """`*N ` for a line whose arguments hold a request's context (see `RequestContext`)."""
    for arg in args if isinstance(args, tuple) else ():
        if isinstance(arg, RequestContext) and arg.connection:
            return f"*{arg.connection} "
    return ""
