"""Access logs written as nginx writes them: formats, escaping, `-` for empty, off."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import ServeFactory
from helpers import Client, exchange_raw, header_value, request

from pushproxy import NGINX_VERSION
from pushproxy.config.model import build
from pushproxy.config.parse import parse_text
from pushproxy.http.accesslog import AccessLogs

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


CONNECTION = """
events {{}}
http {{
    log_format conn '$connection $connection_requests $request_completion $pid';
    server {{
        listen 127.0.0.1:0;
        location / {{
            access_log {dir}/conn.log conn;
            return 200
                "$connection $connection_requests ${{request_id}}|$request_id $pid $nginx_version";
        }}
    }}
}}
"""


async def test_connection_process_and_request_variables(
    serve: ServeFactory, tmp_path: Path
) -> None:
    async with serve(CONNECTION.format(dir=tmp_path)) as server:
        client = await Client.connect(server.port())
        first = (await client.request("GET", "/")).body.decode().split(" ")
        second = (await client.request("GET", "/")).body.decode().split(" ")
        await client.aclose()
        other = (await request(server.port(), "GET", "/")).body.decode().split(" ")
    assert first[1] == "1"
    assert second[:2] == [first[0], "2"]  # the same connection, its second request
    assert other[0] != first[0]
    assert other[1] == "1"
    ids = {one[2] for one in (first, second, other)}
    assert len(ids) == 3  # a new id for every request, the same all through one
    for one in (first, second, other):
        made, again = one[2].split("|")
        assert made == again
        assert len(made) == 32
        assert int(made, 16) >= 0
    assert first[3] == str(os.getpid())
    assert first[4] == NGINX_VERSION
    lines = (tmp_path / "conn.log").read_text().splitlines()
    assert [line.split(" ")[1:] for line in lines] == [
        ["1", "OK", str(os.getpid())],
        ["2", "OK", str(os.getpid())],
        ["1", "OK", str(os.getpid())],
    ]


def test_only_an_http_server_or_location_error_log_is_a_levels_own(tmp_path: Path) -> None:
    """The main `error_log`, which the levels inherit, is the process's own log: requests
    answered under it need no log of their own (nor the context entry a subscriber keeps)."""
    text = (
        f"error_log {tmp_path}/main.log;\nevents {{}}\nhttp {{\n"
        f"  server {{ location /a {{ }} location /b {{ error_log {tmp_path}/b.log; }} }}\n}}\n"
    )
    config = build(parse_text(text, file="nginx.conf"))
    assert config.http is not None
    logs = AccessLogs(config.http)
    by_path = {loc.pattern: logs.error_log(loc.level) for loc in config.http.servers[0].locations}
    assert by_path["/a"] is None
    found = by_path["/b"]
    assert found is not None
    assert found.path == f"{tmp_path}/b.log"
    logs.close()


TOO_LARGE = """
events {{}}
http {{
    log_format short '$request_method $uri $status "$request"';
    access_log {dir}/access.log short;
    server {{
        listen 127.0.0.1:0;
        client_max_body_size 10;
        location /plain {{ return 200 "taken"; }}
        location /paged {{ error_page 413 /too-big; return 200 "taken"; }}
        location = /too-big {{ return 200 "too big, sorry"; }}
    }}
}}
"""


async def test_a_body_announced_too_large_is_logged_and_may_have_an_error_page(
    serve: ServeFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """nginx refuses a Content-Length over `client_max_body_size` once the location is
    found: the refusal has the location's access log and `error_page`, an error line, and
    it ends the connection."""
    async with serve(TOO_LARGE.format(dir=tmp_path)) as server:
        port = server.port()
        plain = await request(port, "POST", "/plain", body=b"x" * 11)
        paged = await request(port, "POST", "/paged", body=b"x" * 11)
        fits = await request(port, "POST", "/plain", body=b"x" * 10)
    assert plain.status == 413
    assert b"413 Request Entity Too Large" in plain.body
    assert header_value(plain.headers, "Connection") == "close"
    assert (paged.status, paged.body) == (413, b"too big, sorry")
    assert header_value(paged.headers, "Connection") == "close"
    assert (fits.status, fits.body) == (200, b"taken")
    assert (tmp_path / "access.log").read_text().splitlines() == [
        'POST /plain 413 "POST /plain HTTP/1.1"',
        'GET /too-big 413 "POST /paged HTTP/1.1"',  # an error page is a GET; $request is not
        'POST /plain 200 "POST /plain HTTP/1.1"',
    ]
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 2
    assert errors[0].startswith("client intended to send too large body: 11 bytes, client: ")
    assert errors[1].endswith('request: "POST /paged HTTP/1.1", host: "localhost"')


def test_every_log_file_is_created_at_the_start_and_again_on_reopen(tmp_path: Path) -> None:
    """nginx opens every `access_log` and `error_log` file when it starts (a harness may
    watch one before the first request), and USR1 opens the names anew (after a rotation)."""
    text = (
        f"events {{}}\nhttp {{\n  error_log {tmp_path}/http_error.log;\n"
        f"  access_log {tmp_path}/access.log;\n"
        f"  server {{ error_log {tmp_path}/server_error.log;\n"
        f"    location /a {{ access_log {tmp_path}/a.log; error_log {tmp_path}/a_error.log; }}\n"
        f"    location /b {{ access_log off; }} }}\n}}\n"
    )
    config = build(parse_text(text, file="nginx.conf"))
    names = {"http_error.log", "access.log", "server_error.log", "a.log", "a_error.log"}
    logs = AccessLogs(config.http)
    assert {p.name for p in tmp_path.iterdir()} == names
    (tmp_path / "access.log").rename(tmp_path / "access.log.1")
    logs.reopen()
    assert (tmp_path / "access.log").exists()
    logs.close()


async def test_a_log_file_named_by_variables_is_one_per_value(
    serve: ServeFactory, tmp_path: Path
) -> None:
    """`access_log logs/$host.log`: each request's line goes to the file its values name
    (opened when first written, not at the start)."""
    text = (
        "events {}\nhttp {\n  log_format short '$request_method $uri $status';\n"
        f"  access_log {tmp_path}/$host.log short;\n"
        "  server { listen 127.0.0.1:0; location / { return 204; } }\n}\n"
    )
    async with serve(text) as server:
        assert not [name for name in os.listdir(tmp_path) if name.endswith(".log")]
        # (absolute targets: their host is the request's, whatever the Host header says)
        await request(server.port(), "GET", "http://one.example/a")
        await request(server.port(), "GET", "http://two.example/b")
        await request(server.port(), "GET", "http://one.example/c")
    assert (tmp_path / "one.example.log").read_text() == "GET /a 204\nGET /c 204\n"
    assert (tmp_path / "two.example.log").read_text() == "GET /b 204\n"


CONDITIONS = """
events {{}}
http {{
    map $arg_nolog $loggable {{ default 1; 1 0; }}
    log_format data escape=json '{{"ua":"$http_user_agent","x":"$http_x_missing"}}';
    log_format raw escape=none '[$http_x_missing]';
    server {{
        listen 127.0.0.1:0;
        location /c {{ access_log {dir}/cond.log combined if=$loggable; return 200 "c"; }}
        location /j {{ access_log {dir}/json.log data; access_log {dir}/raw.log raw; return 204; }}
    }}
}}
"""


async def test_a_condition_json_escapes_and_missing_values(
    serve: ServeFactory, tmp_path: Path
) -> None:
    """`if=` skips a line when the value is empty or 0; `escape=json` escapes `"`, `\\` and
    bytes below 32 only (`\\u001F`, UTF-8 as it is); with json and none a missing value is
    nothing, not `-` (nginx 1.22's lines)."""
    async with serve(CONDITIONS.format(dir=tmp_path)) as server:
        port = server.port()
        await request(port, "GET", "/c?nolog=1")
        await request(port, "GET", "/c?nolog=0")
        agent = 'é "\x01\x1f\x7f'.encode()
        await exchange_raw(port, b"GET /j HTTP/1.1\r\nHost: x\r\nUser-Agent: " + agent
                           + b"\r\nConnection: close\r\n\r\n")  # fmt: skip
    (line,) = (tmp_path / "cond.log").read_text().splitlines()
    assert '"GET /c?nolog=0 HTTP/1.1" 200 1' in line
    assert (tmp_path / "json.log").read_bytes() == (
        '{"ua":"é \\"\\u0001\\u001F\x7f","x":""}\n'.encode()
    )
    assert (tmp_path / "raw.log").read_bytes() == b"[]\n"


REFUSED = """
events {{}}
http {{
    access_log {dir}/access.log;
    server {{ listen 127.0.0.1:0; location / {{ return 200 "ok"; }} }}
}}
"""


async def test_requests_refused_as_they_are_read_are_logged(
    serve: ServeFactory, tmp_path: Path
) -> None:
    """As nginx logs them (fail2ban and log analysers look for them): the request line as it
    came, escaped, with the 400 and the page's size (nginx 1.22's lines, but for the size)."""
    async with serve(REFUSED.format(dir=tmp_path)) as server:
        port = server.port()
        for wire in (
            b"GARBAGE\r\n\r\n",
            b"\x16\x03\x01\x00\xa5\r\n\r\n",  # TLS spoken to a plain HTTP port
            b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ):
            assert (await exchange_raw(port, wire)).startswith(b"HTTP/1.1 400 ")
    requests = [
        re.fullmatch(r'127\.0\.0\.1 - - \[[^]]+\] "(.*)" 400 (\d+) "-" "-"', line)
        for line in (tmp_path / "access.log").read_text().splitlines()
    ]
    assert [match.group(1) for match in requests if match] == [
        "GARBAGE",
        "\\x16\\x03\\x01\\x00\\xA5",
        "GET / HTTP/1.1",
        "POST / HTTP/1.1",
    ]


SENT = """
events {{}}
http {{
    log_format sent '$status $body_bytes_sent $bytes_sent '
                    '[$sent_http_content_type] [$sent_http_x_a]';
    access_log {dir}/sent.log sent;
    server {{
        listen 127.0.0.1:0;
        location / {{ add_header X-A b; return 200 "ok"; }}
    }}
}}
"""


async def test_what_was_sent(serve: ServeFactory, tmp_path: Path) -> None:
    """`$bytes_sent` counts the head too (all that went out for the request), `$sent_http_*`
    are the answer's headers."""
    async with serve(SENT.format(dir=tmp_path)) as server:
        wire = await exchange_raw(
            server.port(), b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
    assert (tmp_path / "sent.log").read_text() == f"200 2 {len(wire)} [text/plain] [b]\n"
