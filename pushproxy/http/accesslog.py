"""Access logs: `log_format` compiled once, `access_log` per location, lines as nginx writes.

A variable that is empty or unset is written `-` (nothing with `escape=json` or `none`); with
`escape=default` a variable's `"`, `\\` and bytes below 32 or above 126 become `\\xXX`, with
`escape=json` `"`, `\\` and bytes below 32 are escaped (the rest, UTF-8 too, as it is), with
`escape=none` nothing. Every file the configuration names is created and opened at the start,
as nginx opens them, and kept; `reopen()` (USR1) opens the names anew.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple

from pushproxy.config.complex import ComplexValue, ComplexValueError, compile_value
from pushproxy.config.model import Http, Level, walk_locations
from pushproxy.http.connection_variables import ConnectionInfo, local_time, millis_text
from pushproxy.logs import ErrorLog, directive_target

LogPath = str | ComplexValue  # a file name, or one made of each request's variables


class LogTarget(NamedTuple):
    """One `access_log`: where, in which format, and its `if=` condition (a line is written
    unless it is empty or "0")."""

    path: LogPath
    format: LogFormat
    condition: ComplexValue | None = None


_OPEN_FILES = 256  # access log files kept open at once (names from variables can be many)
COMBINED = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent"'
)


def _escape_default(value: bytes) -> bytes:
    out = bytearray()
    for byte in value:
        if byte in (0x22, 0x5C) or byte < 0x20 or byte > 0x7E:
            out += b"\\x%02X" % byte
        else:
            out.append(byte)
    return bytes(out)


_JSON_SHORT = {0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t", 0x08: b"\\b", 0x0C: b"\\f"}


def _escape_json(value: bytes) -> bytes:
    """ngx_escape_json(): `"` and `\\` escaped, bytes below 32 as `\\n`.. or `\\u00XX`;
    every other byte (UTF-8, 0x7F and above) as it is."""
    out = bytearray()
    for byte in value:
        if byte > 0x1F:
            if byte in (0x22, 0x5C):
                out.append(0x5C)
            out.append(byte)
        else:
            out += _JSON_SHORT.get(byte) or b"\\u%04X" % byte
    return bytes(out)


_ESCAPES: Mapping[str, Callable[[bytes], bytes]] = {
    "default": _escape_default,
    "json": _escape_json,
    "none": lambda value: value,
}


@dataclass(frozen=True, slots=True)
class LogFormat:
    value: ComplexValue
    escape: Callable[[bytes], bytes]
    missing: bytes = b"-"  # what a variable without a value writes (nothing with json, none)

    def line(self, lookup: Callable[[str], str | None]) -> bytes:
        parts = self.value.parts
        out = [parts[0].encode("utf-8", "surrogateescape")]
        for index in range(1, len(parts), 2):
            found = lookup(parts[index])
            if found:
                out.append(self.escape(found.encode("utf-8", "surrogateescape")))
            else:
                out.append(self.missing)
            out.append(parts[index + 1].encode("utf-8", "surrogateescape"))
        return b"".join(out) + b"\n"


def _compile(args: tuple[str, ...]) -> LogFormat | None:
    escape, missing = _ESCAPES["default"], b"-"
    if args and args[0].startswith("escape="):
        kind = args[0].removeprefix("escape=")
        escape, missing = _ESCAPES.get(kind, escape), b"" if kind in ("json", "none") else b"-"
        args = args[1:]
    try:
        return LogFormat(compile_value("".join(args)), escape, missing)
    except ComplexValueError:
        return None


def refused_lookup(
    info: ConnectionInfo, line: bytes, status: int, sent: int, now: float, length: int | None
) -> Callable[[str], str | None]:
    """The variables nginx has for a request refused as its head was read (`"GARBAGE" 400`):
    the connection's, the request line as it came, the answer's status and size, the time,
    the head's length when known."""
    values = {
        "remote_addr": info.remote_addr,
        "remote_port": str(info.remote_port),
        "server_addr": info.server_addr,
        "server_port": str(info.server_port),
        "connection": str(info.serial),
        "request": line.decode("utf-8", "surrogateescape") or None,
        "status": f"{status:03d}",
        "body_bytes_sent": str(sent),
        "time_local": local_time(now, None, iso=False),
        "time_iso8601": local_time(now, None, iso=True),
        "msec": millis_text(int(now * 1000)),
        "request_length": None if length is None else str(length),
    }
    return values.get


def _levels(http: Http) -> list[Level]:
    """The http block's level, then each server's and location's (`if` blocks included)."""
    levels = [http.level]
    for server in http.servers:
        levels += [location.level for location in walk_locations([server.own])]
    return levels


