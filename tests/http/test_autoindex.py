"""The listing's rules, table by table: sizes, the name column, UTF-8 as nginx decodes it,
escapes, order, the jsonp callback, and what a directory that will not open answers (the
listings themselves against nginx are in tests/proxy/test_autoindex_oracle.py)."""

from __future__ import annotations

import errno
import logging

import pytest

from pushproxy.http.autoindex import (
    Entry,
    escape_html,
    escape_json,
    escape_uri_component,
    html_listing,
    html_name,
    json_listing,
    jsonp_callback,
    open_error,
    ordered,
    size_column,
    utf8_length,
    xml_listing,
)

MTIME = 1_000_000_000  # Sun, 09 Sep 2001 01:46:40 GMT
GIB, MIB = 1 << 30, 1 << 20


def file(name: bytes, size: int = 0) -> Entry:
    return Entry(name, directory=False, file=True, mtime=MTIME, size=size)


def directory(name: bytes) -> Entry:
    return Entry(name, directory=True, file=False, mtime=MTIME, size=4096)


@pytest.mark.parametrize(
    ("size", "exact", "rounded"),
    [
        (0, b"                  0", b"      0"),
        (9999, b"               9999", b"   9999"),
        (10000, b"              10000", b"    10K"),  # K from 10000 bytes, not from 1024
        (10751, b"              10751", b"    10K"),  # 10 KiB and 511 bytes
        (10752, b"              10752", b"    11K"),  # 10 KiB and a half: up
        (MIB - 1, b"            1048575", b"  1024K"),
        (MIB, b"            1048576", b"     1M"),
        (MIB + MIB // 2 - 1, b"            1572863", b"     1M"),
        (MIB + MIB // 2, b"            1572864", b"     2M"),
        (GIB - 1, b"         1073741823", b"  1024M"),
        (GIB + GIB // 2, b"         1610612736", b"     2G"),
        (5000 * GIB, b"      5368709120000", b"  5000G"),
    ],
)
def test_sizes(size: int, exact: bytes, rounded: bytes) -> None:
    assert size_column(file(b"f", size), exact=True) == exact
    assert size_column(file(b"f", size), exact=False) == rounded


def test_a_directory_has_no_size() -> None:
    assert size_column(directory(b"d"), exact=True) == b" " * 18 + b"-"
    assert size_column(directory(b"d"), exact=False) == b"      -"


E = "é".encode()


@pytest.mark.parametrize(
    ("entry", "utf8", "shown"),
    [
        (file(b"a" * 49), False, b"a" * 49 + b"</a> "),
        (file(b"a" * 50), False, b"a" * 50 + b"</a>"),
        (file(b"a" * 51), False, b"a" * 47 + b"..&gt;</a>"),
        # A directory's slash counts in the 50 columns, and is left out when it does not fit.
        (directory(b"d" * 48), False, b"d" * 48 + b"/</a> "),
        (directory(b"d" * 49), False, b"d" * 49 + b"/</a>"),
        (directory(b"d" * 50), False, b"d" * 50 + b"</a>"),
        (directory(b"d" * 51), False, b"d" * 47 + b"..&gt;</a>"),
        # Escapes take no columns; the cut comes before escaping.
        (file(b"x" * 45 + b"<&>"), False, b"x" * 45 + b"&lt;&amp;&gt;</a>  "),
        (file(b"y" * 46 + b"&&&&&"), False, b"y" * 46 + b"&amp;..&gt;</a>"),
        # Characters count with utf8 (the answer's charset is utf-8), bytes without.
        (file(E * 25), True, E * 25 + b"</a>" + b" " * 25),
        (file(E * 25), False, E * 25 + b"</a>"),
        (file(E * 26), False, E * 23 + b"\xc3..&gt;</a>"),
        (file(E * 51), True, E * 47 + b"..&gt;</a>"),
        (file(E * 46 + b"<&>"), True, E * 46 + b"&lt;&amp;&gt;</a> "),
        # Not UTF-8 (for nginx's decoder): counted in bytes.
        (file(b"caf\xe9"), True, b"caf\xe9</a>" + b" " * 46),
        (file(b"cont" + b"\xc3\xc3" * 3), True, b"cont" + b"\xc3\xc3" * 3 + b"</a>" + b" " * 43),
    ],
)
def test_the_name_column(entry: Entry, utf8: bool, shown: bytes) -> None:
    assert html_name(entry, utf8=utf8) == shown


@pytest.mark.parametrize(
    ("text", "length"),
    [
        (b"", 0),
        (b"abc", 3),
        ("é€😀".encode(), 3),
        (b"\xed\xa0\x80", 1),  # a surrogate: nginx takes it
        (b"\xc3\xc3", 1),  # any byte from 0x80 continues a character
        (b"\xc0\x80", 2),  # overlong: not UTF-8, so bytes
        (b"\xe0\x80\x80", 3),  # overlong too
        (b"\xf4\x90\x80\x80", 4),  # beyond U+10FFFF
        (b"ab\xe2\x82", 4),  # cut short
        (b"\xc3(", 2),
        (b"\x80", 1),
    ],
)
def test_utf8_length_as_nginx_decodes(text: bytes, length: int) -> None:
    assert utf8_length(text) == length


def test_escapes() -> None:
    printable = bytes(range(0x20, 0x7F))
    assert escape_uri_component(printable) == (
        b"%20%21%22%23%24%25%26%27%28%29%2A%2B%2C-.%2F0123456789%3A%3B%3C%3D%3E%3F%40"
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZ%5B%5C%5D%5E_%60abcdefghijklmnopqrstuvwxyz%7B%7C%7D~"
    )
    assert escape_uri_component(b"\x00\x7f\xc3\xa9") == b"%00%7F%C3%A9"
    assert escape_html(b'<p title="x">&\'') == b"&lt;p title=&quot;x&quot;&gt;&amp;'"
    assert escape_json(b'a"b\\c\n\r\t\b\f\x01\x1f\x7f\xc3\xa9/') == (
        b'a\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001F\x7f\xc3\xa9/'
    )


def test_order_is_directories_then_bytes() -> None:
    names = [file(b"b"), file(b"B"), directory(b"z"), file(b"_"), file(b"\xc3\xa9"), file(b"1")]
    names += [directory(b"Z")]
    assert [e.name for e in ordered(names)] == [b"Z", b"z", b"1", b"B", b"_", b"b", b"\xc3\xa9"]


@pytest.mark.parametrize(
    ("value", "callback"),
    [
        (None, b""),
        ("", b""),
        ("f", b"f"),
        ("jQuery.cb_12", b"jQuery.cb_12"),
        ("c" * 128, b"c" * 128),
        ("c" * 129, None),
        ("a-b", None),
        ("%41", None),  # taken as it is, never decoded
        ("f()", None),
        ("é", None),
    ],
)
def test_jsonp_callback(value: str | None, callback: bytes | None) -> None:
    assert jsonp_callback(value) == callback


@pytest.mark.parametrize(
    ("number", "status", "level"),
    [
        (errno.ENOENT, 404, logging.ERROR),
        (errno.ENOTDIR, 404, logging.ERROR),
        (errno.ENAMETOOLONG, 404, logging.ERROR),
        (errno.EACCES, 403, logging.ERROR),
        (errno.ELOOP, 500, logging.CRITICAL),
        (errno.EMFILE, 500, logging.CRITICAL),
    ],
)
def test_a_directory_that_will_not_open(number: int, status: int, level: int) -> None:
    assert open_error(OSError(number, "x")) == (status, level)


def test_an_empty_directory_in_each_format() -> None:
    assert html_listing(b"/a&b/", []) == (
        b"<html>\r\n<head><title>Index of /a&amp;b/</title></head>\r\n<body>\r\n"
        b'<h1>Index of /a&amp;b/</h1><hr><pre><a href="../">../</a>\r\n'
        b"</pre><hr></body>\r\n</html>\r\n"
    )
    assert json_listing([]) == b"[\r\n]"
    assert json_listing([], b"cb") == b"/* callback */\r\ncb([\r\n]);"
    assert xml_listing([]) == b'<?xml version="1.0"?>\r\n<list>\r\n</list>\r\n'


def test_rows_in_each_format() -> None:
    other = Entry(b"fifo", directory=False, file=False, mtime=MTIME, size=0)
    entries = [directory(b"d"), file(b"a b", 12345), other]
    listing = html_listing(b"/", entries, exact_size=False, offset=5 * 3600 + 1800)
    assert listing.split(b"\r\n")[4:7] == [
        b'<a href="d/">d/</a>' + b" " * 48 + b" 09-Sep-2001 07:16       -",
        b'<a href="a%20b">a b</a>' + b" " * 47 + b" 09-Sep-2001 07:16     12K",
        b'<a href="fifo">fifo</a>' + b" " * 46 + b" 09-Sep-2001 07:16       0",
    ]
    assert json_listing(entries) == (
        b'[\r\n{ "name":"d", "type":"directory", "mtime":"Sun, 09 Sep 2001 01:46:40 GMT" },'
        b'\r\n{ "name":"a b", "type":"file", "mtime":"Sun, 09 Sep 2001 01:46:40 GMT",'
        b' "size":12345 },'
        b'\r\n{ "name":"fifo", "type":"other", "mtime":"Sun, 09 Sep 2001 01:46:40 GMT" }\r\n]'
    )
    assert xml_listing(entries) == (
        b'<?xml version="1.0"?>\r\n<list>\r\n'
        b'<directory mtime="2001-09-09T01:46:40Z">d</directory>\r\n'
        b'<file mtime="2001-09-09T01:46:40Z" size="12345">a b</file>\r\n'
        b'<other mtime="2001-09-09T01:46:40Z">fifo</other>\r\n</list>\r\n'
    )
