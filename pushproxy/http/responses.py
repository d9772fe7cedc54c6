"""`return` (ngx_http_rewrite_module): a fixed answer straight from the configuration."""

from __future__ import annotations

from pushproxy.config.complex import ComplexValueError, compile_value
from pushproxy.config.model import Location
from pushproxy.config.tree import Directive
from pushproxy.http.exchange import Exchange
from pushproxy.http.pages import error_page

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NO_RESPONSE = 444  # nginx closes the connection without answering


async def handle_return(exchange: Exchange, location: Location, directive: Directive) -> None:
    """The answer of a `return` that ended the rewrite phase; `location` is the configuration
    the request has then (its `default_type`)."""
    args = directive.args
    conn = exchange.conn
    head_only = exchange.method == "HEAD"
    text: str | None
    if len(args) == 1 and not args[0].isdigit():
        code, text = 302, args[0]  # `return URL;`
    else:
        code, text = int(args[0]), (args[1] if len(args) > 1 else None)
    if code == _NO_RESPONSE:
        await conn.close()
        return
    value = ""
    if text is not None:
        try:
            value = exchange.evaluate(compile_value(text))
        except ComplexValueError:
            value = text
    if code in _REDIRECTS and text is not None:
        headers = [
            (b"Content-Type", b"text/html"),
            (b"Location", value.encode("utf-8", "surrogateescape")),
        ]
        await conn.respond(code, headers, error_page(code), head_only=head_only)
        return
    if text is None:
        if code >= 400:
            await conn.respond(
                code, [(b"Content-Type", b"text/html")], error_page(code), head_only=head_only
            )
        else:
            await conn.respond(code, [], b"", head_only=head_only)
        return
    content_type = (location.level.arg("default_type") or "text/plain").encode()
    body = value.encode("utf-8", "surrogateescape")
    await conn.respond(code, [(b"Content-Type", content_type)], body, head_only=head_only)
