"""An upgraded connection (WebSocket...) spliced to its upstream after the upstream's 101,
as ngx_http_upstream_upgrade() does.

Bytes flow both ways as they come. The tunnel ends when either side closes or fails, or when
nothing flows either way for `proxy_read_timeout`; then both sockets are closed, never one
left half-open.
"""

from __future__ import annotations

import trio

from pushproxy.http.connection import HttpConnection

Headers = list[tuple[bytes, bytes]]
_READ_SIZE = 65536


async def switch_protocols(
    conn: HttpConnection,
    status_line: bytes,
    headers: Headers,
    upstream: trio.abc.Stream,
    upstream_first: bytes,
    *,
    idle_timeout: float,
    upstream_send_timeout: float,
) -> None:
    """Send the client the upstream's 101 (with `headers`), then splice the two; the client
    connection leaves HTTP for good. Both streams are closed by `splice`; if the 101 cannot
    be sent (ClientGone), the caller closes the upstream."""
    lines = [b"HTTP/1.1 %s\r\n" % status_line]  # the upstream's own, as nginx sends it
    lines += [b"%s: %s\r\n" % pair for pair in headers]
    client, client_first = conn.take_over()
    conn.status_sent = 101  # for the access log
    await conn.send_raw(b"".join([*lines, b"\r\n"]))
    await splice(
        client,
        upstream,
        client_first=client_first,
        upstream_first=upstream_first,
        idle_timeout=idle_timeout,
        client_send_timeout=conn.limits.send_timeout,
        upstream_send_timeout=upstream_send_timeout,
    )


class _Splice:
    __slots__ = ("idle", "scope")

    def __init__(self, scope: trio.CancelScope, idle: float) -> None:
        self.scope = scope
        self.idle = idle

    def touch(self) -> None:
        self.scope.deadline = trio.current_time() + self.idle

    async def pump(
        self,
        source: trio.abc.ReceiveStream,
        sink: trio.abc.SendStream,
        first: bytes,
        send_timeout: float,
        nursery: trio.Nursery,
    ) -> None:
        """Copy until `source` ends or anything fails, then end the whole splice."""
        try:
            data: bytes | bytearray = first
            while True:
                if data:
                    with trio.fail_after(send_timeout):
                        await sink.send_all(data)
                    self.touch()
                data = await source.receive_some(_READ_SIZE)
                if not data:
                    return
                self.touch()
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError, OSError):
            return
        finally:
            nursery.cancel_scope.cancel()


async def splice(
    client: trio.abc.Stream,
    upstream: trio.abc.Stream,
    *,
    client_first: bytes = b"",
    upstream_first: bytes = b"",
    idle_timeout: float,
    client_send_timeout: float,
    upstream_send_timeout: float,
) -> None:
    """Run the tunnel; `*_first` are bytes a side sent right after the handshake that were
    read with it. Both streams are closed on return."""
    try:
        with trio.CancelScope() as scope:
            splicer = _Splice(scope, idle_timeout)
            splicer.touch()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    splicer.pump, client, upstream, client_first, upstream_send_timeout, nursery
                )
                nursery.start_soon(
                    splicer.pump, upstream, client, upstream_first, client_send_timeout, nursery
                )
    finally:
        with trio.move_on_after(1) as cleanup:
            cleanup.shield = True
            await upstream.aclose()
            await client.aclose()
