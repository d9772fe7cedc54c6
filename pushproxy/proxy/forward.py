"""One request through an upstream: pick a peer, connect (or take an idle connection), try it
(`attempt.Attempt`), or move to the next peer, as nginx's `proxy_next_upstream` does: a failed
try (error, timeout, invalid header, or a listed status) goes to the next peer only while
nothing was sent to the client, peers and tries are left, the body can be sent again, and,
once the request went out, only for idempotent methods unless `non_idempotent`; otherwise 502
(504 for a timeout), or the listed status passes through. `proxy_connect_timeout` bounds the
connect; what happens during a try (the other timeouts, a client abort, a tunnel) is in
`attempt.py`.
"""

from __future__ import annotations

import logging

from pushproxy.http.clientwatch import ClientWatch
from pushproxy.http.upstream_variables import UpstreamTry
from pushproxy.proxy.attempt import Attempt, Stale
from pushproxy.proxy.balancing import Peer
from pushproxy.proxy.connect import Connector, UpstreamFailure
from pushproxy.proxy.job import Job, MayRetry
from pushproxy.proxy.request import NON_IDEMPOTENT

log = logging.getLogger("pushproxy")


async def forward(job: Job, connector: Connector, aborts: ClientWatch) -> None:
    """Answer the client from the group's peers; never raises but ClientGone."""
    settings = job.settings
    balancer = job.group.balancer
    attempts = balancer.start(settings.next_upstream_tries, balancer.key(job.exchange.lookup))
    clock = job.exchange.conn.clock
    started = now = clock()

    def may_retry(condition: str, sent: bool, pending: int) -> bool:
        if not settings.retries_on(condition):
            return False
        if sent and job.method in NON_IDEMPOTENT and not settings.retries_on("non_idempotent"):
            return False
        if job.body.started and not job.body.replayable:
            return False
        limit = settings.next_upstream_timeout
        if limit and clock() - started >= limit:
            return False
        return attempts.tries - pending > 0

    while True:
        peer = attempts.next(now)
        if peer is None:
            log.error("no live upstreams while connecting to upstream, %s", job.context(None))
            await _fail(job, 502)
            return
        tried = now
        try:
            done = await _try_peer(job, connector, aborts, peer, may_retry, now)
        except UpstreamFailure as failure:
            now = clock()
            tried_for = now - tried
            job.tries.append(
                UpstreamTry(peer.name, failure.logged, tried_for, failure.connect, length=0)
            )
            context = job.context(peer)
            if failure.message:
                log.error("%s, %s", failure.message, context)
            # nginx's line for a peer its failures disable names what it was doing
            _, found, doing = (failure.message or "").rpartition(" while ")
            doing = doing if found else _READING_HEADER
            attempts.done(peer, now, failed=failure.counts, doing=doing, context=context)
            if not may_retry(failure.condition, failure.sent, 0):
                await _fail(job, failure.status)
                return
            continue
        except BaseException:  # the client left, or the server stops: no failure of the peer
            attempts.done(peer, clock(), failed=False)
            raise
        job.tries.append(done)
        attempts.done(peer, tried + done.seconds, failed=False)
        return


_READING_HEADER = "reading response header from upstream"


async def _fail(job: Job, status: int) -> None:
    conn = job.exchange.conn
    if conn.can_respond:
        await conn.error(status)


async def _try_peer(
    job: Job,
    connector: Connector,
    aborts: ClientWatch,
    peer: Peer,
    may_retry: MayRetry,
    started: float,
) -> UpstreamTry:
    """The try, once its response went to the client: the peer, the upstream's status, the
    whole try's time, the times to the connection and to the head, the body's length and the
    head's headers. UpstreamFailure says how long the connection took, when there was one.
    `started`: the time the try starts at."""
    clock = job.exchange.conn.clock
    job.trying.append(peer)
    while True:
        upstream, reused = await connector.checkout(
            job.group, peer.spec.endpoint, job.settings.connect_timeout, started, job.tls
        )
        connected = clock() if not reused else started
        attempt = Attempt(job, connector, aborts, upstream, reused, may_retry)
        try:
            await attempt.run()
        except Stale:
            continue  # the next idle connection, or in the end a new one
        except UpstreamFailure as failure:
            failure.connect = 0.0 if reused else connected - started
            raise
        return UpstreamTry(
            peer.name,
            attempt.status,
            clock() - started,
            connect=0.0 if reused else connected - started,
            header=attempt.head_at - started if attempt.head_received else None,
            length=attempt.body_length if attempt.head_received else None,
            headers=attempt.head_headers,
        )
