"""The connection a subrequest answers on (`auth_request`): the handler writes its answer as
to a client, and the head is kept (status and headers) while nothing reaches the client and
no body is kept, as nginx runs such a subrequest `header_only`.

It shares the client's socket only for watching it: a proxied subrequest stops when the
client leaves, as the client's own request would."""

from __future__ import annotations

from collections.abc import Callable

import trio

from pushproxy.http.connection import HttpConnection
from pushproxy.http.deadlines import Deadlines
from pushproxy.http.transport import ClientGone
from pushproxy.http.wire import Request

_MAX_HEAD = 64 * 1024  # a head is kept up to this size; more is dropped


class SubrequestConnection(HttpConnection):
    """A subrequest's answer, held: `status_sent` and `answered_headers()`."""

    __slots__ = ("_kept",)
    main_request = False

    def __init__(self, client: HttpConnection, request: Request, deadlines: Deadlines) -> None:
        super().__init__(client.stream, client.limits, deadlines, client.header_rules)
        self._kept = bytearray()
        self.request = request
        self._head_only = True  # nginx's subrequest is `header_only`: no body is made
        self.reuse = False

    async def send_raw(self, data: bytes, then: Callable[[], None] | None = None) -> None:
        if b"\r\n\r\n" not in self._kept and len(self._kept) < _MAX_HEAD:
            self._kept += data[:_MAX_HEAD]
        if then is not None:
            then()

    def write_now(self, data: bytes) -> tuple[bytes, bool]:
        return b"", False  # a streaming subscriber has no client here: it ends at once

    def take_over(self) -> tuple[trio.abc.Stream, bytes]:
        raise ClientGone("a subrequest cannot switch protocols")

    async def close(self) -> None:
        """Nothing to close: the socket is the client's."""

    def answered_headers(self) -> list[tuple[bytes, bytes]]:
        """The answer's headers as they were written (after its status line)."""
        head = bytes(self._kept).partition(b"\r\n\r\n")[0]
        headers = []
        for line in head.split(b"\r\n")[1:]:
            name, colon, value = line.partition(b":")
            if colon:
                headers.append((name, value.strip(b" \t")))
        return headers


def bodiless(request: Request) -> Request:
    """A subrequest's head: a GET with the client's headers but those of a body (nginx would
    wait for a body it never reads, unless told `proxy_pass_request_body off`)."""
    kept = [(name, h) for name, h in zip(request.raw_names, request.headers, strict=True)
            if h[0] not in (b"content-length", b"transfer-encoding")]  # fmt: skip
    return request._replace(
        method=b"GET",
        headers=tuple(h for _, h in kept),
        raw_names=tuple(name for name, _ in kept),
        content_length=None,
        chunked=False,
        expect_continue=False,
    )
