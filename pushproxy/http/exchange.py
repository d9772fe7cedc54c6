"""One request as handlers see it: the connection to answer on, the head, the variables; and
the internal redirect a handler may answer with instead (`Jump`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pushproxy.config.complex import ComplexValue
from pushproxy.http.connection import HttpConnection
from pushproxy.http.variables import RequestVars
from pushproxy.http.wire import Request

if TYPE_CHECKING:
    from pushproxy.http.routing import ServerMatch


@dataclass(frozen=True, slots=True)
class Jump:
    """An internal redirect: to `uri` with `args`, or to the named location `uri` (`@...`)."""

    uri: str
    args: str = ""

    @property
    def named(self) -> bool:
        return self.uri.startswith("@")


@dataclass(slots=True, eq=False, kw_only=True)
class Exchange:
    """A request being answered. `lookup` resolves nginx variables (`arg_id`, `1`, `host`...)."""

    conn: HttpConnection
    request: Request
    method: str
    lookup: Callable[[str], str | None]
    # The request's variables, for what handlers add to them (the proxy's `$proxy_host`,
    # `$upstream_*`); None where `lookup` is something else (benches).
    variables: RequestVars | None = None
    server: ServerMatch | None = None  # the server block (for a subrequest's location search)

    @property
    def http_version(self) -> bytes:
        return self.request.http_version

    def header(self, name: bytes) -> bytes | None:
        """The first header of that name (names compare case-insensitively, whole)."""
        wanted = name.lower()
        for key, value in self.request.headers:
            if key == wanted:
                return bytes(value)
        return None

    def evaluate(self, value: ComplexValue) -> str:
        return value.evaluate(self.lookup)

    def evaluate_bytes(self, value: ComplexValue) -> bytes:
        return self.evaluate(value).encode("utf-8", "surrogateescape")
