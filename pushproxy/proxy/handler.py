"""What the HTTP server calls: `ProxyRuntime` (one per served configuration) and
`handle_proxy` for a location with `proxy_pass`, or any location the default upstream serves.
"""

from __future__ import annotations

import logging

import trio

from pushproxy.config.complex import Lookup
from pushproxy.config.model import Config, Location, walk_locations
from pushproxy.errors import ConfigError
from pushproxy.http.clientwatch import ClientWatch
from pushproxy.http.exchange import Exchange, Jump
from pushproxy.http.target import as_text, parse_target
from pushproxy.http.transport import BodyTooLarge
from pushproxy.logs import request_context
from pushproxy.proxy.accel import accel_jump
from pushproxy.proxy.address import ProxyUrl, Resolve, parse_proxy_url, resolve_host
from pushproxy.proxy.body import RequestBody, client_framing
from pushproxy.proxy.connect import Connector
from pushproxy.proxy.forward import forward
from pushproxy.proxy.job import Job
from pushproxy.proxy.remembered import upstream_request
from pushproxy.proxy.request import set_headers
from pushproxy.proxy.resolver import NameResolver, ResolveError, ResolverSettings
from pushproxy.proxy.settings import ProxySettings
from pushproxy.proxy.tls import TlsTarget, client_context
from pushproxy.proxy.upstream import UpstreamGroup, Upstreams

log = logging.getLogger("pushproxy")


def default_upstream_url(text: str) -> ProxyUrl:
    """`--upstream URL`: `http://host:port` (or a block's name); ValueError otherwise. A
    path is not allowed: every request URI passes unchanged, as `proxy_pass` without one."""
    url = parse_proxy_url(text)
    if url.uri not in (None, "/"):
        raise ValueError(f'the default upstream "{text}" may not have a URI part')
    return parse_proxy_url(text.removesuffix("/")) if url.uri else url


class ProxyRuntime:
    """The upstreams of one configuration, their peers' health and their idle connections.

    Built at load (names resolved then, as nginx does); `run()` is the task that sweeps and
    finally closes idle upstream connections, and watches the clients of requests in flight.
    """

    __slots__ = (
        "_default_text", "_folder", "_groups", "_inherited", "_resolve", "_resolvers",
        "_settings", "aborts", "connector", "default", "upstreams",
    )  # fmt: skip

    def __init__(
        self,
        config: Config,
        default_upstream: str | None = None,
        *,
        resolve: Resolve = resolve_host,
    ) -> None:
        self._default_text = default_upstream
        self._resolve = resolve
        self.connector = Connector()
        self.aborts = ClientWatch(readable=False)  # clients of requests waiting on upstreams
        self.apply(config)

    def apply(self, config: Config) -> None:
        """Take a (re)loaded configuration: upstreams and locations anew (peers' health
        starts over, as after nginx's reload); idle connections of the old upstreams expire
        in their pools. ConfigError if it names a host that does not resolve."""
        self.upstreams = Upstreams.build(config.http, self._resolve)
        self._folder = config.prefix  # where relative certificate paths start
        text = self._default_text
        self.default = default_upstream_url(text) if text else None
        self._settings: dict[int, ProxySettings] = {}
        self._resolvers: dict[ResolverSettings, NameResolver] = {}
        self._groups: dict[int, UpstreamGroup] = {}
        # `if` blocks without their own proxy_pass → the location whose proxy_pass they keep
        self._inherited: dict[int, Location] = {}
        if self.default is not None:
            self._group(self.default, None)
        http = config.http
        for server in http.servers if http is not None else ():
            for location in walk_locations(server.locations):
                if "proxy_pass" in location.level.own:
                    self._inherit(location, location.conditions)
                    self.settings(location)

    def _inherit(self, passing: Location, blocks: tuple[Location, ...]) -> None:
        for block in blocks:
            if "proxy_pass" not in block.level.own:
                self._inherited[id(block)] = passing
                self._inherit(passing, block.conditions)

    def passes(self, location: Location) -> bool:
        """Whether a (non-push, no `return`) location has a `proxy_pass` (its own, or its
        location's for an `if` block)."""
        return "proxy_pass" in location.level.own or id(location) in self._inherited

    def settings(self, location: Location) -> ProxySettings:
        found = self._settings.get(id(location))
        if found is None:
            passing = self._inherited.get(id(location))
            found = ProxySettings.build(
                location, self.default, passing=passing, resolve=self._resolve, folder=self._folder
            )
            if found.url is not None:
                self._groups[id(location)] = self._group(found.url, location)
            self._settings[id(location)] = found
        return found

    def resolver(self, settings: ResolverSettings | None) -> NameResolver | None:
        """The name resolver of a `resolver` setting, its answers kept across requests."""
        if settings is None:
            return None
        found = self._resolvers.get(settings)
        if found is None:
            found = self._resolvers[settings] = NameResolver(settings)
        return found

    def group(self, location: Location) -> UpstreamGroup | None:
        """The group of a location whose `proxy_pass` has no variables."""
        return self._groups.get(id(location))

    def _group(self, url: ProxyUrl, location: Location | None) -> UpstreamGroup:
        try:
            group = self.upstreams.for_url(url)
        except OSError:
            group = None
        if group is None:
            directive = location.level.last("proxy_pass") if location is not None else None
            raise ConfigError(
                f'host not found in upstream "{url.authority}"',
                file=directive.file if directive else "",
                line=directive.end_line if directive else 0,
            )
        return group

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.aborts.run)
            await self.connector.run()
            nursery.cancel_scope.cancel()


