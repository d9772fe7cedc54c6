"""nginx's master process: it holds the listening sockets and the pid file, and forks the
worker that serves (`worker.py`); signals come to it and it passes them on.

A reload (HUP) is nginx's: the new configuration is read and its new listening sockets bound
here; a bad one is logged and the old worker serves on. Otherwise a new worker starts with it,
and the old one retires: it ends its subscribers and idle connections, hands the channels over
to the new worker (nginx's shared zone outlives its workers), finishes the answers it is giving
and exits. So the statistics show the new worker's pid, as nginx's. A worker that dies of a
signal or on its own is started again (with no channels: nginx's would find the zone); one
that failed to start (exit code 2) or within its first second is not. TERM/INT, QUIT and USR1
go to the workers; the master exits after them. It never runs trio: forking a process that
runs trio's loop is not safe.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pushproxy import worker
from pushproxy.http.server import HttpServer
from pushproxy.http.site import ListenKey
from pushproxy.logs import ErrorLog

Sockets = list[tuple[ListenKey, socket.socket]]
# A reload's new server and the zone size in use after it (None: refused, and logged).
Load = Callable[[int], tuple[HttpServer, int] | None]
# A reload's new listening sockets (None: one could not be bound, and that is logged).
Bind = Callable[[Sequence[ListenKey]], Sockets | None]

FATAL = 2  # a worker's exit code when it could not start: nginx does not start it again
RESPAWN_AFTER = 1.0  # seconds a worker that failed must have lived to be started again
HANDOVER_SECONDS = 30.0  # a new worker's wait for the channels from the one it replaces
_MASTER_SIGNALS = {*worker.WATCHED_SIGNALS, signal.SIGCHLD}


@dataclass(slots=True)
class Worker:
    pid: int
    control: socket.socket  # the master's end of the worker's orders
    started: float  # time.monotonic()


class Master:
    def __init__(
        self,
        server: HttpServer,
        sockets: Sockets,
        error_log: ErrorLog,
        *,
        load: Load,
        bind: Bind,
        zone: int,
    ) -> None:
        self.server = server  # never served here: each worker serves its own copy
        self.listening = dict(sockets)
        self.error_log = error_log
        self.load, self.bind, self.zone = load, bind, zone
        self.current: Worker | None = None
        self.retiring: dict[int, Worker] = {}
        self.stopping = False

    def run(self) -> int:
        signal.pthread_sigmask(signal.SIG_BLOCK, _MASTER_SIGNALS)
        self.current = self._spawn()
        self.error_log.notice("start worker processes")
        while self.current is not None or self.retiring:
            received = signal.sigwaitinfo(_MASTER_SIGNALS).si_signo
            if received == signal.SIGCHLD:
                self._reap()
            elif received == signal.SIGHUP:
                if not self.stopping:
                    self._reload()
            else:  # TERM, INT, QUIT: the workers stop (and the master after them); USR1
                if received != signal.SIGUSR1:
                    self.stopping = True
                else:
                    self.error_log.reopen()
                for one in self._workers():
                    _kill(one.pid, received)
        self.error_log.notice("exit")
        return 0

    def _workers(self) -> list[Worker]:
        current = [] if self.current is None else [self.current]
        return [*current, *self.retiring.values()]

    def _spawn(
        self, handover: socket.socket | None = None, other_end: socket.socket | None = None
    ) -> Worker:
        """Fork a worker for `self.server` on the sockets of its listens; `handover`: where
        the channels of the worker it replaces come from (`other_end`: the socket they are
        sent on, not the new worker's to hold, or it would wait for its own end of file)."""
        ours, theirs = socket.socketpair()
        sockets = [(key, self.listening[key]) for key in self.server.site.listens]
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            ours.close()
            if other_end is not None:
                other_end.close()
            for other in self._workers():
                other.control.close()
            os._exit(self._work(sockets, theirs, handover))
        theirs.close()
        if handover is not None:
            handover.close()
        return Worker(pid, ours, time.monotonic())

    def _work(
        self, sockets: Sockets, control: socket.socket, handover: socket.socket | None
    ) -> int:
        """A forked worker's life; its exit code."""
        try:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            random.seed()  # (a fork shares its parent's random state)
            handed = b"" if handover is None else self._handed(handover)
        except BaseException:
            traceback.print_exc()
            return FATAL
        try:
            worker.serve(self.server, sockets, self.error_log, control=control, handed=handed)
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
            return 1
        return 0

    def _handed(self, handover: socket.socket) -> bytes:
        """What the retiring worker hands over, read to its end (nothing when it could not)."""
        handover.settimeout(HANDOVER_SECONDS)
        pieces: list[bytes] = []
        try:
            while piece := handover.recv(1 << 20):
                pieces.append(piece)
        except OSError as error:
            self.error_log.log("alert", f"no channels were handed over: {error}")
            return b""
        finally:
            handover.close()
        return b"".join(pieces)

    def _reload(self) -> None:
        loaded = self.load(self.zone)
        if loaded is None:
            return
        server, zone = loaded
        keys = server.site.listens
        bound = self.bind([key for key in keys if key not in self.listening])
        if bound is None:  # the old worker serves on, as nginx's
            server.discard()
            return
        self.listening.update(bound)
        self.zone = zone
        self.server.discard()  # (served by the old worker's copy, never here)
        self.server = server
        for key in [key for key in self.listening if key not in keys]:
            self.listening.pop(key).close()  # (the old worker has its own copy)
        given, taken = socket.socketpair()
        old, self.current = self.current, self._spawn(taken, given)
        if old is not None:
            try:
                socket.send_fds(old.control, [worker.RETIRE], [given.fileno()])
                self.retiring[old.pid] = old
            except OSError:  # it died meanwhile: the new worker starts with no channels
                pass
        given.close()

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self._note_exit(pid, status)
            gone = self.retiring.pop(pid, None)
            if gone is not None:
                gone.control.close()
            elif self.current is not None and pid == self.current.pid:
                lived = time.monotonic() - self.current.started
                self.current.control.close()
                self.current = None
                if self.stopping:
                    continue
                if not fatal_exit(status, lived):
                    self.current = self._spawn()
                elif os.WEXITSTATUS(status) == FATAL:
                    self.error_log.log(
                        "alert",
                        f"worker process {pid} exited with fatal code {FATAL} and cannot be "
                        "respawned",
                    )
                else:
                    self.error_log.log(
                        "alert", f"worker process {pid} failed as it started: not started again"
                    )

    def _note_exit(self, pid: int, status: int) -> None:
        """nginx's line for a worker that ended."""
        if os.WIFSIGNALED(status):
            signum = os.WTERMSIG(status)
            self.error_log.log("alert", f"worker process {pid} exited on signal {signum}")
        else:
            code = os.WEXITSTATUS(status)
            self.error_log.notice(f"worker process {pid} exited with code {code}")


def fatal_exit(status: int, lived: float) -> bool:
    """A worker not to start again: one that could not start (code 2, as nginx's), or that
    failed on its own within its first second (a fault at start would repeat for ever)."""
    if os.WIFSIGNALED(status):
        return False
    code = os.WEXITSTATUS(status)
    return code == FATAL or (code != 0 and lived < RESPAWN_AFTER)


def _kill(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # (it ended: its SIGCHLD is on the way)
        os.kill(pid, signum)
