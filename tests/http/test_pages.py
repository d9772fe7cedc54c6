"""nginx's status lines and error pages (ngx_http_status_lines, ngx_http_error_pages)."""

from __future__ import annotations

import pytest

from pushproxy.http.pages import SENT_AS, error_page, status_line


@pytest.mark.parametrize(
    ("status", "line"),
    [
        (200, b"200 OK"),
        (302, b"302 Moved Temporarily"),
        (405, b"405 Not Allowed"),
        (408, b"408 Request Time-out"),
        (413, b"413 Request Entity Too Large"),
        (414, b"414 Request-URI Too Large"),
        (416, b"416 Requested Range Not Satisfiable"),
        (503, b"503 Service Temporarily Unavailable"),
        (504, b"504 Gateway Time-out"),
        (505, b"505 HTTP Version Not Supported"),
        # Codes nginx has no text for: the code and a space.
        *((code, b"%d " % code) for code in (203, 205, 207, 300, 305, 306, 407, 417, 418)),
        *((code, b"%d " % code) for code in (422, 425, 428, 431, 451, 506, 508, 510, 511)),
    ],
)
def test_status_lines_are_nginx_s(status: int, line: bytes) -> None:
    assert status_line(status) == line


@pytest.mark.parametrize(
    ("status", "title"),
    [
        (302, "302 Found"),  # the page's title, not the status line's
        (401, "401 Authorization Required"),
        (404, "404 Not Found"),
        (504, "504 Gateway Time-out"),
        (498, "404 Not Found"),
    ],
)
def test_page_titles(status: int, title: str) -> None:
    assert (
        error_page(status)
        == (
            f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n<hr><center>pushproxy</center>\r\n"
            "</body>\r\n</html>\r\n"
        ).encode()
    )


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (494, "Request Header Or Cookie Too Large"),
        (495, "The SSL certificate error"),
        (496, "No required SSL certificate was sent"),
        (497, "The plain HTTP request was sent to HTTPS port"),
    ],
)
def test_nginx_own_codes_go_out_as_400_with_their_page(status: int, text: str) -> None:
    assert SENT_AS[status] == 400
    assert (
        error_page(status)
        == (
            f"<html>\r\n<head><title>400 {text}</title></head>\r\n<body>\r\n"
            f"<center><h1>400 Bad Request</h1></center>\r\n<center>{text}</center>\r\n"
            "<hr><center>pushproxy</center>\r\n</body>\r\n</html>\r\n"
        ).encode()
    )


@pytest.mark.parametrize("status", [200, 204, 300, 304, 407, 418, 422, 499, 506, 508, 600])
def test_codes_without_a_page_have_an_empty_body(status: int) -> None:
    assert error_page(status) == b""
