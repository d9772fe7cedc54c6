"""`add_header` over real sockets: which responses get which headers, as nginx adds them."""

from __future__ import annotations

import pytest
from conftest import ServeFactory
from helpers import request

from pushproxy.config.model import build
from pushproxy.config.parse import parse_text
from pushproxy.http.addheader import AddedHeaders
from pushproxy.http.site import Site

CONF = """
events {}
http {
    add_header X-Http h;
    push_stream_shared_memory_size 32m;
    server {
        listen 127.0.0.1:0;
        add_header X-Server s;
        add_header X-Arg "[$arg_v]";
        location /inherits { return 200 "inherits"; }
        location /own {
            add_header X-Loc l;
            add_header X-Always a always;
            add_header X-Empty "$arg_none";
            if ($arg_if) { return 204; }
            return 200 "own";
        }
        location /missing-own { add_header X-Loc l; add_header X-Always a always; }
        location /pub {
            add_header X-Push p;
            push_stream_publisher admin;
            push_stream_channels_path $arg_id;
        }
    }
}
"""


def _added(response_headers: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in response_headers if name[:2] in (b"X-", b"x-")}


async def test_added_headers_by_level_status_and_handler(serve: ServeFactory) -> None:
    async with serve(CONF) as server:
        port = server.port()
        # A level without add_header inherits the enclosing one's, whole.
        inherits = await request(port, "GET", "/inherits?v=1")
        assert _added(inherits.headers) == {b"x-server": b"s", b"x-arg": b"[1]"}
        # A level with its own replaces them all; an empty value adds nothing.
        own = await request(port, "GET", "/own")
        assert own.body == b"own"
        assert _added(own.headers) == {b"x-loc": b"l", b"x-always": b"a"}
        # An `if` block inherits the location's.
        assert _added((await request(port, "GET", "/own?if=1")).headers) == {
            b"x-loc": b"l",
            b"x-always": b"a",
        }
        # A 404 gets only those marked `always`.
        missing = await request(port, "GET", "/missing-own")
        assert missing.status == 404
        assert _added(missing.headers) == {b"x-always": b"a"}
        # Push handlers' answers get them too, as the module's responses pass nginx's filters.
        published = await request(port, "POST", "/pub?id=ch", body=b"m")
        assert published.status == 200
        assert _added(published.headers) == {b"x-push": b"p"}
        refused = await request(port, "POST", "/pub", body=b"m")  # no channel id: 400
        assert refused.status == 400
        assert refused.header("X-Push") is None


@pytest.mark.parametrize(
    ("status", "always", "added"),
    [(200, False, True), (304, False, True), (308, False, True), (404, False, False),
     (500, False, False), (500, True, True), (101, False, False)],
)  # fmt: skip
def test_statuses_that_get_added_headers(status: int, always: bool, added: bool) -> None:
    flag = " always" if always else ""
    text = f"events {{}} http {{ server {{ location / {{ add_header X-A v{flag}; }} }} }}"
    site = Site.build(build(parse_text(text)))
    [headers] = [s.added for s in site.setups.values() if isinstance(s.added, AddedHeaders)]
    result = headers.for_response(status, lambda _: None)
    assert result == ([(b"X-A", b"v")] if added else [])


async def test_status_is_known_while_the_head_is_made(serve: ServeFactory) -> None:
    """`add_header X-Status $status` says the answer's status, as nginx's header filter sees
    it (it was empty before the answer was out)."""
    conf = """
    events {}
    http { server { listen 127.0.0.1:0;
        location / { add_header X-Status $status; return 200 "ok"; }
        location /nf { add_header X-Status "s$status" always; return 404; }
    } }
    """
    async with serve(conf) as server:
        ok = await request(server.port(), "GET", "/")
        missing = await request(server.port(), "GET", "/nf")
    assert (ok.status, ok.header("X-Status")) == (200, "200")
    assert (missing.status, missing.header("X-Status")) == (404, "s404")
