"""docs/performance.md: the latest full run's table, machine, command and plot, and how the
figures are made (so a reader can judge them without reading the bench)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

METHOD = """\
## How the figures are made

- **Servers.** Every measurement starts its server fresh, with its own configuration in a
  temporary folder, listening on 127.0.0.1, and stops it afterwards. The runs alternate:
  pushproxy, nginx + nchan, pushproxy, nginx + nchan, ... The reference is Debian's `nginx`
  with `libnginx-mod-nchan` (`load_module` of the nchan module, one worker); pushproxy runs as
  `pushproxy -c` on the equivalent push stream configuration (`worker_processes 1`), a master
  and one worker as nginx (since 2026-11-28 23:30 UTC; one process before). Both keep
  the last 10 messages of a channel. The configurations are in `bench/configs.py`.
- **Framing.** Streaming subscribers of both servers receive each message as one HTTP chunk,
  byte for byte the same: nchan's `chunked` subscriber, and pushproxy's streaming location with
  the template `~text~` (the published body ends in a newline). EventSource and WebSocket use
  each server's own framing (`data:` lines; one text frame per message).
- **Load generator.** `bench/loadgen/*.c`, built by the bench with `gcc -O2 -Wall -Wextra`:
  one thread, epoll, non-blocking sockets. Subscribers decode chunked (or close-delimited)
  bodies, EventSource events and WebSocket frames into whole messages and check each one: its
  channel, its sequence number (in order, none lost, none duplicated, per connection) and its
  latency from the monotonic timestamp in its body. Publishers use keep-alive connections; each
  channel is always published by the same connection, so any reordering is the server's.
  Before measuring, every subscriber must receive a warm-up message on its channel: a
  subscriber counts only once it is really subscribed.
- **One run, several figures.** Connecting 10,000 subscribers is the slow step, so one
  generator run measures several parts on the same subscribers, in this order: an idle hold
  (memory), a fan-out, then a fixed publishing rate (latency), letting the server go quiet
  between them.
- **Fan-out** publishes as fast as the server answers (each publisher waits for the reply)
  within a time budget; a server that takes fewer messages in the budget is measured on those,
  and the notes say so. deliveries/s = messages received / (first publish → last delivery).
  Its p99 is mostly queueing: the whole burst is in flight.
- **Latency** is measured at a fixed publishing rate; a message's timestamp is the time it was
  *scheduled*, so a server that makes the publisher fall behind pays for it in latency. At
  20 msg/s, 1k, 5k and 10k subscribers ask for 20k, 100k and 200k deliveries/s: a server
  slower than that queues, and its latency grows with the length of the run. A run waits
  3 s after its last publish; "≥" marks a percentile that falls on a delivery that had not
  come by then (the figure is the time waited, a lower bound).
- **CPU per delivery** = the server's utime + stime (`/proc/PID/stat`, all its processes)
  during the measurement / deliveries. **Memory** = VmRSS (`/proc/PID/status`, summed over
  the server's processes) with the subscribers held minus before they connected, per
  subscriber.
- **Reverse proxy**: `wrk -t1 -c64` for a 1 KiB file from an upstream nginx, through nginx's
  `proxy_pass` (upstream `keepalive 64`) or through pushproxy to the same upstream.
- **What limited a figure** comes from the CPU shares of the run (100% = one core): the
  server's, the load generator's ("client"), and the rest of the machine's ("others",
  `/proc/stat`). A server at 85% or more is CPU-bound; "others" high means something else on
  the machine took CPU during that run. With few cores the generator, the server and the
  kernel's loopback work share them: read the ratios more than the absolute numbers.
