"""The Content-Type of nginx's own answers: `types` by extension, else `default_type`."""

from __future__ import annotations

import pytest

from pushproxy.config.model import build
from pushproxy.config.parse import parse_text
from pushproxy.http.mimetypes import BUILTIN_TYPES, MimeTypes, extension


@pytest.mark.parametrize(
    ("uri", "found"),
    [
        ("/a.html", "html"),
        ("/a.HTML", "html"),
        ("/x/a.b.css", "css"),
        ("/a", None),
        ("/dir.d/a", None),  # the last segment's
        ("/.hidden", None),  # a dot that starts the segment
        ("/x/.hidden", None),
        ("/a.", ""),
    ],
)
def test_extension_as_ngx_http_set_exten(uri: str, found: str | None) -> None:
    assert extension(uri) == found


def _location(text: str) -> MimeTypes:
    config = build(parse_text(f"events {{}} http {{ {text} }}"))
    assert config.http is not None
    return MimeTypes.of(config.http.servers[0].locations[0])


def test_builtin_types_and_default_type() -> None:
    mime = _location("server { location / { } }")
    assert mime.types is BUILTIN_TYPES
    assert mime.content_type("/a.jpg") == b"image/jpeg"
    assert mime.content_type("/a.css") == b"text/plain"  # not among nginx's built-in three


def test_a_types_block_replaces_the_builtin_ones() -> None:
    mime = _location(
        "types { text/x-foo foo FOO2; } default_type text/x-d; server { location / { } }"
    )
    assert mime.content_type("/a.foo") == b"text/x-foo"
    assert mime.content_type("/a.foo2") == b"text/x-foo"
    assert mime.content_type("/a.html") == b"text/x-d"


def test_the_types_blocks_of_a_level_make_one_list() -> None:
    """`include mime.types;` then a `types` block of one's own, as nginx merges them: both
    lists hold, a later type for an extension replaces the earlier; a location's own
    `types` replace the whole list."""
    mime = _location(
        "types { text/css css; text/x-old wasm; } types { application/wasm wasm; }"
        " server { location / { } location /own { types { text/x-own own; } } }"
    )
    assert mime.content_type("/a.css") == b"text/css"
    assert mime.content_type("/a.wasm") == b"application/wasm"
    config = build(
        parse_text(
            "events {} http { types { text/css css; } types { application/wasm wasm; }"
            " server { location /own { types { text/x-own own; } } } }"
        )
    )
    assert config.http is not None
    own = MimeTypes.of(config.http.servers[0].locations[0])
    assert (own.content_type("/a.own"), own.content_type("/a.css")) == (
        b"text/x-own",
        b"text/plain",
    )