async def handle_proxy(
    exchange: Exchange, location: Location, runtime: ProxyRuntime
) -> Jump | None:
    """Pass the request upstream and its response back (or nginx's error page); or the
    internal redirect an upstream's `X-Accel-Redirect` asks for."""
    conn = exchange.conn
    settings = runtime.settings(location)
    url, group = settings.url, runtime.group(location)
    if url is None and settings.target is not None:
        text = exchange.evaluate(settings.target)
        try:
            url = parse_proxy_url(text)
        except ValueError as error:
            log.error("%s, %s", error, request_context(exchange.lookup))
            await conn.error(500)
            return None
        group = runtime.upstreams.for_url(url, resolve=False)
        if group is None:
            group = await _resolved(exchange, runtime, settings, url)
            if group is None:
                await conn.error(502)
                return None
    if url is None or group is None:
        await conn.error(404)
        return None
    await conn.answer_expect()  # nginx reads (or drops) the body before going upstream
    variables = exchange.variables
    if variables is not None:  # $proxy_host and $proxy_port, for the headers and the logs
        variables.set_proxy(url.authority, url.effective_port)

    request = exchange.request
    length, chunked = client_framing(request)
    max_size = settings.client_max_body_size
    try:
        if max_size and length is not None and length > max_size:
            raise BodyTooLarge
        if settings.set_body is not None:
            body = RequestBody.fixed(settings.set_body.evaluate(exchange.lookup).encode())
        elif not settings.pass_request_body or (length is None and not chunked):
            body = RequestBody.fixed(None)  # (none announced: nothing to wait for)
        else:
            body = await RequestBody.read(
                conn,
                length,
                max_size=max_size,
                buffer_size=settings.client_body_buffer_size,
                stream_chunked=not settings.request_buffering and settings.http_version == "1.1",
            )
    except BodyTooLarge:
        context = request_context(exchange.lookup)
        if length is not None:
            log.error("client intended to send too large body: %d bytes, %s", length, context)
        else:
            log.error(
                "client intended to send too large chunked body: over %d bytes, %s",
                max_size,
                context,
            )
        await conn.error(413, close=True)
        return None

    job = None
    try:
        job = _job(exchange, settings, group, url, body)
        await forward(job, runtime.connector, runtime.aborts)
    except BodyTooLarge:
        if conn.can_respond:
            await conn.error(413, close=True)
    finally:
        if job is not None and variables is not None:
            variables.record_upstream(job.tries)  # for the access log's `$upstream_*`
        if body.open:
            await body.aclose()
    if job is not None and job.redirected:
        return await _accel_redirect(exchange, job.redirected[-1])
    return None


async def _accel_redirect(exchange: Exchange, value: bytes) -> Jump | None:
    """The internal redirect an upstream's `X-Accel-Redirect` asks for, as a GET unless the
    request is a HEAD; an unsafe URI is nginx's 404."""
    jump = accel_jump(value)
    if jump is None:
        context = request_context(exchange.lookup)
        log.error('unsafe URI "%s" was detected, %s', as_text(value), context)
        await exchange.conn.error(404)
        return None
    if not jump.named and exchange.method != "HEAD":
        exchange.method = "GET"
        if exchange.variables is not None:
            exchange.variables.set_method("GET")
    return jump


async def _resolved(
    exchange: Exchange, runtime: ProxyRuntime, settings: ProxySettings, url: ProxyUrl
) -> UpstreamGroup | None:
    """The peers of a name only a request names, by the location's `resolver`; None (the
    error logged as nginx logs it) when there is none or the name does not resolve."""
    resolver = runtime.resolver(settings.resolver)
    if resolver is None:
        log.error(
            "no resolver defined to resolve %s, %s", url.host, request_context(exchange.lookup)
        )
        return None
    try:
        addresses = await resolver.resolve(url.host)
    except ResolveError as error:
        log.error("%s, %s", error, request_context(exchange.lookup))
        return None
    return runtime.upstreams.resolved(url, addresses)


def _job(
    exchange: Exchange,
    settings: ProxySettings,
    group: UpstreamGroup,
    url: ProxyUrl,
    body: RequestBody,
) -> Job:
    request, lookup, variables = exchange.request, exchange.lookup, exchange.variables
    method = settings.method.evaluate(lookup) if settings.method else exchange.method
    made = upstream_request(
        request,
        variables.target if variables is not None else parse_target(request.target),
        settings,
        method,
        set_headers(settings.headers, lookup, framing=body.framing),
        uri_part=url.uri,
    )
    return Job(
        exchange=exchange,
        settings=settings,
        group=group,
        scheme=url.scheme,
        method=method,
        target=made.target,
        head=made.head,
        reusable=made.reusable,
        body=body,
        upgrade=made.upgrade and exchange.header(b"upgrade") is not None,
        tries=[],
        tls=_tls(settings, url, lookup) if url.scheme == "https" else None,
        redirected=[],
        trying=[],
    )


def _tls(settings: ProxySettings, url: ProxyUrl, lookup: Lookup) -> TlsTarget:
    """An https upstream's context, and the name sent with `proxy_ssl_server_name on` (or
    checked with `proxy_ssl_verify on`): `proxy_ssl_name`, by default the URL's host."""
    name = settings.ssl_name.evaluate(lookup) if settings.ssl_name is not None else url.host
    name = name.rsplit(":", 1)[0] if name.count(":") == 1 else name  # `$proxy_host`'s port off
    context = client_context(
        settings.ssl_verify,
        settings.ssl_trusted_certificate,
        settings.ssl_certificate,
        settings.ssl_certificate_key,
    )
    wanted = settings.ssl_server_name or settings.ssl_verify
    return TlsTarget(context=context, server_name=name if wanted and name else None)
