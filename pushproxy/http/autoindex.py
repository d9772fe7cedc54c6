"""nginx's autoindex module: the listing of a directory whose URI ends in `/` and which has no
index file, with `autoindex on` (else nginx's 403).

`autoindex_format` html (the default), json, jsonp or xml; `autoindex_exact_size` (html: the
size in bytes, or rounded to K, M or G); `autoindex_localtime` (html: times in the server's
time zone rather than UTC). Names starting with `.` are left out; directories come first,
then the rest, each in byte order. Symbolic links are listed as what they point to, broken
ones (or loops) as themselves. The listing goes out with no length: chunked for HTTP/1.1,
until the connection closes for HTTP/1.0.

The renderers are pure and work on bytes, as nginx does: a name is whatever the file system
holds. HTML counts a name's characters as UTF-8 only when the answer's charset is utf-8
(`charset utf-8`); otherwise it counts bytes.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pushproxy.config.model import Level
from pushproxy.http.exchange import Exchange
from pushproxy.http.static_rules import http_date
from pushproxy.logs import request_context

log = logging.getLogger("pushproxy")

NAME_WIDTH = 50  # NGX_HTTP_AUTOINDEX_NAME_LEN: the HTML name column
_CONTENT_TYPES = {  # by format; xml's names its charset, whatever `charset` says
    "html": b"text/html",
    "json": b"application/json",
    "jsonp": b"application/javascript",
    "xml": b"text/xml; charset=utf-8",
}
_MONTHS = (b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun",
           b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec")  # fmt: skip
_NOT_FOUND = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG})
# Each unit, its letter, and the size it starts at (K only from 10000 bytes).
_SCALES = ((1 << 30, b"G", 1 << 30), (1 << 20, b"M", 1 << 20), (1024, b"K", 10000))
_MAX_CALLBACK = 128
_ALNUM = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_CALLBACK_BYTES = frozenset(_ALNUM + b"_.")


def _uri_component_table() -> tuple[bytes, ...]:
    """ngx_escape_uri()'s NGX_ESCAPE_URI_COMPONENT: what stays as it is are letters, digits,
    `-`, `.`, `_` and `~`; every other byte is `%XX`."""
    kept = frozenset(_ALNUM + b"-._~")
    return tuple(bytes([c]) if c in kept else b"%%%02X" % c for c in range(256))


def _json_table() -> tuple[bytes, ...]:
    """ngx_escape_json(): `"` and `\\` after a backslash, control bytes as `\\n`, `\\r`,
    `\\t`, `\\b`, `\\f` or `\\u00XX`; the rest (DEL and non-ASCII bytes too) as they are."""
    short = {0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t", 0x08: b"\\b", 0x0C: b"\\f"}
    table = [bytes([c]) for c in range(256)]
    for c in range(0x20):
        table[c] = short.get(c, b"\\u%04X" % c)
    table[0x22], table[0x5C] = b'\\"', b"\\\\"
    return tuple(table)


_URI_COMPONENT = _uri_component_table()
_JSON = _json_table()
_HTML = {0x3C: b"&lt;", 0x3E: b"&gt;", 0x26: b"&amp;", 0x22: b"&quot;"}


def escape_uri_component(name: bytes) -> bytes:
    """A name as a link's URI: every byte but letters, digits and `-._~` as `%XX`."""
    return b"".join([_URI_COMPONENT[c] for c in name])


def escape_json(name: bytes) -> bytes:
    """A name inside a JSON string, as nginx escapes it (see `_json_table`)."""
    return b"".join([_JSON[c] for c in name])


