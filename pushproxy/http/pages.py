"""nginx's own error pages and reason phrases."""

from __future__ import annotations

from http import HTTPStatus

# nginx's texts where they differ from Python's.
_REASONS = {
    413: "Request Entity Too Large",
    414: "Request-URI Too Large",
    494: "Request Header Or Cookie Too Large",
}


def reason(status: int) -> str:
    if status in _REASONS:
        return _REASONS[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


_REASON_BYTES: dict[int, bytes] = {}


def reason_bytes(status: int) -> bytes:
    """`reason`, encoded, worked out once per status."""
    found = _REASON_BYTES.get(status)
    if found is None:
        found = _REASON_BYTES[status] = reason(status).encode()
    return found


# nginx's own codes that go out as 400, with their own page title.
SENT_AS = {494: 400}


def error_page(status: int) -> bytes:
    """The body nginx sends with an error status (`ngx_http_error_pages`)."""
    title = f"{SENT_AS.get(status, status)} {reason(status)}".rstrip()
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>pushproxy</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()
