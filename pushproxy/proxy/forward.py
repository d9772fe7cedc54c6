"""One request through an upstream: pick a peer, connect, send, read the response head, then
stream the body back as it comes (never a whole body in memory), or move to the next peer.

nginx's behaviour kept here:
- timeouts: `proxy_connect_timeout` to connect, `proxy_send_timeout` per write,
  `proxy_read_timeout` between two reads once the request is out;
- `proxy_next_upstream`: a failed try (error, timeout, invalid header, or a listed status) goes
  to the next peer only while nothing was sent to the client, peers and tries are left, the
  body can be sent again, and, once the request went out, only for idempotent methods unless
  `non_idempotent`; otherwise 502 (504 for a timeout), or the listed status passes through;
- a failure after the response started closes the client connection mid-response;
- the client closing its connection while the upstream works ends the request (unless
  `proxy_ignore_client_abort`);
- an `Upgrade` request the upstream answers with 101 becomes a tunnel;
- `proxy_buffering` on or off, the body goes out as it comes (nothing is held back).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from pushproxy.config.complex import Lookup
from pushproxy.http.clientwatch import ClientWatch
from pushproxy.http.connection import BodyTooLarge, ClientGone, own_headers, send_soon
from pushproxy.http.exchange import Exchange
from pushproxy.http.variables import UpstreamTry
from pushproxy.proxy.body import RequestBody
from pushproxy.proxy.connect import (
    TIMED_OUT,
    Connector,
    UpstreamConnection,
    UpstreamFailure,
    describe,
)
from pushproxy.proxy.reader import InvalidResponse, ResponseHead, ResponseReader
from pushproxy.proxy.request import NON_IDEMPOTENT
from pushproxy.proxy.response import RedirectBase, client_headers
from pushproxy.proxy.settings import NEXT_STATUSES, ProxySettings
from pushproxy.proxy.tunnel import switch_protocols
from pushproxy.proxy.upstream import Peer, UpstreamGroup

log = logging.getLogger("pushproxy")
_READ_SIZE = 65536

# (condition, whether the request went out, tries still to be counted) → may go to the next peer
MayRetry = Callable[[str, bool, int], bool]


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """A request ready to go: where, and the bytes of its head."""

    exchange: Exchange
    settings: ProxySettings
    group: UpstreamGroup
    scheme: str
    method: str
    target: bytes
    head: bytes  # request line and headers, as sent
    reusable: bool  # HTTP/1.1 and no `Connection: close`: the upstream connection may serve again
    body: RequestBody
    lookup: Lookup
    upgrade: bool  # the client asked for a protocol switch
    tries: list[UpstreamTry] = field(default_factory=list)  # each peer tried, as it ended

    def context(self, peer: Peer | None) -> str:
        """The tail nginx puts on an upstream error line."""
        upstream = ""
        if peer is not None:
            upstream = f', upstream: "{self.scheme}://{peer.name}{self.target.decode("latin-1")}"'
        return request_context(self.lookup, upstream)


def request_context(look: Lookup, upstream: str = "") -> str:
    """`client: ..., server: ..., request: "...", host: "..."`: what nginx ends an error line
    about a request with (`upstream`, when given, goes before the host)."""
    return (
        f"client: {look('remote_addr') or ''}, server: {look('server_name') or ''}, "
        f'request: "{look("request") or ""}"{upstream}, host: "{look("http_host") or ""}"'
    )


class _Stale(Exception):
    """A reused idle connection the peer had closed: try again on a new one."""


async def forward(job: Job, connector: Connector, aborts: ClientWatch) -> None:
    """Answer the client from the group's peers; never raises but ClientGone."""
    settings = job.settings
    attempts = job.group.balancer.start(settings.next_upstream_tries)
    started = trio.current_time()

    def may_retry(condition: str, sent: bool, pending: int) -> bool:
        if not settings.retries_on(condition):
            return False
        if sent and job.method in NON_IDEMPOTENT and not settings.retries_on("non_idempotent"):
            return False
        if job.body.started and not job.body.replayable:
            return False
        limit = settings.next_upstream_timeout
        if limit and trio.current_time() - started >= limit:
            return False
        return attempts.tries - pending > 0

    while True:
        peer = attempts.next(trio.current_time())
        if peer is None:
            log.error("no live upstreams while connecting to upstream, %s", job.context(None))
            await _fail(job, 502)
            return
        tried = trio.current_time()
        try:
            status = await _try_peer(job, connector, aborts, peer, may_retry)
        except UpstreamFailure as failure:
            now = trio.current_time()
            job.tries.append(UpstreamTry(peer.name, failure.status, now - tried))
            attempts.done(peer, now, failed=failure.counts)
            if failure.message:
                log.error("%s, %s", failure.message, job.context(peer))
            if not may_retry(failure.condition, failure.sent, 0):
                await _fail(job, failure.status)
                return
            continue
        now = trio.current_time()
        job.tries.append(UpstreamTry(peer.name, status, now - tried))
        attempts.done(peer, now, failed=False)
        return


