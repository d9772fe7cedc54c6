"""The phases between a request head and its handler, as nginx runs them: realip's (the
client's address from a trusted proxy), the rewrite phases with the location lookup between
them (again while `rewrite`s change the URI), the preaccess phase (`limit_req`, `limit_conn`)
and the access phase (`allow`/`deny`, `auth_basic`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

import trio

from pushproxy.config.model import Location
from pushproxy.http.basic_auth import Verdict
from pushproxy.http.connection import HttpConnection
from pushproxy.http.pages import error_page
from pushproxy.http.realip import RealIp
from pushproxy.http.rewrite import Ending, SearchAgain
from pushproxy.http.routing import LocationMatch, ServerMatch
from pushproxy.http.site import LocationSetup, Site, body_too_large
from pushproxy.http.variables import RequestVars
from pushproxy.http.wire import Request
from pushproxy.logs import request_context

log = logging.getLogger("pushproxy")
# nginx's NGX_HTTP_MAX_URI_CHANGES + 1: location searches a request may start after the first
URI_CHANGES = 11


def trust_proxy(realip: RealIp, variables: RequestVars, request: Request) -> None:
    """realip: the client's address as a trusted proxy in front reports it."""
    client = realip.client(variables.client_addr, request.headers)
    if client is not None:
        variables.set_client(*client)


def configure(
    site: Site, server: ServerMatch, variables: RequestVars, request: Request
) -> tuple[Location, Ending | None, LocationMatch | None]:
    """The configuration that serves the request, how its rewrite phases ended and the
    location match; the ending is 413 when the location refuses the body's announced size.

    The server's rewrite phase runs first, then nginx's find-config phase (the location,
    its body limit, the slash redirect) and the location's rewrite phase, again for as
    long as a `rewrite` changes the URI, up to nginx's limit."""
    own = server.server.own
    variables.setup = site.setups[id(own)]  # `$request_filename` at server level...
    location, ending = site.rewrite.run(own, variables)
    match = None
    searches = URI_CHANGES
    while ending is None or isinstance(ending, SearchAgain):
        if match is not None:  # a location's `rewrite` changed the URI: search again
            searches -= 1
            if not searches:
                log.error(
                    'rewrite or internal redirection cycle while processing "%s", %s',
                    variables.target.uri,
                    request_context(variables.lookup),
                )
                return location, 500, match
        found = variables.target
        if found.left_location:  # a server-level `break` does not outlive the search
            variables.retarget(replace(found, left_location=False))
        match = server.locations.match(found.uri)
        if match.captures is not None:
            variables.add_captures(match.captures)
        location = match.location
        variables.setup = site.setups[id(location)]  # `$request_filename`...
        if "internal" in location.level.own and not found.rewritten:
            return location, 404, match  # only a rewrite (an internal redirect) gets there
        if body_too_large(request, location.level):
            return location, 413, match  # the location's error_page and access log apply
        if match.redirect_to_slash:
            return location, None, match
        location, ending = site.rewrite.run(location, variables)
        if ending is None:
            break
    return location, ending, match


def _nothing() -> None:
    pass


async def preaccess(
    setup: LocationSetup, variables: RequestVars, request: Request
) -> tuple[int, Callable[[], None]]:
    """The location's preaccess phase, as nginx runs it: realip with the location's settings
    (unless the server's gave the client's address already), `limit_req` (which may hold the
    request back a while), then `limit_conn`. The status to refuse with (0: none), and what
    to call once the request is over."""
    if setup.realip is not None and not variables.client_replaced:
        trust_proxy(setup.realip, variables, request)
    rates = setup.request_limits
    if rates is not None:
        now_ms = int(trio.current_time() * 1000)
        outcome, status, held = rates.check(
            variables.lookup, now_ms, request_context(variables.lookup)
        )
        variables.set("limit_req_status", outcome)
        if status:
            return status, _nothing
        if held:
            await trio.sleep(held)
    connections = setup.connection_limits
    if connections is None:
        return 0, _nothing
    outcome, status, leave = connections.enter(
        variables.lookup, request_context(variables.lookup)
    )
    variables.set("limit_conn_status", outcome)
    return status, leave


def access_phase(
    setup: LocationSetup, variables: RequestVars, request: Request, method: str
) -> Verdict | None:
    """The location's access phase, as nginx runs it: the `allow`/`deny` rules and
    `auth_basic`. With `satisfy all` (the default) each must let the request in, the rules
    first; with `satisfy any` one suffices, and of two refusals the 401 wins. None: the
    handler runs; else the refusal to answer."""
    any_one = setup.satisfy_any
    refusal: Verdict | None = None
    access = setup.access
    if access is not None:
        if access.allows(method, variables.client_addr):
            if any_one:
                return None
        elif not any_one:
            return _forbidden(variables)
        else:
            refusal = Verdict(403)
    auth = setup.auth
    verdict = None
    if auth is not None:
        verdict = auth.check(request.headers, variables.lookup, request_context(variables.lookup))
    if verdict is not None:
        if not verdict.status:
            if any_one:
                return None
        elif not any_one or verdict.status not in (401, 403):
            return verdict
        elif refusal is None or refusal.status != 401:
            refusal = verdict
    if refusal is not None and refusal.status == 403:
        return _forbidden(variables)
    return refusal


def _forbidden(variables: RequestVars) -> Verdict:
    """A 403 of the access phase, logged as nginx logs it."""
    log.error("access forbidden by rule, %s", request_context(variables.lookup))
    return Verdict(403)


async def refuse_access(conn: HttpConnection, refusal: Verdict, auth_delay: float = 0.0) -> None:
    """The access phase's refusal: nginx's page, and for a 401 the realm to log in to (or an
    `auth_request` subrequest's challenges), which an `error_page` for 401 answers with too;
    a 401 comes `auth_delay` seconds late (a guesser learns nothing from the timing)."""
    if refusal.status != 401:
        await conn.error(refusal.status)
        return
    if auth_delay:
        await trio.sleep(auth_delay)
    if refusal.challenges is not None:  # an `auth_request` subrequest's
        challenges = list(refusal.challenges)
    else:
        realm = f'Basic realm="{refusal.realm}"'.encode("utf-8", "surrogateescape")
        challenges = [(b"WWW-Authenticate", realm)]
    hook = conn.error_hook
    if hook is not None and hook(401):
        conn.carried = challenges
        return
    headers = [(b"Content-Type", b"text/html"), *challenges]
    await conn.respond(401, headers, error_page(401))
