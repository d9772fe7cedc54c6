"""A request ready for an upstream (`Job`: where it goes and the bytes of its head) and the
request context nginx ends an upstream error line with."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from pushproxy.http.exchange import Exchange
from pushproxy.http.upstream_variables import UpstreamTry
from pushproxy.logs import request_context
from pushproxy.proxy.balancing import Peer
from pushproxy.proxy.body import RequestBody
from pushproxy.proxy.settings import ProxySettings
from pushproxy.proxy.tls import TlsTarget
from pushproxy.proxy.upstream import UpstreamGroup

# (condition, whether the request went out, tries still to be counted) → may go to the next peer
MayRetry = Callable[[str, bool, int], bool]


class Job(NamedTuple):
    """A request ready to go: where, and the bytes of its head. (A named tuple: built once
    per proxied request, in a fraction of a frozen dataclass's time.)"""

    exchange: Exchange
    settings: ProxySettings
    group: UpstreamGroup
    scheme: str
    method: str
    target: bytes
    head: bytes  # request line and headers, as sent
    reusable: bool  # HTTP/1.1 and no `Connection: close`: the upstream connection may serve again
    body: RequestBody
    upgrade: bool  # the client asked for a protocol switch
    tries: list[UpstreamTry]  # each peer tried, as it ended
    tls: TlsTarget | None  # an https upstream's
    redirected: list[bytes]  # the `X-Accel-Redirect` of the answer, if it had one
    trying: list[Peer]  # the peers tried, the one being tried last

    def context(self, peer: Peer | None) -> str:
        """The tail nginx puts on an upstream error line."""
        upstream = ""
        if peer is not None:
            upstream = f', upstream: "{self.scheme}://{peer.name}{self.target.decode("latin-1")}"'
        return request_context(self.exchange.lookup, upstream)

    def trying_context(self) -> str:
        """`context` of the peer being tried (nginx names it on every line of the try)."""
        return self.context(self.trying[-1] if self.trying else None)
