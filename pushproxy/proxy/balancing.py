"""How a request picks an upstream peer, as nginx's balancers do: round-robin
(ngx_http_upstream_round_robin.c), `ip_hash`, `least_conn`, `hash` and `random`.

Pure: time is passed in (`now`, seconds) and `random`'s draws come from an injectable
generator, so the balancer is table-tested without sockets or clocks. The upstream blocks
and their groups: upstream.py; the hash functions: hashing.py.

- smooth weighted round-robin: each pick adds every live peer's effective weight to its
  current weight, takes the highest, and takes the total off the chosen one;
- passive health: `max_fails` failures mark a peer down for `fail_timeout`; a failure also
  lowers its effective weight, which recovers by one per pick;
- backup peers are asked only when no primary peer is left for this request;
- a group of one primary peer and no backups never marks its peer down (nginx's `single`);
- `ip_hash`: the client address's first three bytes (IPv4; all sixteen for IPv6, three zeros
  for a unix socket) are hashed onto the primary peers by weight; a peer that is down or
  already tried moves the hash on, and after 20 moves the request goes on round-robin;
- `least_conn`: the live peer with the fewest requests in flight for its weight; ties go
  round-robin among the tied peers;
- `hash KEY`: as `ip_hash`, over the evaluated key with nginx's CRC-32 based step;
  `hash KEY consistent`: the first server at or after the key on nginx's circle of points;
- `random`: a peer drawn by weight, drawn again while it cannot be used (20 draws, then
  round-robin); `random two`: of two such peers, the one with fewer requests in flight.
"""

from __future__ import annotations

import bisect
import enum
import itertools
import logging
import random
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pushproxy.config.complex import ComplexValue, Lookup
from pushproxy.proxy.address import Endpoint
from pushproxy.proxy.hashing import Points, hash_step, ip_hash_key, ip_hash_step

log = logging.getLogger("pushproxy")
_RANDOM = random.Random()  # `random`'s draws (not for secrets: peers are no secret)

# peers and their health


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerSpec:
    endpoint: Endpoint
    server: str = ""  # the `server` directive's address as written (consistent hashing)
    weight: int = 1
    max_fails: int = 1
    fail_timeout: float = 10.0
    max_conns: int = 0  # requests in flight at once; 0: no limit
    backup: bool = False
    down: bool = False


class Peer:
    """One peer's shared, changing state (ngx_http_upstream_rr_peer_t)."""

    __slots__ = (
        "accessed", "checked", "conns", "current_weight", "effective_weight", "fails", "name",
        "spec",
    )  # fmt: skip

    def __init__(self, spec: PeerSpec) -> None:
        self.spec = spec
        self.name = spec.endpoint.name  # as logged, and as `$upstream_addr` lists it
        self.conns = 0  # requests in flight (least_conn)
        self.current_weight = 0
        self.effective_weight = spec.weight
        self.fails = 0
        self.accessed = 0.0
        self.checked = 0.0

    def available(self, now: float) -> bool:
        """Not down, not out after failures, not at `max_conns`."""
        spec = self.spec
        if spec.down or (spec.max_conns and self.conns >= spec.max_conns):
            return False
        return not (
            spec.max_fails
            and self.fails >= spec.max_fails
            and now - self.checked <= spec.fail_timeout
        )


def _pick(
    peers: Sequence[Peer], tried: set[int], now: float, server: str | None = None
) -> Peer | None:
    """ngx_http_upstream_get_peer(): the smooth weighted round-robin step (over the peers of
    `server` only, when given: a consistent hash's point)."""
    best: Peer | None = None
    best_index = -1
    total = 0
    for index, peer in enumerate(peers):
        if index in tried or not peer.available(now):
            continue
        if server is not None and peer.spec.server != server:
            continue
        peer.current_weight += peer.effective_weight
        total += peer.effective_weight
        if peer.effective_weight < peer.spec.weight:
            peer.effective_weight += 1
        if best is None or peer.current_weight > best.current_weight:
            best, best_index = peer, index
    if best is None:
        return None
    tried.add(best_index)
    best.current_weight -= total
    if now - best.checked > best.spec.fail_timeout:
        best.checked = now
    return best


_IP_HASH_START = 89
_HASH_MOVES = 20  # then round-robin


def _least(peers: Sequence[Peer], tried: set[int], now: float) -> Peer | None:
    """ngx_http_upstream_get_least_conn_peer(): the live peer with the fewest requests in
    flight for its weight; among several, the smooth weighted round-robin step over them."""
    best: Peer | None = None
    best_index = -1
    many = False
    for index, peer in enumerate(peers):
        if index in tried or not peer.available(now):
            continue
        if best is None or peer.conns * best.spec.weight < best.conns * peer.spec.weight:
            best, best_index, many = peer, index, False
        elif peer.conns * best.spec.weight == best.conns * peer.spec.weight:
            many = True
    if best is None:
        return None
    if many:
        least, total = best, 0
        for index in range(best_index, len(peers)):
            peer = peers[index]
            if index in tried or not peer.available(now):
                continue
            if peer.conns * least.spec.weight != least.conns * peer.spec.weight:
                continue
            peer.current_weight += peer.effective_weight
            total += peer.effective_weight
            if peer.effective_weight < peer.spec.weight:
                peer.effective_weight += 1
            if peer.current_weight > best.current_weight:
                best, best_index = peer, index
        best.current_weight -= total
    tried.add(best_index)
    if now - best.checked > best.spec.fail_timeout:
        best.checked = now
    return best


