"""`gzip_static` against Debian's nginx: a file's precompressed `.gz` sent in its place (with
its own length, date and entity tag, no ranges) when the client takes gzip or always, and
`gzip_vary`'s `Vary: Accept-Encoding`; the same requests get the same answers."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from .conftest import ProxyFactory
from .nginx import needs_nginx
from .test_static_oracle import assert_same, both

GZ_FILES = {
    "notes.txt.gz": b"precompressed notes\n",
    "onlygz.txt.gz": b"only the gz\n",
    "sub/page.html.gz": b"<p>compressed page</p>\n",
}

SERVER = """
root WWW;
location /on/ { alias WWW/; gzip_static on; }
location /vary/ { alias WWW/; gzip_static on; gzip_vary on; }
location /always/ { alias WWW/; gzip_static always; }
location /alwaysv/ { alias WWW/; gzip_static always; gzip_vary on; add_header X-A 1; }
location /both/ { alias WWW/; gzip_static on; gzip on; gzip_types text/plain; gzip_vary on; }
location /old/ { alias WWW/; gzip_static on; gzip_http_version 1.0; gzip_vary on; }
location /proxied/ { alias WWW/; gzip_static on; gzip_proxied any; }
location /tf/ { alias WWW/; gzip_static on; try_files $uri =404; }
location /off/ { alias WWW/; gzip_static on; location /off/in/ { gzip_static off; } }
"""

GZIP = "Accept-Encoding: gzip"
ROWS = [
    *(
        f"{method} /{where}/notes.txt{headers}"
        for where in ("on", "vary", "always", "alwaysv", "both", "old", "proxied")
        for method, headers in (
            ("GET", ""), ("GET", f" | {GZIP}"), ("HEAD", f" | {GZIP}"), ("POST", f" | {GZIP}"),
            ("GET", f" | {GZIP} | Range: bytes=0-3"), ("GET", " | Range: bytes=0-3"),
            ("GET", f" | {GZIP} | Via: 1.1 cache"), ("GET", " | Accept-Encoding: gzip;q=0"),
            ("GET", f" HTTP/1.0 | {GZIP}"),
            ("GET", f' | {GZIP} | If-None-Match: "3b9aca00-34"'),
            ("GET", f' | {GZIP} | If-Match: "nope"'),
        )
    ),
    # No .gz beside it: the file (compressed by the gzip filter where that is on).
    f"GET /on/long.txt | {GZIP}", f"GET /vary/long.txt | {GZIP}", "GET /vary/long.txt",
    f"GET /both/long.txt | {GZIP}", "GET /both/long.txt", f"GET /always/a.html | {GZIP}",
    # Only the .gz: served to a client that takes it, 404 to one that does not.
    "GET /on/onlygz.txt", f"GET /on/onlygz.txt | {GZIP}", "GET /always/onlygz.txt",
    "GET /vary/onlygz.txt", "HEAD /always/onlygz.txt",
    # A .gz that is a directory or no regular file; a directory's URI; a nested location.
    f"GET /on/dirgz.txt | {GZIP}", f"GET /always/fifo.txt | {GZIP}", "GET /vary/fifo.txt",
    f"GET /on/sub/ | {GZIP}", f"GET /on/sub | {GZIP}", f"GET /on/sub/page.html | {GZIP}",
    f"GET /tf/onlygz.txt | {GZIP}", f"GET /tf/notes.txt | {GZIP}",
    f"GET /off/in/notes.txt | {GZIP}",
]  # fmt: skip


def _precompressed(tmp_path: Path) -> None:
    """The .gz files, made before the rest of the tree (which sets every mtime)."""
    www = tmp_path.resolve() / "www"
    for name, text in GZ_FILES.items():
        path = www / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(text, mtime=0))
    (www / "dirgz.txt.gz").mkdir()
    (www / "dirgz.txt").write_text("plain beside a .gz directory\n")
    os.mkfifo(www / "fifo.txt.gz")
    (www / "fifo.txt").write_text("plain beside a .gz fifo\n")


@needs_nginx
async def test_precompressed_files_as_nginx_does(proxy: ProxyFactory, tmp_path: Path) -> None:
    _precompressed(tmp_path)
    expected, got = await both(proxy, tmp_path, SERVER, ROWS)
    gz_size = len(gzip.compress(GZ_FILES["notes.txt.gz"], mtime=0))
    assert expected[f"GET /vary/notes.txt | {GZIP}"].startswith(
        f"200 OK | Content-Type: text/plain | Content-Length: {gz_size} | Last-Modified: "
    )
    assert (
        f'| Vary: Accept-Encoding | ETag: "3b9aca00-{gz_size:x}" | Content-Encoding: gzip |'
        in (expected[f"GET /vary/notes.txt | {GZIP}"])
    )
    assert "| Vary: Accept-Encoding |" in expected["GET /vary/notes.txt"]  # a .gz is there
    assert "Vary" not in expected[f"GET /alwaysv/notes.txt | {GZIP}"]
    assert "Content-Encoding: gzip" in expected["GET /always/notes.txt"]
    assert expected["GET /on/onlygz.txt"].startswith("404 ")
    assert expected[f"GET /always/fifo.txt | {GZIP}"].startswith("404 ")
    assert expected[f"GET /on/notes.txt | {GZIP} | Range: bytes=0-3"].startswith("200 ")
    assert_same(expected, got)
