"""Precompressed files (`gzip_static`), as ngx_http_gzip_static_module finds them.

For a GET or HEAD of a file (not a directory's URI), `FILE.gz` goes out instead of `FILE`, with
`Content-Encoding: gzip`, when the client takes gzip by nginx's `gzip_ok` rules (`on`) or
whatever it takes (`always`). The .gz file's own length, date and entity tag describe the
answer, and it offers no ranges. With `on` and `gzip_vary on`, the answer for a file that has a
.gz says `Vary: Accept-Encoding`, whether the .gz went out or not; `always` never says it.
When there is no .gz (or it will not open, or is a directory), the file is served as usual.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from dataclasses import dataclass

from pushproxy.config.model import Level
from pushproxy.http.exchange import Exchange
from pushproxy.http.gzip import gzip_ok, request_rules

log = logging.getLogger("pushproxy")
_ABSENT = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG})
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass(frozen=True, slots=True)
class GzipStatic:
    """A location's `gzip_static` (on or always) and what `gzip_ok` asks of a request."""

    always: bool
    vary: bool  # `gzip_vary on`
    http_version: bytes
    proxied: frozenset[str]

    @classmethod
    def of(cls, level: Level) -> GzipStatic | None:
        mode = level.arg("gzip_static", "off")
        if mode not in ("on", "always"):
            return None
        http_version, proxied = request_rules(level)
        return cls(
            always=mode == "always",
            vary=level.values.get("gzip_vary") is True,
            http_version=http_version,
            proxied=proxied,
        )


@dataclass(frozen=True, slots=True)
class Precompressed:
    """The open .gz file to send instead (its descriptor and `fstat`)."""

    fd: int
    info: os.stat_result


def open_precompressed(
    rules: GzipStatic, exchange: Exchange, path: str, context: str
) -> Precompressed | int | None:
    """`path + ".gz"` opened to be sent, a status to answer with (a .gz that is not a regular
    file: nginx's 404), or None: the file itself is served."""
    conn, request = exchange.conn, exchange.conn.request
    assert request is not None
    takes = rules.always or gzip_ok(
        request.headers, request.http_version, rules.http_version, rules.proxied
    )
    if not takes and not rules.vary:
        return None  # nginx does not look: nothing it could say depends on the .gz
    compressed = path + ".gz"
    try:
        fd = os.open(compressed, _OPEN_FLAGS)
    except OSError as error:
        if error.errno not in _ABSENT:
            report = log.error if error.errno == errno.EACCES else log.critical
            report('open() "%s" failed (%d: %s), %s', compressed, error.errno, error.strerror,
                   context)  # fmt: skip
        return None
    if not rules.always and rules.vary:
        conn.vary_encoding = True  # (nginx's r->gzip_vary, said only with gzip_vary on)
    try:
        info = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    if not takes or stat.S_ISDIR(info.st_mode):
        os.close(fd)
        return None
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        log.critical('"%s" is not a regular file, %s', compressed, context)
        return 404
    return Precompressed(fd, info)
