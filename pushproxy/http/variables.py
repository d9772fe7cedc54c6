"""nginx variables from plain request data (the target comes split by `target.parse_target`).

`RequestVars.lookup` is the lookup `ComplexValue.evaluate` takes. Values are computed when first
asked for: `$arg_id` alone never looks at headers or cookies. Request bytes become text as the
configuration's do (`as_text`), so they encode back unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import tzinfo
from typing import TYPE_CHECKING

from pushproxy.config.maps import VariableTable
from pushproxy.config.model import NO_MAPS
from pushproxy.http.access import packed_address
from pushproxy.http.basic_auth import basic_credentials
from pushproxy.http.captures import NO_CAPTURES, Captures, captures_of
from pushproxy.http.connection_variables import (
    CONNECTION_GETTERS,
    ConnectionInfo,
    Received,
    Response,
    headers_by_name,
    local_time,
    millis_text,
)
from pushproxy.http.file_paths import FILE_GETTERS
from pushproxy.http.referers import REFERER_GETTERS
from pushproxy.http.request_cookies import cookie_value
from pushproxy.http.stub_status import STATUS_GETTERS
from pushproxy.http.target import RequestTarget, as_text, with_args
from pushproxy.http.upstream_variables import UPSTREAM_GETTERS, UpstreamTry, upstream_header

if TYPE_CHECKING:
    from pushproxy.http.site import LocationSetup

Headers = Sequence[tuple[bytes, bytes]]
# ngx_http_variable_depth: how deep variables may be worked out inside one another (a map
# whose value uses itself, directly or not, stops there)
_MAP_DEPTH = 100
log = logging.getLogger("pushproxy")


class RequestVars:
    """The variables of one request. `lookup` is what `ComplexValue.evaluate` takes; `set` is
    `set $name value;`; the proxy gives `$proxy_host`/`$proxy_port` with `set_proxy`, and the
    server gives the response (`$status`, `$body_bytes_sent`...) with `respond`."""

    __slots__ = (
        "_captures", "_clock", "_connection", "_cookies", "_headers", "_host",
        "_hostname", "_http_version", "_index", "_map_depth", "_maps", "_method", "_peer", "_proxy",
        "_received", "_response", "_server_name", "_started", "_target", "_tz", "_upstream",
        "_variables", "setup",
    )  # fmt: skip

    def __init__(
        self,
        *,
        method: bytes,
        target: RequestTarget,
        http_version: bytes,
        headers: Headers,
        connection: ConnectionInfo,
        server_name: str,
        host: str = "",
        hostname: str = "",
        captures: Captures = NO_CAPTURES,
        started: float | None = None,
        clock: Callable[[], float] = time.time,
        tz: tzinfo | None = None,
        maps: Mapping[str, VariableTable] = NO_MAPS,
        received: Received | None = None,
    ) -> None:
        self._method = as_text(method)
        self._received = received  # what `$request_length` counts before the response is out
        self._target = target
        self._http_version = http_version.decode("latin-1")
        self._headers = headers
        self._connection = connection
        self._peer: ConnectionInfo | None = None  # the socket's ends, once realip replaced them
        self._server_name = server_name
        self._host = host
        self._hostname = hostname
        self._captures = captures.positional
        # `set` values, maps worked out, named captures: made on first use (see `_cookies`)
        self._variables: dict[str, str] | None = dict(captures.named) if captures.named else None
        self._clock = clock
        self._started = clock() if started is None else started
        self._tz = tz  # None: the machine's local time zone
        self._proxy = ("", "")
        self._response: Response | None = None
        self._index: dict[str, list[bytes]] | None = None
        self._cookies: dict[str, str | None] | None = None  # made on first use: a streaming
        # subscriber keeps its variables for hours, and most never read a cookie
        self._upstream: Sequence[UpstreamTry] = ()
        self._maps = maps
        self._map_depth = 0  # maps being worked out, one inside another
        self.setup: LocationSetup | None = None  # the location's (its root...), once chosen

    @property
    def target(self) -> RequestTarget:
        """The request target, as split once for the request."""
        return self._target

    def lookup(self, name: str) -> str | None:
        """The value of `$name`; None for an unknown or unset variable (evaluated as empty)."""
        known = self._variables
        value = known.get(name) if known is not None else None
        if value is not None:
            return value
        mapped = self._maps.get(name) if self._maps else None
        if mapped is not None:
            return self._map(mapped)
        getter = _GETTERS.get(name)
        if getter is not None:
            return getter(self)
        lowered = name.lower()  # nginx lowercases variable names when it compiles them
        if lowered != name:
            return self.lookup(lowered)
        for prefix, prefixed in _PREFIXED:
            if name.startswith(prefix):
                return prefixed(self, name[len(prefix) :])
        return None

    def subrequest(self, target: RequestTarget) -> RequestVars:
        """A subrequest's variables (`auth_request`): a GET of `target`, the rest the
        request's; `set` and cached values are shared, as nginx shares them."""
        sub = RequestVars(
            method=b"GET", target=target, http_version=self._http_version.encode(),
            headers=self._headers, connection=self._connection, server_name=self._server_name,
            host=self._host, hostname=self._hostname, started=self._started, clock=self._clock,
            tz=self._tz, maps=self._maps, received=self._received,
        )  # fmt: skip
        sub._variables = self._own()
        return sub

    def _own(self) -> dict[str, str]:
        """The request's own variables (made now if need be)."""
        if self._variables is None:
            self._variables = {}
        return self._variables

    def set(self, name: str, value: str) -> None:
        name = name.lower()
        if name == "args":  # the request's own arguments: what `$arg_*` and the rest read
            self._target = with_args(self._target, value)
        self._own()[name] = value

    def assigned(self, name: str) -> str | None:
        """What `set` gave `$name` (a lowercase name), if anything."""
        known = self._variables
        return None if known is None else known.get(name)

    @property
    def connection(self) -> ConnectionInfo:
        return self._connection

    @property
    def received(self) -> Received | None:
        return self._received

    def now(self) -> float:
        return self._clock()

    @property
    def started(self) -> float:
        """When the request began (the clock's time)."""
        return self._started

    @property
    def completed(self) -> bool:
        """Whether the response is out (the server gave it with `respond`)."""
        return self._response is not None

    @property
    def client_addr(self) -> str:
        """`$remote_addr`: the peer's, or the client's as a trusted proxy reports it."""
        return self._connection.remote_addr

    @property
    def client_replaced(self) -> bool:
        """Whether realip gave the client's address already (it does so once)."""
        return self._peer is not None

    def set_client(self, address: str, port: int) -> None:
        """realip: the client's address and port (0: unknown) as a trusted proxy reports them;
        `$realip_remote_addr` and `$realip_remote_port` keep the peer's."""
        self._peer = self._connection
        self._connection = replace(self._connection, remote_addr=address, remote_port=port)

    def _remote_user(self) -> str | None:
        credentials = basic_credentials(self._headers)
        return None if credentials is None else as_text(credentials[0])

    def set_method(self, method: str) -> None:
        """`$request_method` after an error page turned the request into a GET (`$request`,
        the request line as received, keeps the method the client sent)."""
        if self._variables is None:
            self._variables = {}
        self._variables.setdefault("request", self._request_line())
        self._method = method

    def retarget(self, target: RequestTarget) -> None:
        """A `rewrite` changed the URI or arguments: `$uri`, `$args`, `$arg_NAME` follow."""
        self._target = target

    def add_captures(self, captures: Captures) -> None:
        """A later regex match (`rewrite`, `if`): its `$1`.. replace the earlier ones."""
        self._captures = captures.positional
        if captures.named:
            self._own().update(captures.named)

    def set_proxy(self, host: str, port: int) -> None:
        self._proxy = (host, str(port))

    def respond(self, response: Response) -> None:
        self._response = response

    def record_upstream(self, tries: Sequence[UpstreamTry]) -> None:
        """The proxy's tries of this request, for `$upstream_*`."""
        self._upstream = tries

    @property
    def upstream_tries(self) -> Sequence[UpstreamTry]:
        return self._upstream

    def _map(self, mapped: VariableTable) -> str | None:
        """A `map` variable: worked out on first use and kept for the request (unless
        `volatile`). A regex variant's captures become the request's, as in nginx."""
        if self._map_depth >= _MAP_DEPTH:
            log.error('cycle while evaluating variable "%s"', mapped.name)
            return None  # nginx gives up at the same depth; the value is then empty
        self._map_depth += 1
        try:
            value, match = mapped.find(mapped.source_text(self.lookup))
            if match is not None and match.re.groups:
                self.add_captures(captures_of(match))
            result = value.evaluate(self.lookup)
        finally:
            self._map_depth -= 1
        if not mapped.volatile:
            self._own()[mapped.name] = result
        return result

    # computed on demand

    def _capture(self, index: int) -> str | None:
        return self._captures[index - 1] if index <= len(self._captures) else None

    def _by_name(self) -> dict[str, list[bytes]]:
        if self._index is None:
            self._index = headers_by_name(self._headers)
        return self._index

    def _header(self, key: str) -> str | None:
        values = self._by_name().get(key)
        return as_text((b"; " if key == "cookie" else b", ").join(values)) if values else None

    def _sent_header(self, key: str) -> str | None:
        values = headers_by_name(self._response.headers).get(key) if self._response else None
        return as_text(b", ".join(values)) if values else None

    def _arg(self, name: str) -> str | None:
        return self._target.arg_map.get(name)

    def _line(self) -> bytes:
        """The request line as it came (nothing for a request made here: a bench's)."""
        request = self._received.request if self._received is not None else None
        return request.line if request is not None else b""

    def _protocol(self) -> str | None:
        """`$server_protocol` as the line has it (`HTTP/1.2`, and spaces after it); HTTP/0.9,
        whose request line has no version, has none."""
        if self._http_version == "0.9":
            return None
        line = self._line()
        return as_text(line[line.rfind(b" HTTP/") + 1 :]) if line else f"HTTP/{self._http_version}"

    def _request_line(self) -> str:
        """`$request`: the request line as it came (`wire.request_line`)."""
        line = self._line()
        if line:
            return as_text(line)
        protocol = self._protocol()
        return f"{self._method} {self._target.raw}{' ' + protocol if protocol else ''}"

    def _cookie(self, name: str) -> str | None:
        cookies = self._cookies
        if cookies is None:
            cookies = self._cookies = {}
        if name not in cookies:
            found = cookie_value(self._by_name().get("cookie", []), name.encode())
            cookies[name] = None if found is None else as_text(found)
        return cookies[name]

    def _forwarded_for(self) -> str:
        values = self._by_name().get("x_forwarded_for")
        addr = self._connection.remote_addr
        return f"{as_text(b', '.join(values))}, {addr}" if values else addr

    def _time(self, *, iso: bool) -> str:
        return local_time(self._clock(), self._tz, iso=iso)

    def _request_time(self) -> str:
        return millis_text(max(0, int(self._clock() * 1000) - int(self._started * 1000)))

    def _status(self) -> str | None:
        """The answer's status: once it is out, or while its head is made (`add_header`)."""
        if self._response is not None:
            return f"{self._response.status:03d}"
        sending = self._received.status_sent if self._received is not None else 0
        return f"{sending:03d}" if sending else None

    def _sent_count(self, field: str) -> str:
        return "0" if self._response is None else str(getattr(self._response, field))

    def _request_length(self) -> str:
        """nginx's `r->request_length`: the request's bytes read so far (its head, and the
        body once read), as the connection counts them."""
        return "0" if self._received is None else str(self._received.request_length)


