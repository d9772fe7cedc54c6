"""nginx's not-modified filter on the 200s nginx makes itself without `Last-Modified` or `ETag`
(`return 200`, the push module's publisher and statistics answers): If-Unmodified-Since and
If-Match (but `*`) are a 412 page, `If-None-Match: *` a 304 without the body's headers.
A proxied answer and any other status go out as they are, as does a subrequest's."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ServeFactory
from helpers import exchange_raw
from proxy.nginx import needs_nginx, side_by_side

LOCATIONS = """
    location /ret { return 200 "ok\\n"; }
    location /nf { return 404; }
    location /up/ {
        proxy_pass http://127.0.0.1:$server_port/ret;
        # (the upstream, this server, would apply them itself)
        proxy_set_header If-Match "";
        proxy_set_header If-None-Match "";
        proxy_set_header If-Unmodified-Since "";
    }
"""
CONDITIONS = [
    "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT",
    "If-Unmodified-Since: not a date",
    "If-Match: *",
    'If-Match: "a"',
    "If-None-Match: *",
    'If-None-Match: "a"',
    "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT",
]
_VARYING = (b"server", b"date")  # and the error pages' last line, which names the server


def _answer(wire: bytes) -> tuple[bytes, list[bytes], int]:
    """The status line, the header lines but Server and Date, and the body's length."""
    head, _, body = wire.partition(b"\r\n\r\n")
    line, *fields = head.split(b"\r\n")
    kept = [field for field in fields if field.split(b":")[0].lower() not in _VARYING]
    return line, [k for k in kept if not k.lower().startswith(b"content-length")], len(body)


async def _ask(port: int) -> dict[tuple[str, str], tuple[bytes, list[bytes], int]]:
    answers = {}
    for path in ("/ret", "/nf", "/up/"):
        for condition in CONDITIONS:
            wire = f"GET {path} HTTP/1.1\r\nHost: x\r\n{condition}\r\nConnection: close\r\n\r\n"
            answers[path, condition] = _answer(await exchange_raw(port, wire.encode()))
    return answers


@needs_nginx
async def test_as_nginx_answers_it(serve: ServeFactory, tmp_path: Path) -> None:
    expected, answered = await side_by_side(serve, tmp_path, LOCATIONS, _ask)
    statuses = {key: line for key, (line, _, _) in answered.items()}
    assert statuses == {key: line for key, (line, _, _) in expected.items()}
    assert {key: fields for key, (_, fields, _) in answered.items()} == {
        key: fields for key, (_, fields, _) in expected.items()
    }
    # What nginx 1.22 does, so that the comparison cannot pass by both ignoring the headers.
    assert statuses["/ret", 'If-Match: "a"'] == b"HTTP/1.1 412 Precondition Failed"
    assert statuses["/ret", "If-Unmodified-Since: not a date"].endswith(b" 412 Precondition Failed")
    assert statuses["/ret", "If-None-Match: *"] == b"HTTP/1.1 304 Not Modified"
    assert answered["/ret", "If-None-Match: *"][1:] == ([b"Connection: close"], 0)
    assert statuses["/ret", "If-Match: *"] == b"HTTP/1.1 200 OK"
    assert statuses["/up/", 'If-Match: "a"'] == b"HTTP/1.1 200 OK"  # not for a proxied answer
    assert statuses["/nf", 'If-Match: "a"'] == b"HTTP/1.1 404 Not Found"


PUSH = """
events {}
http {
    push_stream_shared_memory_size 8m;
    server {
        listen 127.0.0.1:0;
        location /pub { push_stream_publisher admin; push_stream_channels_path $arg_id; }
        location /stats { push_stream_channels_statistics; push_stream_channels_path $arg_id; }
        location /auth { return 200 "yes"; }
        location /guarded {
            auth_request /auth;
            push_stream_channels_statistics;
            push_stream_channels_path $arg_id;
        }
    }
}
"""


async def _get(port: int, target: str, extra: str = "", body: str = "") -> bytes:
    method = "POST" if body else "GET"
    length = f"Content-Length: {len(body)}\r\n" if body else ""
    wire = f"{method} {target} HTTP/1.1\r\nHost: x\r\n{extra}{length}Connection: close\r\n\r\n"
    return await exchange_raw(port, (wire + body).encode())


async def test_push_answers(serve: ServeFactory) -> None:
    async with serve(PUSH) as server:
        port = server.port()
        # The module publishes, then answers: the filter turns the answer into a 412 page.
        refused = await _get(port, "/pub?id=c", 'If-Match: "a"\r\n', body="hi")
        assert refused.startswith(b"HTTP/1.1 412 Precondition Failed\r\n")
        assert b"<title>412 Precondition Failed</title>" in refused
        info = await _get(port, "/pub?id=c")
        assert json.loads(info.partition(b"\r\n\r\n")[2])["published_messages"] == 1
        stats = await _get(port, "/stats?id=c", "If-None-Match: *\r\n")
        assert stats.startswith(b"HTTP/1.1 304 Not Modified\r\n")
        assert b"Content-Type" not in stats
        assert stats.endswith(b"\r\n\r\n")
        unconditional = await _get(port, "/stats?id=c", 'If-None-Match: "a"\r\n')
        assert unconditional.startswith(b"HTTP/1.1 200 OK\r\n")
        # A subrequest's answer is not filtered: auth_request sees its 200, the main answer is.
        guarded = await _get(port, "/guarded?id=c", "If-None-Match: *\r\n")
        assert guarded.startswith(b"HTTP/1.1 304 Not Modified\r\n")
        guarded = await _get(port, "/guarded?id=c", 'If-Match: "a"\r\n')
        assert guarded.startswith(b"HTTP/1.1 412 Precondition Failed\r\n")
