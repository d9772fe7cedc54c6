"""The request nginx sends upstream: its line and headers (ngx_http_proxy_create_request()).

Pure. Header order is nginx's: the `proxy_set_header` entries as merged (the location's own,
then nginx's defaults it did not override), then the client's headers that no entry names.
An entry whose value comes out empty is not sent, and still keeps the client's header out.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from pushproxy.config.complex import ComplexValue, Lookup, compile_value
from pushproxy.config.model import compile_complex
from pushproxy.config.tree import Directive
from pushproxy.http.target import RequestTarget

Headers = Sequence[tuple[bytes, bytes]]

# ngx_http_proxy_headers: what nginx sets unless `proxy_set_header` names the header itself.
# Connection: close, and no hop-by-hop header of the client's passes.
DEFAULT_HEADERS: tuple[tuple[str, str], ...] = (
    ("Host", "$proxy_host"),
    ("Connection", "close"),
    ("Content-Length", "$proxy_internal_body_length"),
    ("Transfer-Encoding", "$proxy_internal_chunked"),
    ("TE", ""),
    ("Keep-Alive", ""),
    ("Expect", ""),
    ("Upgrade", ""),
)

# Methods nginx does not send to the next upstream once the request went out, unless
# `proxy_next_upstream non_idempotent`.
NON_IDEMPOTENT = frozenset({"POST", "LOCK", "PATCH"})


# The framing of the body sent upstream, as nginx's proxy module sets it in these variables.
_BODY_LENGTH = "proxy_internal_body_length"
_CHUNKED = "proxy_internal_chunked"


class Framing(enum.Enum):
    """A header step whose value is one of the framing variables alone (nginx's defaults for
    Content-Length and Transfer-Encoding): taken from the body's framing, not evaluated."""

    LENGTH = _BODY_LENGTH
    CHUNKED = _CHUNKED


_FRAMINGS = frozenset(framing.value for framing in Framing)


@dataclass(frozen=True, slots=True, kw_only=True)
class HeaderPlan:
    """The merged `proxy_set_header` list, compiled once per location.

    `steps` is what a request evaluates, in order: a constant value as its bytes (an empty one
    is never sent, so it has no step), a framing variable alone as `Framing`, else the value
    to evaluate."""

    steps: tuple[tuple[bytes, bytes | Framing | ComplexValue], ...]
    names: frozenset[bytes]  # lowercased: the client's headers of these names never pass

    @classmethod
    def build(cls, directives: Sequence[Directive]) -> HeaderPlan:
        """ConfigError (nginx's message) for a value that does not compile."""
        entries: list[tuple[bytes, ComplexValue]] = []
        seen: set[bytes] = set()
        for directive in directives:
            if len(directive.args) != 2:
                continue
            name = directive.args[0].encode("utf-8", "surrogateescape")
            entries.append((name, compile_complex(directive, 1)))
            seen.add(name.lower())
        for name_text, value in DEFAULT_HEADERS:
            name = name_text.encode()
            if name.lower() not in seen:
                entries.append((name, compile_value(value)))
                seen.add(name.lower())
        steps: list[tuple[bytes, bytes | Framing | ComplexValue]] = []
        for name, complex_value in entries:
            parts = complex_value.parts
            if len(parts) == 3 and not parts[0] and not parts[2] and parts[1] in _FRAMINGS:
                steps.append((name, Framing(parts[1])))
            elif not complex_value.is_literal:
                steps.append((name, complex_value))
            elif parts[0]:  # a literal is its one part
                steps.append((name, parts[0].encode("utf-8", "surrogateescape")))
        return cls(steps=tuple(steps), names=frozenset(seen))


@dataclass(frozen=True, slots=True, kw_only=True)
class BodyFraming:
    """How the body goes upstream: `length` bytes, chunked, or no body (both unset)."""

    length: int | None = None
    chunked: bool = False


