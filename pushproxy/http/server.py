"""The HTTP server: listeners from the configuration, one task per connection, nginx routing,
and the handler each location names.

Everything a connection does lives in the server's nursery; a stop cancels it. A request goes:
request head (`wire`) → server block (address, Host) → rewrite phase (a `return` answers at
once) → location → push handler, the reverse proxy, or what nginx's static handler answers
with no file (404, or 405 for a method it never serves).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence

import trio

from pushproxy.config.lint_rules import unspoken_protocols
from pushproxy.config.model import Config, Location
from pushproxy.config.tree import Directive
from pushproxy.http.accesslog import AccessLogs
from pushproxy.http.basic_auth import Verdict
from pushproxy.http.connection import HttpConnection
from pushproxy.http.deadlines import Deadlines
from pushproxy.http.exchange import Exchange
from pushproxy.http.pages import error_page
from pushproxy.http.phases import access_phase, configure, preaccess, trust_proxy
from pushproxy.http.request_reader import ClientGone
from pushproxy.http.responses import handle_return, redirect
from pushproxy.http.rewrite_rule import Redirect
from pushproxy.http.routing import request_host
from pushproxy.http.site import (
    ListenKey,
    LocationSetup,
    Site,
    bind_address,
    length_and_chunked,
    oversized_line,
)
from pushproxy.http.target import BadRequest, parse_target
from pushproxy.http.variables import ConnectionInfo, RequestVars, Response
from pushproxy.http.wire import MalformedRequest, Request
from pushproxy.proxy.handler import ProxyRuntime, handle_proxy
from pushproxy.push.publisher import handle_publisher
from pushproxy.push.runtime import PushRuntime
from pushproxy.push.settings import LocationType
from pushproxy.push.statistics import handle_statistics
from pushproxy.push.subscriber import handle_subscriber
from pushproxy.push.websocket import handle_websocket

log = logging.getLogger("pushproxy")
_STATIC_METHODS = frozenset({"GET", "HEAD", "POST"})


async def _refuse(conn: HttpConnection, refusal: Verdict) -> None:
    """The access phase's refusal: nginx's page, and for a 401 the realm to log in to."""
    if refusal.status != 401:
        await conn.error(refusal.status)
        return
    realm = f'Basic realm="{refusal.realm}"'.encode("utf-8", "surrogateescape")
    headers = [(b"Content-Type", b"text/html"), (b"WWW-Authenticate", realm)]
    await conn.respond(401, headers, error_page(401))


def _connection_info(stream: trio.SocketStream) -> ConnectionInfo:
    """Both ends' addresses (a function: the address tuples are not kept in the frame of a
    connection that may live for hours)."""
    local = stream.socket.getsockname()
    peer = stream.socket.getpeername()
    return ConnectionInfo(
        remote_addr=peer[0], remote_port=peer[1], server_addr=local[0], server_port=local[1]
    )


class HttpServer:
    """Serves one configuration at a time; `serve()` runs until cancelled or stopped.

    Connections run in the server's nursery. `stop()` stops accepting, closes idle
    keep-alive connections, lets busy ones finish within a grace period, then cancels.
    `reload()` swaps the configuration: new requests use it, listeners follow it.
    """

    def __init__(
        self, config: Config, *, default_upstream: str | None = None, prefix: str | None = None
    ) -> None:
        self.site = Site.build(config)
        self.default_upstream = default_upstream
        self.prefix = prefix
        self.access_logs = AccessLogs(config.http, prefix)
        self.push: PushRuntime | None = None
        # Built now, not in serve(): a bad upstream is a startup error, reported before detaching.
        self.proxy = ProxyRuntime(config, default_upstream)
        self.bound: dict[ListenKey, list[tuple[str, int]]] = {}
        self.stopping = False
        self._nursery: trio.Nursery | None = None
        self._accepting: dict[ListenKey, trio.CancelScope] = {}
        self._idle: set[HttpConnection] = set()
        self._busy = 0
        self._open = 0
        self._all_done = trio.Event()
        self.deadlines = Deadlines()  # the connections' timeouts

    async def open_listener(self, key: ListenKey) -> list[trio.SocketListener]:
        _, (host, port) = bind_address(key)
        listeners = await trio.open_tcp_listeners(port, host=host)
        for listener in listeners:
            name = listener.socket.getsockname()
            self.bound.setdefault(key, []).append((name[0], name[1]))
        return listeners

    async def serve(
        self,
        listeners: Sequence[tuple[ListenKey, trio.SocketListener]] | None = None,
        *,
        task_status: trio.TaskStatus[HttpServer] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        self.push = PushRuntime(self.site.config)
        if self.site.config.http is not None:
            for unspoken in unspoken_protocols(self.site.config.http):
                log.warning("%s in %s:%d", unspoken.message, unspoken.file, unspoken.line)
        if listeners is None:
            listeners = [
                (key, one) for key in self.site.listens for one in await self.open_listener(key)
            ]
        else:
            for key, listener in listeners:
                name = listener.socket.getsockname()
                self.bound.setdefault(key, []).append((name[0], name[1]))
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self.push.run_timers)
                nursery.start_soon(self.deadlines.run)
                nursery.start_soon(self.proxy.run)
                for key, listener in listeners:
                    self._start_accepting(key, [listener])
                task_status.started(self)
        finally:
            self.access_logs.close()

    def _start_accepting(self, key: ListenKey, listeners: Sequence[trio.SocketListener]) -> None:
        assert self._nursery is not None
        scope = self._accepting.setdefault(key, trio.CancelScope())
        for listener in listeners:
            self._nursery.start_soon(self._accept, listener, key, scope)

    @property
    def connections(self) -> int:
        """Client connections open now (what `worker_connections` caps)."""
        return self._open

    def port(self, key: ListenKey | None = None) -> int:
        """The port a listen entry got (for `listen ...:0` in tests)."""
        key = key or self.site.listens[0]
        return self.bound[key][0][1]

    async def _accept(
        self, listener: trio.SocketListener, key: ListenKey, scope: trio.CancelScope
    ) -> None:
        assert self._nursery is not None
        with scope:
            async with listener:
                while True:
                    stream = await listener.accept()
                    if self._open >= self.site.max_connections:
                        # nginx: "worker_connections are not enough"; the client is dropped
                        log.warning("%d worker_connections are not enough", self._open)
                        await stream.aclose()
                        continue
                    self._nursery.start_soon(self._connection, stream, key, name="connection")

    async def reload(self, config: Config) -> None:
        """New requests use `config`; listeners it no longer names close, new ones open.
        ConfigError (an upstream that does not resolve) leaves the old configuration serving."""
        self.proxy.apply(config)
        site = Site.build(config)
        old = set(self.site.listens)
        for key in site.listens:
            if key not in old:
                self._start_accepting(key, await self.open_listener(key))
        for key in old - set(site.listens):
            scope = self._accepting.pop(key, None)
            if scope is not None:
                scope.cancel()
            self.bound.pop(key, None)
        self.site = site
        self.access_logs.close()
        self.access_logs = AccessLogs(config.http, self.prefix)
        if self.push is not None:
            self.push.apply(config)

    def reopen_logs(self) -> None:
        """USR1: access log files are opened anew (after a rotation)."""
        self.access_logs.reopen()

    async def stop(self, *, grace: float) -> None:
        """Stop accepting, close idle connections, give busy ones `grace` seconds."""
        self.stopping = True
        for scope in self._accepting.values():
            scope.cancel()
        for conn in list(self._idle):
            conn.scope.cancel()
        if self.push is not None:
            self.push.end_sessions()  # subscribers get their footers now, whatever the grace
        with trio.move_on_after(grace):
            if self._busy:
                await self._all_done.wait()
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    async def _connection(self, stream: trio.SocketStream, key: ListenKey) -> None:
        info = _connection_info(stream)
        conn = HttpConnection(stream, self.site.limits, self.deadlines, self.site.header_rules)
        self._open += 1
        try:
            with conn.scope:  # timeouts and a stop cancel it
                await self._serve_requests(conn, info, key[1])
        except ClientGone:
            pass
        finally:
            self._open -= 1
            await conn.close()

    async def _serve_requests(self, conn: HttpConnection, info: ConnectionInfo, port: int) -> None:
        while not self.stopping:
            self._idle.add(conn)  # a stop closes connections waiting for a request
            try:
                request = await conn.next_request()
            except MalformedRequest as malformed:
                await conn.error(malformed.status, close=True)
                return
            finally:
                self._idle.discard(conn)
            if request is None:
                return
            oversized = oversized_line(request, conn.limits.max_line_bytes)
            if oversized is not None:
                await conn.error(oversized, close=True)
                return
            if length_and_chunked(request):
                # nginx: 'client sent "Content-Length" and "Transfer-Encoding" headers at the
                # same time'. Passing such a request on invites request smuggling.
                await conn.error(400, close=True)
                return
            self._busy += 1
            try:
                # Inline, not a helper coroutine: a streaming subscriber holds every frame of
                # this path for its whole life.
                await self._dispatch(conn, request, info, port)
            except (ClientGone, trio.Cancelled):
                raise
            except MalformedRequest as malformed:  # a broken body, found while reading it
                if conn.can_respond:
                    await conn.error(malformed.status, close=True)
                return
            except Exception:
                log.exception("unhandled error for %s %s", request.method, request.target)
                if conn.can_respond:
                    await conn.error(500, close=True)
            finally:
                self._busy -= 1
                if self.stopping and not self._busy:
                    self._all_done.set()
            if conn.can_respond:
                return  # the handler gave up without answering (client gone)
            try:
                await conn.discard_body()
            except MalformedRequest:
                return  # answered already: the connection ends here
            if not conn.keep_alive:
                return

    async def _dispatch(
        self, conn: HttpConnection, request: Request, info: ConnectionInfo, port: int
    ) -> None:
        site, push = self.site, self.push
        assert push is not None
        if request.http_version == b"0.9" and request.method != b"GET":
            await conn.error(400, close=True)  # "client sent invalid method in HTTP/0.9 request"
            return
        if request.method == b"TRACE":  # nginx: "client sent TRACE method", whatever the location
            await conn.error(405)
            return
        try:
            target = parse_target(request.target)
            host = request_host(target, request.headers, request.http_version)
        except BadRequest:
            await conn.error(400, close=True)
            return
        server = site.router.select(info.server_addr, port, host)
        variables = RequestVars(
            method=request.method,
            target=target,
            http_version=request.http_version,
            headers=request.headers,
            connection=info,
            server_name=server.name,
            host=host,
            captures=server.captures,
            clock=push.clock,
            maps=site.maps,
            received=conn,
        )
        if site.realip:  # nginx's post-read phase: the server's settings
            realip = site.setups[id(server.server.own)].realip
            if realip is not None:
                trust_proxy(realip, variables, request)
        exchange = Exchange(
            conn=conn,
            request=request,
            method=request.method.decode("latin-1"),
            lookup=variables.lookup,
            variables=variables,
        )
        found = configure(site, server, variables, request)
        if found is None:
            await conn.error(413, close=True)  # nginx refuses before reading the body
            return
        location, ending, match = found
        setup = site.setups[id(location)]  # every location and `if` block has one
        policy = setup.gzip
        if policy is not None:
            conn.gzip = policy  # the client's Accept-Encoding is read only when it matters
        if setup.added is not None:
            conn.add_headers(setup.added, variables.lookup)
        conn.limits = setup.limits  # the location's keep-alive, body and send settings
        if not setup.limits.keepalive_timeout:
            conn.end_after_response()  # `keepalive_timeout 0`: Connection: close
        try:
            if isinstance(ending, Directive):  # before any content handler, push ones included
                await handle_return(exchange, location, ending, setup.mime_types)
            elif isinstance(ending, Redirect):
                await redirect(exchange, location, ending.status, ending.location)
            elif isinstance(ending, int):
                await conn.error(ending)
            elif match is not None and match.redirect_to_slash:
                await redirect(
                    exchange, location, 301, match.redirect_target(variables.target.args)
                )
            elif setup.direct:  # no frame in between: a streaming subscriber keeps this one
                await self._handle(exchange, location, push)
            elif setup.preaccess:  # limits or a location's realip settings
                await self._limited(exchange, location, setup, push)
            elif (refusal := access_phase(setup, variables, request, exchange.method)) is not None:
                await _refuse(conn, refusal)
            else:
                await self._handle(exchange, location, push)
        finally:
            logs = self.access_logs.targets(location.level)
            if logs and conn.status_sent:
                variables.respond(
                    Response(status=conn.status_sent, body_bytes_sent=conn.body_bytes_sent)
                )
                self.access_logs.write(logs, variables.lookup)

    async def _limited(
        self, exchange: Exchange, location: Location, setup: LocationSetup, push: PushRuntime
    ) -> None:
        """nginx's preaccess phase (realip, `limit_req`, `limit_conn`), its access phase, then
        the handler; a `limit_conn` place is held until the handler is done."""
        conn, request, variables = exchange.conn, exchange.request, exchange.variables
        assert variables is not None
        status, leave = await preaccess(setup, variables, request)
        try:
            if status:
                await conn.error(status)
            elif (refusal := access_phase(setup, variables, request, exchange.method)) is not None:
                await _refuse(conn, refusal)
            else:
                await self._handle(exchange, location, push)
        finally:
            leave()

    def _handle(
        self, exchange: Exchange, location: Location, push: PushRuntime
    ) -> Awaitable[None]:
        """The handler's answer to await (a plain function: one frame fewer per request, and
        per streaming subscriber for its whole life)."""
        pushed = push.location(location)
        if pushed is not None:
            kind = pushed.settings.type
            if kind.is_publisher:
                return handle_publisher(exchange, location, pushed, push)
            if kind is LocationType.STATISTICS:
                return handle_statistics(exchange, pushed, push)
            if kind is LocationType.WEBSOCKET:
                return handle_websocket(exchange, location, pushed, push)
            return handle_subscriber(exchange, location, pushed, push)
        if self.proxy.handles(location):
            return handle_proxy(exchange, location, self.proxy)
        # nginx's static handler, with no file to serve: 405 for a method it never serves.
        status = 404 if exchange.method in _STATIC_METHODS else 405
        return exchange.conn.error(status)