- **From run to run** the figures move by up to 20% on this machine, the reference's as much
  as pushproxy's. Four full runs on 2026-11-27 (21:44, 22:11, 22:26 and 22:50 UTC; the read
  without a wait described above came before the third, the collector setting before the
  fourth) gave 0.46, 0.50, 0.51 and 0.46 for the 10,000 x 1,000-channel fan-out, 0.11 to
  0.12 for publish and 0.09 to 0.10 for the proxy. Two more (23:34 and 23:54 UTC, after the
  proxy's changes described above, which leave the fan-out's code as it was) gave 0.56 and
  0.51 for that fan-out, 0.12 and 0.13 for publish, 0.14 and 0.15 for the proxy; a run of
  those three rows alone (`--only 10k-1000ch,publish,proxy`, 2026-11-28 00:11 UTC) gave 0.51
  (runs 0.52, 0.56, 0.48), 0.11 and 0.15. On 2026-11-28 the run of 02:32 UTC gave 0.55 for
  that fan-out, those of 04:30 and 04:59 UTC 0.48 and 0.47, with nchan itself 10-25% slower
  than at 02:32 on every row; four interleaved pairs of that fan-out alone (10,000
  subscribers, 8 publishers, 5 s), the code of 02:32 against the code of 04:59, gave
  35,061, 30,625, 35,315 and 34,075 deliveries/s against 38,096, 31,649, 31,630 and 27,822:
  no difference beyond the machine's noise. The run of 07:10 UTC (after the publisher's
  turn described under "A publish") gave 0.56 for that fan-out (runs 0.53, 0.54, 0.59), 0.10
  for publish and 0.12 for the proxy; that of 08:08 UTC, 0.54 (0.51, 0.67, 0.45), 0.11 and
  0.11. One of 07:55 UTC gave 0.81 for idle memory: a request's error log was then set for
  every request (each set keeps a context entry an idle subscriber holds, about 120 bytes); it
  is now set only for a level with an `error_log` of its own. The run of 09:35 UTC (after
  the outbox described under "What the hot paths do") gave 0.47 for that fan-out (runs 0.51,
  0.47, 0.49): pushproxy's 36,171 deliveries/s are those of 08:08 (35,779), nchan's went from
  66,317 to 77,118; the proxy went from 0.11 to 0.17 (7,409 against 42,482 requests/s). That
  of 12:37 UTC gave 0.58 for the fan-out (38,495 against 66,164), that of 14:50 UTC 0.47
  (42,183 against 89,962, the most nchan measured that day), 0.12 for publish and 0.17 for
  the proxy; that of 15:11 UTC (with request and upstream heads remembered as parsed) 0.47
  for the fan-out (39,783 against 85,452), 0.13 for publish and 0.21 for the proxy; that of
  16:35 UTC (with what the proxy makes of those heads remembered too and trio's clock read
  directly) 0.49 for the fan-out (runs 0.45, 0.49, 0.52; 39,817 against 80,547), 0.14 for
  publish and 0.27 for the proxy (runs 0.27, 0.27, 0.25; 10,914 against 41,156 requests/s),
  and a run of those rows alone at 16:48 UTC 0.49, 0.14 and 0.25 (runs 0.25, 0.25, 0.25;
  11,781 against 48,043). That of 16:57 UTC (with the last 1,024 request heads
  remembered instead of 256) gave 0.55 for the fan-out (runs 0.52, 0.55, 0.60; 52,626
  against 96,203), 0.14 for publish, 0.26 for the proxy (runs 0.24, 0.26, 0.26; 12,107
  against 47,406) and 0.71 for idle memory (7,465 bytes per subscriber, against 8,084 to
  8,094 in every run before: see "What the hot paths do"); those of 18:49 and 19:29 UTC
  0.58 and 0.55, 0.14 and 0.16, 0.25 and 0.24. The run of 21:37 UTC (with the routes of
  heads remembered) gave 0.62 for the fan-out (runs 0.62, 0.62, 0.61; 58,961 against
  95,560), 0.15 for publish (runs 0.17, 0.15, 0.15; 18,791 against 123,544, nchan's
  generator at 98-99% of its core), 0.28 for the proxy (runs 0.28, 0.28, 0.28; 13,640
  against 48,494) and 0.71 for idle memory (7,454 bytes per subscriber).