def named_log_files(http: Http | None, prefix: str | None) -> list[str]:
    """The files the http block's `error_log` and `access_log` directives name (those whose
    names have variables aside), in configuration order: nginx opens them all at its start."""
    if http is None:
        return []
    found: list[str] = []
    for level in _levels(http):
        for directive in level.own.get("error_log", ()):
            path = directive_target(directive, prefix)[0]
            if path is not None and path not in found:
                found.append(path)
        for directive in level.own.get("access_log", ()):
            name = directive.args[0] if directive.args else "off"
            if name == "off" or name.startswith("syslog:") or "$" in name:
                continue
            path = name if os.path.isabs(name) else os.path.join(prefix or os.getcwd(), name)
            if path not in found:
                found.append(path)
    return found


class AccessLogs:
    """Every log format of the http block and the files the locations write to; and the
    error logs their levels name (`error_log` in http, server or location blocks)."""

    def __init__(self, http: Http | None, prefix: str | None = None) -> None:
        combined = _compile((COMBINED,))
        assert combined is not None
        self.formats: dict[str, LogFormat] = {"combined": combined}
        if http is not None:
            for directive in http.level.own.get("log_format", ()):
                compiled = _compile(directive.args[1:]) if directive.args else None
                if compiled is not None:
                    self.formats[directive.args[0]] = compiled
        self.prefix = prefix or os.getcwd()
        self._http = http
        self._files: dict[str, BinaryIO] = {}
        self._targets: dict[int, tuple[Level, list[LogTarget]]] = {}
        self._error_logs: dict[int, tuple[Level, ErrorLog | None]] = {}
        self._by_target: dict[tuple[str | None, str], ErrorLog] = {}
        # The main level's `error_log`, which the levels inherit: the process's own log.
        inherited = http is not None and "error_log" not in http.level.own
        self._main_error_log = http.level.last("error_log") if inherited and http else None
        self._open_all()

    def _open_all(self) -> None:
        """Create and open every access and error log the levels name, as nginx does at its
        start: a harness may watch a file before the first request writes to it."""
        if self._http is None:
            return
        for level in _levels(self._http):
            for path, _, _ in self.targets(level):
                if isinstance(path, str):
                    self._open(path)
            error_log = self.error_log(level)
            if error_log is not None:
                error_log.open()

    def error_log(self, level: Level) -> ErrorLog | None:
        """The `error_log` in effect at `level` (None: the main one); worked out once."""
        known = self._error_logs.get(id(level))
        if known is not None:
            return known[1]
        directive = level.last("error_log")
        found = None
        if directive is not None and directive is not self._main_error_log:
            target = directive_target(directive, self.prefix)
            found = self._by_target.get(target)
            if found is None:
                found = self._by_target[target] = ErrorLog(*target, main=False)
        self._error_logs[id(level)] = (level, found)
        return found

    def targets(self, level: Level) -> list[LogTarget]:
        """(path, format) for each `access_log` in effect; none for `off` or none given.
        Worked out once per level of the configuration these logs were made for."""
        known = self._targets.get(id(level))  # the level is kept with them: its id is its own
        if known is not None:
            return known[1]
        found = self._find_targets(level)
        self._targets[id(level)] = (level, found)
        return found

    def _find_targets(self, level: Level) -> list[LogTarget]:
        found: list[LogTarget] = []
        for directive in level.all("access_log"):
            if not directive.args or directive.args[0] == "off":
                return []
            name = directive.args[0]
            if name.startswith("syslog:"):
                continue
            if not os.path.isabs(name) and name != "/dev/stdout":
                name = os.path.join(self.prefix, name)
            path: LogPath = name
            if "$" in name:  # a file per request's values (`$host.log`): opened when written
                try:
                    path = compile_value(name)
                except ComplexValueError:
                    continue
            format_name = directive.args[1] if len(directive.args) > 1 else "combined"
            log_format = self.formats.get(format_name)
            condition = next((a[3:] for a in directive.args[2:] if a.startswith("if=")), None)
            try:
                when = compile_value(condition) if condition is not None else None
            except ComplexValueError:
                continue
            if log_format is not None:
                found.append(LogTarget(path, log_format, when))
        return found

    def write(self, targets: list[LogTarget], lookup: Callable[[str], str | None]) -> None:
        """One line to each of `targets` (see `targets()`)."""
        for path, log_format, condition in targets:
            if condition is not None and condition.evaluate(lookup) in ("", "0"):
                continue
            if isinstance(path, ComplexValue):
                path = path.evaluate(lookup)
                if "\x00" in path or "/../" in f"{path}/":
                    continue  # a request's value may not lead the file elsewhere
            handle = self._files.get(path) or self._open(path)
            if handle is not None:
                handle.write(log_format.line(lookup))

    def _open(self, path: str) -> BinaryIO | None:
        handle = self._files.get(path)
        if handle is None:
            if len(self._files) >= _OPEN_FILES:  # per-request names: the oldest goes
                oldest = next(iter(self._files))
                self._files.pop(oldest).close()
            try:
                handle = open(path, "ab", buffering=0)  # noqa: SIM115 - kept open
            except OSError:
                return None
            self._files[path] = handle
        return handle

    def reopen(self) -> None:
        self.close()
        self._open_all()

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()
        for error_log in self._by_target.values():
            error_log.close()
