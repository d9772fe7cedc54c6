"""Variables about the connection, the process and the request as a whole: `$request_id`,
`$connection`, `$connection_requests`, `$connection_time`, `$pid`, `$nginx_version`,
`$request_completion`, worked out as nginx does."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from pushproxy import NGINX_VERSION

if TYPE_CHECKING:
    from pushproxy.http.variables import RequestVars


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
