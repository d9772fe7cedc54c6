"""One exception tree for the whole program; boundaries translate it (CLI, HTTP, config)."""

from __future__ import annotations


class PushProxyError(Exception):
    """Base of every error pushproxy raises on purpose."""


class ConfigError(PushProxyError):
    """A configuration problem, located like nginx reports it (file:line), plus column.

    `level` is nginx's log level for the message: `emerg` for syntax and directive errors,
    `error` for the push stream module's own validations.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str,
        line: int,
        column: int = 0,
        level: str = "emerg",
        nginx_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # What nginx itself prints, where pushproxy says something clearer.
        self.nginx_message = nginx_message or message
        self.file = file
        self.line = line
        self.column = column
        self.level = level

    # A syntax error or an unreadable file ends the reading of its file.
    stops_reading = False

    def nginx_text(self) -> str:
        """The message as nginx prints it after its `[level]` tag (no place for a whole file)."""
        if not self.line:
            return self.message
        return f"{self.message} in {self.file}:{self.line}"