- **Files.** `bench/run.py` (the command), `workloads.py` (what is measured), `configs.py`
  (the servers' configurations), `servers.py` (start, stop), `loadgen.py` and `loadgen/*.c`
  (the generator and its self-test server), `proxyload.py` (wrk), `measure.py` (figures and
  problems of a run), `report.py` (table), `plot.py`, `docs_page.py` (this page),
  `procstat.py` (/proc). `python bench/run.py --render bench/results/<run>.json` rewrites this
  page from a saved full run. Two in-process tools look closer at one figure each:
  `python bench/idle_memory.py` (what an idle subscriber costs, with `--tracemalloc` where
  the heap grew) and `python bench/publish_path.py` (µs of the push side of one publish, or
  a cProfile table with `--profile`). `python bench/floors.py` measures pushproxy against
  `bare_trio.py`, the least a trio server does per request (see "What the floors say"), and
  `python bench/ab.py OTHER` against another checkout (see "What the hot paths do"), in
  time; `python bench/instructions.py [OTHER]` counts the instructions of a request with
  valgrind (Debian's `valgrind`), which repeat within 0.6% from run to run. Every
  server starts in a folder of its own: `python -m pushproxy` runs the pushproxy installed
  for the interpreter, whatever folder the bench runs from.
"""


INTERPRETER = """\
## The interpreter

Builds of one Python version differ: this machine's default `python` is pyenv's 3.11.7,
built from source without profile-guided or link-time optimisation and with a shared
libpython; Debian's `python3.11` (3.11.2) is built by Debian with both, and linked statically.
In four interleaved pairs of the publish load (8 connections, 3 s, 2026-11-28), Debian's build
used 68-79 µs of user CPU per request against 83-95 µs, and served 8,257-11,003 requests/s
against 6,749-8,914. Two full runs of the bench that day at 11:45 and 11:52 UTC, one on each
(`python bench/run.py`, then `python bench/run.py --python` with a virtual environment of
Debian's), did not show it in their throughput, each with its own nginx + nchan runs
(pushproxy's figures, pyenv's build first): fan-out 1,000 x 1 channel 101,974 and 94,548
deliveries/s (0.91 and 0.89 of nchan); 10,000 x 1,000 channels 44,606 and 43,604 (0.49 and
0.54: nchan measured 90,578 and 80,480); publish 14,390 and 11,936 requests/s (0.15 and
0.12); the proxy 8,078 and 8,150 (0.18 and 0.20); idle memory 8,264 and 8,255 bytes per
subscriber. The run shown above was made on pyenv's build.

Newer Pythons are not faster here: pyenv's 3.12.1 and 3.13.0 took 9.75 and 10.0 µs for the push
side of a publish (`python bench/publish_path.py`, median of 15 runs, 2026-11-28 15:55 UTC)
against 9.15 µs on 3.11.7.

**Tried, not kept** (2026-11-28, after the proxy's heads were remembered): a message's charge
for its renderings remembered by its text's length and its other fields' sizes (one line of
text only) saved nothing: 279,969 instructions per publish against 276,922 without it (one
call of `bench/instructions.py`), the bench's templates being simple; and
Nagle's algorithm left on for clients (trio turns it off; nginx turns it off only for
keep-alive connections) did not change the 10,000 x 1,000-channel fan-out in three
interleaved pairs (48,296 against 49,047 deliveries/s, medians): a subscriber rarely has
unacknowledged bytes when its next message comes.
Later the same day: a publisher's answer queued in the outbox like the others, its
deliveries run right after its socket's write at the turn's end, was slower, not faster:
`python bench/ab.py /tmp/head --load publish --pairs 3` gave 14,169 against 18,766
requests/s (70.3 against 52.9 µs of server CPU per request); answering each publisher as
soon as its message is stored keeps the generator's requests coming while the server works.
A collector considered every 20,000 allocations instead of 700 gained 3-4% (18,543 against
17,875 requests/s, three pairs), within the machine's spread: left as it is.

"""


COMPILED = """\
## Compiling the code (tried, not used)

mypyc compiles type-checked Python into C extensions (it comes with mypy, which checks this
code with `--strict`). It was tried on 2026-11-28 with mypy 2.4.1, the latest release.
Compiled, `pushproxy/http`, `push` and `proxy` (92 modules, 5 minutes of building on this
machine) served more: in runs of `python bench/run.py --only publish,proxy`, against the
plain code's in the same hour, publish 14,821-16,690 requests/s against 12,963-13,204 (0.14
of nchan against 0.12), the proxy 10,171-11,139 against 7,521-8,193 (0.23-0.24 of nginx
against 0.17). It is not used, because mypyc gets exceptions wrong in coroutines: one that
leaves a `try` whose `finally` awaits, and is caught by a caller whose own `finally` awaits,
is raised again at the end of the caller's `finally` (three coroutines of a few lines each
show it). The server has that shape (a connection closed in a `finally`, `async with` for
every nursery): 12 of the 3,320 tests failed on the compiled build, a client leaving during a
proxied response among them, where the exception ended the whole server. Compiling only the
modules without coroutines (61 of the 92) avoids the bug, and gained too little to carry a
compiler in every install: publish 12,354-14,472 requests/s (0.13 of nchan), the proxy
8,398-9,060 (0.19 of nginx), in one such run.

"""


HOT_PATHS = """\
## What the hot paths do

- **A request** is read with nginx's rules by a small sans-I/O reader (`http/wire.py`) from
  one buffer per connection (pipelined requests need no read); a usual CRLF header block is
  split by one regex, anything unusual line by line with every rule. A header value is matched
  greedily up to its last non-blank byte: the lazy match it replaced tried the rest of the
  line at every byte, and parsed a browser's 8-header head in 16 µs instead of 8 µs. A
  small answer waits in the outbox for the end of trio's turn (below); only what the socket
  does not take then waits for it.
  Each connection runs in one cancel scope for its whole life, and its timeouts (keep-alive,
  request head) are a `Deadline` (`http/deadlines.py`): moving it is an attribute write, and
  one task cancels the scope of a connection whose deadline really passed. Moving a trio
  cancel scope's deadline instead (a context manager and a heap entry per move, twice per
  request) cost a publish 8 to 15 µs of CPU in the running server, by three measurements: 8.5
  µs added to a bare read-and-answer loop, 12 µs in the head-reading stage of the table below,
  about 15 µs over the whole publish. Without it, publish requests/s rose by 20-40% in
  interleaved runs, more than the CPU saved: at a higher rate every request also costs less
  (its client sleeps less, see below). When a connection's last answer went out more than 50
  µs ago (a publisher's, before its message went to the subscribers), the next request is read
  at once, without registering the wait with trio's epoll; otherwise it is waited for. In four
  interleaved pairs of 10,000 x 1,000-channel runs this gave 9% more deliveries/s (mean 42,300
  vs 38,800); the publish row, whose answers are read back within 50 µs, does not change. What
  repeats from request to request is remembered, bounded: request heads of up to 2 KiB as
  parsed (in interleaved pairs on 2026-11-28 at 15:25 UTC, 5% more publish requests/s and
  5% less server CPU per proxied request; the last 1,024 since that day's 17:00 UTC, so that
  the publishers of the 1,000-channel fan-out, which found none of theirs among the last
  256, find them all: in three interleaved pairs of that fan-out, medians of 51,701 against
  50,417 deliveries/s; and its subscribers share one parsed head per channel, which each
  streaming subscriber keeps for its life: `python bench/idle_memory.py -n 10000 --channels
  1000` gave 7,171 bytes per subscriber against 7,635 with the last 256), short request
  targets as parsed,
  small response heads as formatted (same handler, same `Date` second), channel paths as
  parsed, access-log targets per location.
- **The route of a head** is remembered too (`http/quick_routes.py`): when neither the server
  nor the location has a rewrite directive, the target, the `Host`, the server block and the
  location (with its captures) follow from the head and the local address alone, so a head
  seen again on the same address and port skips them (the last 1,024 routes, of heads of up
  to 2 KiB: those remembered as parsed). The variables, realip, the access phase, the
  handler, error pages and the access log still run for every request; a reload starts with
  no route. `python bench/ab.py /tmp/before --load both --pairs 4` against the code before
  (2026-11-28, 20:55 UTC): publish 18,805 against 16,727 requests/s (53.0 against 59.6 µs of
  server CPU per request), proxy 12,841 against 11,742 (77.5 against 85.1 µs); `python
  bench/instructions.py /tmp/before --load both`: 242,150 against 274,765 instructions per
  publish, 399,694 against 439,104 per proxied request.
- **A publish** works out its location's constants once per configuration, stores the message
  and charges the memory budget for every template's rendering without rendering anything;
  bytes are made when a subscriber first needs them. Before it stores the message it lets the
  requests that arrived with it go first (one trio checkpoint), which nginx's order of events
  asks for (docs/publisher.md). In interleaved runs on 2026-11-28 at 06:50 UTC, against the
  code without it, this gave more, not less: publish (8 connections, 3 s) 9,465-12,955
  requests/s against 7,691-9,818 in seven pairs, and the 10,000 x 1,000-channel fan-out
  33,000-41,700 deliveries/s against 21,400-31,400 in three pairs; the publishers' answers
  go out together, a turn after their requests were read.
- **Fan-out**: a message is rendered once per template and framed once per template and
  framing (chunked or not); every idle streaming, EventSource or WebSocket subscriber gets
  those same bytes with one non-blocking write from the publishing request itself: no task
  switch per subscriber per message. Only a subscriber whose socket is full has its task
  woken, and it sends everything queued in one write. The publisher's answer is written
  first, then the deliveries, in the same step (as in the module, which answers and leaves
  the delivery to its workers' event loops): the publishing client can send its next
  message while the subscribers' writes go out, and the writes find the client side awake
  more often. In four interleaved pairs of 10,000 x 1,000-channel runs this order gave 7%
  more deliveries/s (median 36,500 vs 34,200).
- **An idle streaming or EventSource subscriber** is one task parked with trio and a few small
  objects. Its socket sits in one epoll set that one task watches for all of them (as for
  long-polls waiting and proxied requests waiting on an upstream), instead of a task or a
  wait per socket. A WebSocket subscriber has a second task, which reads the client's frames.
- **The proxy** sends head and body in one write, reads the upstream's response with a
  sans-I/O reader (`proxy/reader.py`), and sends a response that came whole in one write.
  A try on an upstream enters no cancel scope of its own: `proxy_read_timeout` is a second
  `Deadline` of the client connection (`handler_deadline`), and when it passes, or the
  client leaves, the wait on the upstream socket is interrupted (trio's `notify_closing`)
  and that upstream connection is closed, as nginx closes it. A response head is split by
  one regex over its header block (line by line only when a line is refused, so the error
  named is nginx's), and one seen before is not read again: an upstream sends the same head
  for the same file in the same `Date` second, and the last 64 heads of up to 2 KiB are
  remembered as read (in ten interleaved pairs of `wrk -t1 -c64 -d3s` runs on 2026-11-28 at
  15:10 UTC, against the code before: 6,962-9,646 requests/s, medians 8,389 and 9,214,
  against 6,799-8,387, medians 7,141 and 8,145; 108-119 µs of server CPU per request against
  123-140). What the proxy makes of those heads is remembered too (`proxy/remembered.py`):
  the upstream request for the same client head (remembered as parsed too), location and
  `proxy_set_header` values, and the client's headers and `X-Accel-*` of the same upstream
  head, unless `proxy_redirect` or `proxy_cookie_*` rules have a header of it to rewrite.
  With trio's clock read directly (three calls and a thread-local lookup less per reading,
  about ten readings per request) and a few objects no longer made per request, this took
  a proxied request from 526,918 to 447,319 instructions (`bench/instructions.py`, commit
  cc0f62f against 599ee70, 2026-11-28 16:45 UTC; 435,546 at 166ad00, where a request
  without a body skips the body reader, an empty buffer is not searched for a head and an
  idle upstream connection going back to its pool evicts only to make room) and, in six
  interleaved pairs of `python bench/ab.py` before the last few objects went, from 10,337
  to 11,269 requests/s
  and from 96.5 to 88.6 µs of server CPU per request (medians; publish 14,718 to 15,754
  requests/s, 67.3 to 63.3 µs). `proxy_set_header` constants are worked out at load; an
  idle upstream connection is looked at before reuse with a poll set of its own (0.4 µs,
  against 2 µs for a peek with `recv`, which raises when there is nothing to read). In
  interleaved pairs of
  `wrk -t1 -c64 -d5s` runs on 2026-11-27 at 23:30 UTC, against the code before these
  changes, they took the proxy from about 4,800 to 6,600 requests/s and from about 205 to
  150 µs of server CPU per request. One step made it worse first: a deadline per try queued
  an entry per request that kept its try alive until it came due, and the collector's passes
  over those gave a p99 of 500 ms; with one deadline per client connection, an entry is
  queued about once per `proxy_read_timeout`. A request still costs about five times the bare
  relay's CPU (see the floors below). What is left is spread over the whole path: py-spy
  puts about 40% of the server's samples in its seven system calls per request (counted
  with `strace -c`: two reads, two writes, two `epoll_ctl`, the idle connection's look),
  where nginx, which keeps its sockets in epoll for good, makes five (two reads, two
  writes and a `getsockopt` on the reused upstream connection; counted the same way on
  2026-11-28, wrk through nginx's `proxy_pass`); the rest is Python with no function above
  a few percent. Keeping the clients' sockets in an epoll set of pushproxy's own for their
  whole life, as nginx does (edge-triggered, one task watching the set, for the waits for
  requests and the watch for a client that leaves), took two `epoll_ctl` off each proxied
  request and gained nothing: 9,679 and 9,160 requests/s against 9,711 and 9,066 (medians of
  two sets of six interleaved pairs, 2026-11-28 at 15:25 UTC), the watching task's own wait
  and poll costing what the registrations had.
- **Small writes wait for the end of the turn** (`http/outbox.py`). A write to a peer that
  sleeps wakes it, and here the wake-up costs the writer more than the copy (see "What the
  floors say"). Answers made one after the other in a turn of trio's loop each woke their
  client, and each request a proxied request sent woke the upstream. So an answer or an
  upstream request of up to 16 KiB is queued, and a trio instrument writes everything queued
  just before trio waits for I/O: one write per socket, a burst per turn, nothing reordered
  on a socket (a direct write, an upgrade or a close sends what is queued for its socket
  first). What a socket does not take then is finished by a task within the send timeout.
  Writes that must go at once are not queued: a publisher's answer, written before its
  message's deliveries (see Fan-out). In five interleaved pairs of `wrk -t1 -c64 -d3s` runs
  through the proxy on 2026-11-28 at 09:00 UTC, against the code before it: 4,532-7,040
  requests/s (median 6,282) against 3,824-5,233 (median 4,221), 142-216 µs of server CPU per
  request against 191-256, and a p99 of 29-54 ms against 69-94 ms; the publish and the
  10,000 x 1,000-channel fan-out rows did not change (three pairs each).
- **The garbage collector** considers a full collection ten times less often than Python's
  default (`gc.set_threshold(700, 10, 100)`). A full collection walks every object, about 50
  per subscriber: while 10,000 subscribers connected, the default made six of them, 1.25 s
  in all and up to 392 ms each, during which nobody got a message; with the new threshold
  none came, the connections were made about 30% sooner (three interleaved pairs: 1.9-2.7 s
  against 2.8-3.9 s) and idle memory per subscriber did not change.

What is left is the cost of a request: the publish row of the table is that cost alone; it
bounds the proxy rate too and, through the publishes, the fan-out over many channels (one
publish per ten deliveries there). `python bench/publish_path.py --profile` and
`python bench/idle_memory.py --tracemalloc` show where it goes, and `python bench/ab.py OTHER`
measures a change: the installed pushproxy and the checkout in the folder OTHER, alternately,
on the publish and proxy loads. On 2026-11-28 at 15:35 UTC, this code against the code of
that day's 13:45 UTC (commit 3e538af, before the heads were remembered), four pairs each:
publish 14,982 against 12,852 requests/s (66.5 against 77.7 µs of server CPU per request),
the proxy 9,213 against 7,149 (108.7 against 139.7 µs), medians.

## What the floors say

`python bench/floors.py` runs pushproxy alternately with a bare trio server
(`bench/bare_trio.py`) that waits, reads and writes as pushproxy does but does no HTTP work:
it answers each request with a fixed 200, or relays bytes over one upstream connection per
client. On this machine on 2026-11-28 at 00:00 UTC, after the last full run (3 runs each,
medians, server CPU per request from /proc):

| Load | pushproxy | bare trio server | bare server's share of the CPU |
|---|---:|---:|---:|
| publish, 8 keep-alive connections | 13,457 req/s, 74.1 µs | 73,772 req/s, 13.5 µs | 18% |
| reverse proxy, wrk -c64 | 6,506 req/s, 153.1 µs | 28,867 req/s, 32.2 µs | 21% |

The same command on 2026-11-27 at 22:00 UTC, before the proxy's changes above, gave 11,177
req/s and 88.9 µs against 51,494 and 19.2 µs for publish, and 3,436 req/s and 289.8 µs
against 29,505 and 33.6 µs for the proxy (the bare servers' own figures move with the
machine as much as pushproxy's).

So trio and the kernel are not what keeps the publish row under its target (and kept the proxy
row at its edge until routes were remembered):
the bare server reaches 0.5 to 0.7 of nchan's publish rate, and 0.6 to 0.8 of nginx's proxy
rate (28,867 req/s here, against 36,000 to 47,000 for nginx in the full runs of those days).
Most of the CPU per request is pushproxy's own Python (nginx's request rules, routing,
variables, the handler, logs and timeouts). Its profile is flat: py-spy finds no Python
function above 5% of the server's time by its own samples. The whole synchronous path of one
publish (parse, route, handler, answer, write), timed in a loop in one process, takes about
30 µs: in the running server the same code costs two to three times that, sharing the caches
with the kernel's network code and trio's loop, and its answer wakes a sleeping client. The
kernel's share of that is small: the push side of a publish (`bench/publish_path.py`, 6.8 µs)
took 8.0 µs when each publish in the loop followed a 120-byte write and read over loopback
TCP, and a busy process on the other core did not slow it at all (one-off, 2026-11-28).

**Where a publish's CPU goes in the server.** A build that answered with a fixed 200 at
successive points of the request path, run with the publish load (two rounds, CPU per request
from /proc), shows each stage costing about three times its cost in a loop:

| The fixed answer goes out after | CPU per request | requests/s |
|---|---:|---:|
| reading and parsing the head | 26 µs | 37,900 |
| + the target, `Host` and the server block | 32-38 µs | 25,900-30,700 |
| + the request's variables | 39-40 µs | 24,700-25,400 |
| + both rewrite phases and the location | 38-40 µs | 24,900-25,700 |
| + the publisher's checks and its channels | 55-58 µs | 17,000-18,000 |
| + body, store, channel info, answer (all of it) | 81-98 µs | 10,200-12,300 |

No stage stands out: reaching 0.25 of nchan (about 26,000 requests/s here) would take the
whole handler, from the publisher's checks to the answer, at no cost at all. The same method
found the cost the connection deadlines removed (above): with a trio cancel scope's deadline
moved per wait, the first row cost about 38 µs. On 2026-11-28 at 20:25 UTC a build whose
connection loop answered `POST /pub?id=...` itself, right after reading the head (the channel,
the body, the store's publish and the channel's info behind a fixed status line; no routing,
variables, checks, `Date` or order of events), reached 31,000 requests/s (two 4 s runs of the
bench's publish load): about 0.25 of nchan's 117,000-124,000 in that day's full runs, with
nothing of nginx's rules left. The server's CPU then was 69% user, 31% system (`utime` and
`stime` of /proc/PID/stat over 2 s of the load, 17,760 requests/s).

The stage table, the sleeps per delivery below and the py-spy profile above are one-off
measurements, not made by the bench: a temporary build of pushproxy that answered early,
`voluntary_ctxt_switches` of the generator's /proc/PID/status read 3 s apart during the
fan-out, and `py-spy record -r 500 -f raw -p PID` on the server under the publish load. The
figures are those of 2026-11-27.

A write also costs more when its reader sleeps: waking it is an inter-processor interrupt,
in this virtual machine a trap to the host. Measured with a C reader on 10,000 loopback
connections, a 110-byte write cost about 5 µs in a burst to a busy reader and 21 µs alone to
a sleeping one. A slower server leaves its clients asleep more often, so it pays this more
often than nchan: in the 10,000-subscriber fan-out, about half of pushproxy's CPU is its
writes to subscribers. Counted in that fan-out (voluntary context switches of the generator,
from /proc), the generator went to sleep 0.43 times per delivery with pushproxy and 0.225
times with nchan. Deferring every direct write to the end of trio's round of tasks (to
write bursts of up to 80) was measured in four interleaved pairs of runs and gained nothing.

**Cross-check with the reference generator.** The same workloads run with
`../shared/bench/pushload.c` (`gcc -O2`) instead of the bench's generator, on 2026-11-27
at 22:40 UTC, two pairs each, pushproxy first and nginx + nchan second: fan-out 1,000 x 1
channel 108,801 vs 115,538 and 111,054 vs 130,240 deliveries/s (0.94, 0.85); fan-out
10,000 x 1,000 channels 41,168 vs 85,054 and 36,343 vs 92,013 (0.48, 0.40; pushload sends all
100 messages of every channel, about 25 s of publishing for pushproxy against 5 s in the
bench); publish 10,415 vs 92,388 and 10,694 vs 91,531 requests/s (0.11, 0.12).
Commands: `pushload fanout -p PORT -S 1000 -C 1 -M 1000 -B 100 -P 1`,
`pushload fanout -p PORT -S 10000 -C 1000 -M 100 -B 100 -P 8` and
`pushload publish -p PORT -P 8 -C 8 -B 100 -T 3`, with `--sub-path '/sub/ch{n}'
--pub-path '/pub?id=ch{n}'`, and `-H 'TE: chunked'` for nchan's chunked subscribers.
"""


def _machine(machine: dict[str, Any]) -> str:
    return (
        f"{machine['cores']} cores, {machine['model']}, {machine['kernel']}, "
        f"{machine['memory_gib']} GiB, Python {machine['python']}"
        + (f" (`{machine['python_path']}`)" if "python_path" in machine else "")
    )


def _self_test(test: dict[str, Any]) -> str:
    if not test or test.get("error") or not test.get("generator_capacity_per_s"):
        return "Load generator self-test: not run or failed."
    return (
        f"Load generator self-test (`loadgen hub`, a minimal C fan-out server, 1,000 "
        f"subscribers): {test['deliveries_per_s']:,.0f} deliveries/s, "
        f"{test['generator_us_per_delivery']:.2f} µs of generator CPU per delivery, so one core "
        f"of generator sustains about **{test['generator_capacity_per_s']:,.0f} deliveries/s**; "
        f"lost {test.get('missing', 0):,}."
    )


def write(path: Path, result: dict[str, Any], table: str, plot: Path | None) -> None:
    lines = [
        "# Performance",
        "",
        "pushproxy measured side by side with nginx + nchan (the push server Debian packages) "
        "by `bench/run.py`. This page is written by the bench; the figures below are the "
        "latest full run.",
        "",
        "## Run it",
        "",
        "```sh",
        "python bench/run.py            # full: every workload, 3 runs each, about 10 minutes",
        "python bench/run.py --quick    # smaller workloads, under 2 minutes, leaves this page",
        "```",
        "",
        "Needs `gcc`, Debian's `nginx` and `libnginx-mod-nchan`, `wrk`, and matplotlib (the "
        "`bench` extra). Results go to `bench/results/` (JSON and markdown). pushproxy runs on "
        "the interpreter that runs the bench, or on `--python PATH` (one pushproxy is "
        "installed for, a virtual environment's say): builds of one Python version differ in "
        "speed (see \"The interpreter\" below).",
        "",
        "## Latest run",
        "",
        f"- Command: `{result['command']}`",
        f"- Date: {result['started']}, {result['duration_s'] / 60:.1f} minutes, "
        f"{result['runs']} runs per server and workload",
        f"- Machine: {_machine(result['machine'])}",
        f"- {_self_test(result.get('self_test', {}))}",
        "",
        "Median (min-max) of the runs; ↑ higher is better, ↓ lower is better; the ratio is "
        "pushproxy / nginx + nchan, run by run, then of the medians.",
        "",
        table,
    ]
    if plot is not None:
        lines += ["", f"![deliveries/s and p99 latency against subscribers]({plot.name})", ""]
    lines += ["", HOT_PATHS, INTERPRETER, COMPILED, METHOD]
    path.write_text("\n".join(lines))
