"""A worker process: the HTTP server under trio, until a signal or its master ends it.

Signals: TERM/INT stop now, QUIT stops gracefully (a TERM or INT meanwhile stops now), USR1
reopens the log files, and HUP reloads the configuration in place when the worker is the only
process (`master_process off`). Under a master (`master.py`), a reload starts a new worker and
tells this one, over its control socket, to retire: it ends its subscribers and idle
connections as nginx's old workers do, hands the channels over to the new worker on the socket
that came with the order, finishes the answers it is giving and exits.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial

import trio

from pushproxy.http.server import HttpServer
from pushproxy.http.site import ListenKey
from pushproxy.logs import ErrorLog

WATCHED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR1)
GRACEFUL_STOP_SECONDS = 30.0
FAST_STOP_SECONDS = 0.5  # time for subscribers to get their footers
# How long a retiring worker waits for its subscribers to go and its requests to be answered
# before it hands the channels over: meanwhile new connections wait in the listen queue.
RETIRE_SECONDS = 2.0
RETIRE = b"retire"

Reload = Callable[[HttpServer], Awaitable[None]]


def serve(
    server: HttpServer,
    sockets: list[tuple[ListenKey, socket.socket]],
    error_log: ErrorLog,
    *,
    reload: Reload | None = None,
    control: socket.socket | None = None,
    handed: bytes = b"",
) -> None:
    """Serve until stopped. `reload`: what HUP does (None: nothing, the master reloads);
    `control`: the master's orders; `handed`: the channels a retired worker handed over."""
    trio.run(_serve, server, sockets, error_log, reload, control, handed)


async def _serve(
    server: HttpServer,
    sockets: list[tuple[ListenKey, socket.socket]],
    error_log: ErrorLog,
    reload: Reload | None,
    control: socket.socket | None,
    handed: bytes,
) -> None:
    listeners = [
        (key, trio.SocketListener(trio.socket.from_stdlib_socket(s))) for key, s in sockets
    ]
    with trio.open_signal_receiver(*WATCHED_SIGNALS) as signals:
        # Signals held back since the start are delivered now, to the receiver.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, WATCHED_SIGNALS)
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(server.serve, listeners, handed=handed))
            if control is None:
                error_log.notice("start worker processes")
            else:
                nursery.start_soon(_orders, server, control, error_log, nursery.cancel_scope)
            async for received in signals:
                if received in (signal.SIGTERM, signal.SIGINT):
                    error_log.notice("signal received, exiting")
                    if server.stopping:  # retiring: its graceful stop becomes a fast one
                        server.hurry(FAST_STOP_SECONDS)
                        continue
                    await server.stop(grace=FAST_STOP_SECONDS)
                    break
                if received == signal.SIGQUIT and not server.stopping:
                    error_log.notice("gracefully shutting down")
                    async with trio.open_nursery() as stopping:
                        stopping.start_soon(_hurry_on_stop, server, signals, error_log)
                        await server.stop(grace=GRACEFUL_STOP_SECONDS)
                        stopping.cancel_scope.cancel()
                    break
                if received == signal.SIGHUP and reload is not None:
                    await reload(server)
                elif received == signal.SIGUSR1:
                    error_log.reopen()
                    server.reopen_logs()
            nursery.cancel_scope.cancel()
        # Held back from here on, as nginx ignores them while it exits: leaving the receiver
        # puts back the default actions, and a second TERM would kill the process mid-exit.
        signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED_SIGNALS)
    error_log.notice("exit")


async def _hurry_on_stop(
    server: HttpServer, signals: AsyncIterator[int], error_log: ErrorLog
) -> None:
    """While a graceful stop waits for busy connections, TERM or INT makes it a fast stop,
    as it does nginx's; other signals wait for the exit, as nginx ignores them then."""
    async for received in signals:
        if received in (signal.SIGTERM, signal.SIGINT):
            error_log.notice("signal received, exiting")
            server.hurry(FAST_STOP_SECONDS)
            return


async def _orders(
    server: HttpServer, control: socket.socket, error_log: ErrorLog, done: trio.CancelScope
) -> None:
    """The master's orders: `retire`, with the socket to hand the channels over on. With the
    master gone (end of file, killed), the worker stops as on QUIT: no worker is left serving
    a port that no pid file names."""
    control.setblocking(False)
    while True:
        await trio.lowlevel.wait_readable(control)
        try:
            order, fds, _, _ = socket.recv_fds(control, 64, 1)
        except BlockingIOError:
            continue
        if not order:
            error_log.notice("gracefully shutting down")
            await server.stop(grace=GRACEFUL_STOP_SECONDS)
            done.cancel()
            return
        if order == RETIRE and fds:
            await _retire(server, socket.socket(fileno=fds[0]), error_log)
            done.cancel()
            return
        for fd in fds:
            socket.socket(fileno=fd).close()


async def _retire(server: HttpServer, handover: socket.socket, error_log: ErrorLog) -> None:
    handover.setblocking(False)
    async with trio.SocketStream(trio.socket.from_stdlib_socket(handover)) as stream:
        handed = await server.retire(RETIRE_SECONDS)
        try:
            await stream.send_all(handed)
        except (trio.BrokenResourceError, OSError) as error:  # the new worker is gone
            error_log.log("alert", f"the channels could not be handed over: {error}")
    error_log.notice("gracefully shutting down")
    await server.stop(grace=GRACEFUL_STOP_SECONDS)
