"""`return` (ngx_http_rewrite_module): a fixed answer straight from the configuration.

As nginx answers one: a code of 400 or more without text gets nginx's error page (none, and an
empty body, for codes nginx has no page for); a redirect gets its page and a `Location`
(empty without a URL, made absolute like nginx's header filter does with `absolute_redirect`);
anything else is the text, typed by the URI's extension (`types`) or `default_type`. A 204
goes out without a type or a length (see `HttpConnection`).
"""

from __future__ import annotations

import functools

from pushproxy.config.complex import ComplexValueError, compile_value
from pushproxy.config.model import Location
from pushproxy.config.tree import Directive
from pushproxy.http.exchange import Exchange
from pushproxy.http.mimetypes import MimeTypes
from pushproxy.http.pages import error_page
from pushproxy.proxy.response import RedirectBase

# A `return`'s text, compiled once (a location has one reachable `return` at most, so few).
_compiled = functools.lru_cache(maxsize=256)(compile_value)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Without text nginx closes the connection without answering (ngx_http_terminate_request);
# with text even these are answered, as any other code.
_NO_RESPONSE = frozenset({408, 444, 499})


async def handle_return(
    exchange: Exchange, location: Location, directive: Directive, mime_types: MimeTypes
) -> None:
    """The answer of a `return` that ended the rewrite phase; `location` is the configuration
    the request has then (its `absolute_redirect`...), `mime_types` its `types` and
    `default_type`."""
    args = directive.args
    conn = exchange.conn
    text: str | None
    if len(args) == 1 and not args[0].isdigit():
        code, text = 302, args[0]  # `return URL;`
    else:
        code, text = int(args[0]), (args[1] if len(args) > 1 else None)
    if code >= 400 and not text:  # ngx_http_special_response_handler()
        if code in _NO_RESPONSE:
            await conn.close()
        else:
            await conn.error(code)
        return
    await conn.answer_expect()  # ngx_http_send_response() discards the body first
    conn.drop_buffered_body()
    value = ""
    if text:
        try:
            value = exchange.evaluate(_compiled(text))
        except ComplexValueError:
            value = text
    if code in _REDIRECTS:
        await redirect(exchange, location, code, value)
        return
    content_type = mime_types.content_type(exchange.lookup("uri") or "")
    body = value.encode("utf-8", "surrogateescape")
    await conn.respond(code, [(b"Content-Type", content_type)], body)


async def redirect(exchange: Exchange, location: Location, code: int, target: str) -> None:
    """A redirect as nginx sends it: its page, and `Location` (a path made absolute unless
    `absolute_redirect off`). Also the 301 that adds a location's trailing slash."""
    value = target.encode("utf-8", "surrogateescape")
    headers = [(b"Content-Type", b"text/html")]
    made = None  # nginx writes the Location it made absolute among its fixed headers
    if target.startswith("/"):
        base = RedirectBase.configured(location.level, exchange.lookup)
        if base is not None:
            made = base.absolute(target).encode("utf-8", "surrogateescape")
    if made is None:
        headers.append((b"Location", value))
    await exchange.conn.respond(code, headers, error_page(code), location=made)