def escape_html(text: bytes) -> bytes:
    """ngx_escape_html(): `<`, `>`, `&` and `"` only."""
    if not any(c in _HTML for c in text):
        return text
    return b"".join([_HTML.get(c, bytes([c])) for c in text])


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoIndex:
    """A location's listing settings, read at load (a location has one with `autoindex on`
    in effect)."""

    format: str = "html"
    exact_size: bool = True
    localtime: bool = False

    @classmethod
    def of(cls, level: Level) -> AutoIndex | None:
        if level.values.get("autoindex") is not True:
            return None
        chosen = level.arg("autoindex_format", "html") or "html"
        return cls(
            format=chosen if chosen in _CONTENT_TYPES else "html",  # another is `check`'s to report
            exact_size=level.values.get("autoindex_exact_size", True) is not False,
            localtime=level.values.get("autoindex_localtime") is True,
        )


@dataclass(frozen=True, slots=True)
class Entry:
    """One listed name, as stat() (or lstat(), for a link to nothing) found it: a directory,
    a regular file, or something else (a broken link, a FIFO...)."""

    name: bytes
    directory: bool
    file: bool
    mtime: int
    size: int

    @classmethod
    def of(cls, name: bytes, info: os.stat_result) -> Entry:
        mode = info.st_mode
        return cls(name, stat.S_ISDIR(mode), stat.S_ISREG(mode), int(info.st_mtime), info.st_size)


def ordered(entries: Iterable[Entry]) -> list[Entry]:
    """nginx's order: directories first, then byte order (strcmp) of the names."""
    return sorted(entries, key=lambda entry: (not entry.directory, entry.name))


def _utf8_step(text: bytes, at: int) -> int:
    """Where the UTF-8 character at `at` ends, as ngx_utf8_decode() reads it (continuation
    bytes are only checked to be 0x80 or above); -1 when it is not one."""
    lead = text[at]
    if lead >= 0xF0:
        value, valid, more = lead & 0x07, 0xFFFF, 3
    elif lead >= 0xE0:
        value, valid, more = lead & 0x0F, 0x7FF, 2
    elif lead >= 0xC2:
        value, valid, more = lead & 0x1F, 0x7F, 1
    else:
        return -1
    if len(text) - at - 1 < more:
        return -1
    for byte in text[at + 1 : at + 1 + more]:
        if byte < 0x80:
            return -1
        value = (value << 6) | (byte & 0x3F)
    return at + 1 + more if valid < value <= 0x10FFFF else -1


def utf8_length(text: bytes) -> int:
    """ngx_utf8_length(): the characters in `text`; its length in bytes when it is not
    valid UTF-8."""
    count = at = 0
    while at < len(text):
        if text[at] < 0x80:
            at += 1
        else:
            at = _utf8_step(text, at)
            if at < 0:
                return len(text)
        count += 1
    return count


def utf8_prefix(text: bytes, characters: int) -> bytes:
    """The first `characters` characters of valid UTF-8 `text`."""
    at = 0
    for _ in range(characters):
        if at >= len(text):
            break
        at = at + 1 if text[at] < 0x80 else _utf8_step(text, at)
    return text[:at]


