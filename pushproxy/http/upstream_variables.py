"""`$upstream_addr`, `$upstream_status`, `$upstream_response_time`, `$upstream_connect_time`,
`$upstream_header_time`, `$upstream_response_length` and `$upstream_http_NAME`, from the
proxy's tries (see `UpstreamTry`), as nginx gives them: one value per try, `, `-separated,
`-` where a try had none (no connection, no head); times in seconds to the millisecond;
`$upstream_http_NAME` is the last response head's header."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from pushproxy.http.connection_variables import millis_text

if TYPE_CHECKING:
    from pushproxy.http.variables import RequestVars


class UpstreamTry(NamedTuple):
    """One try of a proxied request on a peer: `$upstream_addr`, `$upstream_status`,
    `$upstream_response_time` (and the others in `upstream_variables`) list one value per
    try, as nginx does. None: nginx's `-` (no connection, no head)."""

    addr: str
    status: int
    seconds: float
    connect: float | None = None  # to the connection (0 for one kept alive)
    header: float | None = None  # to the response head
    length: int | None = None  # of the response body
    headers: Sequence[tuple[bytes, bytes]] = ()  # of the response head


def _seconds(value: float | None) -> str:
    return "-" if value is None else millis_text(max(0, round(value * 1000)))


def _listed(field: Callable[[UpstreamTry], str]) -> Callable[[RequestVars], str | None]:
    def getter(variables: RequestVars) -> str | None:
        tries = variables.upstream_tries
        return ", ".join(field(one) for one in tries) if tries else None

    return getter


def upstream_header(variables: RequestVars, name: str) -> str | None:
    """`$upstream_http_NAME`: the header of the last try's response head (`-` as `_`)."""
    tries = variables.upstream_tries
    if not tries:
        return None
    wanted = name.lower()
    for key, value in tries[-1].headers:
        if key.lower().replace(b"-", b"_").decode("latin-1") == wanted:
            return value.decode("utf-8", "surrogateescape")
    return None


UPSTREAM_GETTERS: dict[str, Callable[[RequestVars], str | None]] = {
    "upstream_addr": _listed(lambda one: one.addr),
    "upstream_status": _listed(lambda one: str(one.status)),
    "upstream_response_time": _listed(lambda one: _seconds(one.seconds)),
    "upstream_connect_time": _listed(lambda one: _seconds(one.connect)),
    "upstream_header_time": _listed(lambda one: _seconds(one.header)),
    "upstream_response_length": _listed(
        lambda one: "-" if one.length is None else str(one.length)
    ),
}
