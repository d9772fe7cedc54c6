"""A small upstream application for proxy tests: trio and h11 on a port of its own.

Paths choose the behaviour (anything else echoes the request as JSON):
  /chunked            three chunks, chunked encoding
  /endless            a chunk every 10 ms until the reader goes away
  /big?size=N         N bytes (a repeating pattern) with a Content-Length
  /upload             reads the body as it comes, answers its size and sha256
  /slow?ms=N          waits N ms, then echoes
  /hang               reads the request, never answers (ends when the proxy closes)
  /status/NNN         answers NNN
  /close-after-head   a head promising 100 bytes, 7 of them, then close
  /close-delimited    an HTTP/1.0-style body ended by closing the connection
  /invalid            a response head h11 rejects
  /headers            headers nginx hides or rewrites (Server, Date, X-Accel-*, Location...)
  /cached?age=N       Last-Modified N seconds ago, two Cache-Controls and an Expires
  /cookies?c=V&c=W    a Set-Cookie header for each V, W...
  /typed?t=T&e=E      Content-Type T (and Content-Encoding E, when given)
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import h11
import trio
from helpers import header_value

PATTERN = bytes(range(256)) * 256  # 64 KiB


def pattern_bytes(size: int) -> bytes:
    whole, part = divmod(size, len(PATTERN))
    return PATTERN * whole + PATTERN[:part]


@dataclass
class Seen:
    """One request as the upstream received it."""

    method: str
    target: str
    http_version: str
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    def header_names(self) -> list[str]:
        return [key.decode("latin-1") for key, _ in self.headers]


@dataclass
class UpstreamApp:
    name: str = "app"
    port: int = 0
    connections: int = 0
    requests: list[Seen] = field(default_factory=list)
    open_streams: int = 0
    status: int | None = None  # answer every request with this status
    delay: float = 0.0  # seconds to wait before answering any request
    requests_per_connection: int = 0  # close (without saying so) after this many; 0: no limit
    unix: str | None = None  # listen on this unix socket path instead of a TCP port

    async def serve(self, *, task_status: trio.TaskStatus[UpstreamApp]) -> None:
        if self.unix is not None:
            sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
            await sock.bind(self.unix)
            sock.listen(16)
            listeners = [trio.SocketListener(sock)]
        else:
            listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
            self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            task_status.started(self)
            await trio.serve_listeners(self._connection, listeners, handler_nursery=nursery)

    async def _connection(self, stream: trio.SocketStream) -> None:
        self.connections += 1
        self.open_streams += 1
        conn = h11.Connection(h11.SERVER)
        served = 0
        try:
            while True:
                request = await _next(stream, conn)
                if not isinstance(request, h11.Request):
                    return
                if not await self._answer(stream, conn, request):
                    return
                served += 1
                if served == self.requests_per_connection:
                    return
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError):
            return
        finally:
            self.open_streams -= 1
            await stream.aclose()

    async def _answer(
        self, stream: trio.SocketStream, conn: h11.Connection, request: h11.Request
    ) -> bool:
        """Answer one request; False when the connection is to end."""
        target = request.target.decode("latin-1")
        split = urlsplit(target)
        path, query = split.path, parse_qs(split.query)
        if path == "/upload":
            size, digest = 0, hashlib.sha256()
            while isinstance(event := await _next(stream, conn), h11.Data):
                size += len(event.data)
                digest.update(event.data)
            self._record(request, b"")
            await _whole(
                stream, conn, 200, json.dumps({"size": size, "sha256": digest.hexdigest()})
            )
            return True
        body = b""
        while isinstance(event := await _next(stream, conn), h11.Data):
            body += event.data
        self._record(request, body)
        await trio.sleep(self.delay)
        if path.endswith("/raw"):  # ?r= as it is on the wire, any method; then the connection ends
            await stream.send_all(query["r"][0].encode("latin-1"))
            return False
        if request.method == b"HEAD":  # the head a GET would get (a fixed one but for /big)
            length = query["size"][0] if path == "/big" else "5"
            head = h11.Response(status_code=200, headers=[(b"Content-Length", length.encode())])
            await stream.send_all(conn.send(head) + conn.send(h11.EndOfMessage()))
            return True
        if self.status is not None:
            await _whole(stream, conn, self.status, f"status {self.status} from {self.name}")
            return True
        if path == "/hang":
            while await stream.receive_some(65536):
                pass  # until the proxy lets go
            return False
        if path == "/slow":
            await trio.sleep(int(query.get("ms", ["100"])[0]) / 1000)
        if path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
            await _whole(stream, conn, status, f"status {status} from {self.name}")
            return True
        if path == "/chunked":
            await _send(
                stream,
                conn,
                h11.Response(status_code=200, headers=[(b"Transfer-Encoding", b"chunked")]),
            )
            for piece in (b"one", b"two", b"three"):
                await _send(stream, conn, h11.Data(data=piece))
            await _send(stream, conn, h11.EndOfMessage())
            return True
        if path == "/endless":
            await _send(
                stream,
                conn,
                h11.Response(status_code=200, headers=[(b"Transfer-Encoding", b"chunked")]),
            )
            count = 0
            while True:
                count += 1
                await _send(stream, conn, h11.Data(data=b"tick %d\n" % count))
                await trio.sleep(0.01)
        if path == "/big":
            size = int(query["size"][0])
            rates = [(b"X-Accel-Limit-Rate", rate.encode()) for rate in query.get("rate", [])]
            sized = (b"Content-Length", str(size).encode())
            head = h11.Response(status_code=200, headers=[sized, *rates])
            await _send(stream, conn, head)
            data = pattern_bytes(size)
            for start in range(0, size, 65536):
                await _send(stream, conn, h11.Data(data=data[start : start + 65536]))
            await _send(stream, conn, h11.EndOfMessage())
            return True
        if path == "/close-after-head":
            await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
            return False
        if path == "/close-delimited":
            await stream.send_all(
                b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"
            )
            return False
        if path == "/invalid":
            await stream.send_all(b"HTTP/1.1 200 OK\r\nBad Header Line\r\n\r\n")
            return False
        if path == "/typed":
            typed = [(b"Content-Type", query.get("t", [""])[0].encode())]
            typed += [(b"Content-Encoding", e.encode()) for e in query.get("e", [])]
            await _whole(stream, conn, 200, "typed", typed)
            return True
        if path == "/cookies":
            cookies = [(b"Set-Cookie", value.encode()) for value in query.get("c", [])]
            await _whole(stream, conn, 200, "cookies", cookies)
            return True
        if path == "/cached":
            age = int(query.get("age", ["0"])[0])
            modified = email.utils.formatdate(time.time() - age, usegmt=True).encode()
            cached = [
                (b"Last-Modified", modified),
                (b"Cache-Control", b"private"),
                (b"Expires", b"0"),
                (b"Cache-Control", b"no-store"),
            ]
            await _whole(stream, conn, 200, "cached", cached)
            return True
        if path == "/headers":
            headers = [
                (b"Server", b"legacy/1.0"),
                (b"Date", b"Thu, 01 Jan 1970 00:00:00 GMT"),
                (b"X-Accel-Buffering", b"no"),
                (b"X-Pad", b"avoid browser bug"),
                (b"X-Custom", b"kept"),
                (b"Set-Cookie", b"a=1"),
                (b"Set-Cookie", b"b=2"),
                (b"Keep-Alive", b"timeout=5"),
                (b"Location", query.get("location", ["/"])[0].encode()),
                (b"Content-Type", b"text/plain"),
            ]
            await _whole(stream, conn, int(query.get("status", ["200"])[0]), "headers", headers)
            return True
        echo = {
            "app": self.name,
            "method": request.method.decode(),
            "target": target,
            "headers": [
                [k.decode("latin-1"), v.decode("latin-1")] for k, v in request.headers.raw_items()
            ],
            "body": body.decode("latin-1"),
        }
        await _whole(stream, conn, 200, json.dumps(echo), [(b"Content-Type", b"application/json")])
        return True

    def _record(self, request: h11.Request, body: bytes) -> None:
        self.requests.append(
            Seen(
                method=request.method.decode(),
                target=request.target.decode("latin-1"),
                http_version=request.http_version.decode(),
                headers=list(request.headers.raw_items()),
                body=body,
            )
        )


async def _next(stream: trio.SocketStream, conn: h11.Connection) -> h11.Event:
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await stream.receive_some(65536))
            continue
        return event  # type: ignore[return-value]


async def _send(stream: trio.SocketStream, conn: h11.Connection, event: h11.Event) -> None:
    data = conn.send(event)
    if data:
        await stream.send_all(data)


async def _whole(
    stream: trio.SocketStream,
    conn: h11.Connection,
    status: int,
    text: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = text.encode()
    full = [*(headers or []), (b"Content-Length", str(len(body)).encode())]
    data = conn.send(h11.Response(status_code=status, headers=full))
    data += conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage())
    await stream.send_all(data)
