"""The Content-Type nginx gives what it answers itself (ngx_http_set_content_type()): the type
`types {}` lists for the URI's extension (nginx's three built-in types when no `types` block
applies), else `default_type`. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pushproxy.config.model import Location
from pushproxy.config.tree import Directive

# ngx_http_core_default_types: what nginx knows without a `types` block.
BUILTIN_TYPES: Mapping[str, bytes] = {
    "html": b"text/html",
    "gif": b"image/gif",
    "jpg": b"image/jpeg",
}
DEFAULT_TYPE = b"text/plain"  # `default_type`'s default


def extension(uri: str) -> str | None:
    """ngx_http_set_exten(): what follows the last dot of the last path segment, unless that
    dot starts the segment (`/.hidden`); lowercased, as nginx compares it."""
    for index in range(len(uri) - 1, 1, -1):
        char = uri[index]
        if char == "." and uri[index - 1] != "/":
            return uri[index + 1 :].lower()
        if char == "/":
            return None
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class MimeTypes:
    """A location's `types` and `default_type`, read once at load (`LocationSetup`)."""

    types: Mapping[str, bytes]
    default_type: bytes

    @classmethod
    def of(cls, location: Location) -> MimeTypes:
        default = location.level.arg("default_type")
        return cls(
            types=types_of(location.level.effective.get("types", ())),
            default_type=default.encode() if default is not None else DEFAULT_TYPE,
        )

    def content_type(self, uri: str) -> bytes:
        """The MIME type of the URI's extension, else `default_type`."""
        found = self.types.get(extension(uri) or "")
        return found if found is not None else self.default_type


def types_of(blocks: Sequence[Directive]) -> Mapping[str, bytes]:
    """Extension → type for the `types` blocks of a level, which make one list in nginx
    (`include mime.types;` and a `types` block of one's own), a later type for an extension
    replacing the earlier; the built-in ones when there is none."""
    if not blocks:
        return BUILTIN_TYPES
    return {
        ext.lower(): entry.name.encode()
        for block in blocks
        for entry in block.block or ()
        for ext in entry.args
    }
