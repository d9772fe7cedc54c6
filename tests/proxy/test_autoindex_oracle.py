"""Directory listings against Debian's nginx: the same configuration served by nginx, then by
pushproxy, over one tree; the same requests get the same status line, headers (all but
`Server` and `Date`, in order) and body, byte for byte (chunked framing included).

It covers `autoindex` (inherited, and off again), `autoindex_format` (html, json, jsonp with
and without a good `callback`, xml), `autoindex_exact_size off`, `autoindex_localtime` (in a
time zone of +05:30, set for both servers), names long, UTF-8 (with `charset utf-8` and
without), not UTF-8, needing HTML, URI or JSON escapes, hidden ones, directories, links
(to a file, to a directory, to nothing, to themselves), a FIFO, sizes around each rounding
step, HEAD, POST, PUT, HTTP/1.0, gzip, `add_header`, `expires`, `index`, `try_files` and
`error_page`, and the directories nginx fails to open or to read."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pushproxy.http.pages import error_page

from .conftest import ProxyFactory
from .nginx import needs_nginx, side_by_side
from .test_static_oracle import NGINX_SIGNATURE, OUR_SIGNATURE, ask_row, assert_same

MTIME = 1_000_000_000  # Sun, 09 Sep 2001 01:46:40 GMT
LATE = 1_700_000_000  # Tue, 14 Nov 2023 22:13:20 GMT: the next day at +05:30
ZONE = "XST-05:30"  # POSIX for five and a half hours east of UTC (no tz database needed)
GIB, MIB = 1 << 30, 1 << 20
# In list/: name -> size. Big ones are sparse: they take no room on disk.
SIZES: dict[bytes, int] = {
    b"empty": 0, b"one": 1, b"n9999": 9999, b"n10000": 10000, b"k10751": 10751,
    b"k10752": 10752, b"m1572863": MIB + MIB // 2 - 1, b"m1572864": MIB + MIB // 2,
    b"g1073741823": GIB - 1, b"g1610612736": GIB + GIB // 2, b"a" * 49: 1, b"b" * 50: 1,
    b"c" * 51: 1, b"d" * 60: 1, "é".encode() * 49: 2, "é".encode() * 50: 2,
    "é".encode() * 51: 2, "ü".encode() * 30: 3, b'<&">.txt': 4, b"a b%c?d#e.txt": 4,
    b"x" * 45 + b"<&>": 5, b"y" * 48 + b"&&&&": 5, "é".encode() * 46 + b"<&>": 5,
    b"co:lon.txt": 6, b'ctl\n\t\x01\x7f\\".txt': 6, b"caf\xe9.txt": 6, b"Zed": 7,
    b"_under": 7, b"9lives": 7, b".hidden": 7,
    # What nginx's UTF-8 decoder takes (surrogates; any byte from 0x80 continues a character)
    # and what it does not (an overlong form, beyond U+10FFFF, a character cut short).
    b"sur" + b"\xed\xa0\x80" * 20: 9, b"cont" + b"\xc3\xc3" * 26: 9, b"over\xc0\x80": 9,
    b"big\xf4\x90\x80\x80": 9, b"cut\xe2\x82": 9,
    b"all " + bytes(c for c in range(0x21, 0x7F) if c != 0x2F): 8,
}  # fmt: skip
DIRECTORIES = [b"sub", b"dir:colon", b"e" * 49, b"f" * 50, b"g" * 51, b"Zdir", b".hiddendir"]
LINKS = {b"link_file": b"one", b"link_dir": b"sub", b"broken": b"nowhere", b"loop": b"loop"}


def listing_tree(tmp_path: Path) -> Path:
    """The tree: `list/` with every kind of name, `empty/`, a directory whose name needs
    escaping, and beside them what a regex location's alias without a slash makes nginx
    open instead (its last letter dropped): `lis` of `list`, a file, a link loop, nothing."""
    root = tmp_path.resolve() / "tree"
    listed = os.fsencode(root / "list")
    os.makedirs(listed)
    for number, (name, size) in enumerate(SIZES.items()):
        path = os.path.join(listed, name)
        with open(path, "wb") as file:
            file.truncate(size)
        # Times a few weeks and hours apart: days and months of one and two digits.
        os.utime(path, (MTIME + number * 3_300_000, MTIME + number * 3_300_000))
    for name in DIRECTORIES:
        os.mkdir(os.path.join(listed, name))
        os.utime(os.path.join(listed, name), (LATE, LATE))
    for name, target in LINKS.items():
        os.symlink(target, os.path.join(listed, name))
        os.utime(os.path.join(listed, name), (MTIME, MTIME), follow_symlinks=False)
    os.mkfifo(os.path.join(listed, b"fifo"))
    os.utime(os.path.join(listed, b"fifo"), (LATE, LATE))
    for made in ("empty", 't<&>"', "listx", "gonex", "filex", "loopx", "index/sub"):
        (root / made).mkdir(parents=True)
    (root / 't<&>"' / "in").write_text("in")
    (root / "index" / "index.html").write_text("<p>index</p>\n")
    os.utime(root / "index" / "index.html", (MTIME, MTIME))
    (root / "file").write_text("file")
    (root / "loop").symlink_to("loop")
    for dated in (root / "list", root / "empty", root / 't<&>"', root / 't<&>"' / "in"):
        os.utime(dated, (MTIME, MTIME))
    return root


def _shown(status: int, body: bytes) -> str:
    """A body as the answer shows it: "(page)" for the error page of its status."""
    if body.replace(NGINX_SIGNATURE, OUR_SIGNATURE) == error_page(status) != b"":
        return "(page)"
    return repr(body)


async def observe_whole(port: int, row: str) -> str:
    """The answer to `row` ("METHOD TARGET[ HTTP/1.0][ | Header: value]..."), as
    "STATUS | Header: value | ... | body": the body whole (an error page as "(page)"), so
    that a listing that differs shows where; "(nothing)" when the connection just ends."""
    received = await ask_row(port, row)
    if not received:
        return "(nothing)"
    received_head, _, received_body = received.partition(b"\r\n\r\n")
    status_line, *fields = received_head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ")[1])
    page = error_page(status)
    lengths = {str(len(page)), str(len(page.replace(OUR_SIGNATURE, NGINX_SIGNATURE)))}
    seen = [status_line.split(" ", 1)[1]]
    for field in fields:
        name, _, value = field.partition(": ")
        if name in ("Server", "Date"):
            continue
        value = "(page)" if page and value in lengths else value.replace(f":{port}/", ":PORT/")
        seen.append(f"{name}: {value}")
    return " | ".join([*seen, _shown(status, received_body)])


async def both(
    proxy: ProxyFactory, tmp_path: Path, server: str, rows: list[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The answers to `rows` (by row) from nginx, then from pushproxy, serving `server` with
    TREE standing for the tree's path (and shown so in the answers)."""
    root = str(listing_tree(tmp_path))

    async def ask(port: int) -> list[str]:
        return [(await observe_whole(port, row)).replace(root, "TREE") for row in rows]

    expected, got = await side_by_side(proxy, tmp_path, server.replace("TREE", root), ask)
    return dict(zip(rows, expected, strict=True)), dict(zip(rows, got, strict=True))


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The time zone +05:30 for pushproxy and for nginx (which keeps `TZ` from its parent)."""
    monkeypatch.setenv("TZ", ZONE)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


SERVER = """
root TREE;
autoindex on;
location / { }
location /utf/ { alias TREE/; charset utf-8; }
location /koi/ { alias TREE/; charset koi8-r; }
location /kb/ { alias TREE/; autoindex_exact_size off; }
location /local/ { alias TREE/; autoindex_localtime on; }
location /json/ { alias TREE/; autoindex_format json; }
location /jsonp/ { alias TREE/; autoindex_format jsonp; }
location /xml/ { alias TREE/; autoindex_format xml; charset koi8-r; }
location /off/ { alias TREE/; autoindex off; }
location /gz/ { alias TREE/; gzip on; }
location /gzjson/ { alias TREE/; gzip on; gzip_types application/json; autoindex_format json; }
location /headers/ { alias TREE/; add_header X-Listing yes; }
location /expires/ { alias TREE/; expires epoch; }
location /tf/ { alias TREE/; try_files $uri $uri/ =404; }
location ~ ^/lis/ { alias TREE/listx; }
location ~ ^/gone/ { alias TREE/gonex; }
location ~ ^/caught/ { alias TREE/gonex; error_page 404 =200 /empty/; }
location ~ ^/file/ { alias TREE/filex; }
location ~ ^/loop/ { alias TREE/loopx; }
location ~ ^/re/(.*)$ { alias TREE/$1; }
location ~ ^/retry/(.*)$ { alias TREE/$1; try_files $uri $uri/ =404; }
"""
LONG_CALLBACK = "c" * 128
ROWS = [
    "GET /list/", "GET /utf/list/", "GET /koi/list/", "GET /kb/list/", "GET /local/list/",
    "GET /json/list/", "GET /xml/list/", "GET /empty/", "GET /json/empty/", "GET /xml/empty/",
    "GET /t%3C&%3E%22/", "GET /kb/t%3C&%3E%22/", "GET /list/sub/", "GET /list/link_dir/",
    # jsonp: a callback of letters, digits, `_` and `.`, up to 128 bytes, taken as it is;
    # none (or an empty one) makes it json; anything else is a 400.
    "GET /jsonp/empty/?callback=cb", "GET /jsonp/list/?callback=cb", "GET /jsonp/empty/",
    "GET /jsonp/empty/?callback=", "GET /jsonp/empty/?x=1&CallBack=Q.r_2",
    "GET /jsonp/empty/?xcallback=no&callback=yes", f"GET /jsonp/empty/?callback={LONG_CALLBACK}",
    f"GET /jsonp/empty/?callback={LONG_CALLBACK}c", "GET /jsonp/empty/?callback=a-b",
    "GET /jsonp/empty/?callback=%41", "HEAD /jsonp/empty/?callback=a-b",
    # Methods: HEAD has the head alone; POST is the index module's 403; PUT the static 405.
    "HEAD /list/", "HEAD /json/list/", "POST /list/", "PUT /list/", "DELETE /empty/",
    "GET /empty/ HTTP/1.0", "HEAD /empty/ HTTP/1.0", "GET /list", "GET /list?x=1",
    # Validators and ranges do not apply to a listing.
    "GET /empty/ | If-Modified-Since: Sun, 09 Sep 2001 01:46:40 GMT",
    "GET /empty/ | Range: bytes=0-9",
    # Filters apply as to any answer: gzip (text/html is always a gzip type), headers.
    "GET /gz/list/ | Accept-Encoding: gzip", "GET /gzjson/list/ | Accept-Encoding: gzip",
    "GET /headers/empty/", "GET /expires/empty/",
    # No listing: `autoindex off`, an index file, a directory that is not there, a file.
    "GET /off/list/", "GET /off/empty/", "GET /index/", "GET /missing/", "GET /list/one/",
    "GET /tf/list/", "GET /tf/list", "GET /list/.hiddendir/",
    # A regex location's alias without a slash: nginx opens it less its last letter (`lis`
    # for `listx`; `gone`, not there: 404; `file`, a file: 404; `loop`, a link loop: 500).
    "GET /lis/", "GET /gone/", "HEAD /gone/", "GET /file/", "GET /loop/", "GET /caught/",
    # With captures, the alias names the directory, slash included.
    "GET /re/list/", "GET /re/", "GET /retry/list/", "GET /retry/",
]  # fmt: skip


@needs_nginx
async def test_listings_as_nginx_makes_them(
    proxy: ProxyFactory, tmp_path: Path, zone: None
) -> None:
    expected, got = await both(proxy, tmp_path, SERVER, ROWS)
    empty = (
        b"<html>\r\n<head><title>Index of /empty/</title></head>\r\n<body>\r\n<h1>Index of"
        b' /empty/</h1><hr><pre><a href="../">../</a>\r\n</pre><hr></body>\r\n</html>\r\n'
    )
    assert expected["GET /empty/"] == (
        "200 OK | Content-Type: text/html | Transfer-Encoding: chunked | Connection: close | "
        + repr(b"%x\r\n%s\r\n0\r\n\r\n" % (len(empty), empty))
    )
    assert expected["GET /empty/ HTTP/1.0"] == (
        f"200 OK | Content-Type: text/html | Connection: close | {empty!r}"
    )
    assert expected["HEAD /list/"] == "200 OK | Content-Type: text/html | Connection: close | b''"
    assert expected["GET /jsonp/empty/?callback=cb"].endswith(
        "Content-Type: application/javascript | Transfer-Encoding: chunked | Connection: close"
        " | b'19\\r\\n/* callback */\\r\\ncb([\\r\\n]);\\r\\n0\\r\\n\\r\\n'"
    )
    assert expected["GET /jsonp/empty/"].startswith("200 OK | Content-Type: application/json |")
    assert expected["GET /jsonp/empty/?callback=a-b"].startswith("400 Bad Request |")
    assert expected["GET /xml/empty/"].startswith("200 OK | Content-Type: text/xml; charset=utf-8")
    assert expected["POST /list/"].startswith("403 Forbidden |")
    assert expected["GET /gone/"].startswith("404 Not Found |")  # it opened TREE/gone
    assert expected["GET /loop/"].startswith("500 Internal Server Error |")
    rows = expected["GET /list/"].split("\\r\\n")
    # A directory's name cut at 47 characters; a file's name escaped, padded to 50 columns.
    cut = "..&gt;</a> 14-Nov-2023 22:13                   -"
    assert f'<a href="{"g" * 51}/">{"g" * 47}{cut}' in rows
    assert (
        '<a href="%3C%26%22%3E.txt">&lt;&amp;&quot;&gt;.txt</a>' + " " * 43
        + "28-Jul-2003 13:46                   4"
    ) in rows  # fmt: skip
    assert_same(expected, got)


def deep_tree(tmp_path: Path) -> tuple[Path, str]:
    """A directory whose path is near PATH_MAX, holding a name too long to stat() from it
    (and a short one): the root, and the URI of that directory."""
    root = tmp_path.resolve() / "tree"
    root.mkdir()
    here = os.open(root, os.O_RDONLY)
    uri = "/"
    try:
        while len(str(root)) + len(uri) < 3840:
            os.mkdir("d" * 200, dir_fd=here)
            inner = os.open("d" * 200, os.O_RDONLY, dir_fd=here)
            os.close(here)
            here = inner
            uri += "d" * 200 + "/"
        for name in ("n" * 250, "short"):
            os.close(os.open(name, os.O_CREAT | os.O_WRONLY, dir_fd=here))
    finally:
        os.close(here)
    return root, uri


@needs_nginx
async def test_an_entry_that_cannot_be_looked_at_ends_the_connection(
    proxy: ProxyFactory, tmp_path: Path
) -> None:
    """stat() fails (the name is too long from there): nginx has sent nothing yet, logs it
    and closes the connection; a HEAD has its answer, the directory being unread."""
    root, uri = deep_tree(tmp_path)
    server = f"root {root}; autoindex on; location / {{ }}"

    async def ask(port: int) -> list[str]:
        return [await observe_whole(port, f"{method} {uri}") for method in ("GET", "HEAD")]

    expected, got = await side_by_side(proxy, tmp_path, server, ask)
    assert expected == ["(nothing)", "200 OK | Content-Type: text/html | Connection: close | b''"]
    assert got == expected
