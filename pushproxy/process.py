"""Running as nginx's binary runs: read the config, bind, detach, write the pid file, serve
until a signal says otherwise.

Start order is nginx's, so harnesses written for nginx work unchanged: configuration errors go
to stderr and exit 1; every listen socket is bound (a busy port is retried 5 times, 500 ms
apart) before anything else; with `daemon on` the process detaches, writes its pid file and
points its standard streams away from the launcher, so a caller that waits for EOF on the
launcher's stderr finds the listeners accepting and the pid file written.
Then, as nginx, a master process (`master.py`) forks the worker that serves (`worker.py`),
or with `master_process off` the process serves itself. Signals: TERM/INT stop now, QUIT stops
gracefully (a TERM or INT meanwhile stops now), HUP reloads the configuration (a bad one is
logged and the old one keeps serving), USR1 reopens the log files. `-s NAME` sends one of them:
see `cli.send_signal`.
"""

from __future__ import annotations

import errno
import gc
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from pushproxy import worker
from pushproxy.config.check import CheckResult, check_parsed
from pushproxy.config.includes import config_prefix, inline, load
from pushproxy.config.model import Config, build
from pushproxy.config.parse import ConfigSyntaxError, parse_text
from pushproxy.config.push_rules import main_settings, push_locations
from pushproxy.config.tree import Directive
from pushproxy.descriptors import apply_rlimit_nofile, connections_warning
from pushproxy.errors import ConfigError
from pushproxy.http.accesslog import named_log_files
from pushproxy.http.server import HttpServer
from pushproxy.http.site import ListenKey, bind_address
from pushproxy.logs import ErrorLog, error_log_target, stderr_to
from pushproxy.master import Master
from pushproxy.proxy.handler import ProxyRuntime

BIND_TRIES = 5
BIND_PAUSE = 0.5


class StartupError(Exception):
    """What stops a start: (level, message) entries, printed as nginx prints them."""

    def __init__(self, entries: Sequence[tuple[str, str]]) -> None:
        super().__init__("; ".join(text for _, text in entries))
        self.entries = tuple(entries)

    @property
    def lines(self) -> list[str]:
        return [f"pushproxy: [{level}] {text}" for level, text in self.entries]


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    conf: str
    prefix: str | None = None
    globals: str | None = None  # -g "directives;"
    upstream: str | None = None  # --upstream URL: where non-push requests go by default
    daemon: bool | None = None  # None: as the configuration's `daemon` says (on by default)


def _global_directives(text: str | None) -> tuple[Directive, ...]:
    if not text:
        return ()
    try:
        return parse_text(text, file="command line")
    except ConfigSyntaxError as error:
        raise StartupError([("emerg", f"{error.message} in command line")]) from None


def read_config(options: Options) -> tuple[Config, CheckResult]:
    """The model of a configuration nginx would accept; StartupError with nginx's message."""
    parsed = load(options.conf)  # as nginx: `include` starts at the file's folder, not at -p
    result = check_parsed(parsed)
    error = result.nginx_error
    if error is not None:
        entries = [
            (d.nginx_level or "emerg", _placed(d.nginx_message or d.message, *d.nginx_file_line))
            for d in (*result.nginx_logged, error)
        ]
        raise StartupError(entries)
    tree, _ = inline(parsed)
    tree = (*_global_directives(options.globals), *tree)
    return build(tree, config_prefix(options.conf, options.prefix)), result


def unresolved_upstream(config: Config) -> str | None:
    """nginx's `host not found in upstream "x" in FILE:LINE` for the first upstream host that
    does not resolve (`check` looks up single-label names only: this is the start's lookup)."""
    try:
        ProxyRuntime(config)
    except ConfigError as error:
        return _placed(error.message, error.file, error.line)
    return None


def _placed(message: str, file: str, line: int) -> str:
    return f"{message} in {file}:{line}" if line else message


def main_value(config: Config, name: str, default: str | None = None) -> str | None:
    return config.main.arg(name, default)


def pid_path(config: Config, prefix: str | None) -> str:
    """The `pid` file: relative paths start at the prefix (nginx: logs/nginx.pid)."""
    path = main_value(config, "pid", "logs/nginx.pid") or "logs/nginx.pid"
    return path if os.path.isabs(path) else os.path.join(prefix or os.getcwd(), path)


