"""Static files against Debian's nginx: the same configuration served by nginx, then by
pushproxy, over one document tree; the same requests get the same status line, headers (all
but `Server` and `Date`, in order) and body. It covers content types (nginx's built-in three,
a `types` block, `default_type` at the http level), `root` and `alias` (prefix and regex
locations), `index`, `try_files`, the redirect of a directory without its slash, 403, 404,
405, `$document_root`, `$realpath_root`, `$request_filename`, `if (-f ...)`, conditional
requests (`etag`, `if_modified_since`) and byte ranges (`max_ranges`, `If-Range`, multipart
answers)."""

from __future__ import annotations

import hashlib
import os
import random
import re
from pathlib import Path

from pushproxy.http.pages import error_page

from .conftest import ProxyFactory
from .nginx import needs_nginx, side_by_side
from .support import connect_from, read_to_end

MTIME = 1_000_000_000  # every file's mtime: ETags are "3b9aca00-<size in hex>"
LAST_MODIFIED = "Sun, 09 Sep 2001 01:46:40 GMT"
EARLIER, LATER = "Sun, 09 Sep 2001 01:46:39 GMT", "Sun, 09 Sep 2001 01:46:41 GMT"
TAG = '"3b9aca00-15"'  # notes.txt's
FILES = {
    "index.html": "<p>home</p>\n", "a.html": "<p>a</p>\n", "style.css": "p{}\n",
    "app.js": "go();\n", "notes.txt": "0123456789abcdefghij\n", "pic.gif": "GIF89a..",
    "photo.jpg": "\xff\xd8jpg", "README": "no extension\n", "empty.txt": "",
    "a b.txt": "spaced\n", ".dotfile": "hidden\n", "locked.txt": "locked\n",
    "fallback.html": "<p>fallback</p>\n", "sub/index.html": "<p>sub</p>\n",
    "sub/page.html": "<p>page</p>\n", "bare/file.txt": "bare\n",
    "multi/home.html": "<p>multi</p>\n", "nested/deep/er/leaf.txt": "leaf\n",
    "tf/here.txt": "here\n", "tf/dir/index.html": "<p>tf dir</p>\n", "tf/bare/x.txt": "x\n",
}  # fmt: skip
# nginx's error pages differ from pushproxy's only in the signature line.
NGINX_SIGNATURE, OUR_SIGNATURE = b"<center>nginx/1.22.1</center>", b"<center>pushproxy</center>"


def document_tree(tmp_path: Path) -> Path:
    """The document tree (with a symlink to it beside), every mtime MTIME. `locked.txt` has
    mode 000, which root reads all the same; both servers run as the same user, so they
    agree either way."""
    www = tmp_path.resolve() / "www"
    for name, text in FILES.items():
        path = www / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("latin-1"))
    # Varied bytes, so that a part in the wrong place shows.
    (www / "big.bin").write_bytes(random.Random(7).randbytes(200 * 1024))
    # Bigger than what is read and written at once: it goes out in pieces.
    (www / "huge.bin").write_bytes(random.Random(8).randbytes(700 * 1024))
    (www / "long.txt").write_text("".join(f"line {n}\n" for n in range(3000)))
    (www / "link.html").symlink_to("a.html")
    (www.parent / "wwwlink").symlink_to("www")
    for directory, dirs, files in os.walk(www):
        for name in dirs + files:
            os.utime(os.path.join(directory, name), (MTIME, MTIME), follow_symlinks=False)
    os.utime(www, (MTIME, MTIME))
    (www / "locked.txt").chmod(0)
    return www


def _body(status: int, body: bytes) -> str:
    if body.replace(NGINX_SIGNATURE, OUR_SIGNATURE) == error_page(status) != b"":
        return "(page)"
    if len(body) > 300:
        return f"({len(body)} bytes, sha256 {hashlib.sha256(body).hexdigest()[:16]})"
    return repr(body)


