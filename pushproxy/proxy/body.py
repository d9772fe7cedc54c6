"""The client's request body, as the upstream gets it.

A body up to `client_body_buffer_size` is read before connecting, so that it can go to the
next upstream after a failure. A larger body with a `Content-Length` streams as it arrives
(it cannot be sent twice, as with nginx's `proxy_request_buffering off`). A larger chunked
body streams chunked to an HTTP/1.1 upstream with `proxy_request_buffering off`; otherwise it
is spooled to a temporary file and goes with a `Content-Length`, as nginx sends it. Nothing
keeps a whole large body in memory.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

import trio

from pushproxy.http.connection import HttpConnection
from pushproxy.http.wire import Request
from pushproxy.proxy.request import BodyFraming

Write = Callable[[bytes], Awaitable[None]]
_READ_SIZE = 65536
_NO_BODY = BodyFraming()  # (frozen: one serves every request without a body)


class _SpoolFile(Protocol):
    async def write(self, data: bytes, /) -> int: ...
    async def read(self, size: int = -1, /) -> bytes: ...
    async def seek(self, offset: int, /) -> int: ...
    async def aclose(self) -> None: ...


def client_framing(request: Request) -> tuple[int | None, bool]:
    """(Content-Length, chunked) as the client announced its body."""
    return (None if request.chunked else request.content_length), request.chunked


class RequestBody:
    """A body to send upstream once (streamed) or as often as needed (`replayable`)."""

    __slots__ = ("_chunks", "_file", "_memory", "framing", "replayable", "started")

    def __init__(
        self,
        framing: BodyFraming,
        memory: list[bytes],
        *,
        chunks: AsyncIterator[bytes] | None = None,
        file: _SpoolFile | None = None,
    ) -> None:
        self.framing = framing
        self._memory = memory
        self._chunks = chunks  # the rest, read from the client while sending
        self._file = file
        self.replayable = chunks is None
        self.started = False

    @classmethod
    def fixed(cls, data: bytes | None) -> RequestBody:
        """No body (None), or one the configuration gives (`proxy_set_body`)."""
        if data is None:
            return cls(_NO_BODY, [])
        return cls(BodyFraming(length=len(data)), [data])

    @classmethod
    async def read(
        cls,
        conn: HttpConnection,
        length: int | None,
        *,
        max_size: int,
        buffer_size: int,
        stream_chunked: bool,
    ) -> RequestBody:
        """Read what must be read before connecting, of a body the client announced (its
        Content-Length `length`, within `max_size`, or None: chunked). BodyTooLarge past
        `max_size` (`client_max_body_size`, 0: no limit); ClientGone if the client stops
        sending."""
        chunks = conn.body_chunks(max_size)
        memory: list[bytes] = []
        size = 0
        while size <= buffer_size:
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                return cls(BodyFraming(length=size), memory)
            memory.append(chunk)
            size += len(chunk)
        if length is not None:
            return cls(BodyFraming(length=length), memory, chunks=chunks)
        if stream_chunked:
            return cls(BodyFraming(chunked=True), memory, chunks=chunks)
        return await cls._spool(memory, size, chunks)

    @classmethod
    async def _spool(
        cls, memory: list[bytes], size: int, chunks: AsyncIterator[bytes]
    ) -> RequestBody:
        file: _SpoolFile = trio.wrap_file(tempfile.TemporaryFile())  # noqa: SIM115 (aclose)
        try:
            async for chunk in chunks:
                await file.write(chunk)
                size += len(chunk)
        except BaseException:
            await file.aclose()
            raise
        return cls(BodyFraming(length=size), memory, file=file)

    @property
    def in_memory(self) -> bool:
        """Whether all of the body is here (most bodies, and no body): `whole` gives it."""
        return self._file is None and self._chunks is None

    def whole(self) -> bytes | None:
        """The framed body when all of it is in memory (most bodies, and no body), else None.
        Sending it counts as starting."""
        if not self.in_memory:
            return None
        self.started = True
        frame = _chunk if self.framing.chunked else _plain
        data = b"".join([frame(piece) for piece in self._memory if piece])
        return data + b"0\r\n\r\n" if self.framing.chunked else data

    async def send(self, write: Write) -> None:
        """Write the body, framed as `framing` says. A streamed body can be sent once."""
        if self.started and not self.replayable:
            raise RuntimeError("a streamed request body cannot be sent again")
        self.started = True
        frame = _chunk if self.framing.chunked else _plain
        for piece in self._memory:
            if piece:
                await write(frame(piece))
        if self._file is not None:
            await self._file.seek(0)
            while piece := await self._file.read(_READ_SIZE):
                await write(piece)
        if self._chunks is not None:
            async for piece in self._chunks:
                await write(frame(piece))
        if self.framing.chunked:
            await write(b"0\r\n\r\n")

    @property
    def open(self) -> bool:
        """Whether `aclose` has anything to close (a spool file, the client's body)."""
        return self._file is not None or self._chunks is not None

    async def aclose(self) -> None:
        if self._file is not None:
            with trio.CancelScope(shield=True):
                await self._file.aclose()
        closer = getattr(self._chunks, "aclose", None)  # the connection's body generator
        if closer is not None:
            with trio.CancelScope(shield=True):
                await closer()


def _plain(data: bytes) -> bytes:
    return data


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)
