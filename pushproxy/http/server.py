"""The HTTP server: listeners from the configuration, one task per connection, and its
requests, each routed by `dispatch` as nginx routes it.

Everything a connection does lives in the server's nursery; a stop cancels it.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence

import trio

from pushproxy.config.lint_rules import unspoken_protocols
from pushproxy.config.model import Config
from pushproxy.descriptors import accept_failed
from pushproxy.http.accesslog import AccessLogs, refused_lookup
from pushproxy.http.connection import HttpConnection
from pushproxy.http.connection_variables import ConnectionInfo
from pushproxy.http.deadlines import Deadlines
from pushproxy.http.dispatch import Dispatcher
from pushproxy.http.outbox import Outbox
from pushproxy.http.site import (
    ListenKey,
    Site,
    bind_address,
    length_and_chunked,
)
from pushproxy.http.stub_status import ConnectionStats
from pushproxy.http.transport import ClientGone
from pushproxy.http.wire import MalformedRequest, request_line
from pushproxy.proxy.handler import ProxyRuntime
from pushproxy.push.runtime import PushRuntime

log = logging.getLogger("pushproxy")
_RETIRE_POLL = 0.01  # seconds between a retiring worker's looks at what is left
_STATIC_METHODS = frozenset({"GET", "HEAD", "POST"})


_PORTS: dict[int, int] = {}  # the listeners' port numbers, one int object each


def _connection_info(
    stream: trio.SocketStream, stats: ConnectionStats, opened: float
) -> ConnectionInfo:
    """Both ends' addresses, the connection's number and when it was accepted (a function:
    the address tuples are not kept in the frame of a connection that may live for hours)."""
    local = stream.socket.getsockname()
    peer = stream.socket.getpeername()
    # Shared, not one copy per connection: the listener's address and port always, the
    # client's address often (behind a proxy, many clients on one host).
    return ConnectionInfo(
        remote_addr=sys.intern(peer[0]),
        remote_port=peer[1],
        server_addr=sys.intern(local[0]),
        server_port=_PORTS.setdefault(local[1], local[1]),
        serial=stats.handled,
        opened=opened,
        stats=stats,
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
        self.default_upstream = default_upstream
        self.prefix = prefix
        # The proxy is built now, not in serve(): a bad upstream is a startup error, reported
        # before detaching.
        self.deadlines = Deadlines()  # the connections' timeouts
        self.outbox = Outbox()  # small writes, made together at each turn's end
        self.routes = Dispatcher(
            Site.build(config),
            ProxyRuntime(config, default_upstream),
            AccessLogs(config.http, prefix),
            self.deadlines,
        )
        self.bound: dict[ListenKey, list[tuple[str, int]]] = {}
        self.stopping = False
        self._grace: trio.CancelScope | None = None  # while `stop` waits for busy connections
        self._nursery: trio.Nursery | None = None
        self._accepting: dict[ListenKey, trio.CancelScope] = {}
        self._idle: set[HttpConnection] = set()
        self.reloads = 0  # a connection accepted before the last reload ends after its answer
        # connections and requests: `stub_status`, `worker_connections`, `$connection`
        self.stats = ConnectionStats(self._reading)
        self._all_done = trio.Event()

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
        handed: bytes = b"",
        task_status: trio.TaskStatus[HttpServer] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """`handed`: the channels a retired worker handed over (`retire`)."""
        self.push = PushRuntime(self.site.config)
        self.push.take_over(handed)
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
                nursery.start_soon(self.outbox.run)
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
    def site(self) -> Site:
        return self.routes.site

    @site.setter
    def site(self, site: Site) -> None:
        self.routes.swap(site, self.routes.access_logs)

    @property
    def push(self) -> PushRuntime | None:
        return self.routes.push

    @push.setter
    def push(self, push: PushRuntime | None) -> None:
        self.routes.push = push

    @property
    def proxy(self) -> ProxyRuntime:
        return self.routes.proxy

    @property
    def access_logs(self) -> AccessLogs:
        return self.routes.access_logs

    @access_logs.setter
    def access_logs(self, logs: AccessLogs) -> None:
        self.routes.swap(self.routes.site, logs)

    @property
    def connections(self) -> int:
        """Client connections open now (what `worker_connections` caps)."""
        return self.stats.active

    def _reading(self) -> int:
        """Connections whose request head is arriving (for `stub_status`)."""
        return sum(1 for conn in self._idle if conn.head_arriving)

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
                    try:
                        stream = await listener.accept()
                    except OSError as error:  # out of descriptors (or memory): not the end
                        await accept_failed(error)
                        continue
                    stats = self.stats
                    stats.accepted += 1
                    if stats.active >= self.site.max_connections:
                        # nginx: "worker_connections are not enough"; the client is dropped
                        log.warning("%d worker_connections are not enough", stats.active)
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
        self._end_connections()
        self.access_logs.close()
        self.access_logs = AccessLogs(config.http, self.prefix)
        if self.push is not None:
            # As nginx's old workers end theirs: the subscribers get their footers (or the
            # long-poll timeout answer) and reconnect to the new configuration.
            self.push.end_sessions(graceful=True)
            self.push.apply(config)

    async def retire(self, within: float) -> bytes:
        """As nginx's old worker at a reload: accept no more, end the subscribers (footers,
        long-poll timeout answers) and the idle connections, the busy ones after their answer;
        once the subscribers are gone and no request is being answered (`within` seconds at
        most), the channels' state for the new worker (`serve(handed=...)`)."""
        for scope in self._accepting.values():
            scope.cancel()
        self._accepting.clear()
        # The connections just accepted start and wait for their heads, or read them: a
        # request begun is answered before the handover, the others end unanswered.
        await trio.sleep(_RETIRE_POLL)
        self._end_connections()
        push = self.push
        if push is None:
            return b""
        push.end_sessions(graceful=True)
        stats = self.stats
        with trio.move_on_after(within):
            # (no event tells these apart; a few looks in a reload's pause cost nothing)
            while push.sessions or stats.writing or stats.reading():  # noqa: ASYNC110
                await trio.sleep(_RETIRE_POLL)
        push.end_sessions()
        return push.handover()

    def _end_connections(self) -> None:
        """A reload's end for the connections made before it: idle keep-alive ones close
        now, the others after the answer they are giving (the clients come back to the new
        configuration), as nginx's old workers."""
        self.reloads += 1
        for conn in list(self._idle):
            if not conn.head_arriving:
                conn.scope.cancel()

    def discard(self) -> None:
        """Close what a server that never served holds (a master's, after a reload): its
        access logs and its proxy's watch."""
        self.access_logs.close()
        self.proxy.aborts.close()

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
        with trio.move_on_after(grace) as self._grace:
            if self.stats.writing:
                await self._all_done.wait()
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    def hurry(self, grace: float) -> None:
        """A stop's grace for busy connections cut to `grace` seconds from now, if it had
        more left (TERM during a graceful stop)."""
        if self._grace is not None:
            self._grace.deadline = min(self._grace.deadline, trio.current_time() + grace)

    async def _connection(self, stream: trio.SocketStream, key: ListenKey) -> None:
        self.stats.handled += 1  # (no local: this frame lives as long as the connection)
        assert self.push is not None
        try:
            info = _connection_info(stream, self.stats, self.push.clock())
        except OSError:  # reset while it waited to be accepted: no peer left to serve
            await stream.aclose()
            return
        limits, rules, host_limits = self.site.connection_settings(info.server_addr, key[1])
        conn = HttpConnection(stream, limits, self.deadlines, rules, self.outbox, host_limits)
        self.stats.active += 1
        try:
            with conn.scope:  # timeouts and a stop cancel it
                await self._serve_requests(conn, info, key[1])
            timed_out = conn.timed_out_head()
            if timed_out is not None:  # nginx's 408 for a head cut short
                self._log_refused(conn, info, key[1], *timed_out)
        except ClientGone:
            pass
        except Exception:  # a fault of one connection's must not end everyone's
            log.exception("unhandled error on a connection from %s", info.remote_addr)
        finally:
            self.stats.active -= 1
            await conn.close()

    def _log_refused(
        self,
        conn: HttpConnection,
        info: ConnectionInfo,
        port: int,
        line: bytes,
        length: int | None = None,
    ) -> None:
        """nginx's access log line for a request refused as its head was read, in the logs of
        the address's default server (`length`: `$request_length`, when known)."""
        try:
            server = self.site.router.select(info.server_addr, port, "")
        except LookupError:
            return
        logs = self.access_logs.targets(server.server.own.level)
        if logs:
            status, sent = conn.status_sent, conn.body_bytes_sent
            lookup = refused_lookup(info, line, status, sent, time.time(), length)
            self.access_logs.write(logs, lookup)

    async def _serve_requests(self, conn: HttpConnection, info: ConnectionInfo, port: int) -> None:
        reloads = self.reloads
        while not self.stopping and self.reloads == reloads:
            self._idle.add(conn)  # a stop closes connections waiting for a request
            try:
                request = await conn.next_request()
            except MalformedRequest as malformed:
                await conn.error(malformed.status, close=True)
                self._log_refused(conn, info, port, malformed.line)
                return
            finally:
                self._idle.discard(conn)
            if request is None:
                return
            if length_and_chunked(request):
                # nginx: 'client sent "Content-Length" and "Transfer-Encoding" headers at the
                # same time'. Passing such a request on invites request smuggling.
                await conn.error(400, close=True)
                self._log_refused(conn, info, port, request_line(request))
                return
            self.stats.requests += 1
            self.stats.writing += 1
            try:
                # Inline, not a helper coroutine: a streaming subscriber holds every frame of
                # this path for its whole life.
                await self.routes.dispatch(conn, request, info, port)
            except (ClientGone, trio.Cancelled):
                raise
            except MalformedRequest as malformed:  # a broken body or Host, found on the way
                if conn.can_respond:
                    await conn.error(malformed.status, close=True)
                line = malformed.line or request_line(request)
                self._log_refused(conn, info, port, line)
                return
            except Exception:
                method, target = request.method.decode("latin-1"), request.target.decode("latin-1")
                log.exception("unhandled error for %s %s", method, target)
                if conn.can_respond:
                    await conn.error(500, close=True)
            finally:
                self.stats.writing -= 1
                if self.stopping and not self.stats.writing:
                    self._all_done.set()
            if conn.can_respond:
                return  # the handler gave up without answering (client gone)
            try:
                await conn.discard_body()
            except MalformedRequest:
                return  # answered already: the connection ends here
            if not conn.keep_alive:
                return
