"""`resolver`: a name in a `proxy_pass` with variables, resolved at request time by the
configured name server (a small DNS server here), kept for its TTL or `valid=`, and nginx's
502 and error line for a name that does not resolve or a server that does not answer."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
import trio
from helpers import request
from trio.testing import MockClock, wait_all_tasks_blocked

from pushproxy.config.model import Level
from pushproxy.config.tree import Directive
from pushproxy.errors import ConfigError
from pushproxy.proxy.resolver import ResolverSettings

from .conftest import AppFactory, ProxyFactory
from .support import conf, echoed


class NameServer:
    """Answers A and AAAA questions from `records` (name → addresses) with `ttl`; counts the
    questions; `silent` ones are never answered."""

    def __init__(self, records: dict[str, list[str]], ttl: int = 30) -> None:
        self.records = records
        self.ttl = ttl
        self.questions: list[tuple[str, str]] = []
        self.silent = False
        self.hold: trio.Event | None = None  # answers wait for it when set
        self.port = 0

    async def serve(self, sock: trio.socket.SocketType) -> None:
        while True:
            data, client = await sock.recvfrom(4096)
            query = dns.message.from_wire(data)
            question = query.question[0]
            name = question.name.to_text(omit_final_dot=True)
            rdtype = dns.rdatatype.to_text(question.rdtype)
            self.questions.append((name, rdtype))
            if self.silent:
                continue
            if self.hold is not None:
                await self.hold.wait()
            response = dns.message.make_response(query)
            addresses = self.records.get(name)
            if addresses is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
            else:
                wanted = [a for a in addresses if (":" in a) == (rdtype == "AAAA")]
                if wanted:
                    rrset = dns.rrset.from_text(question.name, self.ttl, "IN", rdtype, *wanted)
                    response.answer.append(rrset)
            await sock.sendto(response.to_wire(), client)


@asynccontextmanager
async def name_server(records: dict[str, list[str]], ttl: int = 30) -> AsyncIterator[NameServer]:
    server = NameServer(records, ttl)
    sock = trio.socket.socket(type=trio.socket.SOCK_DGRAM)
    await sock.bind(("127.0.0.1", 0))
    server.port = sock.getsockname()[1]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.serve, sock)
        yield server
        nursery.cancel_scope.cancel()
    sock.close()


def _site(dns_port: int, app_port: int, resolver: str = "") -> str:
    return conf(
        f"resolver 127.0.0.1:{dns_port} {resolver}; "
        f"location / {{ proxy_pass http://$arg_name:{app_port}; }}"
    )


async def test_a_name_resolved_by_the_configured_server_is_proxied_to(
    proxy: ProxyFactory, app: AppFactory
) -> None:
    upstream = await app("a")
    async with (
        name_server({"app.test": ["127.0.0.1"]}) as dns_server,
        proxy(_site(dns_server.port, upstream.port)) as server,
    ):
        first = await request(server.port(), "GET", "/x?name=app.test")
        second = await request(server.port(), "GET", "/y?name=APP.test")
    assert echoed(first)["app"] == "a"
    assert echoed(second)["target"] == "/y?name=APP.test"
    # A and AAAA once: the second request used the answer kept for its TTL
    assert sorted(dns_server.questions) == [("app.test", "A"), ("app.test", "AAAA")]


async def test_an_answer_is_kept_for_its_ttl_or_valid(
    proxy: ProxyFactory, app: AppFactory, mock_clock: MockClock
) -> None:
    upstream = await app("a")
    async with name_server({"app.test": ["127.0.0.1"]}, ttl=5) as dns_server:
        async with proxy(_site(dns_server.port, upstream.port, "ipv6=off")) as server:
            for _ in range(2):
                await request(server.port(), "GET", "/?name=app.test")
            mock_clock.jump(6)
            await request(server.port(), "GET", "/?name=app.test")
        assert dns_server.questions == [("app.test", "A")] * 2
        dns_server.questions.clear()
        async with proxy(_site(dns_server.port, upstream.port, "valid=60s ipv6=off")) as server:
            await request(server.port(), "GET", "/?name=app.test")
            mock_clock.jump(30)
            await request(server.port(), "GET", "/?name=app.test")
        assert dns_server.questions == [("app.test", "A")]


@pytest.mark.parametrize(
    ("records", "status"), [({"app.test": ["127.0.0.1"]}, 200), ({}, 502)], ids=["found", "not"]
)
async def test_requests_for_a_name_being_resolved_wait_for_its_answer(
    proxy: ProxyFactory, app: AppFactory, records: dict[str, list[str]], status: int
) -> None:
    upstream = await app("a")
    statuses: list[int] = []
    async with (
        name_server(records) as dns_server,
        proxy(_site(dns_server.port, upstream.port, "ipv6=off")) as server,
    ):
        dns_server.hold = trio.Event()

        async def ask() -> None:
            statuses.append((await request(server.port(), "GET", "/?name=app.test")).status)

        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(ask)
            await wait_all_tasks_blocked(cushion=0.1)  # all three wait on the one question
            dns_server.hold.set()
    assert statuses == [status] * 3  # the answer, or the error, of one question
    assert dns_server.questions == [("app.test", "A")]


async def test_a_name_that_does_not_resolve_is_a_502(
    proxy: ProxyFactory, app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    upstream = await app("a")
    async with (
        name_server({}) as dns_server,
        proxy(_site(dns_server.port, upstream.port)) as server,
    ):
        response = await request(server.port(), "GET", "/?name=nope.test")
    assert response.status == 502
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert line.startswith("nope.test could not be resolved (3: Host not found), client: ")


async def test_a_server_that_does_not_answer_times_out(
    proxy: ProxyFactory,
    app: AppFactory,
    caplog: pytest.LogCaptureFixture,
    autojump_clock: MockClock,
) -> None:
    upstream = await app("a")
    async with name_server({"app.test": ["127.0.0.1"]}) as dns_server:
        dns_server.silent = True
        site = _site(dns_server.port, upstream.port).replace(
            "resolver ", "resolver_timeout 5s; resolver ", 1
        )
        async with proxy(site) as server:
            started = trio.current_time()
            response = await request(server.port(), "GET", "/?name=app.test")
            waited = trio.current_time() - started
    assert response.status == 502
    assert 5 <= waited < 6
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert line.startswith("app.test could not be resolved (110: Operation timed out)")


def _level(*args: str, timeout: str | None = None) -> Level:
    """A level with `resolver ARGS;` (and `resolver_timeout`)."""

    def directive(name: str, *values: str) -> Directive:
        return Directive(name=name, args=values, file="f", line=3, column=1, end_line=3)

    items = [directive("resolver", *args)]
    if timeout is not None:
        items.append(directive("resolver_timeout", timeout))
    return Level.of(items)


def _names(host: str) -> list[str]:
    known = {"dns.local": ["10.0.0.53"]}
    if host not in known:
        raise OSError(f"{host}: not found")
    return known[host]


def test_the_resolver_directive_as_nginx_reads_it() -> None:
    servers = ("127.0.0.11", "[::1]:5353", "dns.local:54")
    settings = ResolverSettings.of(_level(*servers, "valid=10s", "ipv6=off", timeout="2s"), _names)
    assert settings is not None
    assert settings.servers == (("127.0.0.11", 53), ("::1", 5353), ("10.0.0.53", 54))
    assert (settings.valid, settings.ipv4, settings.ipv6, settings.timeout) == (10, True, False, 2)
    with pytest.raises(ConfigError, match=re.escape('host not found in resolver "nowhere.local"')):
        ResolverSettings.of(_level("nowhere.local"), _names)
    with pytest.raises(ConfigError, match=re.escape('invalid parameter "valid=soon"')):
        ResolverSettings.of(_level("127.0.0.1", "valid=soon"), _names)