class Method(enum.Enum):
    """How an upstream block picks its peers (its last balancing directive)."""

    ROUND_ROBIN = "round-robin"
    IP_HASH = "ip_hash"
    LEAST_CONN = "least_conn"
    HASH = "hash"
    CONSISTENT_HASH = "hash consistent"
    RANDOM = "random"
    RANDOM_TWO = "random two"


_DRAWN = (Method.RANDOM, Method.RANDOM_TWO)


class Balancer:
    """The peers of one upstream: primaries, then backups, by `method`; `hash_key` is the
    `hash` directive's key."""

    __slots__ = (
        "backup", "hash_key", "method", "name", "pick", "points", "primary", "ranges", "rng",
        "single", "total_weight",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        specs: Iterable[PeerSpec],
        method: Method = Method.ROUND_ROBIN,
        hash_key: ComplexValue | None = None,
        rng: random.Random | None = None,
    ) -> None:
        specs = list(specs)
        self.name = name
        self.primary = [Peer(s) for s in specs if not s.backup]
        self.backup = [Peer(s) for s in specs if s.backup]
        self.single = len(self.primary) == 1 and not self.backup
        self.method = method
        self.hash_key = hash_key
        # round-robin's step, or least_conn's (the hashes fall back on round-robin's)
        self.pick = _least if method is Method.LEAST_CONN else _pick
        self.total_weight = sum(peer.spec.weight for peer in self.primary)
        self.rng = rng or _RANDOM
        # `random`: where each primary peer's share of the total weight ends
        self.ranges = list(itertools.accumulate(peer.spec.weight for peer in self.primary))
        self.points = None
        if method is Method.CONSISTENT_HASH:
            self.points = Points([(peer.spec.server, peer.spec.weight) for peer in self.primary])

    def key(self, lookup: Lookup) -> bytes | None:
        """What a request's hash is made from: the client address (`ip_hash`) or the `hash`
        key as evaluated; None when nothing is hashed (round-robin then)."""
        if self.method is Method.IP_HASH:
            return ip_hash_key(lookup("remote_addr")) if self.total_weight else None
        if self.hash_key is not None and len(self.primary) > 1:
            return self.hash_key.evaluate(lookup).encode("utf-8", "surrogateescape") or None
        return None

    def start(self, max_tries: int = 0, key: bytes | None = None) -> Attempts:
        """One request's walk over the peers; `max_tries` (`proxy_next_upstream_tries`) caps
        the number of peers tried, 0 leaves it at the number of peers. `key`: see `key`."""
        tries = len(self.primary) + len(self.backup)
        if max_tries and tries > max_tries:
            tries = max_tries
        return Attempts(self, tries, key)

    def failed(self, peer: Peer, now: float, doing: str = "", context: str = "") -> None:
        """ngx_http_upstream_free_round_robin_peer() with NGX_PEER_FAILED; `doing` and
        `context` end nginx's log line (`while connecting to upstream, client: ...`)."""
        spec = peer.spec
        peer.fails += 1
        peer.accessed = peer.checked = now
        if spec.max_fails:
            peer.effective_weight = max(0, peer.effective_weight - spec.weight // spec.max_fails)
            if peer.fails >= spec.max_fails:
                log.warning("upstream server temporarily disabled while %s, %s", doing, context)

    @staticmethod
    def succeeded(peer: Peer) -> None:
        if peer.accessed < peer.checked:  # the peer was checked again after its last failure
            peer.fails = 0


class Attempts:
    """The peers one request tries, each at most once (nginx's `tried` bitmap and `tries`)."""

    __slots__ = (
        "_backup", "_balancer", "_hash", "_key", "_moves", "_rehash", "_tried", "tries",
    )  # fmt: skip

    def __init__(self, balancer: Balancer, tries: int, key: bytes | None = None) -> None:
        self._balancer = balancer
        self._tried: set[int] = set()
        self._backup = False
        self.tries = tries
        self._key = key  # what the hash is made from, if the block hashes
        self._hash = _IP_HASH_START if balancer.method is Method.IP_HASH else 0
        if balancer.points is not None and key is not None:
            self._hash = balancer.points.first_at(zlib.crc32(key))
        self._rehash = 0
        self._moves = 0

    def next(self, now: float) -> Peer | None:
        """The peer to try now; None when none is left ("no live upstreams")."""
        peer = self._choose(now)
        if peer is not None:
            peer.conns += 1
        return peer

    def _choose(self, now: float) -> Peer | None:
        balancer = self._balancer
        if self.tries <= 0:
            return None
        if balancer.single:  # never out after failures, but down or at max_conns
            only = balancer.primary[0]
            full = only.spec.max_conns and only.conns >= only.spec.max_conns
            return None if only.spec.down or full or self._tried else self._mark(0, only)
        if not self._backup:
            if self._key is not None and self._moves <= _HASH_MOVES:
                hashed = self._on_points(now) if balancer.points else self._hashed(now)
                if hashed is not None:
                    return hashed
            if balancer.method in _DRAWN and self._moves <= _HASH_MOVES:
                two = balancer.method is Method.RANDOM_TWO
                drawn = self._random_two(now) if two else self._random(now)
                if drawn is not None:
                    return drawn
            peer = balancer.pick(balancer.primary, self._tried, now)
            if peer is not None or not balancer.backup:
                return peer
            self._backup, self._tried = True, set()
        return balancer.pick(balancer.backup, self._tried, now)

    def _hashed(self, now: float) -> Peer | None:
        """ngx_http_upstream_get_ip_hash_peer() and _get_hash_peer(): the peer the key hashes
        to, the hash moved on past peers down or tried; None after 20 moves (round-robin
        then). Each try goes on from the hash of the one before."""
        peers, total = self._balancer.primary, self._balancer.total_weight
        while True:
            weight = self._step() % total
            index = 0
            while weight >= peers[index].spec.weight:
                weight -= peers[index].spec.weight
                index += 1
            peer = peers[index]
            if index not in self._tried and peer.available(now):
                break
            self._moves += 1
            if self._moves > _HASH_MOVES:
                return None
        return self._take(now, index, peer)

    def _on_points(self, now: float) -> Peer | None:
        """ngx_http_upstream_get_chash_peer(): the server of the first point of the circle at
        or after the key's CRC-32, then of the next points past servers with no live peer
        left; among a server's peers, the smooth weighted round-robin step. None after 20
        moves (round-robin then)."""
        balancer = self._balancer
        assert balancer.points is not None
        servers = balancer.points.servers
        while True:
            best = _pick(balancer.primary, self._tried, now, servers[self._hash % len(servers)])
            if best is not None:
                return best
            self._hash += 1
            self._moves += 1
            if self._moves > _HASH_MOVES:
                return None

    def _peek(self, now: float) -> tuple[int, Peer] | None:
        """ngx_http_upstream_peek_random_peer() until a peer is usable: one drawn by weight,
        drawn again while it is tried, down or out; None after 20 draws."""
        balancer = self._balancer
        while True:
            index = bisect.bisect_right(
                balancer.ranges, balancer.rng.randrange(balancer.total_weight)
            )
            peer = balancer.primary[index]
            if index not in self._tried and peer.available(now):
                return index, peer
            self._moves += 1
            if self._moves > _HASH_MOVES:
                return None

    def _random(self, now: float) -> Peer | None:
        """`random`: a usable peer drawn by weight; None after 20 draws (round-robin then)."""
        found = self._peek(now)
        return None if found is None else self._take(now, *found)

    def _random_two(self, now: float) -> Peer | None:
        """`random two`: two different usable peers drawn by weight, and of them the one with
        fewer requests in flight for its weight (the second on a tie)."""
        first = self._peek(now)
        if first is None:
            return None
        while True:
            second = self._peek(now)
            if second is None:
                return None
            if second[1] is not first[1]:
                break
            self._moves += 1  # the same peer again is one more draw
            if self._moves > _HASH_MOVES:
                return None
        index, peer = second
        if peer.conns * first[1].spec.weight > first[1].conns * peer.spec.weight:
            index, peer = first
        return self._take(now, index, peer)

    def _take(self, now: float, index: int, peer: Peer) -> Peer:
        self._tried.add(index)
        if now - peer.checked > peer.spec.fail_timeout:
            peer.checked = now
        return peer

    def _step(self) -> int:
        """The hash moved on once (see hashing.py)."""
        key = self._key
        assert key is not None
        if self._balancer.method is Method.IP_HASH:
            self._hash = ip_hash_step(self._hash, key)
        else:
            self._hash = hash_step(self._hash, self._rehash, key)
            self._rehash += 1
        return self._hash

    def _mark(self, index: int, peer: Peer) -> Peer:
        self._tried.add(index)
        return peer

    def done(
        self, peer: Peer, now: float, *, failed: bool, doing: str = "", context: str = ""
    ) -> None:
        """The try on `peer` is over; `failed` counts against its health (`doing`, `context`:
        see `Balancer.failed`)."""
        peer.conns -= 1
        balancer = self._balancer
        if balancer.single:
            self.tries = 0
            return
        if failed:
            balancer.failed(peer, now, doing, context)
        else:
            balancer.succeeded(peer)
        self.tries -= 1
