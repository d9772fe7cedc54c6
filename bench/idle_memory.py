"""What an idle subscriber costs the server, measured in-process: `python bench/idle_memory.py`.

The real server (HttpServer, as the tests start it) runs in this process on port 0; a child
process (this file again, `--clients`) opens the subscribers with plain non-blocking sockets,
so the clients' memory is not counted. The figure is the growth of this process's VmRSS (and,
with `--tracemalloc`, of the Python heap) from before the subscribers connect to when every
one of them is subscribed, divided by their number: like bench/loadgen's idle hold, the
channels they create are counted too (10 subscribers per channel by default).

    python bench/idle_memory.py                     # 2000 streaming subscribers, 200 channels
    python bench/idle_memory.py --mode eventsource -n 5000
    python bench/idle_memory.py --ping 30           # subscribers that wait with a deadline
    python bench/idle_memory.py --tracemalloc --top 8   # where the Python heap grew
"""

from __future__ import annotations

import argparse
import base64
import gc
import os
import resource
import selectors
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import trio

CONF = """
events { worker_connections 65536; }
http {
    access_log off;
    push_stream_shared_memory_size 512m;
    server {
        listen 127.0.0.1:0 backlog=4096;
        location ~ ^/stream/(.+)$ { push_stream_subscriber; push_stream_channels_path $1; }
        location ~ ^/eventsource/(.+)$ {
            push_stream_subscriber eventsource; push_stream_channels_path $1;
        }
        location ~ ^/websocket/(.+)$ {
            push_stream_subscriber websocket; push_stream_channels_path $1;
        }
        @PING@
    }
}
"""
MODES = ("stream", "eventsource", "websocket")
_WEBSOCKET_KEY = base64.b64encode(b"0123456789abcdef").decode()


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def raise_file_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


# The client side (a child process).


def request_bytes(mode: str, channel: int) -> bytes:
    head = f"GET /{mode}/ch{channel} HTTP/1.1\r\nHost: localhost\r\n"
    if mode == "websocket":
        head += (
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {_WEBSOCKET_KEY}\r\nSec-WebSocket-Version: 13\r\n"
        )
    return (head + "\r\n").encode()


def run_clients(port: int, count: int, channels: int, mode: str) -> None:
    """Open `count` subscribers and hold them (reading what comes) until stdin closes."""
    raise_file_limit(count + 64)
    selector = selectors.DefaultSelector()
    for number in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setblocking(False)
        sock.send(request_bytes(mode, number % channels))  # a few dozen bytes: always taken
        selector.register(sock, selectors.EVENT_READ)
    selector.register(sys.stdin, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj is sys.stdin:
                return  # the server side is done: exit closes every socket
            ready = key.fileobj
            assert isinstance(ready, socket.socket)
            try:
                data = ready.recv(65536)
            except BlockingIOError:
                continue
            if not data:
                selector.unregister(ready)


# The server side (this process).


async def measure(args: argparse.Namespace) -> None:
    from pushproxy.config.includes import inline, load
    from pushproxy.config.model import build
    from pushproxy.http.server import HttpServer

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "nginx.conf"
        ping = f"push_stream_ping_message_interval {args.ping:g}s;" if args.ping else ""
        path.write_text(CONF.replace("@PING@", ping))
        server = HttpServer(build(inline(load(str(path)))[0]))
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve)
        assert server.push is not None
        store = server.push.store
        assert store is not None
        await trio.sleep(0.2)
        gc.collect()
        rss_before = rss_bytes()
        heap_before = tracemalloc.get_traced_memory()[0] if args.tracemalloc else 0
        snapshot = tracemalloc.take_snapshot() if args.top else None
        client = await trio.lowlevel.open_process(
            [
                *(sys.executable, __file__, "--clients", str(server.port())),
                *("-n", str(args.n), "--channels", str(args.channels), "--mode", args.mode),
            ],
            stdin=subprocess.PIPE,
        )
        started = time.monotonic()
        with trio.fail_after(args.timeout):
            # The store has no event to wait on; polling it costs nothing measured here.
            while store.totals().subscribers < args.n:  # noqa: ASYNC110
                await trio.sleep(0.05)
        ready = time.monotonic() - started
        await trio.sleep(args.hold)
        gc.collect()
        rss_after = rss_bytes()
        heap_after = tracemalloc.get_traced_memory()[0] if args.tracemalloc else 0
        held = store.totals().subscribers
        print(
            f"{held} idle {args.mode} subscribers on {args.channels} channels "
            f"(subscribed in {ready:.1f} s)"
        )
        print(
            f"VmRSS: {rss_before / 2**20:.1f} MiB -> {rss_after / 2**20:.1f} MiB, "
            f"{(rss_after - rss_before) / held:,.0f} bytes per subscriber"
        )
        if args.tracemalloc:
            print(
                f"Python heap (tracemalloc): {(heap_after - heap_before) / held:,.0f} bytes "
                "per subscriber"
            )
        if snapshot is not None:
            grown = tracemalloc.take_snapshot().compare_to(snapshot, "lineno")
            for stat in grown[: args.top]:
                print(f"  {stat.size_diff / held:8,.0f} B/sub  {stat.traceback[0]}")
        assert client.stdin is not None
        await client.stdin.aclose()
        await client.wait()
        nursery.cancel_scope.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="subscribers (default 2000)")
    parser.add_argument("--channels", type=int, default=0, help="default: one per 10 subs")
    parser.add_argument("--mode", choices=MODES, default="stream")
    parser.add_argument("--ping", type=float, default=0, help="a ping interval (s) for all")
    parser.add_argument("--hold", type=float, default=1.0, help="seconds idle before measuring")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--tracemalloc", action="store_true", help="also the Python heap")
    parser.add_argument("--top", type=int, default=0, help="with --tracemalloc: top lines")
    parser.add_argument("--clients", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.channels = args.channels or max(1, args.n // 10)
    if args.clients is not None:
        run_clients(args.clients, args.n, args.channels, args.mode)
        return
    raise_file_limit(args.n + 256)
    if args.top:
        args.tracemalloc = True
    if args.tracemalloc:
        tracemalloc.start(1)
    # Run from a checkout without installing: the package sits next to bench/.
    sys.path.insert(0, os.fspath(Path(__file__).resolve().parent.parent))
    trio.run(measure, args)


if __name__ == "__main__":
    main()
