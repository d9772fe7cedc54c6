"""nginx's stub_status module: `stub_status;` in a location answers with the server's
connection counts, in nginx's text, and `$connections_active`, `$connections_reading`,
`$connections_writing` and `$connections_waiting` give them anywhere.

- active: the client connections open now; reading: those whose request head is arriving;
  writing: those with a request being answered (a streaming subscriber's included);
  waiting: the others (idle keep-alive connections, or no byte yet);
- accepts: the connections accepted since the start; handled: those served (not dropped for
  want of `worker_connections`); requests: the requests read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pushproxy.http.exchange import Exchange
    from pushproxy.http.variables import RequestVars


def _none() -> int:
    return 0


class ConnectionStats:
    """The server's counts (it keeps them up to date); `reading` counts on demand."""

    __slots__ = ("accepted", "active", "handled", "reading", "requests", "writing")

    def __init__(self, reading: Callable[[], int] = _none) -> None:
        self.accepted = 0
        self.handled = 0
        self.requests = 0
        self.active = 0
        self.writing = 0
        self.reading = reading

    def counts(self) -> tuple[int, int, int, int]:
        """Active, reading, writing and waiting connections."""
        reading = self.reading()
        writing = min(self.writing, self.active)
        return self.active, reading, writing, max(0, self.active - reading - writing)

    def text(self) -> bytes:
        """The page, as nginx writes it (trailing spaces included)."""
        active, reading, writing, waiting = self.counts()
        requests = self.requests + reading  # nginx counts a request from its first byte
        return (
            b"Active connections: %d \nserver accepts handled requests\n %d %d %d \n"
            b"Reading: %d Writing: %d Waiting: %d \n"
            % (active, self.accepted, self.handled, requests, reading, writing, waiting)
        )


async def handle_stub_status(exchange: Exchange, stats: ConnectionStats) -> None:
    """The status page, for GET and HEAD (else nginx's 405)."""
    if exchange.method not in ("GET", "HEAD"):
        await exchange.conn.error(405)
        return
    await exchange.conn.respond(200, [(b"Content-Type", b"text/plain")], stats.text())


def _count(index: int) -> Callable[[RequestVars], str | None]:
    def getter(variables: RequestVars) -> str | None:
        stats = variables.connection.stats
        return None if stats is None else str(stats.counts()[index])

    return getter


STATUS_GETTERS: dict[str, Callable[[RequestVars], str | None]] = {
    "connections_active": _count(0),
    "connections_reading": _count(1),
    "connections_writing": _count(2),
    "connections_waiting": _count(3),
}
