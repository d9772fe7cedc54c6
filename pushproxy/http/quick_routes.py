"""Routes remembered by request head: what `dispatch` works out from a head alone.

Clients send the same head again and again (a publisher posting to its channel, a page's
assets through the proxy), and the request reader hands back the same parsed `Request` for the
same bytes (`wire.parse_head`). Where the server and the location have no rewrite directive
(`rewrite`, `if`, `set`, `return`, `break`), the target, the `Host`, the server block and the
location (its captures, a 413 for a body announced too large) follow from the head and the
local address alone: they are worked out once and found again by the `Request`'s identity.
Everything after the location's choice (the variables, realip, the access phase, the handler,
error pages, the access log) is done for every request as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from pushproxy.config.model import Location
from pushproxy.http.accesslog import AccessLogs
from pushproxy.http.phases import configure
from pushproxy.http.rewrite import Ending
from pushproxy.http.routing import LocationMatch, ServerMatch
from pushproxy.http.site import LocationSetup, Site
from pushproxy.http.target import RequestTarget
from pushproxy.http.variables import RequestVars
from pushproxy.http.wire import REMEMBERED_HEAD, Request
from pushproxy.logs import ErrorLog

# As many as the heads `wire.parse_head` remembers. A route keeps its head's `Request`, so no
# other object can take its id while the route is there.
_REMEMBERED_ROUTES = 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class QuickRoute:
    """One head's route on one local address and port: what `configure` found (the
    location, a 413 or 404 it ended with) and the location's error log."""

    request: Request  # the parsed head it is for (kept: its identity is the key)
    target: RequestTarget
    host: str
    server: ServerMatch
    match: LocationMatch
    ending: int | None
    setup: LocationSetup  # the location's
    error_log: ErrorLog | None  # (`REQUEST_LOG`)

    def apply(
        self, variables: RequestVars
    ) -> tuple[Location, Ending | None, LocationMatch | None, ErrorLog | None]:
        """What `QuickRoutes.configure` gave for the head, told to the request's variables."""
        match = self.match
        variables.setup = self.setup
        if match.captures is not None:
            variables.add_captures(match.captures)
        return match.location, self.ending, match, self.error_log


class QuickRoutes:
    """The remembered routes of one configuration (`site`) and its logs (a reload makes new
    ones: `Dispatcher.swap`); bounded, the oldest forgotten first."""

    __slots__ = ("_routes", "access_logs", "site")

    def __init__(self, site: Site, access_logs: AccessLogs) -> None:
        self.site = site
        self.access_logs = access_logs
        self._routes: dict[tuple[int, str, int], QuickRoute] = {}

    def __len__(self) -> int:
        return len(self._routes)

    def find(self, request: Request, address: str, port: int) -> QuickRoute | None:
        """The route remembered for this head on this local address and port, if any."""
        route = self._routes.get((id(request), address, port))
        return route if route is not None and route.request is request else None

    def configure(
        self,
        request: Request,
        found: tuple[RequestTarget, str, ServerMatch],
        variables: RequestVars,
        where: tuple[str, int],
    ) -> tuple[Location, Ending | None, LocationMatch | None, ErrorLog | None]:
        """`phases.configure` and the location's error log, for the head's target, `Host` and
        server (`found`) and the local address and port (`where`); remembered for the head
        when no rewrite directive of the server or the location had a say."""
        site, (target, host, server) = self.site, found
        location, ending, match = configure(site, server, variables, request)
        error_log = self.access_logs.error_log(location.level)
        if match is None or not isinstance(ending, int | None):
            return location, ending, match, error_log
        if request.head_size > REMEMBERED_HEAD:  # parsed anew each time: never seen again
            return location, ending, match, error_log
        rewrite = site.rewrite
        if not rewrite.scripted(server.server.own) and not rewrite.scripted(match.location):
            route = QuickRoute(
                request=request,
                target=target,
                host=host,
                server=server,
                match=match,
                ending=ending,
                setup=site.setups[id(location)],
                error_log=error_log,
            )
            self._remember(route, where)
        return location, ending, match, error_log

    def _remember(self, route: QuickRoute, where: tuple[str, int]) -> None:
        routes = self._routes
        if len(routes) >= _REMEMBERED_ROUTES:
            del routes[next(iter(routes))]
        routes[(id(route.request), *where)] = route
