"""Static files where pushproxy's own choices show (nginx's behaviour is compared in
test_static_oracle.py): which locations `--upstream` takes, a `try_files` fallback that is a
proxied named location, the reference configuration's `if (!-f $request_filename)`, and a
big file sent to a client that reads slowly or not at all."""

from __future__ import annotations

import logging
from pathlib import Path

import trio
from helpers import request
from trio.testing import MockClock

from pushproxy.logs import ErrorLog

from .conftest import AppFactory, ProxyFactory
from .support import conf, echoed

BIG = 3 * 1024 * 1024  # far more than the socket buffers hold


def _tree(tmp_path: Path) -> Path:
    www = tmp_path / "www"
    (www / "sub").mkdir(parents=True)
    (www / "a.txt").write_text("file a\n")
    (www / "sub" / "index.html").write_text("<p>sub</p>\n")
    (www / "big.bin").write_bytes(bytes(range(256)) * (BIG // 256))
    return www


async def test_upstream_takes_the_locations_that_name_no_files(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path
) -> None:
    www = _tree(tmp_path)
    upstream = await app("a")
    text = conf(
        f"""
        location /files/ {{ alias {www}/; }}
        location /tried/ {{ root {www}; try_files $uri @app; }}
        location @app {{ proxy_pass http://127.0.0.1:{upstream.port}; }}
        location / {{ }}
        """
    )
    async with proxy(text, default_upstream=f"http://127.0.0.1:{upstream.port}") as server:
        port = server.port()
        served = await request(port, "GET", "/files/a.txt")
        index = await request(port, "GET", "/files/sub/")
        other = echoed(await request(port, "GET", "/a.txt"))
        fallback = echoed(await request(port, "GET", "/tried/nothing?q=1"))
    assert (served.status, served.body) == (200, b"file a\n")
    assert (index.status, index.body) == (200, b"<p>sub</p>\n")
    assert other["target"] == "/a.txt"  # `location /` names no files: the application's
    assert fallback["target"] == "/tried/nothing?q=1"  # a named location keeps the URI


async def test_without_upstream_every_location_is_served_from_its_root(
    proxy: ProxyFactory, tmp_path: Path
) -> None:
    www = _tree(tmp_path)
    text = conf("location / { }", server=f"root {www};")
    async with proxy(text) as server:
        found = await request(server.port(), "GET", "/a.txt")
        missing = await request(server.port(), "GET", "/b.txt")
        put = await request(server.port(), "PUT", "/a.txt", body=b"x")
    assert (found.status, found.body) == (200, b"file a\n")
    assert (missing.status, put.status) == (404, 405)


async def test_the_reference_configuration_serves_files_and_proxies_the_rest(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path
) -> None:
    # The module's own nginx.conf ends with this location.
    www = _tree(tmp_path)
    upstream = await app("a")
    text = conf(
        f"""
        location / {{
            if (!-f $request_filename) {{ proxy_pass "http://127.0.0.1:{upstream.port}"; }}
        }}
        """,
        server=f"root {www};",
    )
    async with proxy(text) as server:
        found = await request(server.port(), "GET", "/a.txt")
        proxied = echoed(await request(server.port(), "GET", "/app/page"))
    assert (found.status, found.body) == (200, b"file a\n")
    assert proxied["target"] == "/app/page"


async def _read_all(port: int, target: str) -> bytes:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(f"GET {target} HTTP/1.0\r\n\r\n".encode())
    received = bytearray()
    while chunk := await stream.receive_some(1 << 20):
        received += chunk
    await stream.aclose()
    return bytes(received)


async def test_a_big_file_goes_out_whole_and_a_stalled_reader_blocks_nobody(
    proxy: ProxyFactory, tmp_path: Path, autojump_clock: MockClock
) -> None:
    www = _tree(tmp_path)
    text = conf("location / { }", server=f"root {www}; send_timeout 10s;")
    async with proxy(text) as server:
        port = server.port()
        whole = await _read_all(port, "/big.bin")
        stalled = await trio.open_tcp_stream("127.0.0.1", port)
        await stalled.send_all(b"GET /big.bin HTTP/1.0\r\n\r\n")
        small = await request(port, "GET", "/a.txt")  # while that answer waits on its reader
        await trio.sleep(11)  # past `send_timeout`: the stalled reader's connection ends
        received = 0
        while chunk := await stalled.receive_some(1 << 20):
            received += len(chunk)
        await stalled.aclose()
    head, _, body = whole.partition(b"\r\n\r\n")
    assert b"Content-Length: %d" % BIG in head
    assert body == (www / "big.bin").read_bytes()
    assert small.body == b"file a\n"
    assert 0 < received < BIG


async def test_a_later_request_on_the_connection_is_not_filtered_by_an_earlier_location(
    proxy: ProxyFactory,
) -> None:
    """`sub_filter` is the answering location's: a malformed request after a filtered one
    on the same connection gets nginx's page as it is."""
    text = conf('location /s { default_type text/html; sub_filter Bad Good; return 200 "Bad"; }')
    async with proxy(text) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port())
        await stream.send_all(b"GET /s HTTP/1.1\r\nHost: h\r\n\r\nBROKEN\r\n\r\n")
        received = b""
        with trio.fail_after(5):
            while chunk := await stream.receive_some(65536):
                received += chunk
        await stream.aclose()
    first, _, second = received.partition(b"HTTP/1.1 400 ")
    assert b"Good" in first
    assert b"<title>400 Bad Request</title>" in second


async def test_a_levels_error_log_takes_its_requests_errors(
    proxy: ProxyFactory, tmp_path: Path
) -> None:
    """`error_log` in http, server or location blocks: a request's errors go to the one in
    effect for its location (nginx writes the file's open() failure there)."""
    www = _tree(tmp_path)
    http_log, location_log = tmp_path / "http.log", tmp_path / "location.log"
    text = conf(
        f"location / {{ }} location /own/ {{ alias {www}/; error_log {location_log} warn; }}",
        http=f"error_log {http_log};",
        server=f"root {www};",
    )
    logger = logging.getLogger("pushproxy")
    handlers, propagate = logger.handlers, logger.propagate
    ErrorLog(str(tmp_path / "main.log"))  # the process's log, as `pushproxy -c` makes it
    try:
        async with proxy(text) as server:
            assert (await request(server.port(), "GET", "/missing.txt")).status == 404
            assert (await request(server.port(), "GET", "/own/gone.txt")).status == 404
    finally:
        logger.handlers, logger.propagate = handlers, propagate
    assert not (tmp_path / "main.log").exists()  # every error went to a level's log
    assert f'open() "{www}/missing.txt" failed (2: No such file or directory)' in (
        http_log.read_text()
    )
    assert "gone.txt" not in http_log.read_text()
    assert f'open() "{www}/gone.txt" failed' in location_log.read_text()
    assert "missing.txt" not in location_log.read_text()