async def ask_row(port: int, row: str) -> bytes:
    """The whole answer to `row` ("METHOD TARGET[ HTTP/1.0][ | Header: value]..."): HTTP/1.1
    with `Connection: close`, or HTTP/1.0 without `Host` (a 301 then names the address it
    was sent to); a POST or PUT carries one byte."""
    request, *headers = row.split(" | ")
    method, target, *version = request.split(" ")
    if version:
        head = f"{method} {target} HTTP/1.0\r\n"
    else:
        head = f"{method} {target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
    body = b"x" if method in ("POST", "PUT") else b""
    head += "".join(f"{line}\r\n" for line in headers) + f"Content-Length: {len(body)}\r\n\r\n"
    stream = await connect_from("127.0.0.1", port)
    await stream.send_all(head.encode("latin-1") + body)
    return await read_to_end(stream)


async def observe(port: int, row: str) -> str:
    """The answer to `row` (see `ask_row`), as "STATUS | Header: value | ... | body", the
    server's own differences taken out."""
    received_head, _, received = (await ask_row(port, row)).partition(b"\r\n\r\n")
    status_line, *fields = received_head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ")[1])
    seen = [status_line.split(" ", 1)[1]]
    page = error_page(status)
    # A page's length, for HEAD too (whose answer has no page to look at).
    page_lengths = {str(len(page)), str(len(page.replace(OUR_SIGNATURE, NGINX_SIGNATURE)))}
    for field in fields:
        name, _, value = field.partition(": ")
        if name in ("Server", "Date"):
            continue
        if name == "Content-Length" and page and value in page_lengths:
            value = "(page)"
        value = value.replace(f":{port}/", ":PORT/")
        # The multipart boundary is a counter of nginx's: what matters is its use.
        boundary = re.search(r"boundary=(\S+)", value) if name == "Content-Type" else None
        if boundary:
            received = received.replace(boundary[1].encode(), b"BOUNDARY")
            value = value.replace(boundary[1], "BOUNDARY")
        seen.append(f"{name}: {value}")
    return " | ".join([*seen, _body(status, received)])


async def both(
    proxy: ProxyFactory, tmp_path: Path, server: str, rows: list[str], http: str = ""
) -> tuple[dict[str, str], dict[str, str]]:
    """The answers to `rows` (by row) from nginx, then from pushproxy, serving `server` (and
    `http`) with WWW standing for the document tree."""
    www = str(document_tree(tmp_path))

    async def ask(port: int) -> list[str]:
        # The tree's path shows in `$request_filename` and the like.
        return [(await observe(port, row)).replace(www, "WWW") for row in rows]

    text, http = server.replace("WWW", www), http.replace("WWW", www)
    expected, got = await side_by_side(proxy, tmp_path, text, ask, http=http)
    return dict(zip(rows, expected, strict=True)), dict(zip(rows, got, strict=True))


def assert_same(expected: dict[str, str], got: dict[str, str]) -> None:
    wrong = [
        f"{row}\n    nginx:     {want}\n    pushproxy: {got[row]}"
        for row, want in expected.items()
        if got[row] != want
    ]
    assert not wrong, "\n".join(wrong)


