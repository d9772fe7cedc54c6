"""Variables about the connection, the process and the request as a whole: `$request_id`,
`$connection`, `$connection_requests`, `$connection_time`, `$pid`, `$nginx_version`,
`$request_completion`, worked out as nginx does; how times are written (`$time_local`,
`$time_iso8601`, `$msec`); and the answer as sent (`Response`: `$status`, `$sent_http_*`...)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Protocol

from pushproxy import NGINX_VERSION

if TYPE_CHECKING:
    from pushproxy.http.stub_status import ConnectionStats
    from pushproxy.http.variables import RequestVars
    from pushproxy.http.wire import Request

Headers = Sequence[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionInfo:
    """A connection's ends, as its socket reports them (one object per connection)."""

    remote_addr: str
    remote_port: int
    server_addr: str
    server_port: int
    scheme: str = "http"
    serial: int = 0  # `$connection`: the connection's number since the server started
    opened: float = 0.0  # when it was accepted (the request clock's time)
    stats: ConnectionStats | None = None  # the server's counts (`$connections_active`...)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def local_time(seconds: float, tz: tzinfo | None, *, iso: bool) -> str:
    """`$time_iso8601` (`iso`) or `$time_local` of a time, in `tz` (None: the machine's)."""
    t = datetime.fromtimestamp(seconds, tz).astimezone(tz)
    offset = t.utcoffset()
    minutes = int(offset.total_seconds()) // 60 if offset else 0
    sign, hours, minutes = "-" if minutes < 0 else "+", abs(minutes) // 60, abs(minutes) % 60
    if iso:
        return f"{t:%Y-%m-%dT%H:%M:%S}{sign}{hours:02d}:{minutes:02d}"
    month = _MONTHS[t.month - 1]  # English whatever the locale
    return f"{t.day:02d}/{month}/{t.year}:{t:%H:%M:%S} {sign}{hours:02d}{minutes:02d}"


class Received(Protocol):
    """The connection's count of the request's bytes (its head, and the body read so far),
    of its requests (this one included), and the status of the answer being sent (0: none)."""

    request_length: int
    requests_served: int
    status_sent: int
    request: Request | None  # (its line as it came: `$request`, `$server_protocol`)


def millis_text(ms: int) -> str:
    """Milliseconds as nginx writes seconds: `12.345`."""
    return f"{ms // 1000}.{ms % 1000:03d}"


def _request_id(variables: RequestVars) -> str:
    """16 random bytes in hex, made once per request."""
    value = os.urandom(16).hex()
    variables.set("request_id", value)
    return value


def _connection_requests(variables: RequestVars) -> str:
    received = variables.received
    return str(received.requests_served if received is not None else 1)


def _connection_time(variables: RequestVars) -> str:
    return millis_text(max(0, int((variables.now() - variables.connection.opened) * 1000)))


def _request_completion(variables: RequestVars) -> str:
    """`OK` once the response went out whole (for the access log), else empty."""
    return "OK" if variables.completed else ""


CONNECTION_GETTERS: dict[str, Callable[[RequestVars], str | None]] = {
    "request_id": _request_id,
    "connection": lambda v: str(v.connection.serial),
    "connection_requests": _connection_requests,
    "connection_time": _connection_time,
    "pid": lambda _: str(os.getpid()),
    "nginx_version": lambda _: NGINX_VERSION,
    "request_completion": _request_completion,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    """What access logs read once the response is out; the server supplies it."""

    status: int
    body_bytes_sent: int = 0
    bytes_sent: int = 0
    headers: Headers = ()


def headers_by_name(headers: Headers) -> dict[str, list[bytes]]:
    """Header values by variable suffix: name lowercased, `-` as `_` (as nginx compares)."""
    index: dict[str, list[bytes]] = {}
    for name, value in headers:
        index.setdefault(name.lower().replace(b"-", b"_").decode("latin-1"), []).append(value)
    return index
