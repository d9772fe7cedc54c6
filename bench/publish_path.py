"""CPU cost of the push side of one publish, in process, without sockets or the HTTP layer.

    python bench/publish_path.py [--requests 50000] [--channels 8] [--runs 15] [--profile]

Builds the configuration model and `PushRuntime` as `HttpServer` does, for the bench's publish
location (`location = /pub { push_stream_publisher; push_stream_channels_path $arg_id;
push_stream_store_messages on; }`, 10 messages kept per channel, 5 minute TTL), then calls
`handle_publisher` for `POST /pub?id=chN` with a 100-byte body, N cycling over `--channels`
channels with no subscriber. The request head is what the bench's load generator sends (Host and
Content-Length), parsed by the server's own reader. The connection is an in-memory stand-in
whose `respond` keeps the answer, and `$arg_id` is a dict lookup, so what is timed is the push
part only: from `handle_publisher` entry to the call that writes the response. The coroutine is
stepped by hand (the stand-in never suspends), so no scheduling is timed either.

It runs inside `trio.run` with a MockClock, so the runtime's clock is trio's as in the server;
time stands still during a run and leaps between runs, where the store's cleanup (the server's
timers) gives the trashed messages' memory back, untimed. The zone is large enough for one run
never to fill it; every answer is checked to be a 200.

Prints the median and best µs per publish over `--runs` runs (on a busy machine the best is the
steadier figure); `--profile` prints a cProfile table of one run instead.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, cast

import outcome
import trio
from trio._core._traps import CancelShieldedCheckpoint
from trio.testing import MockClock

from pushproxy.config.includes import inline, load
from pushproxy.config.model import Config, Location, build
from pushproxy.config.push_rules import push_locations
from pushproxy.http.connection import Headers, HttpConnection
from pushproxy.http.exchange import Exchange
from pushproxy.http.wire import parse_head
from pushproxy.push.memory import TRASH_TTL
from pushproxy.push.publisher import handle_publisher
from pushproxy.push.runtime import PushLocation, PushRuntime

CONFIG = """
events {}
http {
    push_stream_shared_memory_size 256m;
    push_stream_max_messages_stored_per_channel 10;
    push_stream_message_ttl 5m;
    server {
        listen 127.0.0.1:0;
        location = /pub {
            push_stream_publisher;
            push_stream_channels_path $arg_id;
            push_stream_store_messages on;
        }
    }
}
"""
BODY = b"x" * 100


class MemoryConnection:
    """The part of `HttpConnection` a publisher uses; the answer is kept, not sent."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.last: tuple[int, Headers, bytes] | None = None
        self.answered = 0
        self.failed: list[int] = []  # statuses other than 200

    async def read_body(self, max_size: int | None = None) -> bytes:
        return self.body

    async def respond(
        self,
        status: int,
        headers: Headers = (),
        body: bytes = b"",
        *,
        location: bytes | None = None,
        then: Callable[[], None] | None = None,
    ) -> None:
        self.last = (status, headers, body)
        self.answered += 1
        if status != 200:
            self.failed.append(status)
        if then is not None:
            then()  # as `send_soon` does, right after the write

    async def error(self, status: int, *, close: bool = False) -> None:
        await self.respond(status)


def _config() -> Config:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "nginx.conf"
        path.write_text(CONFIG)
        return build(inline(load(str(path)))[0])


def _exchange(conn: MemoryConnection, channel: str) -> Exchange:
    head = b"POST /pub?id=%s HTTP/1.1\r\nHost: 127.0.0.1:9080\r\nContent-Length: %d\r\n\r\n"
    request = parse_head(head % (channel.encode(), len(BODY)))
    variables = {"arg_id": channel}
    return Exchange(
        conn=cast(HttpConnection, conn),
        request=request,
        method=request.method.decode("latin-1"),
        lookup=variables.get,
    )


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Step a handler that never waits (the stand-in connection never does): its schedule
    points (trio's checkpoints, which let other tasks go first) are resumed at once."""
    value: Any = None
    while True:
        try:
            yielded = coroutine.send(value)
        except StopIteration:
            return
        if yielded is not CancelShieldedCheckpoint:
            raise RuntimeError(f"the handler waited: {yielded!r}")
        value = outcome.Value(None)


def setup(channels: int) -> tuple[PushRuntime, Location, PushLocation, list[Exchange]]:
    config = _config()
    runtime = PushRuntime(config)  # the server's clock: trio's, anchored to the wall clock
    assert config.http is not None
    [(location, _)] = push_locations(config.http)
    push = runtime.location(location)
    assert push is not None
    exchanges = [_exchange(MemoryConnection(BODY), f"ch{n}") for n in range(channels)]
    return runtime, location, push, exchanges


def publish_loop(
    runtime: PushRuntime,
    location: Location,
    push: PushLocation,
    exchanges: Sequence[Exchange],
    requests: int,
) -> float:
    """Seconds for `requests` publishes, round-robin over the exchanges."""
    count = len(exchanges)
    started = time.perf_counter()
    for n in range(requests):
        _run(handle_publisher(exchanges[n % count], location, push, runtime))
    return time.perf_counter() - started


def sweep(runtime: PushRuntime, clock: MockClock) -> None:
    """What the server's cleanup timers do, made to happen between runs (untimed): virtual
    time passes the trash TTL and the trashed messages give their memory back."""
    clock.jump(TRASH_TTL + 1)
    assert runtime.store is not None
    runtime.store.memory_cleanup()


def check_answers(exchanges: Sequence[Exchange], requests: int) -> None:
    """Every publish was answered, with 200 (not a 500 from a full memory budget)."""
    conns = [cast(MemoryConnection, exchange.conn) for exchange in exchanges]
    failed = Counter(status for conn in conns for status in conn.failed)
    answered = sum(conn.answered for conn in conns)
    if failed or answered != requests:
        raise RuntimeError(f"{answered} answers to {requests} publishes, failures: {failed}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--profile", action="store_true", help="cProfile one run")
    args = parser.parse_args(argv)
    clock = MockClock()  # still unless jumped: every publish of a run shares its second
    trio.run(measure, args, clock, clock=clock)
    return 0


async def measure(args: argparse.Namespace, clock: MockClock) -> None:
    """Inside `trio.run`, as the server: the runtime's clock is trio's."""
    runtime, location, push, exchanges = setup(args.channels)
    publish_loop(runtime, location, push, exchanges, 10_000)  # warm up: channels exist, full
    sweep(runtime, clock)
    print(f"answer: {cast(MemoryConnection, exchanges[0].conn).last}")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        publish_loop(runtime, location, push, exchanges, args.requests)
        profiler.disable()
        check_answers(exchanges, 10_000 + args.requests)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return
    per_request: list[float] = []
    for _ in range(args.runs):
        seconds = publish_loop(runtime, location, push, exchanges, args.requests)
        per_request.append(seconds / args.requests * 1e6)
        sweep(runtime, clock)
    check_answers(exchanges, 10_000 + args.runs * args.requests)
    print(
        f"{args.requests} publishes x {args.runs} runs: "
        f"median {statistics.median(per_request):.2f} µs, best {min(per_request):.2f} µs"
    )


if __name__ == "__main__":
    sys.exit(main())
