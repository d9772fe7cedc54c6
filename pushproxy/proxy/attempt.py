"""One try of a request on one upstream connection: send the request, read the response head,
answer the client and stream the body back as it comes, or fail in a way `forward` can act on
(`UpstreamFailure`, or `Stale` for a reused connection the peer had closed).

Timeouts are nginx's: `proxy_send_timeout` per write, `proxy_read_timeout` between two reads
once the request is out. The client closing its connection meanwhile ends the try (unless
`proxy_ignore_client_abort`). An upstream's 101 the request did not ask for is relayed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import trio

from pushproxy.http.clientwatch import ClientWatch
from pushproxy.http.deadlines import no_action
from pushproxy.http.pacing import paced_at
from pushproxy.http.pages import own_headers
from pushproxy.http.transport import BodyTooLarge, ClientGone, send_soon
from pushproxy.proxy.accel import kept_headers
from pushproxy.proxy.connect import (
    TIMED_OUT,
    Connector,
    UpstreamConnection,
    UpstreamFailure,
    describe,
)
from pushproxy.proxy.job import Job, MayRetry
from pushproxy.proxy.reader import InvalidResponse, ResponseHead, ResponseReader
from pushproxy.proxy.remembered import Answer, client_answer, head_facts
from pushproxy.proxy.settings import NEXT_STATUSES
from pushproxy.proxy.tunnel import switch_protocols

log = logging.getLogger("pushproxy")
_READ_SIZE = 65536
_UNEXPECTED_101 = "upstream sent unexpected 101 while reading response header from upstream"


class Stale(Exception):
    """A reused idle connection the peer had closed: try again on a new one."""


class _TimedOut(Exception):
    """`proxy_read_timeout` passed while the attempt waited on the upstream."""


class Attempt:
    """One request on one upstream connection. A request whose body is at hand goes out from
    this task, which then reads the response; a streamed body or a tunnel gets a sender task.

    Timeouts and a client abort interrupt the wait on the upstream socket (trio's
    `notify_closing`) rather than cancel a scope: a scope entered, and its deadline moved, per
    attempt cost more than the rest of the attempt's bookkeeping. An interrupted connection
    is never reused."""

    __slots__ = (
        "aborts", "body_length", "connector", "deadline", "error", "finished", "head_at",
        "head_headers", "head_received", "interrupted",
        "job", "keep", "may_retry", "reader", "received_any", "request_sent", "reused",
        "sender_done", "sent_all", "status", "upstream", "watched",
    )  # fmt: skip

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
        # `proxy_read_timeout` while a read from the upstream is due, else cleared
        self.deadline = job.exchange.conn.handler_deadline
        self.deadline.action = self._time_out
        self.sender_done: trio.Event | None = None  # while a sender task runs
        self.watched = -1  # the client's descriptor while the abort watch has it
        self.request_sent = False
        self.sent_all = False
        self.head_received = False
        self.head_at = 0.0  # trio time of the response head (`$upstream_header_time`)
        self.head_headers: Sequence[tuple[bytes, bytes]] = ()  # `$upstream_http_NAME`
        self.body_length = 0  # body bytes from the upstream (`$upstream_response_length`)
        self.received_any = False
        self.error: BaseException | None = None  # what ends the attempt, raised at the end
        self.interrupted: BaseException | None = None  # what closed the upstream under us
        self.keep = False
        self.finished = False  # the whole response was read from the upstream
        self.status = 0  # of the upstream's response head

    async def run(self) -> None:
        tunnel: ResponseHead | None = None
        try:
            if self.job.upgrade or not self.job.body.in_memory:
                self.sender_done = trio.Event()
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
            self.deadline.clear()
            self.deadline.action = no_action
            if self.watched >= 0:
                self.aborts.remove(self.watched)
            if self.keep and self.interrupted is None:
                now = self.job.exchange.conn.clock()
                self.connector.checkin(self.job.group, self.upstream, now)
            else:
                self.upstream.close_now()

    async def _receive_or_fail(self) -> ResponseHead | None:
        try:
            return await self._receive()
        except (UpstreamFailure, Stale, ClientGone, BodyTooLarge) as error:
            self.error = self.error or error
        return None

    def _interrupt(self, reason: BaseException, *, client: bool = False) -> None:
        """End any wait on the upstream socket, now or later, with `reason`; `client`: on the
        client's too (a write to a client that left)."""
        if self.interrupted is None:
            self.interrupted = reason
            trio.lowlevel.notify_closing(self.upstream.stream.socket)
        if client:
            trio.lowlevel.notify_closing(self.job.exchange.conn.stream.socket)

    def _time_out(self) -> None:
        """The deadline's action: `proxy_read_timeout` passed."""
        self._interrupt(_TimedOut())

    def _stale(self) -> bool:
        """A failure of an idle connection dead before we used it: the request is ours still."""
        body = self.job.body
        return self.reused and not self.received_any and (body.replayable or not body.started)

    # sending

    async def _write(self, data: bytes) -> None:
        self.request_sent = True
        tls = self.upstream.tls
        try:
            if tls is None:
                outbox = self.job.exchange.conn.outbox  # the answer is awaited next
                if outbox is None:
                    await send_soon(self.upstream.stream, data, self.job.settings.send_timeout)
                else:
                    await outbox.send(self.upstream.stream, data, self.job.settings.send_timeout)
            else:
                with trio.fail_after(self.job.settings.send_timeout):
                    await tls.send_all(data)
        except trio.TooSlowError:
            message = f"upstream timed out {TIMED_OUT} while sending request to upstream"
            raise UpstreamFailure("timeout", message, sent=True) from None
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as error:
            if self.interrupted is not None:
                raise self.interrupted from None
            if self._stale():
                raise Stale from None
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
        except (UpstreamFailure, Stale, ClientGone, BodyTooLarge) as error:
            if not self.head_received or isinstance(error, ClientGone):
                self.error = error
                self._interrupt(error, client=isinstance(error, ClientGone))
            elif isinstance(error, BodyTooLarge):
                job.exchange.conn.end_after_response()
            return
        finally:
            if self.sender_done is not None:
                self.sender_done.set()
        self.sent_all = True
        if not self.head_received:
            self.deadline.move_after(job.settings.read_timeout)
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
            self.job.trying_context(),
        )
        self.error = ClientGone()
        self._interrupt(self.error, client=self.head_received)

    # receiving

    async def _recv(self) -> None:
        """More of the response into the reader; UpstreamFailure (or Stale) if the read fails,
        what interrupted the attempt if it was (`_TimedOut`, ClientGone...)."""
        if self.interrupted is not None:
            raise self.interrupted
        tls = self.upstream.tls
        try:
            if tls is not None:
                data = bytes(await tls.receive_some(_READ_SIZE))
            else:  # trio's own recv wraps the same wait in more machinery
                sock = self.upstream.stream.socket
                await trio.lowlevel.wait_readable(sock)
                data = os.read(sock.fileno(), _READ_SIZE)
        except BlockingIOError:
            return
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as error:
            if self.interrupted is not None:
                raise self.interrupted from None
            if self._stale():
                raise Stale from None
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
                    raise Stale from None
                condition = "error" if self.reader.eof else "invalid_header"
                message = f"{error} while reading response header from upstream"
                raise UpstreamFailure(condition, message, sent=True) from None
            if head is not None:
                return head
            await self._recv()
            if self.sent_all:
                self.deadline.move_after(self.job.settings.read_timeout)

    async def _receive(self) -> ResponseHead | None:
        """Read the head and answer the client; the 101 head when a tunnel is to follow."""
        try:
            head = await self._read_head()
        except _TimedOut:
            message = f"upstream timed out {TIMED_OUT} while reading response header from upstream"
            raise UpstreamFailure("timeout", message, sent=True) from None
        finally:
            self.deadline.clear()
        self.head_received = True
        self.head_at = self.job.exchange.conn.clock()
        self.head_headers = head.headers  # read, never changed: kept as it is
        self.status = head.status
        if head.status == 101:
            if self.sender_done is not None:
                await self.sender_done.wait()
            if self.job.upgrade and self.sent_all:
                return head
            if self.job.upgrade:  # a tunnel before the whole request body went
                raise UpstreamFailure("invalid_header", _UNEXPECTED_101, sent=True)
            self.reader.relay_switching()  # not asked for: relayed as nginx relays it
        condition = NEXT_STATUSES.get(head.status)
        if condition is not None and self.may_retry(condition, self.request_sent, 1):
            raise UpstreamFailure(condition, None, sent=True, answered=head.status)
        conn, settings = self.job.exchange.conn, self.job.settings
        hook = conn.error_hook
        intercepts = head.status >= 300 and settings.intercept_errors
        if intercepts and hook is not None and hook(head.status):
            return None  # the location's error_page answers (proxy_intercept_errors)
        accel = head_facts(head.headers)
        if settings.accel_limit_rate and accel.rate is not None:
            conn.pacing = paced_at(accel.rate, conn.pacing)
        if settings.accel_redirect and accel.redirect is not None:
            conn.carried = kept_headers(self._answer(head).headers)  # for the server's answer
            self.job.redirected.append(accel.redirect)
            return None
        await self._respond(head)
        return None

    def _answer(self, head: ResponseHead) -> Answer:
        return client_answer(
            head.headers, self.job.settings, self.job.exchange.lookup, switching=head.status == 101
        )

    async def _respond(self, head: ResponseHead) -> None:
        """Send the head, then the body as it arrives; a cut ends the client connection. A
        response read whole at once goes out in one write."""
        conn = self.job.exchange.conn
        headers, location = self._answer(head)
        reader = self.reader
        started = False
        pieces: list[bytes] = []
        while True:
            broken = None
            try:
                arrived = reader.body()
            except InvalidResponse as error:
                arrived = []
                broken = f"{error} while reading upstream"
            for piece in arrived:
                self.body_length += len(piece)
            pieces += arrived
            if reader.done and not started:
                self.finished = True
                await conn.start(
                    head.status,
                    headers,
                    status_line=head.status_line,
                    whole=b"".join(pieces),
                    location=location,
                )
                await self._settle()
                return
            if not started:
                # The upstream's Server and Date replace ours where they pass (proxy_pass_header).
                await conn.start(
                    head.status, headers, status_line=head.status_line, location=location
                )
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
            self.deadline.move_after(self.job.settings.read_timeout)
            try:
                await self._recv()
            except _TimedOut:
                self._cut(f"upstream timed out {TIMED_OUT} while reading upstream")
                return
            except (UpstreamFailure, Stale) as error:
                self._cut(str(error) if isinstance(error, UpstreamFailure) else None)
                return
            finally:
                self.deadline.clear()

    async def _settle(self) -> None:
        """Keep the connection if both messages ended cleanly (the sender may still be on
        its way out of its last write)."""
        done = self.sender_done
        if done is not None and not done.is_set():
            with trio.move_on_after(1.0):
                await done.wait()
        self.keep = self.sent_all and self.job.reusable and self.reader.reusable

    def _cut(self, message: str | None) -> None:
        if message:
            log.error("%s, %s", message, self.job.trying_context())
        self.job.exchange.conn.end_after_response()

    async def _flush(self, pieces: list[bytes]) -> None:
        if pieces:
            data = b"".join(pieces)
            pieces.clear()
            await self.job.exchange.conn.write(data)

    # upgrade

    async def _tunnel(self, head: ResponseHead) -> None:
        answer = self._answer(head)
        located = () if answer.location is None else ((b"Location", answer.location),)
        headers = [*answer.headers, *located]
        settings = self.job.settings
        await switch_protocols(
            self.job.exchange.conn,
            head.status_line,
            [*own_headers(headers, tokens=self.job.exchange.conn.limits.server_tokens), *headers],
            self.upstream.channel,
            self.reader.trailing(),
            idle_timeout=settings.read_timeout,
            upstream_send_timeout=settings.send_timeout,
        )
