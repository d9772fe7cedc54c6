"""A file served as an error page (`error_page 404 /404.html`) goes out with the error's
status, which nginx's filters see: no 304 or 412 for a conditional request, no range, no
`Accept-Ranges`, no `Last-Modified` (its `ETag` stays). Checked side by side with nginx."""

from __future__ import annotations

from pathlib import Path

from conftest import ServeFactory
from helpers import exchange_raw
from proxy.nginx import needs_nginx, side_by_side

PAGE = b"<h1>not here</h1>\n"
_VARYING = (b"date", b"server")


def _locations(root: Path) -> str:
    return f"""
        root {root};
        location /st/ {{ error_page 404 /404.html; }}
        location /keep/ {{ error_page 404 =200 /404.html; }}
    """


def _answer(wire: bytes) -> tuple[bytes, list[bytes], bytes]:
    head, _, body = wire.partition(b"\r\n\r\n")
    line, *fields = head.split(b"\r\n")
    kept = sorted(f.split(b":")[0].lower() for f in fields)
    # (nginx's own error pages name it where pushproxy's name pushproxy)
    body = body.replace(b"<center>nginx/1.22.1</center>", b"<center>pushproxy</center>")
    return line, [name for name in kept if name not in _VARYING], body


@needs_nginx
async def test_as_nginx_serves_it(serve: ServeFactory, tmp_path: Path) -> None:
    root = tmp_path / "www"
    root.mkdir()
    (root / "404.html").write_bytes(PAGE)

    async def ask(port: int) -> dict[tuple[str, str], tuple[bytes, list[bytes], bytes]]:
        first = await exchange_raw(
            port, b"GET /st/missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        etag = next(
            line.partition(b": ")[2]
            for line in first.split(b"\r\n")
            if line.lower().startswith(b"etag:")
        ).decode()
        answers = {}
        for path in ("/st/missing", "/keep/missing"):
            for extra in (
                "",
                f"If-None-Match: {etag}",
                "If-Modified-Since: Thu, 31 Dec 2099 00:00:00 GMT",
                'If-Match: "nope"',
                "Range: bytes=0-3",
            ):
                line = f"{extra}\r\n" if extra else ""
                wire = f"GET {path} HTTP/1.1\r\nHost: x\r\n{line}Connection: close\r\n\r\n"
                answers[path, extra.split(":")[0]] = _answer(
                    await exchange_raw(port, wire.encode())
                )
        return answers

    expected, answered = await side_by_side(serve, tmp_path, _locations(root), ask)
    assert answered == expected
    # What nginx 1.22 does, so that the comparison cannot pass by both getting it wrong.
    line, names, body = expected["/st/missing", "If-None-Match"]
    assert (line, body) == (b"HTTP/1.1 404 Not Found", PAGE)
    assert b"etag" in names
    assert b"last-modified" not in names
    assert b"accept-ranges" not in names
    assert expected["/st/missing", "Range"][2] == PAGE
    assert expected["/keep/missing", "Range"][0] == b"HTTP/1.1 206 Partial Content"
