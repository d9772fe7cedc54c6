"""Connections to upstream peers: opened within `proxy_connect_timeout`, kept idle in each
upstream's pool (`keepalive`) and taken back for the same peer, swept when idle too long,
all closed when the server stops.
"""

from __future__ import annotations

import errno
import os
import select
import socket

import trio

from pushproxy.proxy.address import Endpoint
from pushproxy.proxy.pool import IdlePool
from pushproxy.proxy.tls import HandshakeFailed, TlsTarget, handshake
from pushproxy.proxy.upstream import UpstreamGroup


class UpstreamFailure(Exception):
    """A try on a peer failed. `condition` is the `proxy_next_upstream` word for it
    (`error`, `timeout`, `invalid_header`, `http_500`...); `message` what nginx logs (None:
    nothing to log); `sent` whether any of the request had gone out."""

    def __init__(
        self, condition: str, message: str | None, *, sent: bool, answered: int | None = None
    ) -> None:
        super().__init__(message or condition)
        self.condition = condition
        self.message = message
        self.sent = sent
        self.answered = answered  # the status the peer answered (a `proxy_next_upstream` one)
        self.connect: float | None = None  # seconds to the connection, when there was one

    @property
    def counts(self) -> bool:
        """Whether the peer's health suffers (nginx: a 403 or 404 only moves on)."""
        return self.condition not in ("http_403", "http_404")

    @property
    def status(self) -> int:
        """What the client gets when no other peer is tried."""
        return 504 if self.condition == "timeout" else 502

    @property
    def logged(self) -> int:
        """The try's `$upstream_status`: the peer's answer if it gave one, else the failure's."""
        return self.answered or self.status


def describe(error: BaseException) -> str:
    """`(111: Connection refused)`, as nginx puts an errno in its messages."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, OSError) and cause.errno:
        return f"({cause.errno}: {os.strerror(cause.errno)})"
    return f"({type(error).__name__})"


TIMED_OUT = f"({errno.ETIMEDOUT}: Connection timed out)"


class UpstreamConnection:
    """One connection to a peer, with what `keepalive_requests`/`keepalive_time` need.
    `stream` is the TCP (or unix) stream, `tls` the TLS one over it for an https upstream;
    `channel` is the one to speak HTTP on."""

    __slots__ = ("_probe", "channel", "key", "opened", "requests", "stream", "tls")

    def __init__(
        self,
        stream: trio.SocketStream,
        endpoint: Endpoint,
        opened: float,
        tls: trio.SSLStream[trio.SocketStream] | None = None,
    ) -> None:
        self.stream = stream
        self.tls = tls
        self.channel: trio.abc.Stream = tls if tls is not None else stream
        # A look at the socket without waiting: a poll set of its own (a peek with recv
        # costs an exception when there is nothing, the usual case).
        self._probe = select.poll()
        self._probe.register(stream.socket.fileno(), select.POLLIN)
        self.key = (endpoint, tls is not None)  # idle connections are taken back by it
        self.opened = opened
        self.requests = 0

    def close_now(self) -> None:
        self.stream.socket.close()

    def looks_alive(self) -> bool:
        """An idle connection the peer has not closed, broken or sent anything on. A TLS
        peer may send records of its own after the handshake (session tickets): such a
        connection is taken as it is, and tried again on a new one if it was gone."""
        return self.tls is not None or not self._probe.poll(0)


async def open_stream(endpoint: Endpoint, connect_timeout: float) -> trio.SocketStream:
    """UpstreamFailure (`error` or `timeout`, nothing sent) when the peer cannot be reached."""
    try:
        with trio.fail_after(connect_timeout):
            if endpoint.unix is not None:
                return await trio.open_unix_socket(endpoint.unix)
            family = socket.AF_INET6 if ":" in endpoint.host else socket.AF_INET
            sock = trio.socket.socket(family, socket.SOCK_STREAM)
            try:
                await sock.connect((endpoint.host, endpoint.port))
            except BaseException:
                sock.close()
                raise
            return trio.SocketStream(sock)
    except trio.TooSlowError:
        message = f"upstream timed out {TIMED_OUT} while connecting to upstream"
        raise UpstreamFailure("timeout", message, sent=False) from None
    except OSError as error:
        message = f"connect() failed {describe(error)} while connecting to upstream"
        raise UpstreamFailure("error", message, sent=False) from None


async def _secure(
    stream: trio.SocketStream, tls: TlsTarget, within: float
) -> trio.SSLStream[trio.SocketStream]:
    """The TLS handshake, bounded as the connect is (nginx: `proxy_connect_timeout`)."""
    try:
        with trio.fail_after(within):
            return await handshake(stream, tls)
    except trio.TooSlowError:
        stream.socket.close()
        message = f"upstream timed out {TIMED_OUT} while SSL handshaking to upstream"
        raise UpstreamFailure("timeout", message, sent=False) from None
    except HandshakeFailed as failed:
        stream.socket.close()
        message = f"SSL_do_handshake() failed {failed} while SSL handshaking to upstream"
        raise UpstreamFailure("error", message, sent=False) from None
    except BaseException:  # cancelled: the client left, or a stop
        stream.socket.close()
        raise


class Connector:
    """Every upstream's idle pool; `run()` sweeps them and closes them all at the end."""

    __slots__ = ("_closed", "_pools", "_wake")

    def __init__(self) -> None:
        self._pools: dict[int, IdlePool[UpstreamConnection]] = {}
        self._wake = trio.Event()
        self._closed = False  # run() is over: nothing is kept any more

    def idle(self, group: UpstreamGroup) -> int:
        pool = self._pools.get(id(group))
        return len(pool) if pool is not None else 0

    async def checkout(
        self,
        group: UpstreamGroup,
        endpoint: Endpoint,
        connect_timeout: float,
        now: float,
        tls: TlsTarget | None = None,
    ) -> tuple[UpstreamConnection, bool]:
        """An idle connection to `endpoint` (over TLS with `tls`) if one is alive (True),
        else a new one. `now`: trio's time."""
        pool = self._pools.get(id(group))
        while pool is not None:
            found, expired = pool.take((endpoint, tls is not None), now)
            for gone in expired:
                gone.close_now()
            if found is None:
                break
            if found.looks_alive():
                found.requests += 1
                return found, True
            found.close_now()
        stream = await open_stream(endpoint, connect_timeout)
        secured = None
        if tls is not None:
            secured = await _secure(stream, tls, connect_timeout)
        fresh = UpstreamConnection(stream, endpoint, now, secured)
        fresh.requests = 1
        return fresh, False

    def checkin(self, group: UpstreamGroup, conn: UpstreamConnection, now: float) -> None:
        """A connection whose response was read whole and may be reused. `now`: trio's time."""
        settings = group.keepalive
        if self._closed or not settings.may_keep(
            requests=conn.requests, opened=conn.opened, now=now
        ):
            conn.close_now()
            return
        pool = self._pools.get(id(group))
        if pool is None:
            pool = self._pools[id(group)] = IdlePool(settings)
        for gone in pool.put(conn.key, conn, now):
            gone.close_now()
        self._wake.set()

    async def run(self) -> None:
        try:
            while True:
                if not any(len(pool) for pool in self._pools.values()):
                    self._wake = trio.Event()
                    await self._wake.wait()
                    continue
                await trio.sleep(1.0)
                now = trio.current_time()
                for pool in self._pools.values():
                    for gone in pool.expire(now):
                        gone.close_now()
        finally:
            self._closed = True
            for pool in self._pools.values():
                for gone in pool.drain():
                    gone.close_now()
