"""nginx's own status lines and error pages (ngx_http_header_filter_module.c,
ngx_http_special_response.c), as tables, and the `Server` and `Date` headers it adds.

nginx words some statuses its own way (`302 Moved Temporarily`, `504 Gateway Time-out`) and has
no text at all for others: those go out as the code and a space (`HTTP/1.1 418 `). Its error
pages have titles of their own (`401 Authorization Required`, `302 Found`); a code without a
page gets an empty body.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from email.utils import formatdate

from pushproxy import __version__

# ngx_http_status_lines: the reason phrase nginx sends after each code it knows.
REASONS: dict[int, str] = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content",
    301: "Moved Permanently", 302: "Moved Temporarily", 303: "See Other", 304: "Not Modified",
    307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Not Allowed", 406: "Not Acceptable", 408: "Request Time-out",
    409: "Conflict", 410: "Gone", 411: "Length Required", 412: "Precondition Failed",
    413: "Request Entity Too Large", 414: "Request-URI Too Large",
    415: "Unsupported Media Type", 416: "Requested Range Not Satisfiable",
    421: "Misdirected Request", 429: "Too Many Requests",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Temporarily Unavailable", 504: "Gateway Time-out",
    505: "HTTP Version Not Supported", 507: "Insufficient Storage",
}  # fmt: skip

# ngx_http_error_pages: the title of each page, where it differs from the status line.
_TITLES: dict[int, str] = {
    302: "302 Found",
    401: "401 Authorization Required",
    494: "400 Request Header Or Cookie Too Large",
    495: "400 The SSL certificate error",
    496: "400 No required SSL certificate was sent",
    497: "400 The plain HTTP request was sent to HTTPS port",
    498: "404 Not Found",  # "canceled": nginx shows its 404 page
}
# Codes with a page: the redirects and errors of ngx_http_error_pages.
_PAGED = frozenset(
    {301, 302, 303, 307, 308, *range(400, 417), 421, 429, *range(494, 499), *range(500, 508)}
    - {407, 506}
)
# nginx's own codes that go out as 400, with their own page (the page's first line says so).
SENT_AS = {494: 400, 495: 400, 496: 400, 497: 400}


_STATUS_LINES = {status: f"{status} {text}".encode() for status, text in REASONS.items()}


def status_line(status: int) -> bytes:
    """What follows `HTTP/1.1 ` in nginx's own status line: `200 OK`, or `418 `."""
    line = _STATUS_LINES.get(status)
    return line if line is not None else b"%d " % status


def error_page(status: int) -> bytes:
    """The body nginx sends with `status` (`ngx_http_error_pages`); b"" when it has none."""
    if status not in _PAGED:
        return b""
    title = _TITLES.get(status) or f"{status} {REASONS.get(status, '')}"
    sent = SENT_AS.get(status)
    if sent is not None:  # `400 Bad Request` as the heading, the page's own text below it
        heading = (
            f"<center><h1>{sent} {REASONS[sent]}</h1></center>\r\n<center>{title[4:]}</center>"
        )
    else:
        heading = f"<center><h1>{title}</h1></center>"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n{heading}\r\n"
        "<hr><center>pushproxy</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


SERVER_HEADER = f"pushproxy/{__version__}".encode()
SERVER_NAME_ONLY = b"pushproxy"  # `server_tokens off`


_date_cache: list[tuple[int, bytes]] = [(0, b"")]


def http_now() -> bytes:
    """The `Date` header value, formatted once a second."""
    now = int(time.time())
    second, text = _date_cache[0]
    if second != now:
        text = formatdate(now, usegmt=True).encode("ascii")
        _date_cache[0] = (now, text)
    return text


def own_headers(
    headers: Sequence[tuple[bytes, bytes]], *, tokens: bool = True
) -> list[tuple[bytes, bytes]]:
    """Our `Server` and `Date`, each unless the response brings its own (a proxied response
    with `proxy_pass_header Server`, say). `tokens`: `server_tokens` (the version shown)."""
    names = {name.lower() for name, _ in headers}
    return server_and_date(server=b"server" in names, date=b"date" in names, tokens=tokens)


def server_and_date(*, server: bool, date: bool, tokens: bool = True) -> list[tuple[bytes, bytes]]:
    """`Server` unless `server` (the answer has one), `Date` unless `date`."""
    out: list[tuple[bytes, bytes]] = []
    if not server:
        out.append((b"Server", SERVER_HEADER if tokens else SERVER_NAME_ONLY))
    if not date:
        out.append((b"Date", http_now()))
    return out
