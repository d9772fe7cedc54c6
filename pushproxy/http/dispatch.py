"""One request, from its head to its answer, as nginx routes it: the server block (address,
Host), the rewrite phases and the location search (`phases`), the preaccess and access phases
(an `auth_request` subrequest last), then the handler the location names (a push stream one,
`stub_status`, the reverse proxy, or the static files), the internal redirects a handler asks
for (an index file, a `try_files` fallback, an upstream's `X-Accel-Redirect`), and the
`error_page` that stands in for an error.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from pushproxy.config.model import Location
from pushproxy.config.tree import Directive
from pushproxy.http.accesslog import AccessLogs
from pushproxy.http.auth_request import AuthRequest, verdict
from pushproxy.http.basic_auth import Verdict
from pushproxy.http.connection import HttpConnection
from pushproxy.http.connection_variables import ConnectionInfo
from pushproxy.http.deadlines import Deadlines
from pushproxy.http.error_pages import ErrorCatcher
from pushproxy.http.exchange import Exchange, Jump
from pushproxy.http.pacing import answer_pacing
from pushproxy.http.phases import (
    URI_CHANGES,
    access_phase,
    configure,
    preaccess,
    refuse_access,
    trust_proxy,
)
from pushproxy.http.quick_routes import QuickRoutes
from pushproxy.http.responses import handle_return, redirect
from pushproxy.http.rewrite import Ending
from pushproxy.http.rewrite_rule import Redirect
from pushproxy.http.routing import LocationMatch, ServerMatch, request_host
from pushproxy.http.site import LocationSetup, Site
from pushproxy.http.static_files import handle_static
from pushproxy.http.stub_status import handle_stub_status
from pushproxy.http.subrequest import SubrequestConnection, bodiless
from pushproxy.http.target import BadRequest, RequestTarget, parse_target
from pushproxy.http.variables import RequestVars
from pushproxy.http.wire import Request, refused
from pushproxy.logs import REQUEST_LOG, request_context
from pushproxy.proxy.handler import ProxyRuntime, handle_proxy
from pushproxy.push.publisher import handle_publisher
from pushproxy.push.runtime import PushRuntime
from pushproxy.push.settings import LocationType
from pushproxy.push.statistics import handle_statistics
from pushproxy.push.subscriber import handle_subscriber
from pushproxy.push.websocket import handle_websocket

log = logging.getLogger("pushproxy")


def _prepare(conn: HttpConnection, setup: LocationSetup, variables: RequestVars) -> None:
    """The connection's settings from the location that answers (an error page's location
    replaces the first one's)."""
    conn.gzip = setup.gzip  # the client's Accept-Encoding is read only when it matters
    lookup = variables.lookup
    conn.add_headers(setup.added, lookup)
    if setup.sub_filter is not None:
        conn.filter_body(setup.sub_filter, lookup)
    assigned = variables.assigned("limit_rate")  # `set $limit_rate` overrides `limit_rate`
    conn.pacing = answer_pacing(setup.rate_limit, lookup, assigned)
    limits = conn.limits = setup.limits  # the location's keep-alive, body and send settings
    if not limits.keepalive_timeout:
        conn.end_after_response()  # `keepalive_timeout 0`: Connection: close
    elif variables.started - variables.connection.opened > limits.keepalive_time:
        conn.end_after_response()  # the connection has served long enough


