"""The push stream module at run time: the store, each push location ready to serve, timers.

Built once from the configuration model (and again on reload, keeping the store). The cleanup
timers are the module's: memory cleanup every 4 s, buffer cleanup every 5 s.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import trio

from pushproxy.config.complex import ComplexValue
from pushproxy.config.model import Config, Location
from pushproxy.config.push_rules import location_settings, main_settings, push_locations
from pushproxy.http.clientwatch import ClientWatch
from pushproxy.http.mimetypes import MimeTypes
from pushproxy.push import handover
from pushproxy.push.memory import usable_memory
from pushproxy.push.padding import Paddings, max_padding
from pushproxy.push.settings import LocationSettings, LocationType, MainSettings
from pushproxy.push.store import BUFFER_CLEANUP_INTERVAL, MEMORY_CLEANUP_INTERVAL, Store
from pushproxy.push.templates import LocationTemplates, TemplateRegistry


@dataclass(frozen=True, slots=True, kw_only=True)
class PushLocation:
    """A push location ready to serve: settings, final templates, compiled values, and the
    MIME types its streaming and polling answers are labelled with."""

    settings: LocationSettings
    templates: LocationTemplates
    mime_types: MimeTypes

    def complex(self, name: str) -> ComplexValue | None:
        value = getattr(self.settings, name)
        return value if isinstance(value, ComplexValue) else None

    def content_type(self, uri: str) -> bytes:
        """nginx's choice: the MIME type of the URI's extension, else `default_type`."""
        return self.mime_types.content_type(uri)


def _with_conditions(
    found: Iterable[tuple[Location, LocationType]],
) -> Iterator[tuple[Location, LocationType]]:
    """Push locations and their `if` blocks: a block serves as its location does, with the
    settings it overrides (`if ($arg_qs = "on") { push_stream_last_event_id ...; }`)."""
    for location, kind in found:
        pending = [location]
        while pending:
            current = pending.pop(0)
            yield current, kind
            pending.extend(current.conditions)


log = logging.getLogger("pushproxy")


def _reframed(location: Location, kind: LocationType) -> bool:
    """A WebSocket `if` block, whose header and footer (inherited: the templates are not
    allowed in `if`) the module frames twice; see `LocationTemplates.build`."""
    directive = location.directive
    return kind is LocationType.WEBSOCKET and directive is not None and directive.name == "if"


class Stream(Protocol):
    """A streaming subscriber session, which runs without a cancel scope of its own."""

    def cancel(self) -> None:
        """End now, with the footer (a stop)."""

    def finish(self) -> None:
        """End once what is queued went out, with the footer (a reload)."""


def trio_wall_clock() -> Callable[[], float]:
    """Wall-clock seconds that advance with trio's clock (so MockClock drives message TTLs)."""
    now = trio.lowlevel.current_clock().current_time  # (trio.current_time() is two calls more)
    wall, base = time.time(), now()
    return lambda: wall + now() - base