FILES_SERVER = """
root WWW;
location / { }
location /typed/ {
    alias WWW/;
    types { text/html html; text/css css; application/javascript js; }
    default_type application/octet-stream;
}
location /quiet/ { alias WWW/; log_not_found off; }
location /gz/ { alias WWW/; gzip on; gzip_types text/plain; }
location /headers/ { alias WWW/; add_header X-Kind file; charset utf-8; }
"""
FILES_ROWS = [
    "GET /a.html", "HEAD /a.html", "GET /a.html HTTP/1.0", "GET /a.html?x=1", "GET /index.html",
    "GET /", "GET /style.css", "GET /app.js", "GET /pic.gif", "GET /photo.jpg", "GET /README",
    "GET /empty.txt", "GET /big.bin", "HEAD /big.bin", "GET /typed/a.html",
    "GET /typed/style.css", "GET /typed/app.js", "GET /typed/pic.gif", "GET /typed/README",
    "GET /.dotfile", "GET /link.html", "GET /locked.txt", "GET /a%20b.txt", "GET /a%20b",
    # Directories: the redirect to the name with a slash, with the query; an index or not.
    "GET /sub", "GET /sub?x=1", "GET /sub HTTP/1.0", "GET /typed/sub", "GET /nested/deep",
    "GET /b%61re", "GET /sub/", "GET /bare/", "GET /nested/", "HEAD /bare/",
    "GET /missing", "HEAD /missing", "GET /quiet/missing", "GET /a.html/",
    "GET /sub/page.html/x", "GET /a%20b.txt/",
    "POST /a.html", "PUT /a.html", "DELETE /a.html", "OPTIONS /a.html", "POST /missing",
    "POST /sub/", "POST /bare/", "POST /sub",
    "GET /../etc/passwd", "GET /%2e%2e/a.html", "GET /sub/../a.html", "GET /sub/%2e%2e/a.html",
    "GET /sub/./page.html", "GET //sub//page.html", "GET /sub%2fpage.html",
    "GET /huge.bin", "HEAD /huge.bin", "GET /huge.bin | Range: bytes=100-600000",
    "GET /huge.bin | Range: bytes=0-9,300000-600000,-5",
    # gzip: a weak entity tag, no ranges; `add_header` and `charset` apply to files too.
    "GET /gz/long.txt | Accept-Encoding: gzip", "GET /gz/notes.txt | Accept-Encoding: gzip",
    "GET /gz/long.txt | Accept-Encoding: gzip | Range: bytes=0-9", "GET /gz/long.txt",
    "GET /gz/long.txt | Range: bytes=0-9", "HEAD /gz/long.txt | Accept-Encoding: gzip",
    "GET /headers/notes.txt", "GET /headers/a.html", "GET /headers/missing",
    "GET /headers/notes.txt | Range: bytes=0-1",
]  # fmt: skip


@needs_nginx
async def test_files_and_directories_as_nginx_does(proxy: ProxyFactory, tmp_path: Path) -> None:
    expected, got = await both(proxy, tmp_path, FILES_SERVER, FILES_ROWS)
    assert expected["GET /a.html"] == (
        f"200 OK | Content-Type: text/html | Content-Length: 9 | Last-Modified: {LAST_MODIFIED}"
        ' | Connection: close | ETag: "3b9aca00-9" | Accept-Ranges: bytes | ' + repr(b"<p>a</p>\n")
    )
    assert expected["GET /sub?x=1"] == (
        "301 Moved Permanently | Content-Type: text/html | Content-Length: (page)"
        " | Location: http://h:PORT/sub/?x=1 | Connection: close | (page)"
    )
    assert expected["POST /missing"].startswith("404 Not Found |")
    assert_same(expected, got)


