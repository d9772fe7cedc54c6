"""nginx's content phase for a location without a handler of its own: `try_files`, then the
index module (a URI ending in `/`), then the static module (the file itself), with the
not-modified and range filters' answers (`static_rules`); a directory with no index file is
listed by the autoindex module (`autoindex`) when that is on.

What it may answer with instead is an internal redirect (`Jump`): to an index file, or to a
`try_files` fallback URI or named location, which the dispatcher follows as nginx does.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from dataclasses import dataclass, replace

from pushproxy.config.complex import ComplexValue, ComplexValueError, compile_value
from pushproxy.config.model import Location
from pushproxy.http.autoindex import AutoIndex, handle_autoindex
from pushproxy.http.exchange import Exchange, Jump
from pushproxy.http.file_paths import FileRoot
from pushproxy.http.gzip_static import GzipStatic, open_precompressed
from pushproxy.http.mimetypes import MimeTypes
from pushproxy.http.responses import redirect
from pushproxy.http.static_rules import ModifiedSince
from pushproxy.http.static_send import send_file
from pushproxy.logs import request_context

log = logging.getLogger("pushproxy")
_SERVED_METHODS = frozenset({"GET", "HEAD", "POST"})
_NOT_FOUND = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG})
_UNLIMITED = 2**31 - 1  # `max_ranges` unset: nginx's NGX_MAX_INT32_VALUE


@dataclass(frozen=True, slots=True)
class _Tried:
    """One `try_files` name: its value, and whether a directory is wanted (a trailing `/`)."""

    name: ComplexValue
    directory: bool


def _compiled(text: str) -> ComplexValue:
    try:
        return compile_value(text)
    except ComplexValueError:  # `check` reports it
        return ComplexValue(text, (text,))


@dataclass(frozen=True, slots=True, kw_only=True)
class StaticFiles:
    """A location's files and how they are served, read at load: root or alias, `index`,
    `try_files` (its names, and the fallback: a URI, `@name` or `=code`), `etag`,
    `if_modified_since`, `max_ranges`, `log_not_found`, its types, its `autoindex`
    settings (None: directories are not listed) and its `gzip_static` (None: off)."""

    root: FileRoot
    mime_types: MimeTypes
    index: tuple[ComplexValue, ...] = (ComplexValue("index.html", ("index.html",)),)
    tried: tuple[_Tried, ...] = ()
    fallback: ComplexValue | None = None
    etag: bool = True
    modified_since: ModifiedSince = ModifiedSince.EXACT
    max_ranges: int = _UNLIMITED
    log_not_found: bool = True
    autoindex: AutoIndex | None = None
    gzip_static: GzipStatic | None = None

    @classmethod
    def of(
        cls,
        location: Location,
        prefix: str,
        mime_types: MimeTypes,
        owner: Location | None = None,
    ) -> StaticFiles:
        """`owner`: see `FileRoot.of`."""
        level = location.level
        names = [arg for d in level.all("index") for arg in d.args] or ["index.html"]
        tried: list[_Tried] = []
        fallback = None
        found = level.last("try_files")
        if found is not None and len(found.args) >= 2:
            for arg in found.args[:-1]:
                directory = arg.endswith("/") and len(arg) > 1
                tried.append(_Tried(_compiled(arg[:-1] if directory else arg), directory))
            fallback = _compiled(found.args[-1])
        ranges = level.values.get("max_ranges")
        return cls(
            root=FileRoot.of(location, prefix, owner),
            mime_types=mime_types,
            index=tuple(_compiled(name) for name in names),
            tried=tuple(tried),
            fallback=fallback,
            etag=level.values.get("etag", True) is not False,
            modified_since=ModifiedSince(level.arg("if_modified_since", "exact")),
            max_ranges=ranges if isinstance(ranges, int) else _UNLIMITED,
            log_not_found=level.values.get("log_not_found", True) is not False,
            autoindex=AutoIndex.of(level),
            gzip_static=GzipStatic.of(level),
        )


def _open_error(static: StaticFiles, error: OSError, path: str, context: str) -> int:
    """The status for a file that would not open, logged as nginx logs it."""
    if error.errno in _NOT_FOUND:
        if static.log_not_found:
            log.error('open() "%s" failed (%d: %s), %s', path, error.errno, error.strerror,
                      context)  # fmt: skip
        return 404
    if error.errno == errno.EACCES:
        log.error('open() "%s" failed (%d: %s), %s', path, error.errno, error.strerror, context)
        return 403
    log.critical('open() "%s" failed (%d: %s), %s', path, error.errno, error.strerror, context)
    return 500


def try_files(static: StaticFiles, uri: str, exchange: Exchange) -> tuple[str, bool] | Jump | int:
    """ngx_http_core_try_files_phase(): the first name that is there (a file, or a directory
    for a name ending in `/`), as the URI to serve it by (and True: a name `try_files`
    found); else the fallback: a Jump (a URI drops the request's arguments unless it names
    its own) or a status (`=404`)."""
    lookup = exchange.lookup
    root = static.root
    for tried in static.tried:
        name = tried.name.evaluate(lookup)
        path = root.tried_file(name, uri, lookup)
        try:
            is_dir = stat.S_ISDIR(os.stat(path).st_mode)
        except OSError:
            continue
        if is_dir == tried.directory:
            if root.cut > 0 and name[: root.cut] != uri[: root.cut]:
                name = uri[: root.cut] + name  # nginx puts the alias's prefix back in front
            return name, True
    assert static.fallback is not None
    last = static.fallback.evaluate(lookup)
    if last.startswith("=") and last[1:].isdigit():
        return int(last[1:])
    if last.startswith("@"):
        return Jump(last)
    target, _, args = last.partition("?")
    return Jump(target, args)


async def handle_static(exchange: Exchange, location: Location, static: StaticFiles) -> Jump | None:
    """The answer nginx's content phase gives: a file, a directory's redirect or index file,
    or an error; or the internal redirect to follow instead (`Jump`)."""
    conn, variables = exchange.conn, exchange.variables
    assert variables is not None
    uri, tried = variables.target.uri, False
    if "\x00" in uri:  # (`%00`) names no file: the file system takes none
        await conn.error(404)
        return None
    if static.tried:
        outcome = try_files(static, uri, exchange)
        if isinstance(outcome, Jump):
            return outcome
        if isinstance(outcome, int):
            await conn.error(outcome)
            return None
        uri, tried = outcome
        variables.retarget(replace(variables.target, uri=uri))
    if exchange.method not in _SERVED_METHODS:
        await conn.error(405)
        return None
    if uri.endswith("/"):
        return await _index(exchange, static, uri)
    context = request_context(exchange.lookup)
    path = static.root.filename(uri, exchange.lookup, tried=tried)
    if static.gzip_static is not None and exchange.method != "POST":
        found = open_precompressed(static.gzip_static, exchange, path, context)
        if isinstance(found, int):
            await conn.error(found)
            return None
        if found is not None:
            content_type = static.mime_types.content_type(uri)
            try:
                await send_file(exchange, found.fd, found.info, content_type, static, encoded=True)
            finally:
                os.close(found.fd)
            return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        await conn.error(_open_error(static, error, path, context))
        return None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            args = variables.target.args
            await redirect(exchange, location, 301, f"{uri}/?{args}" if args else f"{uri}/")
            return None
        if not stat.S_ISREG(info.st_mode):
            log.critical('"%s" is not a regular file, %s', path, context)
            await conn.error(404)
            return None
        if exchange.method == "POST":
            await conn.error(405)
            return None
        content_type = static.mime_types.content_type(uri)
        await send_file(exchange, fd, info, content_type, static)
    finally:
        os.close(fd)
    return None


async def _index(exchange: Exchange, static: StaticFiles, uri: str) -> Jump | None:
    """ngx_http_index_handler(): the first index file there, as an internal redirect (with
    the request's arguments); else 404 when the directory is not there either, its listing
    (GET and HEAD, with `autoindex on`), or nginx's 403 for a directory it will not list."""
    lookup, conn = exchange.lookup, exchange.conn
    assert exchange.variables is not None
    args = exchange.variables.target.args
    directory = static.root.filename(uri, lookup)
    context = request_context(lookup)
    looked = False  # at the directory itself, once an index file was not there
    for value in static.index:
        name = value.evaluate(lookup)
        if name.startswith("/"):  # a URI of its own (the last one, usually)
            return Jump(name, args)
        path = directory + name
        try:
            os.stat(path)
        except OSError as error:
            if error.errno in (errno.ENOTDIR, errno.ENAMETOOLONG, errno.EACCES):
                await conn.error(_index_error(static, path, error, context))
                return None
            if not looked:
                status = _directory_status(static, directory, context)
                if status:
                    await conn.error(status)
                    return None
                looked = True
            if error.errno == errno.ENOENT:
                continue
            log.critical('stat() "%s" failed (%d: %s), %s', path, error.errno, error.strerror,
                         context)  # fmt: skip
            await conn.error(500)
            return None
        return Jump(uri + name, args)
    if static.autoindex is not None and exchange.method in ("GET", "HEAD"):
        await handle_autoindex(exchange, static.autoindex, directory)
        return None
    log.error('directory index of "%s" is forbidden, %s', directory, context)
    await conn.error(403)
    return None


def _index_error(static: StaticFiles, path: str, error: OSError, context: str) -> int:
    """ngx_http_index_error(): 403 for a file it may not see, else 404; logged."""
    if error.errno == errno.EACCES:
        log.error('"%s" is forbidden (%d: %s), %s', path, error.errno, error.strerror, context)
        return 403
    if static.log_not_found:
        log.error('"%s" is not found (%d: %s), %s', path, error.errno, error.strerror, context)
    return 404


def _directory_status(static: StaticFiles, directory: str, context: str) -> int:
    """ngx_http_index_test_dir(): 0 when the directory is there (or may not be looked at),
    else the error status."""
    bare = directory.rstrip("/") or "/"
    try:
        info = os.stat(bare)
    except OSError as error:
        if error.errno == errno.ENOENT:
            return _index_error(static, bare, error, context)
        if error.errno == errno.EACCES:
            return 0
        log.critical('stat() "%s" failed (%d: %s), %s', bare, error.errno, error.strerror,
                     context)  # fmt: skip
        return 500
    if stat.S_ISDIR(info.st_mode):
        return 0
    log.critical('"%s" is not a directory, %s', bare, context)
    return 500