class Dispatcher:
    """What requests are routed with: the configuration (`site`) and the runtimes of the
    push stream module (from the server's start), the proxy and the access logs; the server
    swaps them on a reload."""

    __slots__ = ("access_logs", "deadlines", "proxy", "push", "remembered", "site")

    def __init__(
        self, site: Site, proxy: ProxyRuntime, access_logs: AccessLogs, deadlines: Deadlines
    ) -> None:
        self.site = site
        self.proxy = proxy
        self.access_logs = access_logs
        self.deadlines = deadlines  # the connections' (a subrequest's too)
        self.push: PushRuntime | None = None
        self.remembered = QuickRoutes(site, access_logs)  # heads' routes (`quick_routes`)

    def swap(self, site: Site, access_logs: AccessLogs) -> None:
        """A reload's configuration and logs; the routes remembered with the old ones go."""
        self.site, self.access_logs = site, access_logs
        self.remembered = QuickRoutes(site, access_logs)

    async def dispatch(
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
        route = self.remembered.find(request, info.server_addr, port)
        if route is None:
            target, host, server = self._server(request, info, port)
        else:
            target, host, server = route.target, route.host, route.server
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
        exchange = Exchange(
            conn=conn,
            request=request,
            method=request.method.decode("latin-1"),
            lookup=variables.lookup,
            variables=variables,
            server=server,
        )
        if site.realip:  # nginx's post-read phase: the server's settings
            realip = site.setups[id(server.server.own)].realip
            if realip is not None:
                trust_proxy(realip, variables, request)
        if route is not None:  # what `configure` found for this head before
            location, ending, match, error_log = route.apply(variables)
        else:
            where = (info.server_addr, port)
            location, ending, match, error_log = self.remembered.configure(
                request, (target, host, server), variables, where
            )
        setup = site.setups[id(location)]  # every location and `if` block has one
        if error_log is not REQUEST_LOG.get():
            REQUEST_LOG.set(error_log)  # (only when it changes: each set costs a subscriber)
        _prepare(conn, setup, variables)
        if setup.error_pages is not None:
            conn.error_hook = ErrorCatcher(setup.error_pages)
        try:
            jump = await self._answer(exchange, location, setup, ending, match)
            if jump is not None:
                location = await self._follow(exchange, server, location, jump)
            if isinstance(conn.error_hook, ErrorCatcher) and conn.error_hook.status:
                location = await self._error_page(exchange, server, location, conn.error_hook)
        finally:
            logs = self.access_logs.targets(location.level)
            if logs and conn.status_sent:
                variables.respond(conn.sent_response())
                self.access_logs.write(logs, variables.lookup)

    def _server(
        self, request: Request, info: ConnectionInfo, port: int
    ) -> tuple[RequestTarget, str, ServerMatch]:
        """The request's target, its host and the server block that serves it."""
        site = self.site
        try:
            target = parse_target(request.target)
            host = request_host(target, request.headers, request.http_version)
        except BadRequest as bad:
            raise refused(request, 400, str(bad)) from None  # answered and logged by the server
        server = site.router.select(info.server_addr, port, host)
        if site.keeps_slashes and not site.merges_slashes(info.server_addr, port):
            target = parse_target(request.target, merge_slashes=False)
        return target, host, server

    def _answer(
        self,
        exchange: Exchange,
        location: Location,
        setup: LocationSetup,
        ending: Ending | None,
        match: LocationMatch | None,
        *,
        phases: bool = True,
    ) -> Awaitable[Jump | None]:
        """The answer to await once the location is chosen: the rewrite phase's ending, the
        slash redirect, or the access phases (not for a subrequest: not `phases`) and the
        handler (a plain function: no frame of its own, which a streaming subscriber would
        keep for its whole life)."""
        conn, variables = exchange.conn, exchange.variables
        assert variables is not None
        assert self.push is not None
        if isinstance(ending, Directive):  # before any content handler, push ones included
            return handle_return(exchange, location, ending, setup.mime_types)
        if isinstance(ending, Redirect):
            return redirect(exchange, location, ending.status, ending.location)
        if isinstance(ending, int):
            if ending == 413:  # (`configure`'s) logged in the location's error log
                length, context = exchange.request.content_length, request_context(variables.lookup)
                log.error("client intended to send too large body: %d bytes, %s", length, context)
            return conn.error(ending)
        if match is not None and match.redirect_to_slash:
            return redirect(exchange, location, 301, match.redirect_target(variables.target.args))
        if setup.direct or not phases:
            return self._handle(exchange, location, setup, self.push)
        if setup.preaccess:  # limits or a location's realip settings
            return self._limited(exchange, location, setup)
        return self._access(exchange, location, setup)

    def _access(
        self, exchange: Exchange, location: Location, setup: LocationSetup
    ) -> Awaitable[Jump | None]:
        """The access phase, then the handler (a plain function, as `_answer`)."""
        assert exchange.variables is not None
        assert self.push is not None
        if setup.auth_request is not None:
            return self._access_asking(exchange, location, setup, setup.auth_request)
        refusal = access_phase(setup, exchange.variables, exchange.request, exchange.method)
        if refusal is not None:
            return refuse_access(exchange.conn, refusal, setup.auth_delay)
        return self._handle(exchange, location, setup, self.push)

    async def _access_asking(
        self, exchange: Exchange, location: Location, setup: LocationSetup, asked: AuthRequest
    ) -> Jump | None:
        """The access phase with its `auth_request` subrequest last, as nginx runs it: with
        `satisfy all`, asked once the rules and `auth_basic` let the request in; with
        `satisfy any`, unless they did (and of two refusals the 401 wins)."""
        assert exchange.variables is not None
        assert self.push is not None
        refusal = None
        if setup.access is not None or setup.auth is not None:
            refusal = access_phase(setup, exchange.variables, exchange.request, exchange.method)
            if refusal is not None and not setup.satisfy_any:
                await refuse_access(exchange.conn, refusal, setup.auth_delay)
                return None
            if refusal is None and setup.satisfy_any:
                return await self._handle(exchange, location, setup, self.push)
        answer = await self._ask(exchange, asked)
        if not answer.status:
            return await self._handle(exchange, location, setup, self.push)
        if refusal is not None and refusal.status == 401 and answer.status == 403:
            answer = refusal
        await refuse_access(exchange.conn, answer, setup.auth_delay)
        return None

    async def _ask(self, exchange: Exchange, asked: AuthRequest) -> Verdict:
        """The `auth_request` subrequest: a GET of its URI with the client's headers, run
        through the location it finds (no access phase) to the head of its answer."""
        variables, server = exchange.variables, exchange.server
        assert variables is not None
        assert server is not None
        sub_vars = variables.subrequest(variables.target.rewrite(asked.uri, asked.args))
        request = bodiless(exchange.request)
        conn = SubrequestConnection(exchange.conn, request, self.deadlines)
        sub = Exchange(
            conn=conn,
            request=request,
            method="GET",
            lookup=sub_vars.lookup,
            variables=sub_vars,
            server=server,
        )
        location, ending, match = configure(self.site, server, sub_vars, request)
        setup = self.site.setups[id(location)]
        _prepare(conn, setup, sub_vars)
        jump = await self._answer(sub, location, setup, ending, match, phases=False)
        if jump is not None:
            await self._follow(sub, server, location, jump, catch=False, phases=False)
        asked.keep(sub_vars.lookup, variables.set)
        context = request_context(variables.lookup)
        return verdict(conn.status_sent, conn.answered_headers(), context)

    async def _error_page(
        self, exchange: Exchange, server: ServerMatch, location: Location, caught: ErrorCatcher
    ) -> Location:
        """The error page that stands in for the error `caught` took over (see
        `error_pages`); the location that served it. An error while serving it gets nginx's
        own page, unless the location that failed says `recursive_error_pages on`: then the
        page's location's `error_page`s take it over too, within nginx's ten redirects."""
        conn, variables = exchange.conn, exchange.variables
        assert variables is not None
        for _ in range(URI_CHANGES - 1):
            recursive = self.site.setups[id(location)].recursive_error_pages
            conn.error_hook = None
            page = caught.pages.page(caught.status, variables.lookup)
            assert page is not None
            if page.redirect:
                await redirect(exchange, location, page.redirect, page.uri)
                return location
            conn.status_override = page.status or 0
            if caught.status == 413:  # nginx dropped the body it refused: no location judges it
                exchange.request = exchange.request._replace(content_length=None, chunked=False)
            if exchange.method != "HEAD":
                exchange.method = "GET"
                variables.set_method("GET")
            jump = Jump(*page.target())
            location = await self._follow(exchange, server, location, jump, catch=recursive)
            if not (isinstance(conn.error_hook, ErrorCatcher) and conn.error_hook.status):
                return location
            caught = conn.error_hook
        log.error("rewrite or internal redirection cycle while processing error pages, %s",
                  request_context(variables.lookup))  # fmt: skip
        conn.error_hook = None
        await conn.error(500)
        return location

    async def _follow(
        self,
        exchange: Exchange,
        server: ServerMatch,
        location: Location,
        jump: Jump,
        *,
        catch: bool = True,
        phases: bool = True,
    ) -> Location:
        """An internal redirect (an error page, or what the static handler asked for: an
        index file, a `try_files` fallback) and those that follow it, as nginx does them: a
        URI is looked up anew, with the phases before its handler; a named location serves
        the request as it is. `catch`: the new location's `error_page`s take over its errors
        (not while an error page is served). The location that answered, in the end."""
        conn, variables = exchange.conn, exchange.variables
        assert variables is not None
        changes = URI_CHANGES
        next_jump: Jump | None = jump
        while next_jump is not None:
            jump = next_jump
            changes -= 1
            if not changes:
                log.error(
                    "rewrite or internal redirection cycle while internally redirecting to "
                    '"%s", %s',
                    jump.uri,
                    request_context(variables.lookup),
                )
                await conn.error(500)
                return location
            match = None
            if jump.named:
                named = server.locations.named(jump.uri)
                if named is None:
                    log.error('could not find named location "%s"', jump.uri)
                    await conn.error(500)
                    return location
                variables.setup = self.site.setups[id(named)]
                location, ending = self.site.rewrite.run(named, variables)
            else:
                variables.retarget(variables.target.rewrite(jump.uri, jump.args))
                location, ending, match = configure(self.site, server, variables, exchange.request)
            setup = self.site.setups[id(location)]
            _prepare(conn, setup, variables)
            pages = setup.error_pages
            if catch:
                conn.error_hook = ErrorCatcher(pages) if pages is not None else None
            next_jump = await self._answer(exchange, location, setup, ending, match, phases=phases)
        return location

    async def _limited(
        self, exchange: Exchange, location: Location, setup: LocationSetup
    ) -> Jump | None:
        """nginx's preaccess phase (realip, `limit_req`, `limit_conn`), its access phase, then
        the handler; a `limit_conn` place is held until the handler is done."""
        assert exchange.variables is not None
        status, leave = await preaccess(setup, exchange.variables, exchange.request)
        try:
            if status:
                await exchange.conn.error(status)
                return None
            return await self._access(exchange, location, setup)
        finally:
            leave()

    def _handle(
        self, exchange: Exchange, location: Location, setup: LocationSetup, push: PushRuntime
    ) -> Awaitable[Jump | None]:
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
        if setup.stub_status and exchange.variables is not None:
            stats = exchange.variables.connection.stats
            if stats is not None:
                return handle_stub_status(exchange, stats)
        proxy = self.proxy
        if proxy.passes(location):
            return handle_proxy(exchange, location, proxy)
        static = setup.static
        if proxy.default is not None and not static.root.named:
            return handle_proxy(exchange, location, proxy)  # `--upstream`'s application
        return handle_static(exchange, location, static)