async def _fail(job: Job, status: int) -> None:
    conn = job.exchange.conn
    if conn.can_respond:
        await conn.error(status, head_only=job.method == "HEAD")


async def _try_peer(
    job: Job, connector: Connector, aborts: ClientWatch, peer: Peer, may_retry: MayRetry
) -> int:
    """The upstream's status, once its response went to the client."""
    while True:
        upstream, reused = await connector.checkout(
            job.group, peer.spec.endpoint, job.settings.connect_timeout
        )
        attempt = _Attempt(job, connector, aborts, upstream, reused, may_retry)
        try:
            await attempt.run()
        except _Stale:
            continue  # the next idle connection, or in the end a new one
        return attempt.status


class _Attempt:
    """One request on one upstream connection. A request whose body is at hand goes out from
    this task, which then reads the response; a streamed body or a tunnel gets a sender task."""

    def __init__(
        self,
        job: Job,
        connector: Connector,
        aborts: ClientWatch,
        upstream: UpstreamConnection,
        reused: bool,
        may_retry: MayRetry,
    ) -> None:
        self.job = job
        self.connector = connector
        self.aborts = aborts
        self.upstream = upstream
        self.reused = reused
        self.may_retry = may_retry
        self.reader = ResponseReader(
            head_request=job.method == "HEAD", max_head=max(job.settings.buffer_size, 1024)
        )
        self.scope = trio.CancelScope()  # the whole attempt: a client abort cancels it
        self.head_scope = trio.CancelScope()
        self.sender_done = trio.Event()
        self.watched = -1  # the client's descriptor while the abort watch has it
        self.request_sent = False
        self.sent_all = False
        self.head_received = False
        self.received_any = False
        self.error: BaseException | None = None  # what ends the attempt, raised at the end
        self.keep = False
        self.finished = False  # the whole response was read from the upstream
        self.status = 0  # of the upstream's response head

    async def run(self) -> None:
        tunnel: ResponseHead | None = None
        try:
            with self.scope:
                if self.job.upgrade or not self.job.body.in_memory:
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(self._send)
                        tunnel = await self._receive_or_fail()
                        nursery.cancel_scope.cancel()
                else:
                    await self._send()
                    if self.error is None:
                        await self._receive_or_fail()
            if self.error is not None:
                raise self.error
            if tunnel is not None:
                await self._tunnel(tunnel)
        finally:
            if self.watched >= 0:
                self.aborts.remove(self.watched)
            if self.keep:
                self.connector.checkin(self.job.group, self.upstream)
            else:
                self.upstream.close_now()

    async def _receive_or_fail(self) -> ResponseHead | None:
        try:
            return await self._receive()
        except (UpstreamFailure, _Stale, ClientGone, BodyTooLarge) as error:
            self.error = self.error or error
        return None

    def _stale(self) -> bool:
        """A failure that says the idle connection was dead before we used it, with the
        request still ours to send again."""
        body = self.job.body
        return self.reused and not self.received_any and (body.replayable or not body.started)

    # sending

    async def _write(self, data: bytes) -> None:
        self.request_sent = True
        try:
            await send_soon(self.upstream.stream, data, self.job.settings.send_timeout)
        except trio.TooSlowError:
            message = f"upstream timed out {TIMED_OUT} while sending request to upstream"
            raise UpstreamFailure("timeout", message, sent=True) from None
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as error:
            if self._stale():
                raise _Stale from None
            message = f"send() failed {describe(error)} while sending request to upstream"
            raise UpstreamFailure("error", message, sent=True) from None

    async def _send(self) -> None:
        job = self.job
        try:
            whole = job.body.whole()
            if whole is not None:  # head and body in one write
                await self._write(job.head + whole)
            else:
                await self._write(job.head)
                await job.body.send(self._write)
        except (UpstreamFailure, _Stale, ClientGone, BodyTooLarge) as error:
            if not self.head_received or isinstance(error, ClientGone):
                self.error = error
                self.head_scope.cancel()
                if isinstance(error, ClientGone):
                    self.scope.cancel()
            elif isinstance(error, BodyTooLarge):
                job.exchange.conn.end_after_response()
            return
        finally:
            self.sender_done.set()
        self.sent_all = True
        if not self.head_received:
            self.head_scope.deadline = trio.current_time() + job.settings.read_timeout
        if not job.settings.ignore_client_abort and not job.upgrade:
            fd = job.exchange.conn.fileno()
            if self.aborts.add(fd, self):
                self.watched = fd

    def client_event(self) -> None:
        """From the watch: the client closed its connection (or it broke)."""
        if self.finished:
            return  # the client read the whole response and left: nothing to end here
        log.info(
            "client prematurely closed connection while %s upstream, %s",
            "reading" if self.head_received else "waiting for",
            self.job.context(None),
        )
        self.error = ClientGone()
        self.scope.cancel()

    # receiving

    async def _recv(self) -> None:
        """More of the response into the reader; UpstreamFailure (or _Stale) if the read fails."""
        try:  # trio's own recv wraps the same wait in more machinery
            sock = self.upstream.stream.socket
            await trio.lowlevel.wait_readable(sock)
            data = os.read(sock.fileno(), _READ_SIZE)
        except BlockingIOError:
            return
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as error:
            if self._stale():
                raise _Stale from None
            phase = "upstream" if self.head_received else "response header from upstream"
            message = f"recv() failed {describe(error)} while reading {phase}"
            raise UpstreamFailure("error", message, sent=True) from None
        if data:
            self.received_any = True
        self.reader.feed(data)

    async def _read_head(self) -> ResponseHead:
        while True:
            try:
                head = self.reader.read_head()
            except InvalidResponse as error:
                if self.reader.eof and self._stale():
                    raise _Stale from None
                condition = "error" if self.reader.eof else "invalid_header"
                message = f"{error} while reading response header from upstream"
                raise UpstreamFailure(condition, message, sent=True) from None
            if head is not None:
                return head
            await self._recv()
            if self.sent_all:
                self.head_scope.deadline = trio.current_time() + self.job.settings.read_timeout

    async def _receive(self) -> ResponseHead | None:
        """Read the head and answer the client; the 101 head when a tunnel is to follow."""
        head: ResponseHead | None = None
        with self.head_scope:
            head = await self._read_head()
        if head is None:
            if self.error is not None:
                raise self.error
            message = f"upstream timed out {TIMED_OUT} while reading response header from upstream"
            raise UpstreamFailure("timeout", message, sent=True)
        self.head_received = True
        self.status = head.status
        if head.status == 101:
            await self.sender_done.wait()
            if not self.job.upgrade or not self.sent_all:
                message = "upstream sent unexpected 101 while reading response header from upstream"
                raise UpstreamFailure("invalid_header", message, sent=True)
            return head
        condition = NEXT_STATUSES.get(head.status)
        if condition is not None and self.may_retry(condition, self.request_sent, 1):
            raise UpstreamFailure(condition, None, sent=True)
        await self._respond(head)
        return None

    def _headers(self, head: ResponseHead) -> list[tuple[bytes, bytes]]:
        job, settings = self.job, self.job.settings
        base = None
        if settings.absolute_redirect:
            base = RedirectBase.of(
                job.lookup,
                server_name=settings.server_name_in_redirect,
                port=settings.port_in_redirect,
            )
        return client_headers(
            head.headers,
            hidden=settings.hidden,
            redirects=settings.redirects,
            lookup=job.lookup,
            base=base,
            switching=head.status == 101,
        )

    async def _respond(self, head: ResponseHead) -> None:
        """Send the head, then the body as it arrives; a cut ends the client connection. A
        response read whole at once goes out in one write."""
        conn = self.job.exchange.conn
        headers = self._headers(head)
        reader = self.reader
        started = False
        pieces: list[bytes] = []
        while True:
            broken = None
            try:
                pieces += reader.body()
            except InvalidResponse as error:
                broken = f"{error} while reading upstream"
            if reader.done and not started:
                self.finished = True
                await conn.start(
                    head.status, headers, status_line=head.status_line, whole=b"".join(pieces)
                )
                await self._settle()
                return
            if not started:
                # The upstream's Server and Date replace ours where they pass (proxy_pass_header).
                await conn.start(head.status, headers, status_line=head.status_line)
                started = True
            if reader.done:
                self.finished = True
                await conn.finish(b"".join(pieces))
                await self._settle()
                return
            await self._flush(pieces)
            if broken is not None:
                self._cut(broken)
                return
            with trio.move_on_after(self.job.settings.read_timeout) as scope:
                try:
                    await self._recv()
                except (UpstreamFailure, _Stale) as error:
                    self._cut(str(error) if isinstance(error, UpstreamFailure) else None)
                    return
            if scope.cancelled_caught:
                self._cut(f"upstream timed out {TIMED_OUT} while reading upstream")
                return

    async def _settle(self) -> None:
        """Keep the connection if both messages ended cleanly (the sender may still be on
        its way out of its last write)."""
        if not self.sender_done.is_set():
            with trio.move_on_after(1.0):
                await self.sender_done.wait()
        self.keep = self.sent_all and self.job.reusable and self.reader.reusable

    def _cut(self, message: str | None) -> None:
        if message:
            log.error("%s, %s", message, self.job.context(None))
        self.job.exchange.conn.end_after_response()

    async def _flush(self, pieces: list[bytes]) -> None:
        if pieces:
            data = b"".join(pieces)
            pieces.clear()
            await self.job.exchange.conn.write(data)

    # upgrade

    async def _tunnel(self, head: ResponseHead) -> None:
        headers = self._headers(head)
        settings = self.job.settings
        await switch_protocols(
            self.job.exchange.conn,
            head.status_line,
            [*own_headers(headers), *headers],
            self.upstream.stream,
            self.reader.trailing(),
            idle_timeout=settings.read_timeout,
            upstream_send_timeout=settings.send_timeout,
        )