VARIABLES = '"$document_root|$realpath_root|$request_filename"'
LOCATIONS_SERVER = f"""
root WWW;
if ($uri ~ ^/srv/) {{ set $at_server $request_filename; }}
location /srv/ {{ return 200 "$at_server"; }}
location /deep/ {{ root WWW/nested; }}
location /al1/ {{ alias WWW/sub/; }}
location /al2 {{ alias WWW/sub; }}
location ~ ^/al/(.+)$ {{ alias WWW/$1; }}
location /multi/ {{ index missing.html home.html; }}
location /idx/ {{ alias WWW/sub/; index page.html; }}
location /noidx/ {{ alias WWW/sub/; index nothere.html; }}
location /absidx/ {{ alias WWW/bare/; index nothere.html /fallback.html; }}
location /tf/ {{ try_files $uri $uri/ =404; }}
location /tg/ {{ try_files $uri /fallback.html; }}
location /th/ {{ try_files $uri @named; }}
location @named {{ return 200 "named $uri"; }}
location /ti/ {{ try_files $uri $uri/index.html /show?x=$uri; }}
location = /show {{ return 200 "show $uri $args"; }}
location /vars/ {{ return 200 {VARIABLES}; }}
location /avars/ {{ alias WWW/sub/; return 200 {VARIABLES}; }}
location ~ ^/rvars/(.*)$ {{ alias WWW/$1; return 200 {VARIABLES}; }}
location /lvars/ {{ root WWW/../wwwlink; return 200 {VARIABLES}; }}
location /nvars/ {{ root WWW/nope; return 200 {VARIABLES}; }}
location /cyc/ {{ try_files $uri /cyc/again; }}
location /tal/ {{ alias WWW/sub/; try_files /page.html =404; }}
location /ifal/ {{ alias WWW/sub/; if ($arg_x) {{ add_header X-If yes; }} }}
location /nest/ {{ alias WWW/nested/; location /nest/deep/ {{ }} }}
location /nonamed/ {{ try_files $uri @nowhere; }}
location /iff/ {{ alias WWW/; if (!-f $request_filename) {{ return 404 "nofile"; }} }}
location /ifd/ {{ alias WWW/; if (-d $request_filename) {{ return 200 "dir"; }} }}
"""
LOCATIONS_ROWS = [
    "GET /deep/er/leaf.txt", "GET /deep/er", "GET /deep/er/",
    # An alias ending in a slash, one without (which `/al2x` extends), and one of captures.
    "GET /al1/page.html", "GET /al1/", "GET /al1", "GET /al1/missing", "GET /al2/page.html",
    "GET /al2", "GET /al2/", "GET /al2x", "GET /al/a.html", "GET /al/sub", "GET /al/sub/",
    "GET /al/sub/page.html", "GET /al/missing", "GET /al/bare/",
    "GET /multi/", "GET /multi", "GET /idx/", "GET /noidx/", "GET /noidx/page.html",
    "GET /absidx/", "HEAD /absidx/", "POST /absidx/",
    "GET /tf/here.txt", "GET /tf/dir", "GET /tf/dir/", "GET /tf/bare", "GET /tf/bare/",
    "GET /tf/missing", "POST /tf/here.txt", "GET /tg/missing", "HEAD /tg/missing",
    "POST /tg/missing", "GET /th/missing", "POST /th/missing", "GET /ti/missing",
    # An alias's `$document_root` keeps its slash; a missing root has no `$realpath_root`.
    "GET /vars/x.html", "GET /vars/", "GET /avars/x", "GET /avars/", "GET /rvars/a.html",
    "GET /rvars/sub/", "GET /lvars/a.html", "GET /nvars/a.html",
    "GET /iff/a.html", "GET /iff/missing", "GET /iff/sub", "GET /ifd/sub", "GET /ifd/a.html",
    "GET /cyc/x", "GET /nonamed/x", "GET /srv/x.txt", "GET /tal/anything",
    "GET /tf/a%00b", "GET /a%00b.txt", "GET /sub%00/", "GET /ifal/page.html?x=1",
    "GET /ifal/page.html", "GET /nest/deep/er/leaf.txt",
]  # fmt: skip


@needs_nginx
async def test_root_alias_index_try_files_as_nginx_does(
    proxy: ProxyFactory, tmp_path: Path
) -> None:
    expected, got = await both(proxy, tmp_path, LOCATIONS_SERVER, LOCATIONS_ROWS)
    assert expected["GET /avars/x"].endswith("| b'WWW/sub/|WWW/sub|WWW/sub/x'")
    assert expected["GET /ti/missing"].endswith("| b'show /show x=/ti/missing'")
    assert expected["GET /cyc/x"].startswith("500 ")  # nginx's limit of internal redirects
    assert expected["GET /srv/x.txt"].endswith("| b'WWW/srv/x.txt'")  # the server's root
    assert expected["GET /tal/anything"].endswith("b'<p>page</p>\\n'")  # a name after alias
    assert "| X-If: yes |" in expected["GET /ifal/page.html?x=1"]  # an `if` keeps the alias
    assert expected["GET /nest/deep/er/leaf.txt"].startswith("200 ")  # so does a nested one
    assert_same(expected, got)