def build_headers(
    plan: HeaderPlan,
    own: list[tuple[bytes, bytes]],
    client_headers: Headers,
    *,
    pass_request_headers: bool = True,
) -> list[tuple[bytes, bytes]]:
    """The upstream request's headers, in nginx's order: the `proxy_set_header` entries'
    (`own`, from `set_headers`), then the client's that no entry names."""
    if not pass_request_headers:
        return own
    suppressed = plan.names
    return [*own, *(pair for pair in client_headers if pair[0].lower() not in suppressed)]


def set_headers(
    plan: HeaderPlan, lookup: Lookup, *, framing: BodyFraming
) -> list[tuple[bytes, bytes]]:
    """The headers the `proxy_set_header` entries send (the first of the request's)."""

    def internal(name: str) -> str | None:
        if name == _BODY_LENGTH:
            return None if framing.length is None else str(framing.length)
        if name == _CHUNKED:
            return "chunked" if framing.chunked else None
        return lookup(name)

    out: list[tuple[bytes, bytes]] = []
    for name, value in plan.steps:
        if isinstance(value, bytes):
            out.append((name, value))
        elif isinstance(value, Framing):
            if value is Framing.CHUNKED:
                if framing.chunked:
                    out.append((name, b"chunked"))
            elif framing.length is not None:
                out.append((name, b"%d" % framing.length))
        elif text := value.evaluate(internal):
            out.append((name, text.encode("utf-8", "surrogateescape")))
    return out


def request_head(method: str, target: bytes, http_version: str, headers: Headers) -> bytes:
    """The request line and header block as bytes on the wire."""
    lines = [b"%s %s HTTP/%s\r\n" % (method.encode("latin-1"), target, http_version.encode())]
    lines.extend(b"%s: %s\r\n" % (name, value) for name, value in headers)
    lines.append(b"\r\n")
    return b"".join(lines)


# the URI


def _escape_table() -> bytes:
    """ngx_escape_uri(NGX_ESCAPE_URI): controls, space, `#`, `%`, `?`, DEL and 8-bit bytes."""
    return bytes(1 if byte <= 0x20 or byte in b"#%?" or byte >= 0x7F else 0 for byte in range(256))


_ESCAPED = _escape_table()


def escape_uri(data: bytes) -> bytes:
    if not any(_ESCAPED[byte] for byte in data):
        return data
    return b"".join(b"%%%02X" % byte if _ESCAPED[byte] else bytes((byte,)) for byte in data)


def upstream_target(
    target: RequestTarget,
    *,
    uri_part: str | None,
    prefix: int,
    from_variables: bool = False,
) -> bytes:
    """The request target sent upstream, as nginx builds it:

    - no URI part in `proxy_pass`: the client's request URI, unchanged (`$request_uri`), or
      after a `rewrite` the rewritten URI, escaped, and `?args`;
    - a URI part from variables: that URI as evaluated, arguments not added;
    - a URI part: it replaces the first `prefix` characters of the normalized URI (the
      location's name; 0 in regex and named locations), then `?args`. The rest of the URI is
      escaped again when the client's URI was escaped (nginx's `quoted_uri`) or rewritten.
      After a `rewrite ... break` the URI part is left out: the rewritten URI goes whole.
    """

    def encode(text: str) -> bytes:
        return text.encode("utf-8", "surrogateescape")

    if from_variables and uri_part is not None:
        return encode(uri_part) or b"/"
    if uri_part is None and not target.rewritten:
        return encode(target.request_uri) or b"/"
    if uri_part is None or target.left_location:
        uri_part, prefix = "", 0  # the rewritten URI goes whole
    rest = encode(target.uri[prefix:] if len(target.uri) >= prefix else "")
    if target.rewritten or "%" in target.request_uri.partition("?")[0]:
        rest = escape_uri(rest)
    out = encode(uri_part) + rest
    if target.args:
        out += b"?" + encode(target.args)
    return out
