"""The sample "legacy" application that pushproxy sits in front of (trio and h11, no framework).

It serves the sample pages in samples/pages/, the client at /js/pushstream.js (the copy shipped
in the pushproxy package), and a few application endpoints:

    GET  /                  the list of samples
    GET  /<page>            a file of samples/pages/ (websocket.html, eventsource.html, ...)
    GET  /js/pushstream.js  pushproxy's JavaScript client
    GET  /api/hello         a JSON answer, to show that pushproxy passes the rest to the app
    POST /say               form fields `channel`, `nick`, `text`: the app publishes
                            "nick: text" to pushproxy (POST <publisher>?id=channel), as a
                            server-side application does

Run it, then pushproxy in front of it (see the configurations in samples/):

    python samples/legacy_app.py --port 8000 --publisher http://127.0.0.1:9080/pub
    pushproxy run -c samples/legacy-sidecar.conf
    open http://127.0.0.1:9080/
"""

from __future__ import annotations

import argparse
import json
import mimetypes
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import h11
import trio

PAGES = Path(__file__).resolve().parent / "pages"
MAX_BODY = 64 * 1024


def pushstream_js() -> bytes:
    """The client as the installed pushproxy package ships it."""
    return resources.files("pushproxy").joinpath("static/pushstream.js").read_bytes()


def escape_text(text: str) -> str:
    """Text as the JavaScript client sends it: percent-encoded, read back by its onmessage."""
    return quote(text, safe="@*_+-./")


@dataclass
class LegacyApp:
    """The application: `serve()` listens until cancelled; `publisher` is where /say posts."""

    host: str = "127.0.0.1"
    port: int = 8000
    publisher: str = "http://127.0.0.1:9080/pub"
    requests: list[str] = field(default_factory=list)  # "METHOD target", in order

    async def serve(
        self, *, task_status: trio.TaskStatus[LegacyApp] = trio.TASK_STATUS_IGNORED
    ) -> None:
        listeners = await trio.open_tcp_listeners(self.port, host=self.host)
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self)
        await trio.serve_listeners(self._connection, listeners)

    async def _connection(self, stream: trio.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                event = await _next_event(stream, conn)
                if not isinstance(event, h11.Request):
                    return
                body = b""
                while isinstance(part := await _next_event(stream, conn), h11.Data):
                    body += part.data
                    if len(body) > MAX_BODY:
                        await _send(stream, conn, 413, b"too large\n", "text/plain")
                        return
                self.requests.append(f"{event.method.decode()} {event.target.decode()}")
                status, payload, content_type = await self.answer(event, body)
                head_only = event.method == b"HEAD"
                await _send(stream, conn, status, payload, content_type, head_only=head_only)
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError):
            return
        finally:
            await stream.aclose()

    async def answer(self, request: h11.Request, body: bytes) -> tuple[int, bytes, str]:
        """(status, body, content type) for one request."""
        url = urlsplit(request.target.decode("latin-1"))
        path, method = url.path, request.method
        if method == b"POST" and path == "/say":
            return await self._say(parse_qs(body.decode("utf-8", "replace")))
        if method not in (b"GET", b"HEAD"):
            return 405, b"method not allowed\n", "text/plain"
        if path == "/js/pushstream.js":
            return 200, pushstream_js(), "application/javascript; charset=utf-8"
        if path == "/api/hello":
            answer = {"app": "legacy", "path": path, "served_by": "samples/legacy_app.py"}
            return 200, json.dumps(answer).encode(), "application/json"
        name = "index.html" if path == "/" else path.lstrip("/")
        file = (PAGES / name).resolve()
        if file.parent != PAGES or not file.is_file():
            return 404, b"not found\n", "text/plain"
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("javascript"):
            content_type += "; charset=utf-8"
        return 200, file.read_bytes(), content_type

    async def _say(self, form: dict[str, list[str]]) -> tuple[int, bytes, str]:
        channel = form.get("channel", ["lobby"])[0]
        text = f"{form.get('nick', ['app'])[0]}: {form.get('text', [''])[0]}"
        status = await publish(self.publisher, channel, escape_text(text).encode())
        answer = {"published": status == 200, "status": status, "channel": channel}
        return (200 if status == 200 else 502), json.dumps(answer).encode(), "application/json"


async def publish(publisher: str, channel: str, body: bytes) -> int:
    """POST body to pushproxy's publisher location for channel; the status (0: unreachable)."""
    url = urlsplit(publisher)
    target = f"{url.path or '/pub'}?id={quote(channel, safe='')}"
    conn = h11.Connection(h11.CLIENT)
    try:
        with trio.fail_after(5):
            stream = await trio.open_tcp_stream(url.hostname or "127.0.0.1", url.port or 80)
            async with stream:
                headers = [
                    ("Host", url.netloc),
                    ("Content-Length", str(len(body))),
                    ("Connection", "close"),
                ]
                data = conn.send(h11.Request(method="POST", target=target, headers=headers))
                await stream.send_all(
                    data + conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage())
                )
                while True:
                    event = await _next_event(stream, conn)
                    if isinstance(event, h11.Response):
                        return event.status_code
                    if not isinstance(event, h11.InformationalResponse):
                        return 0
    except (OSError, trio.TooSlowError, h11.ProtocolError):
        return 0


async def _next_event(stream: trio.SocketStream, conn: h11.Connection) -> object:
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await stream.receive_some(65536))
            continue
        return event


async def _send(
    stream: trio.SocketStream,
    conn: h11.Connection,
    status: int,
    body: bytes,
    content_type: str,
    *,
    head_only: bool = False,
) -> None:
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-cache"),
        ("Server", "legacy-app"),
    ]
    data = conn.send(h11.Response(status_code=status, headers=headers))
    if not head_only:
        data += conn.send(h11.Data(data=body))
    await stream.send_all(data + conn.send(h11.EndOfMessage()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--publisher",
        default="http://127.0.0.1:9080/pub",
        help="pushproxy's publisher location, for POST /say",
    )
    args = parser.parse_args()
    app = LegacyApp(host=args.host, port=args.port, publisher=args.publisher)
    print(f"legacy app on http://{args.host}:{args.port}/ (publishing to {args.publisher})")
    trio.run(app.serve)


if __name__ == "__main__":
    main()
