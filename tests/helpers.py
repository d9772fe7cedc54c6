"""Test clients that talk to a real server over real sockets: an h11 client that keeps
chunk boundaries, a raw-bytes reader, and an EventSource parser; and the variables of a plain
request to example.com, for the pure tests of what reads them."""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import h11
import trio

from pushproxy.config.maps import VariableTable
from pushproxy.http.connection_variables import ConnectionInfo
from pushproxy.http.target import parse_target
from pushproxy.http.variables import RequestVars


def request_vars(
    target: str = "/",
    headers: Sequence[tuple[bytes, bytes]] = (),
    maps: Mapping[str, VariableTable] = MappingProxyType({}),
) -> RequestVars:
    """The variables of `GET target` to example.com from 127.0.0.1 (Host first, then
    `headers`), with these `map`s."""
    return RequestVars(
        method=b"GET",
        target=parse_target(target.encode()),
        http_version=b"1.1",
        headers=[(b"host", b"example.com"), *headers],
        connection=ConnectionInfo(
            remote_addr="127.0.0.1", remote_port=5, server_addr="127.0.0.1", server_port=80
        ),
        server_name="example.com",
        host="example.com",
        maps=maps,
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on (for a server started as a process)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def http10(port: int, path: str, method: str = "GET", body: bytes = b"", head: str = "") -> bytes:
    """One HTTP/1.0 request to a server started as a process (blocking), its whole answer;
    `head`: more header lines, each ending in CRLF."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(
            f"{method} {path} HTTP/1.0\r\nHost: x\r\n{head}"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
        return data


async def exchange_raw(port: int, data: bytes, *, seconds: float = 5) -> bytes:
    """Send `data` to 127.0.0.1:`port` and return every byte the server sends until it
    closes (within `seconds`)."""
    with trio.fail_after(seconds):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(data)
            received = b""
            while chunk := await stream.receive_some(65536):
                received += chunk
    return received


def header_value(headers: list[tuple[bytes, bytes]], name: str) -> str | None:
    """The first header of that name (case-insensitive), decoded; None if absent."""
    wanted = name.lower().encode()
    for key, value in headers:
        if key.lower() == wanted:
            return value.decode("latin-1")
    return None


@dataclass
class Response:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    chunks: list[bytes] = field(default_factory=list)
    reason: bytes = b""

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    def header_names(self) -> list[bytes]:
        return [key for key, _ in self.headers]


class Client:
    """One HTTP/1.1 (or 1.0) connection, keep-alive across requests."""

    def __init__(self, stream: trio.SocketStream, *, http_version: str = "1.1") -> None:
        self.stream = stream
        self.http_version = http_version
        self.conn = h11.Connection(h11.CLIENT)
        self.raw_received = bytearray()

    @classmethod
    async def connect(cls, port: int, *, http_version: str = "1.1") -> Client:
        return cls(await trio.open_tcp_stream("127.0.0.1", port), http_version=http_version)

    async def send_request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
    ) -> None:
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        all_headers = [("Host", "localhost"), *headers]
        framed = {k.lower() for k, _ in headers} & {"content-length", "transfer-encoding"}
        if body is not None and not framed:
            all_headers.append(("Content-Length", str(len(body))))
        data = self.conn.send(h11.Request(method=method, target=target, headers=all_headers))
        if body:
            data += self.conn.send(h11.Data(data=body))
        data += self.conn.send(h11.EndOfMessage())
        if self.http_version != "1.1":
            # h11 only writes HTTP/1.1: write the same request as 1.0 by hand; h11 still reads
            # the answer (its state advanced as if it had sent the request itself).
            lines = [f"{method} {target} HTTP/{self.http_version}"]
            lines += [f"{name}: {value}" for name, value in all_headers]
            data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
        await self.stream.send_all(data)

    async def _event(self) -> h11.Event:
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                data = await self.stream.receive_some(65536)
                self.raw_received += data
                self.conn.receive_data(data)
                continue
            return event  # type: ignore[return-value]

    async def read_head(self) -> Response:
        while True:
            event = await self._event()
            if isinstance(event, h11.Response):
                return Response(
                    status=event.status_code,
                    headers=list(event.headers.raw_items()),
                    reason=bytes(event.reason),
                )
            if isinstance(event, h11.InformationalResponse):
                continue
            raise AssertionError(f"unexpected {event!r}")

    async def read_chunk(self) -> bytes | None:
        """The next body piece as the server framed it (one chunk), None at the end."""
        while True:
            event = await self._event()
            if isinstance(event, h11.Data):
                data = bytes(event.data)
                if not event.chunk_end and event.chunk_start:
                    # a chunk split across reads: collect it whole
                    while not event.chunk_end:
                        event = await self._event()
                        assert isinstance(event, h11.Data)
                        data += bytes(event.data)
                return data
            if isinstance(event, h11.EndOfMessage):
                return None
            if isinstance(event, h11.ConnectionClosed):
                return None

    async def read_body(self, response: Response) -> Response:
        while True:
            chunk = await self.read_chunk()
            if chunk is None:
                return response
            response.chunks.append(chunk)
            response.body += chunk

    async def request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
    ) -> Response:
        await self.send_request(method, target, headers, body)
        response = await self.read_head()
        return await self.read_body(response)

    async def aclose(self) -> None:
        await self.stream.aclose()


async def request(
    port: int,
    method: str,
    target: str,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes | None = None,
    *,
    http_version: str = "1.1",
) -> Response:
    """One request on a fresh connection."""
    client = await Client.connect(port, http_version=http_version)
    try:
        return await client.request(method, target, headers, body)
    finally:
        await client.aclose()


@dataclass
class Event:
    data: str
    event: str = "message"
    id: str | None = None


class EventSourceParser:
    """The WHATWG EventSource stream parser: `data:` lines joined, `event:`, `id:`, comments."""

    def __init__(self) -> None:
        self.buffer = ""
        self.comments: list[str] = []
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self.last_event_id: str | None = None

    def feed(self, text: str) -> list[Event]:
        self.buffer += text
        events: list[Event] = []
        while True:
            cut = min(
                (i for i in (self.buffer.find("\n"), self.buffer.find("\r")) if i >= 0), default=-1
            )
            if cut < 0:
                return events
            line = self.buffer[:cut]
            rest = self.buffer[cut + 1 :]
            if self.buffer[cut] == "\r" and rest.startswith("\n"):
                rest = rest[1:]
            self.buffer = rest
            event = self._line(line)
            if event is not None:
                events.append(event)

    def _line(self, line: str) -> Event | None:
        if not line:
            if not self._data:
                self._event = ""
                return None
            event = Event(data="\n".join(self._data), event=self._event or "message", id=self._id)
            self.last_event_id = self._id if self._id is not None else self.last_event_id
            self._data, self._event, self._id = [], "", None
            return event
        if line.startswith(":"):
            self.comments.append(line[1:])
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        return None
