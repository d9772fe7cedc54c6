"""An upgraded connection (WebSocket...) spliced to its upstream after the upstream's 101,
as ngx_http_upstream_upgrade() does.

Bytes flow both ways as they come. The tunnel ends when either side closes or fails, or when
nothing flows either way for `proxy_read_timeout`; then both sockets are closed, never one
left half-open.
"""

from __future__ import annotations

import trio

_READ_SIZE = 65536


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
