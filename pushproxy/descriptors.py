"""Open file limits, handled as nginx handles them.

`worker_rlimit_nofile N` sets the process's limit on open files (soft and hard) as a worker
starts; `worker_connections` above the limit that will apply is a warning, at start and with
`-t`; and a full descriptor table makes `accept` fail, which pauses accepting for half a second
(nginx's `accept_mutex_delay`) instead of ending the server (ngx_event_accept())."""

from __future__ import annotations

import errno
import logging
import os
import resource

import trio

from pushproxy.config.model import Config
from pushproxy.config.units import atoi
from pushproxy.http.site import worker_connections
from pushproxy.logs import ErrorLog

log = logging.getLogger("pushproxy")

ACCEPT_PAUSE = 0.5  # seconds without accepting after the descriptors ran out


def _rlimit_nofile(config: Config) -> int | None:
    directive = config.main.last("worker_rlimit_nofile")
    return atoi(directive.args[0]) if directive is not None and directive.args else None


def connections_warning(config: Config) -> str | None:
    """nginx's warning when `worker_connections` exceed the open file limit: the process's
    own, or `worker_rlimit_nofile`'s when that is set and lower than the connections."""
    connections = worker_connections(config)
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = _rlimit_nofile(config)
    if soft == resource.RLIM_INFINITY or connections <= soft:
        return None
    if wanted is not None and connections <= wanted:
        return None
    limit = soft if wanted is None else wanted
    return f"{connections} worker_connections exceed open file resource limit: {limit}"


def apply_rlimit_nofile(config: Config, error_log: ErrorLog) -> None:
    """`worker_rlimit_nofile`, as a worker sets it; nginx's alert when the system refuses."""
    wanted = _rlimit_nofile(config)
    if wanted is None:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
    except (OSError, ValueError) as error:
        code = getattr(error, "errno", None) or errno.EPERM
        reason = f"({code}: {os.strerror(code)})"
        error_log.log("alert", f"setrlimit(RLIMIT_NOFILE, {wanted}) failed {reason}")


async def accept_failed(error: OSError) -> None:
    """An `accept` that failed for want of descriptors or memory: logged as nginx logs it,
    then a pause, so that the connections being served can end and free some."""
    code = error.errno or 0
    level = logging.CRITICAL if code in (errno.EMFILE, errno.ENFILE) else logging.ERROR
    log.log(level, "accept4() failed (%d: %s)", code, os.strerror(code))
    await trio.sleep(ACCEPT_PAUSE)