def bind_all(
    keys: Sequence[ListenKey], error_log: ErrorLog
) -> list[tuple[ListenKey, socket.socket]]:
    """Listening sockets for every listen entry, retried like nginx when an address is busy."""
    bound: list[tuple[ListenKey, socket.socket]] = []
    pending = list(keys)
    for attempt in range(BIND_TRIES):
        failed: list[ListenKey] = []
        for key in pending:
            family, address = bind_address(key)
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
                sock.listen(511)
            except OSError as error:
                sock.close()
                shown = (
                    f"[{address[0]}]:{address[1]}"
                    if family == socket.AF_INET6
                    else (f"{address[0]}:{address[1]}")
                )
                error_log.emerg(f"bind() to {shown} failed ({error.errno}: {error.strerror})")
                if error.errno != errno.EADDRINUSE:
                    raise StartupError([]) from None
                failed.append(key)
                continue
            sock.setblocking(False)
            bound.append((key, sock))
        pending = failed
        if not pending:
            return bound
        if attempt < BIND_TRIES - 1:
            time.sleep(BIND_PAUSE)
    error_log.emerg("still could not bind()")
    for _, sock in bound:
        sock.close()
    raise StartupError([])


def daemonize(pid_file: str, stderr_target: str | None) -> None:
    """Detach as nginx does: the launcher exits at once, the child writes the pid file and
    then lets go of the launcher's stdin/stdout/stderr (so EOF there means ready)."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    os.umask(0o022)
    write_pid(pid_file)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    if stderr_target:
        stderr_to(stderr_target)
    else:
        os.dup2(null, 2)
    os.close(null)


UNUSED_NOTICE = "ngx_http_push_stream_module will not be used with this configuration."


def note_unused_module(config: Config, error_log: ErrorLog) -> None:
    """As the module's init does at start (and with `-t`): a notice in the error log when
    no http block or no push location uses it."""
    if config.http is None or not push_locations(config.http):
        error_log.notice(UNUSED_NOTICE)


def note_shared_memory(config: Config, error_log: ErrorLog, running: int | None = None) -> None:
    """The module's lines as a reload reads `push_stream_shared_memory_size` (`running`: the
    size of the zone in use): the zone's size and that a new size needs a restart. At start
    and with `-t` nginx reads it before its error log is open, at a level that hides them."""
    http = config.http
    directive = None if http is None else http.level.last("push_stream_shared_memory_size")
    if http is None or directive is None:
        return
    settings = main_settings(http.level)  # (its size is the zone's: whole pages, 128 KiB up)
    size, zone = settings.shared_memory_size, settings.shared_memory_zone
    place = f" in {directive.file}:{directive.end_line}"
    if running is not None and running != size:
        size = running
        error_log.log(
            "warn",
            f"Cannot change memory area size without restart, ignoring change on zone: {zone}"
            + place,
        )
    error_log.log(
        "info",
        f"Using {size >> 10}KiB of shared memory for push stream module on zone: {zone}{place}",
    )


def file_failures(config: Config, prefix: str | None, *, named_only: bool = False) -> list[str]:
    """nginx's messages for the files it opens at start (and with `-t`) and could not: the
    pid file and the error log. Nothing is created here: a file that is not there yet is
    judged by its directory. `named_only`: only files the configuration names (a `-t` in CI
    must not fail for want of the default `logs/` directory where it runs)."""
    paths: list[str | None] = []  # nginx's order: the pid file (-t makes it too), the error log
    if not named_only or main_value(config, "pid") is not None:
        paths.append(pid_path(config, prefix))
    paths.append(error_log_target(config, prefix)[0])
    paths += named_log_files(config.http, prefix)  # the http block's logs, opened at start too
    return [failure for path in paths if path is not None and (failure := _open_failure(path))]


def _open_failure(path: str) -> str | None:
    try:
        if os.path.exists(path):
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
        else:
            directory = os.path.dirname(path) or "."
            if not os.path.isdir(directory):
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
            if not os.access(directory, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
    except OSError as error:
        return f'open() "{path}" failed ({error.errno}: {error.strerror})'
    return None


def write_pid(path: str) -> None:
    with open(path, "w") as handle:
        handle.write(f"{os.getpid()}\n")


def remove_pid(path: str) -> None:
    try:
        with open(path) as handle:
            if handle.read().strip() == str(os.getpid()):
                os.unlink(path)
    except OSError:
        pass


def run(options: Options) -> int:
    """Start, serve until stopped, return the exit status."""
    # From the start, as nginx does: a signal sent as soon as the pid file exists must not
    # kill the process before its handlers are in place; it waits until they are.
    signal.pthread_sigmask(signal.SIG_BLOCK, worker.WATCHED_SIGNALS)
    try:
        config, _ = read_config(options)
    except StartupError as error:
        for line in error.lines:
            sys.stderr.write(line + "\n")
        return 1
    failures = file_failures(config, options.prefix)
    if failures:
        for failure in failures:
            sys.stderr.write(f"pushproxy: [emerg] {failure}\n")
        return 1
    error_log = ErrorLog.from_config(config, options.prefix)
    error_log.open()  # before the listeners, as nginx: a harness may look for it once they are
    note_unused_module(config, error_log)
    warning = connections_warning(config)
    if warning is not None:
        error_log.log("warn", warning)
    try:
        server = HttpServer(config, default_upstream=options.upstream, prefix=options.prefix)
    except ConfigError as error:
        sys.stderr.write(f"pushproxy: [{error.level}] {error.nginx_text()}\n")
        return 1
    except ValueError as error:  # --upstream that is not a URL pushproxy can proxy to
        sys.stderr.write(f"pushproxy: [emerg] {error}\n")
        return 1
    try:
        sockets = bind_all(server.site.listens, error_log)
    except StartupError as error:
        for line in error.lines:
            sys.stderr.write(line + "\n")
        return 1
    working = main_value(config, "working_directory")
    if working:
        os.chdir(working)
    pid_file = pid_path(config, options.prefix)
    daemon = options.daemon
    if daemon is None:
        daemon = (main_value(config, "daemon", "on") or "on").lower() == "on"
    if daemon:
        daemonize(pid_file, error_log.path)
        error_log.stderr_follows = True
    else:
        write_pid(pid_file)
    apply_rlimit_nofile(config, error_log)
    # A full collection walks every object, about 50 per subscriber: with 10,000 of them,
    # pauses of 140-400 ms, six of them while 10,000 subscribers connect with the default
    # (700, 10, 10). Considered ten times less often, none came in that storm; the young
    # generations, whose collections take under 10 ms, keep their pace.
    gc.set_threshold(700, 10, 100)
    try:
        if (main_value(config, "master_process", "on") or "on").lower() == "on":
            load, bind = partial(_load, options, error_log), partial(_bind_new, error_log)
            master = Master(
                server, sockets, error_log, load=load, bind=bind, zone=zone_size(config)
            )
            return master.run()
        worker.serve(server, sockets, error_log, reload=partial(_reload, options, error_log))
    finally:
        remove_pid(pid_file)
    return 0


async def _reload(options: Options, error_log: ErrorLog, server: HttpServer) -> None:
    """HUP without a master: the new configuration in this process (the channels stay)."""
    running = server.push.zone_size if server.push is not None else None
    try:
        config = reload_config(options)
        await server.reload(config)
    except (StartupError, ConfigError) as error:
        _refused(error, error_log)
        return
    error_log.notice("reconfiguring")
    note_shared_memory(config, error_log, running or None)  # (0: no zone was made)


def _load(options: Options, error_log: ErrorLog, running: int) -> tuple[HttpServer, int] | None:
    """A master's reload: the new configuration's server, and the zone size in use after it
    (`running`, the one in use: a reload cannot change it); None when it is refused (logged,
    the old worker serves on)."""
    try:
        config = reload_config(options)
        server = HttpServer(config, default_upstream=options.upstream, prefix=options.prefix)
    except (StartupError, ConfigError) as error:
        _refused(error, error_log)
        return None
    except ValueError as error:  # --upstream that is not a URL pushproxy can proxy to
        error_log.emerg(str(error))
        return None
    error_log.notice("reconfiguring")
    note_shared_memory(config, error_log, running or None)  # (0: no zone was made)
    return server, running or zone_size(config)


def _bind_new(
    error_log: ErrorLog, keys: Sequence[ListenKey]
) -> list[tuple[ListenKey, socket.socket]] | None:
    """A master's reload: sockets for the listens it adds; None when one would not bind
    (logged as nginx logs it)."""
    try:
        return bind_all(keys, error_log)
    except StartupError:
        return None


def _refused(error: StartupError | ConfigError, error_log: ErrorLog) -> None:
    """A reload refused, in the error log as nginx says it (the old configuration serves on)."""
    if isinstance(error, StartupError):
        for level, text in error.entries:
            error_log.log(level, text)
    else:
        error_log.log(error.level, error.nginx_text())


def zone_size(config: Config) -> int:
    """The size of the push stream zone `config` makes (0: none, no push location)."""
    http = config.http
    if http is None or not push_locations(http):
        return 0
    return main_settings(http.level).shared_memory_size


def reload_config(options: Options) -> Config:
    """The configuration a reload reads; StartupError when nginx would refuse it (and the
    old one serves on)."""
    config, _ = read_config(options)
    failures = file_failures(config, options.prefix)
    if failures:
        raise StartupError([("emerg", failure) for failure in failures])
    return config