class PushRuntime:
    """What every push handler shares: one per process, like the module's shared zone.

    Create it inside `trio.run`: its clock is trio's, anchored to the wall clock at creation.
    """

    def __init__(self, config: Config, *, clock: Callable[[], float] | None = None) -> None:
        self.clock = clock or trio_wall_clock()
        self.hostname = socket.gethostname().lower().encode()
        self.pid = os.getpid()
        self.started = self.clock()
        self.locations: dict[int, PushLocation] = {}
        self._sessions: set[trio.CancelScope] = set()  # long-poll and WebSocket sessions
        self._streams: set[Stream] = set()
        self.clients = ClientWatch(readable=True)  # streaming subscribers' sockets
        self.closes = ClientWatch(readable=False)  # waiting long-polls' (bytes are a request)
        self.store: Store | None = None
        self.zone_size = 0  # the zone's, from the start: a reload cannot change it
        self.paddings = Paddings(0)
        self.apply(config)

    def apply(self, config: Config) -> None:
        """Take a (re)loaded configuration; channels and messages stay."""
        # What handlers work out once per location, by id(location), for this configuration.
        self.prepared: dict[int, object] = {}
        http = config.http
        found = push_locations(http) if http is not None else []
        if http is None or not found:
            self.locations = {}
            return
        main: MainSettings = main_settings(http.level)
        registry = TemplateRegistry()
        locations: dict[int, PushLocation] = {}
        for location, kind in _with_conditions(found):
            settings = location_settings(location, kind, main)
            templates = LocationTemplates.build(
                settings, registry, reframed=_reframed(location, kind)
            )
            locations[id(location)] = PushLocation(
                settings=settings, templates=templates, mime_types=MimeTypes.of(location)
            )
        if self.store is None:
            self.zone_size = main.shared_memory_size
            memory = usable_memory(self.zone_size)
            self.store = Store(main, templates=registry, clock=self.clock, memory=memory)
        else:
            self.store.reconfigure(main, registry)
        self.paddings = Paddings(max_padding(p.settings.paddings for p in locations.values()))
        self.locations = locations

    def handover(self) -> bytes:
        """The zone's state for the worker that takes over at a reload (b"": no zone)."""
        return b"" if self.store is None else handover.take(self.store, self.zone_size)

    def take_over(self, handed: bytes) -> None:
        """Go on with what a retired worker handed over (`handover`), as nginx's new workers
        find the zone; a configuration with no push location drops it."""
        if handed and self.store is not None:
            try:
                self.zone_size = handover.give(self.store, handed)
            except handover.HandoverCut as error:
                log.critical("the channels handed over were cut short (%s): none kept", error)

    @property
    def sessions(self) -> int:
        """Subscriber sessions running (a retiring worker waits for them to end)."""
        return len(self._sessions) + len(self._streams)

    def location(self, location: Location) -> PushLocation | None:
        return self.locations.get(id(location))

    @property
    def uptime(self) -> int:
        return int(self.clock() - self.started)

    @contextmanager
    def session(self) -> Iterator[trio.CancelScope]:
        """The scope a subscriber session runs in; `end_sessions()` cancels them all (a stop:
        each ends as the module ends it, with the footer or the long-poll timeout answer)."""
        scope = trio.CancelScope()
        self._sessions.add(scope)
        try:
            with scope:
                yield scope
        finally:
            self._sessions.discard(scope)

    def add_session(self, session: Stream) -> None:
        """A streaming session, which ends itself when told, without a scope of its own (one
        scope fewer for each of the many); `discard_session` when it ends."""
        self._streams.add(session)

    def discard_session(self, session: Stream) -> None:
        self._streams.discard(session)

    def end_sessions(self, *, graceful: bool = False) -> None:
        """End every subscriber session now (a stop). `graceful` (a reload, as nginx's old
        workers end theirs): a streaming session first sends what it has queued."""
        for scope in list(self._sessions):
            scope.cancel()
        for stream in list(self._streams):
            if graceful:
                stream.finish()
            else:
                stream.cancel()

    async def run_timers(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """The module's cleanup timers and the watch on streaming clients, for as long as the
        server runs."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.clients.run)
            nursery.start_soon(self.closes.run)
            task_status.started()
            next_memory = trio.current_time() + MEMORY_CLEANUP_INTERVAL
            next_buffer = trio.current_time() + BUFFER_CLEANUP_INTERVAL
            while True:
                await trio.sleep_until(min(next_memory, next_buffer))
                store = self.store
                now = trio.current_time()
                if store is not None and now >= next_buffer:
                    store.collect_expired_messages()
                if store is not None and now >= next_memory:
                    store.memory_cleanup()
                if now >= next_buffer:
                    next_buffer += BUFFER_CLEANUP_INTERVAL
                if now >= next_memory:
                    next_memory += MEMORY_CLEANUP_INTERVAL