def size_column(entry: Entry, *, exact: bool) -> bytes:
    """The HTML size column: bytes in 19 columns, or (not `exact`) 7 columns rounded to K
    (from 10000 bytes), M or G, halves up; `-` for a directory."""
    if entry.directory:
        return b"-".rjust(19 if exact else 7)
    size = entry.size
    if exact:
        return b"%19d" % size
    for unit, scale, least in _SCALES:
        if size >= least:
            whole, rest = divmod(size, unit)
            return b"%6d%s" % (whole + (rest >= unit // 2), scale)
    return b" %6d" % size


def _html_date(mtime: int) -> bytes:
    tm = time.gmtime(mtime)
    return b"%02d-%s-%d %02d:%02d" % (
        tm.tm_mday, _MONTHS[tm.tm_mon - 1], tm.tm_year, tm.tm_hour, tm.tm_min
    )  # fmt: skip


def html_name(entry: Entry, *, utf8: bool) -> bytes:
    """The link text and the padding after it: the name cut to 47 characters and `..>`
    when longer than 50, a directory's `/` when it fits, spaces up to 50 columns."""
    name = entry.name
    length = utf8_length(name) if utf8 else len(name)
    cut = length > NAME_WIDTH
    if length != len(name):  # characters of several bytes
        shown = utf8_prefix(name, NAME_WIDTH - 3 if cut else NAME_WIDTH)
    else:
        shown = name[: NAME_WIDTH - 3] if cut else name
    if cut:
        return escape_html(shown) + b"..&gt;</a>"
    slash = b"/" if entry.directory and length < NAME_WIDTH else b""
    length += len(slash)
    return escape_html(shown) + slash + b"</a>" + b" " * (NAME_WIDTH - length)


def html_listing(
    uri: bytes,
    entries: Sequence[Entry],
    *,
    exact_size: bool = True,
    utf8: bool = False,
    offset: int = 0,
) -> bytes:
    """ngx_http_autoindex_html(): `uri` in the title and heading, a `../` link, then a row
    per entry (in the order given). `offset`: seconds added to the times
    (`autoindex_localtime`)."""
    title = escape_html(uri)
    rows = [
        b"<html>\r\n<head><title>Index of " + title + b"</title></head>\r\n<body>\r\n"
        b"<h1>Index of " + title + b'</h1><hr><pre><a href="../">../</a>\r\n'
    ]
    for entry in entries:
        href = escape_uri_component(entry.name) + (b"/" if entry.directory else b"")
        rows.append(
            b'<a href="' + href + b'">' + html_name(entry, utf8=utf8) + b" "
            + _html_date(entry.mtime + offset) + b" "
            + size_column(entry, exact=exact_size) + b"\r\n"
        )  # fmt: skip
    rows.append(b"</pre><hr></body>\r\n</html>\r\n")
    return b"".join(rows)


def _kind(entry: Entry) -> bytes:
    return b"directory" if entry.directory else b"file" if entry.file else b"other"


def json_listing(entries: Sequence[Entry], callback: bytes = b"") -> bytes:
    """ngx_http_autoindex_json(): an array of objects (`name`, `type`, `mtime` as an HTTP
    date, `size` for a regular file), wrapped in a call of `callback` when there is one."""
    out = [b"/* callback */\r\n" + callback + b"(" if callback else b"", b"["]
    rows = []
    for entry in entries:
        size = b'", "size":%d' % entry.size if entry.file else b'"'
        rows.append(
            b'\r\n{ "name":"' + escape_json(entry.name) + b'", "type":"' + _kind(entry)
            + b'", "mtime":"' + http_date(entry.mtime) + size + b" }"
        )  # fmt: skip
    out += [b",".join(rows), b"\r\n]", b");" if callback else b""]
    return b"".join(out)


def xml_listing(entries: Sequence[Entry]) -> bytes:
    """ngx_http_autoindex_xml(): a `<list>` of `<directory>`, `<file>` (with its size) and
    `<other>` elements, each with its `mtime` in UTC."""
    out = [b'<?xml version="1.0"?>\r\n<list>\r\n']
    for entry in entries:
        kind = _kind(entry)
        tm = time.gmtime(entry.mtime)
        mtime = b"%4d-%02d-%02dT%02d:%02d:%02dZ" % tm[:6]
        size = b'" size="%d' % entry.size if entry.file else b""
        out.append(
            b"<" + kind + b' mtime="' + mtime + size + b'">' + escape_html(entry.name)
            + b"</" + kind + b">\r\n"
        )  # fmt: skip
    out.append(b"</list>\r\n")
    return b"".join(out)


def jsonp_callback(value: str | None) -> bytes | None:
    """ngx_http_autoindex_jsonp_callback(): the `callback` argument as it is (not decoded),
    b"" when there is none; None when nginx refuses it (over 128 bytes, or a byte other
    than a letter, a digit, `_` or `.`)."""
    if value is None:
        return b""
    raw = value.encode("utf-8", "surrogateescape")
    if len(raw) > _MAX_CALLBACK:
        log.info('client sent too long callback name: "%s"', value)
        return None
    if not _CALLBACK_BYTES.issuperset(raw):
        log.info('client sent invalid callback name: "%s"', value)
        return None
    return raw


def open_error(error: OSError) -> tuple[int, int]:
    """The status and log level of a directory that would not open."""
    if error.errno in _NOT_FOUND:
        return 404, logging.ERROR
    if error.errno == errno.EACCES:
        return 403, logging.ERROR
    return 500, logging.CRITICAL


def _local_offset(localtime: bool) -> int:
    """nginx's `gmtoff` of now, in whole minutes, applied to every time alike."""
    if not localtime:
        return 0
    return int(time.localtime().tm_gmtoff / 60) * 60


def _entries(
    folder: bytes, found: Iterable[os.DirEntry[bytes]], context: str
) -> list[Entry] | None:
    """The entries to list (not hidden), stat()ed; None after an error nginx gives up on."""
    entries = []
    for item in found:
        name = item.name
        if name.startswith(b"."):
            continue
        path = folder + b"/" + name
        try:
            info = os.stat(path)
        except OSError as error:
            if error.errno not in (errno.ENOENT, errno.ELOOP):  # not a broken link
                log.critical('stat() "%s" failed (%d: %s), %s', os.fsdecode(path), error.errno,
                             error.strerror, context)  # fmt: skip
                if error.errno == errno.EACCES:
                    continue
                return None
            try:
                info = os.lstat(path)
            except OSError as again:
                log.critical('lstat() "%s" failed (%d: %s), %s', os.fsdecode(path), again.errno,
                             again.strerror, context)  # fmt: skip
                return None
        entries.append(Entry.of(name, info))
    return entries


async def handle_autoindex(exchange: Exchange, settings: AutoIndex, filename: str) -> None:
    """ngx_http_autoindex_handler() for a GET or HEAD whose file name (`$request_filename`,
    ending in `/`) has no index file: the listing, or an error. nginx drops the file name's
    last byte (the slash: the last letter of a regex location's alias without one)."""
    conn, variables = exchange.conn, exchange.variables
    assert variables is not None
    context = request_context(exchange.lookup)
    path = os.fsencode(filename)
    folder = path[:-1] if len(path) > 1 else path
    form = settings.format
    callback = b""
    if form == "jsonp":
        found = jsonp_callback(variables.target.arg_map.get("callback"))
        if found is None:
            await conn.error(400)
            return
        callback = found
        form = "jsonp" if callback else "json"
    try:
        listing = os.scandir(folder)
    except OSError as error:
        status, level = open_error(error)
        log.log(level, 'opendir() "%s" failed (%d: %s), %s', os.fsdecode(folder), error.errno,
                error.strerror, context)  # fmt: skip
        await conn.error(status)
        return
    headers = [(b"Content-Type", _CONTENT_TYPES[form])]
    with listing:
        if exchange.method == "HEAD":  # nginx sends the head without reading the directory
            await conn.start(200, headers, whole=b"")
            return
        try:
            entries = _entries(folder, listing, context)
        except OSError as error:
            log.critical('readdir() "%s" failed (%d: %s), %s', os.fsdecode(folder),
                         error.errno, error.strerror, context)  # fmt: skip
            entries = None
    if entries is None:
        return  # nginx closes the connection with nothing sent
    entries = ordered(entries)
    if form == "html":
        charset = conn.limits.charset
        body = html_listing(
            variables.target.uri.encode("utf-8", "surrogateescape"),
            entries,
            exact_size=settings.exact_size,
            utf8=charset is not None and charset.name.lower() == b"utf-8",
            offset=_local_offset(settings.localtime),
        )
    elif form == "xml":
        body = xml_listing(entries)
    else:
        body = json_listing(entries, callback)
    await conn.start(200, headers, whole=body)