CONDITIONS_SERVER = """
root WWW;
location /noetag/ { alias WWW/; etag off; }
location /imsoff/ { alias WWW/; if_modified_since off; }
location /before/ { alias WWW/; if_modified_since before; }
"""
CONDITIONS_ROWS = [
    f"GET /notes.txt | If-Modified-Since: {LAST_MODIFIED}",
    f"HEAD /notes.txt | If-Modified-Since: {LAST_MODIFIED}",
    f"GET /notes.txt | If-Modified-Since: {EARLIER}",
    f"GET /notes.txt | If-Modified-Since: {LATER}",
    "GET /notes.txt | If-Modified-Since: garbage",
    "GET /notes.txt | If-Modified-Since: Sunday, 09-Sep-01 01:46:40 GMT",
    "GET /notes.txt | If-Modified-Since: Sun Sep  9 01:46:40 2001",
    f"GET /notes.txt | If-None-Match: {TAG}", 'GET /notes.txt | If-None-Match: "nope"',
    "GET /notes.txt | If-None-Match: *", f"GET /notes.txt | If-None-Match: W/{TAG}",
    f'GET /notes.txt | If-None-Match: "x", {TAG}',
    f'GET /notes.txt | If-None-Match: "nope" | If-Modified-Since: {LAST_MODIFIED}',
    f"GET /notes.txt | If-None-Match: {TAG} | If-Modified-Since: {EARLIER}",
    'GET /sub/ | If-None-Match: "3b9aca00-b"', f"POST /notes.txt | If-None-Match: {TAG}",
    f"GET /notes.txt | If-Match: {TAG}", 'GET /notes.txt | If-Match: "nope"',
    "GET /notes.txt | If-Match: *", f"GET /notes.txt | If-Match: W/{TAG}",
    'HEAD /notes.txt | If-Match: "nope"', 'POST /notes.txt | If-Match: "nope"',
    f"GET /notes.txt | If-Unmodified-Since: {LAST_MODIFIED}",
    f"GET /notes.txt | If-Unmodified-Since: {EARLIER}",
    f"GET /notes.txt | If-Unmodified-Since: {LATER}",
    "GET /notes.txt | If-Unmodified-Since: garbage",
    "GET /noetag/notes.txt", f"GET /noetag/notes.txt | If-None-Match: {TAG}",
    f"GET /noetag/notes.txt | If-Match: {TAG}", "GET /noetag/notes.txt | If-Match: *",
    f"GET /noetag/notes.txt | If-Modified-Since: {LAST_MODIFIED}",
    f"GET /imsoff/notes.txt | If-Modified-Since: {LAST_MODIFIED}",
    f"GET /imsoff/notes.txt | If-None-Match: {TAG}",
    f"GET /imsoff/notes.txt | If-Unmodified-Since: {EARLIER}",
    f"GET /before/notes.txt | If-Modified-Since: {LATER}",
    f"GET /before/notes.txt | If-Modified-Since: {EARLIER}",
    "GET /missing | If-None-Match: *", f"GET /bare/ | If-Modified-Since: {LAST_MODIFIED}",
]  # fmt: skip


@needs_nginx
async def test_conditional_requests_as_nginx_does(proxy: ProxyFactory, tmp_path: Path) -> None:
    expected, got = await both(proxy, tmp_path, CONDITIONS_SERVER, CONDITIONS_ROWS)
    assert expected[CONDITIONS_ROWS[0]] == (
        f"304 Not Modified | Last-Modified: {LAST_MODIFIED} | Connection: close | ETag: {TAG} | b''"
    )
    assert expected["GET /notes.txt | If-Unmodified-Since: garbage"].startswith("412 ")
    assert_same(expected, got)