def _positional(index: int) -> Callable[[RequestVars], str | None]:
    return lambda v: v._capture(index)


_GETTERS: dict[str, Callable[[RequestVars], str | None]] = {
    "uri": lambda v: v._target.uri,
    "document_uri": lambda v: v._target.uri,
    "request_uri": lambda v: v._target.request_uri,
    "args": lambda v: v._target.args,
    "query_string": lambda v: v._target.args,
    "is_args": lambda v: "?" if v._target.args else "",
    "request": lambda v: v._request_line(),
    "request_method": lambda v: v._method,
    "server_protocol": lambda v: v._protocol(),
    "scheme": lambda v: v._connection.scheme,
    "https": lambda v: "on" if v._connection.scheme == "https" else "",
    "host": lambda v: v._host or v._server_name,
    "hostname": lambda v: v._hostname,
    "server_name": lambda v: v._server_name,
    "remote_addr": lambda v: v._connection.remote_addr,
    "remote_port": lambda v: str(v._connection.remote_port or ""),
    "remote_user": lambda v: v._remote_user(),
    "binary_remote_addr": lambda v: packed_address(v._connection.remote_addr),
    "realip_remote_addr": lambda v: (v._peer or v._connection).remote_addr,
    "realip_remote_port": lambda v: str((v._peer or v._connection).remote_port),
    "server_addr": lambda v: v._connection.server_addr,
    "server_port": lambda v: str(v._connection.server_port),
    "content_length": lambda v: v._header("content_length"),
    "content_type": lambda v: v._header("content_type"),
    "proxy_host": lambda v: v._proxy[0],
    "proxy_port": lambda v: v._proxy[1],
    "proxy_add_x_forwarded_for": lambda v: v._forwarded_for(),
    "msec": lambda v: millis_text(int(v._clock() * 1000)),
    "time_local": lambda v: v._time(iso=False),
    "time_iso8601": lambda v: v._time(iso=True),
    "request_time": lambda v: v._request_time(),
    "status": lambda v: v._status(),
    "body_bytes_sent": lambda v: v._sent_count("body_bytes_sent"),
    "bytes_sent": lambda v: v._sent_count("bytes_sent"),
    "request_length": lambda v: v._request_length(),
    **{str(index): _positional(index) for index in range(1, 10)},
    **CONNECTION_GETTERS,
    **UPSTREAM_GETTERS,
    **FILE_GETTERS,
    **STATUS_GETTERS,
    **REFERER_GETTERS,
}

# Variables named by a prefix and a name: `$http_x_real_ip`, `$arg_id`, `$cookie_sid`...
_PREFIXED: tuple[tuple[str, Callable[[RequestVars, str], str | None]], ...] = (
    ("http_", RequestVars._header),
    ("arg_", RequestVars._arg),
    ("cookie_", RequestVars._cookie),
    ("sent_http_", RequestVars._sent_header),
    ("upstream_http_", upstream_header),
)
