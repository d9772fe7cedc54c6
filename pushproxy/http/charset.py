"""`charset` (ngx_http_charset_filter_module): the charset a response's `Content-Type` names.

`charset NAME;` (http, server, location, `if` in a location) adds `; charset=NAME` to the
`Content-Type` of every answer whose type is among `charset_types` (text/html, text/xml,
text/plain, text/vnd.wap.wml, application/javascript and application/rss+xml unless set;
text/html always), as nginx's charset filter does: our own answers, error pages, push
responses and proxied ones alike (compressed ones too), unless the type names a charset (or
any parameter) already. Nothing is recoded: pushproxy reads `source_charset` and
`charset_map`, and passes bodies on as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from pushproxy.config.model import Level

_DEFAULT_TYPES = frozenset(
    {
        b"text/html", b"text/xml", b"text/plain", b"text/vnd.wap.wml", b"application/javascript",
        b"application/rss+xml",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Charset:
    """A location's `charset` and the types it applies to."""

    name: bytes
    types: frozenset[bytes] | None = _DEFAULT_TYPES  # None: every type (`charset_types *`)

    @classmethod
    def of(cls, level: Level) -> Charset | None:
        name = level.arg("charset", "off")
        if name is None or name == "off":
            return None
        listed = [arg for d in level.all("charset_types") for arg in d.args]
        if not listed:
            return cls(name.encode("latin-1"))
        if "*" in listed:
            return cls(name.encode("latin-1"), None)
        types = {t.lower().encode("latin-1") for t in listed} | {b"text/html"}
        return cls(name.encode("latin-1"), frozenset(types))

    def content_type(self, value: bytes) -> bytes:
        """`value` with this charset, when its type takes one and names none."""
        if b";" in value or (self.types is not None and value.strip().lower() not in self.types):
            return value
        return value + b"; charset=" + self.name