RANGES_SERVER = """
root WWW;
location /one/ { alias WWW/; max_ranges 1; }
location /zero/ { alias WWW/; max_ranges 0; }
location /noetag/ { alias WWW/; etag off; }
"""
# At the http level: what `location /` and the parts of a multipart answer are typed by.
RANGES_HTTP = "types { text/plain txt; } default_type application/octet-stream;"
RANGES_ROWS = [
    f"GET /notes.txt | Range: bytes={spec}"
    for spec in ("0-9", "-5", "5-", "1000000-", "0-0,5-9", "0-100", "-100", "9-5", "abc", "-0",
                 "0-4,2-6", "0-1, 3-4", "0-1,", ",0-1", "100-,0-1", " 0-1", "0-1,100-", "1-2-3",
                 "0-18446744073709551616", "=0-1", "")
] + [
    "GET /notes.txt | Range: items=0-5", "GET /notes.txt | Range: BYTES=0-1",
    "GET /big.bin | Range: bytes=100000-100009,-3", "GET /big.bin | Range: bytes=1-204799",
    "GET /empty.txt | Range: bytes=0-9", "GET /empty.txt | Range: bytes=-1",
    "HEAD /notes.txt | Range: bytes=0-9", "HEAD /notes.txt | Range: bytes=0-0,5-9",
    "HEAD /notes.txt | Range: bytes=99-", "POST /notes.txt | Range: bytes=0-9",
    f"GET /notes.txt | Range: bytes=0-1 | If-Range: {TAG}",
    'GET /notes.txt | Range: bytes=0-1 | If-Range: "nope"',
    f"GET /notes.txt | Range: bytes=0-1 | If-Range: W/{TAG}",
    f"GET /notes.txt | Range: bytes=0-1 | If-Range: {LAST_MODIFIED}",
    f"GET /notes.txt | Range: bytes=0-1 | If-Range: {LATER}",
    "GET /notes.txt | Range: bytes=0-1 | If-Range: garbage",
    f"GET /notes.txt | Range: bytes=0-1 | If-None-Match: {TAG}",
    'GET /notes.txt | Range: bytes=99- | If-Match: "nope"',
    f"GET /noetag/notes.txt | Range: bytes=0-1 | If-Range: {TAG}",
    f"GET /noetag/notes.txt | Range: bytes=0-1 | If-Range: {LAST_MODIFIED}",
    "GET /one/notes.txt | Range: bytes=0-0,5-9", "GET /one/notes.txt | Range: bytes=2-3",
    "GET /one/notes.txt | Range: bytes=99-", "GET /zero/notes.txt | Range: bytes=2-3",
    "GET /zero/notes.txt | Range: bytes=1000000-", "GET /zero/notes.txt",
]  # fmt: skip


@needs_nginx
async def test_byte_ranges_as_nginx_does(proxy: ProxyFactory, tmp_path: Path) -> None:
    expected, got = await both(proxy, tmp_path, RANGES_SERVER, RANGES_ROWS, http=RANGES_HTTP)
    assert expected["GET /notes.txt | Range: bytes=-5"] == (
        f"206 Partial Content | Content-Type: text/plain | Content-Length: 5 | Last-Modified: "
        f"{LAST_MODIFIED} | Connection: close | ETag: {TAG} | Content-Range: bytes 16-20/21"
        " | b'ghij\\n'"
    )
    part = b"\r\n--BOUNDARY\r\nContent-Type: text/plain\r\nContent-Range: bytes %s/21\r\n\r\n%s"
    multipart = part % (b"0-0", b"0") + part % (b"5-9", b"56789") + b"\r\n--BOUNDARY--\r\n"
    assert expected["GET /notes.txt | Range: bytes=0-0,5-9"] == (
        "206 Partial Content | Content-Type: multipart/byteranges; boundary=BOUNDARY"
        f" | Content-Length: 200 | Last-Modified: {LAST_MODIFIED} | Connection: close"
        f" | ETag: {TAG} | {multipart!r}"
    )
    assert_same(expected, got)
