"""What the proxy works out from a head, remembered for the next time the same head comes.

Clients send the same request head again and again (a page's assets, a health check, a
script's polls), and an upstream answers the same file with the same head; both heads are
remembered as parsed (`wire.parse_head`, `reader.parse_response_head`), so the same objects come
back. What the proxy makes of them is remembered here by the identity of those objects, with
the values it also depends on:

- the upstream request's line and headers: by the client's head, its target, the location's
  settings, the method and the values of the location's `proxy_set_header` entries, which
  are worked out for each request (they may name any variable); not when a `rewrite` made
  the target or variables make the `proxy_pass` URL (new objects for each request);
- the headers the client gets of an upstream's answer and its `X-Accel-*` headers: by the
  upstream's header list and the location's settings, unless `proxy_redirect` or
  `proxy_cookie_*` rules rewrite them (those may name variables: worked out each time).

Pure, and bounded: the last 256 upstream requests, the last 64 answers and header readings.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, NamedTuple, TypeVar

from pushproxy.config.complex import Lookup
from pushproxy.http.target import RequestTarget
from pushproxy.http.wire import Request
from pushproxy.proxy.accel import accel_limit_rate, accel_target
from pushproxy.proxy.request import build_headers, request_head, upstream_target
from pushproxy.proxy.response import answer_headers
from pushproxy.proxy.settings import ProxySettings

T = TypeVar("T")

# An entry holds what its key names by `id`: no other object can take those ids meanwhile.
_Entry = tuple[tuple[object, ...], T]


class ByIdentity(Generic[T]):
    """Values by keys of `id`s (and plain values), the last `size` of them."""

    __slots__ = ("_entries", "_size")

    def __init__(self, size: int) -> None:
        self._entries: dict[Hashable, _Entry[T]] = {}
        self._size = size

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> T | None:
        entry = self._entries.get(key)
        return None if entry is None else entry[1]

    def put(self, key: Hashable, held: tuple[object, ...], value: T) -> None:
        """Keep `value` under `key`, holding `held`: the objects whose ids the key has."""
        entries = self._entries
        if len(entries) >= self._size and key not in entries:
            del entries[next(iter(entries))]  # the oldest
        entries[key] = (held, value)


class UpstreamRequest(NamedTuple):
    """The parts of a proxied request that its head, location and variables make."""

    target: bytes
    head: bytes  # request line and headers, as sent
    reusable: bool  # HTTP/1.1 and no `Connection: close`: the upstream connection may serve again
    upgrade: bool  # a `proxy_set_header` entry sends `Upgrade`


_REQUESTS: ByIdentity[UpstreamRequest] = ByIdentity(256)


def upstream_request(
    request: Request,
    target: RequestTarget,
    settings: ProxySettings,
    method: str,
    own: list[tuple[bytes, bytes]],
    *,
    uri_part: str | None,
) -> UpstreamRequest:
    """The upstream request for the client's `request` (its target as the rewrite phase left
    it), sent as `method` with the `proxy_set_header` entries `own` (evaluated) first.
    `uri_part`: the `proxy_pass` URL's. Not remembered: a URL made of variables, or a
    target a `rewrite` made (both new objects for each request)."""
    remembered = settings.url is not None and not target.rewritten
    key = (id(request), id(target), id(settings), method, tuple(own))
    if remembered and (made := _REQUESTS.get(key)) is not None:
        return made
    sent = upstream_target(
        target, uri_part=uri_part, prefix=settings.prefix, from_variables=settings.url is None
    )
    # Only `proxy_set_header` entries can send these: the client's never pass.
    upgrade = closes = False
    for name, value in own:
        lower = name.lower()
        upgrade = upgrade or lower == b"upgrade"
        closes = closes or (lower == b"connection" and b"close" in value.lower())
    passed = settings.pass_request_headers
    headers = build_headers(settings.headers, own, request.raw_items(), pass_request_headers=passed)
    made = UpstreamRequest(
        target=sent,
        head=request_head(method, sent, settings.http_version, headers),
        reusable=settings.http_version == "1.1" and not closes and not upgrade,
        upgrade=upgrade,
    )
    if remembered:
        _REQUESTS.put(key, (request, target, settings), made)
    return made


class Answer(NamedTuple):
    """What the client gets of an upstream's headers (see `response.client_headers`)."""

    headers: tuple[tuple[bytes, bytes], ...]
    location: bytes | None  # a `Location` to make absolute (only with `proxy_redirect`)


class HeadFacts(NamedTuple):
    """What is read off an upstream's header list once."""

    names: frozenset[bytes]  # lower-cased
    rate: int | None  # `X-Accel-Limit-Rate`
    redirect: bytes | None  # `X-Accel-Redirect`


# An upstream's header list, as `reader.ResponseHead` has it: never changed.
UpstreamHeaders = tuple[tuple[bytes, bytes], ...]

_ANSWERS: ByIdentity[Answer] = ByIdentity(64)
_FACTS: ByIdentity[HeadFacts] = ByIdentity(64)
_REDIRECTED = frozenset({b"location", b"refresh"})  # what `proxy_redirect` rewrites


def head_facts(upstream: UpstreamHeaders) -> HeadFacts:
    key = id(upstream)
    facts = _FACTS.get(key)
    if facts is None:
        names = frozenset(name.lower() for name, _ in upstream)
        facts = HeadFacts(names, accel_limit_rate(upstream), accel_target(upstream))
        _FACTS.put(key, (upstream,), facts)
    return facts


def client_answer(
    upstream: UpstreamHeaders, settings: ProxySettings, lookup: Lookup, *, switching: bool = False
) -> Answer:
    """`response.answer_headers` for the upstream's header list `upstream`: worked out anew
    when `proxy_redirect` or `proxy_cookie_*` rules (which may name variables) have a header
    to rewrite."""
    names = head_facts(upstream).names
    if (settings.redirects and not names.isdisjoint(_REDIRECTED)) or (
        settings.cookies and b"set-cookie" in names
    ):
        headers, location = answer_headers(upstream, settings, lookup, switching=switching)
        return Answer(tuple(headers), location)
    key = (id(upstream), id(settings), switching)
    answer = _ANSWERS.get(key)
    if answer is None:
        headers, location = answer_headers(upstream, settings, lookup, switching=switching)
        answer = Answer(tuple(headers), location)
        _ANSWERS.put(key, (upstream, settings), answer)
    return answer
