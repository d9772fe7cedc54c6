"""Access logs written as nginx writes them: formats, escaping, `-` for empty, off."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import ServeFactory
from helpers import request

CONF = """
events {{}}
http {{
    log_format short '$request_method $uri?$args $status $body_bytes_sent "$http_x_note"';
    log_format data escape=json '{{"note":"$http_x_note"}}';
    access_log {dir}/all.log;
    server {{
        listen 127.0.0.1:0;
        location /short {{ access_log {dir}/short.log short; return 200 "abc"; }}
        location /json {{ access_log {dir}/json.log data; return 204; }}
        location /quiet {{ access_log off; return 200 "x"; }}
        location / {{ return 404; }}
    }}
}}
"""


async def test_formats_escaping_and_off(serve: ServeFactory, tmp_path: Path) -> None:
    async with serve(CONF.format(dir=tmp_path)) as server:
        port = server.port()
        await request(port, "GET", "/short?a=1", [("X-Note", 'say "hi"\\')])
        await request(port, "GET", "/short")
        await request(port, "GET", "/json", [("X-Note", 'q"\\')])
        await request(port, "GET", "/quiet")
        await request(port, "GET", "/missing", [("User-Agent", "tester/1"), ("Referer", "r")])
    assert (tmp_path / "short.log").read_text().splitlines() == [
        'GET /short?a=1 200 3 "say \\x22hi\\x22\\x5C"',
        'GET /short?- 200 3 "-"',
    ]
    assert (tmp_path / "json.log").read_text() == '{"note":"q\\"\\\\"}\n'
    (line,) = (tmp_path / "all.log").read_text().splitlines()  # only the inheriting location
    assert re.fullmatch(
        r'127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] '
        r'"GET /missing HTTP/1\.1" 404 \d+ "r" "tester/1"',
        line,
    ), line
