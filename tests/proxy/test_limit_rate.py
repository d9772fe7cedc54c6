"""`limit_rate`, `limit_rate_after`, `set $limit_rate` and an upstream's `X-Accel-Limit-Rate`:
an answer goes out no faster than nginx's write filter lets it, and a paced answer holds up
no other. Arrival times are read on trio's mock clock, over real sockets."""

from __future__ import annotations

from pathlib import Path

import trio
from helpers import request
from trio.testing import MockClock

from .conftest import AppFactory, ProxyFactory
from .support import conf

SIZE = 10_000


def _tree(tmp_path: Path) -> Path:
    www = tmp_path / "www"
    www.mkdir()
    (www / "file.bin").write_bytes(bytes(range(250)) * (SIZE // 250))
    (www / "small.txt").write_text("small\n")
    return www


async def _arrivals(port: int, target: str) -> tuple[bytes, list[tuple[float, int]]]:
    """The whole answer to a GET of `target` (the server closes after it), and when its
    bytes came: (seconds since the request, bytes received by then) after each read."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    start = trio.current_time()
    await stream.send_all(f"GET {target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n".encode())
    received, times = bytearray(), []
    while chunk := await stream.receive_some(65536):
        received += chunk
        times.append((trio.current_time() - start, len(received)))
    await stream.aclose()
    return bytes(received), times


def _by(times: list[tuple[float, int]], seconds: float) -> int:
    """Bytes received within `seconds` of the request."""
    return max((count for at, count in times if at <= seconds), default=0)


def _body(answer: bytes) -> bytes:
    return answer.partition(b"\r\n\r\n")[2]


async def test_limit_rate_paces_a_file_second_by_second(
    proxy: ProxyFactory, tmp_path: Path, autojump_clock: MockClock
) -> None:
    www = _tree(tmp_path)
    async with proxy(conf("location / { limit_rate 2k; }", server=f"root {www};")) as server:
        answer, times = await _arrivals(server.port(), "/file.bin")
    assert _body(answer) == (www / "file.bin").read_bytes()
    total = len(answer)  # the head counts against the rate too, as in nginx
    # Second n of the request may have sent 2048 * (n + 1) bytes: the first share at once.
    assert _by(times, 0.5) == 2048
    assert _by(times, 1.5) == 4096
    assert _by(times, 3.5) == 8192
    last = times[-1][0]
    assert 4.0 <= last < 4.2
    assert total <= 2048 * 5


async def test_limit_rate_after_goes_at_once_and_variables_set_the_rate(
    proxy: ProxyFactory, tmp_path: Path, autojump_clock: MockClock
) -> None:
    www = _tree(tmp_path)
    locations = """
        location /after/ { alias WWW/; limit_rate 1k; limit_rate_after 6k; }
        location /arg/ { alias WWW/; limit_rate $arg_r; }
        location /set/ { alias WWW/; set $limit_rate 5000; }
        location /unset/ { alias WWW/; limit_rate 1k; set $limit_rate 0; }
        location /none/ { alias WWW/; }
    """.replace("WWW", str(www))
    async with proxy(conf(locations)) as server:
        port = server.port()
        _, after = await _arrivals(port, "/after/file.bin")
        _, by_arg = await _arrivals(port, "/arg/file.bin?r=4000")
        _, set_rate = await _arrivals(port, "/set/file.bin")
        for unlimited in ("/unset/file.bin", "/none/file.bin", "/arg/file.bin"):
            answer, times = await _arrivals(port, unlimited)
            assert _body(answer) == (www / "file.bin").read_bytes()
            assert times[-1][0] < 0.1, unlimited
    assert _by(after, 0.5) == 6 * 1024 + 1024  # past limit_rate_after, the first second's share
    assert _by(after, 1.5) == 6 * 1024 + 2048
    assert _by(by_arg, 0.5) == 4000
    assert _by(by_arg, 1.5) == 8000
    assert _by(set_rate, 0.5) == 5000
    assert 2.0 <= set_rate[-1][0] < 2.2


async def test_a_paced_answer_holds_up_no_other(
    proxy: ProxyFactory, tmp_path: Path, autojump_clock: MockClock
) -> None:
    www = _tree(tmp_path)
    locations = "location / { limit_rate 1k; } location /fast/ { alias WWW/; }"
    text = conf(locations.replace("WWW", str(www)), server=f"root {www};")
    async with proxy(text) as server, trio.open_nursery() as nursery:
        port = server.port()
        nursery.start_soon(_arrivals, port, "/file.bin")  # about 10 s at 1k a second
        await trio.sleep(0.5)
        started = trio.current_time()
        small = await request(port, "GET", "/fast/small.txt")
        assert small.body == b"small\n"
        assert trio.current_time() - started < 0.1


async def test_an_upstream_sets_the_rate_with_x_accel_limit_rate(
    proxy: ProxyFactory, app: AppFactory, autojump_clock: MockClock
) -> None:
    upstream = await app("a")
    locations = f"""
        location / {{ proxy_pass http://127.0.0.1:{upstream.port}; }}
        location /ignored/ {{
            proxy_pass http://127.0.0.1:{upstream.port}/;
            proxy_ignore_headers X-Accel-Limit-Rate;
        }}
        location /limited/ {{ proxy_pass http://127.0.0.1:{upstream.port}/; limit_rate 1k; }}
    """
    async with proxy(conf(locations)) as server:
        port = server.port()
        answer, paced = await _arrivals(port, f"/big?size={SIZE}&rate=3000")
        _, ignored = await _arrivals(port, f"/ignored/big?size={SIZE}&rate=3000")
        _, lifted = await _arrivals(port, f"/limited/big?size={SIZE}&rate=0")
        _, garbage = await _arrivals(port, f"/limited/big?size={SIZE}&rate=fast")
    assert b"x-accel-limit-rate" not in answer.lower()  # hidden from the client
    assert len(_body(answer)) == SIZE
    assert _by(paced, 0.5) == 3000
    assert _by(paced, 1.5) == 6000
    assert paced[-1][0] >= 3.0
    assert ignored[-1][0] < 0.1  # proxy_ignore_headers: no pacing
    assert lifted[-1][0] < 0.1  # 0 lifts the location's limit_rate
    assert _by(garbage, 0.5) == 1024  # not a number: the location's rate stays


async def test_a_paced_stream_subscriber_gets_every_message_at_the_rate(
    proxy: ProxyFactory, autojump_clock: MockClock
) -> None:
    locations = """
        location /pub { push_stream_publisher; push_stream_channels_path $arg_id; }
        location ~ ^/sub/(.+)$ {
            push_stream_subscriber; push_stream_channels_path $1; limit_rate 500;
        }
    """
    text = conf(locations, http="push_stream_shared_memory_size 10m;")
    messages = [bytes([ord("a") + n]) * 400 for n in range(3)]
    async with proxy(text) as server:
        port = server.port()
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(b"GET /sub/ch HTTP/1.1\r\nHost: h\r\n\r\n")
        received = bytearray(await stream.receive_some(65536))  # the head, at once
        start = trio.current_time()
        for message in messages:
            published = await request(port, "POST", "/pub?id=ch", body=message)
            assert published.status == 200
        while not all(message in received for message in messages):
            received += await stream.receive_some(65536)
        elapsed = trio.current_time() - start
        await stream.aclose()
    # 1,200 bytes of messages (and their framing) at 500 a second, after the head's share.
    assert 1.0 <= elapsed < 3.0
    assert [received.index(m) for m in messages] == sorted(received.index(m) for m in messages)
