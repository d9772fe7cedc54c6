"""Channel info and statistics bodies (§7), byte for byte, from plain data.

The same formats answer publisher GET/POST/PUT and the statistics location. Strings are not
escaped. Each format is a row of byte patterns, as in the module's `subtypes[]` table.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

CRLF = b"\r\n"
_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" ?>' + CRLF


class ChannelInfo(NamedTuple):
    """One channel's figures: `published_messages` is its last message id.

    A tuple in the order every format takes them, so a format fills in from it directly; one is
    made per channel of every publish answer, where a frozen dataclass costs three times more.
    """

    id: bytes
    published_messages: int
    stored_messages: int
    subscribers: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Totals:
    """The store's global counters; published and stored exclude the events channel."""

    channels: int
    wildcard_channels: int
    published_messages: int
    stored_messages: int
    messages_in_trash: int
    channels_in_delete: int
    channels_in_trash: int
    subscribers: int
    uptime: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerInfo:
    """One live worker of the summary's `by_worker` list; `uptime` counts from its start."""

    pid: int
    subscribers: int
    uptime: int


@dataclass(frozen=True, slots=True, kw_only=True)
class InfoFormat:
    """One row of the format table; `%s`/`%d` are filled in the module's order."""

    subtype: bytes
    content_type: str
    channel: bytes
    group_head: bytes
    group_item: bytes
    group_last_item: bytes
    group_tail: bytes
    summary: bytes
    worker_item: bytes
    worker_last_item: bytes
    content_type_header: tuple[bytes, bytes] = field(init=False)

    def __post_init__(self) -> None:
        # Every answer in this format carries it: encoded once, not per response.
        header = (b"Content-Type", self.content_type.encode())
        object.__setattr__(self, "content_type_header", header)


_PLAIN_CHANNEL = (
    b"channel: %s\r\npublished_messages: %d\r\nstored_messages: %d\r\nactive_subscribers: %d"
)
_PLAIN_WORKER = b"  pid: %d\r\n  subscribers: %d\r\n  uptime: %d"
_JSON_CHANNEL = (
    b'{"channel": "%s", "published_messages": %d, "stored_messages": %d, "subscribers": %d}'
)
_JSON_WORKER = b'{"pid": "%d", "subscribers": %d, "uptime": %d}'
_YAML_CHANNEL = (
    b"  channel: %s\r\n  published_messages: %d\r\n  stored_messages: %d\r\n  subscribers: %d"
)
_YAML_WORKER = b"   -\r\n    pid: %d\r\n    subscribers: %d\r\n    uptime: %d"
_XML_CHANNEL = (
    b"<channel>\r\n  <name>%s</name>\r\n  <published_messages>%d</published_messages>\r\n"
    b"  <stored_messages>%d</stored_messages>\r\n  <subscribers>%d</subscribers>\r\n"
    b"</channel>\r\n"
)
_XML_WORKER = (
    b"<worker>\r\n  <pid>%d</pid>\r\n  <subscribers>%d</subscribers>\r\n"
    b"  <uptime>%d</uptime>\r\n</worker>\r\n"
)
_SUMMARY_KEYS = (
    b"channels",
    b"wildcard_channels",
    b"published_messages",
    b"stored_messages",
    b"messages_in_trash",
    b"channels_in_delete",
    b"channels_in_trash",
    b"subscribers",
    b"uptime",
)


def _summary_lines(indent: bytes) -> bytes:
    head = indent + b"hostname: %s" + CRLF + indent + b"time: %s" + CRLF
    return head + b"".join(indent + key + b": %d" + CRLF for key in _SUMMARY_KEYS)


def _summary_elements() -> bytes:
    head = b"  <hostname>%s</hostname>" + CRLF + b"  <time>%s</time>" + CRLF
    return head + b"".join(b"  <%s>%%d</%s>" % (key, key) + CRLF for key in _SUMMARY_KEYS)


PLAIN = InfoFormat(
    subtype=b"plain",
    content_type="text/plain",
    channel=_PLAIN_CHANNEL + CRLF,
    group_head=b"hostname: %s, time: %s, channels: %d, wildcard_channels: %d, uptime: %d, "
    b"infos: " + CRLF,
    group_item=_PLAIN_CHANNEL + b"," + CRLF,
    group_last_item=_PLAIN_CHANNEL,
    group_tail=CRLF,
    summary=_summary_lines(b"") + b"by_worker:" + CRLF + b"%s" + CRLF,
    worker_item=_PLAIN_WORKER + b"," + CRLF,
    worker_last_item=_PLAIN_WORKER,
)
JSON = InfoFormat(
    subtype=b"json",
    content_type="application/json",
    channel=_JSON_CHANNEL + CRLF,
    group_head=b'{"hostname": "%s", "time": "%s", "channels": %d, "wildcard_channels": %d, '
    b'"uptime": %d, "infos": [' + CRLF,
    group_item=_JSON_CHANNEL + b"," + CRLF,
    group_last_item=_JSON_CHANNEL + CRLF,
    group_tail=b"]}" + CRLF,
    summary=b'{"hostname": "%s", "time": "%s", "channels": %d, "wildcard_channels": %d, '
    b'"published_messages": %d, "stored_messages": %d, "messages_in_trash": %d, '
    b'"channels_in_delete": %d, "channels_in_trash": %d, "subscribers": %d, "uptime": %d, '
    b'"by_worker": [' + CRLF + b"%s" + CRLF + b"]}" + CRLF,
    worker_item=_JSON_WORKER + b"," + CRLF,
    worker_last_item=_JSON_WORKER,
)
YAML = InfoFormat(
    subtype=b"yaml",
    content_type="application/yaml",
    channel=_YAML_CHANNEL + CRLF,
    group_head=b"hostname: %s\r\ntime: %s\r\nchannels: %d\r\nwildcard_channels: %d\r\n"
    b"uptime: %d\r\ninfos: " + CRLF,
    group_item=b" -" + CRLF + _YAML_CHANNEL + CRLF,
    group_last_item=b" -" + CRLF + _YAML_CHANNEL,
    group_tail=CRLF,
    summary=_summary_lines(b"  ") + b"  by_worker:" + CRLF + b"%s" + CRLF,
    worker_item=_YAML_WORKER + CRLF,
    worker_last_item=_YAML_WORKER,
)
XML = InfoFormat(
    subtype=b"xml",
    content_type="application/xml",
    channel=_XML_DECLARATION + _XML_CHANNEL + CRLF,
    group_head=_XML_DECLARATION + b"<root>\r\n  <hostname>%s</hostname>\r\n  <time>%s</time>\r\n"
    b"  <channels>%d</channels>\r\n  <wildcard_channels>%d</wildcard_channels>\r\n"
    b"  <uptime>%d</uptime>\r\n  <infos>" + CRLF,
    group_item=_XML_CHANNEL,
    group_last_item=_XML_CHANNEL,
    group_tail=b"  </infos>\r\n</root>" + CRLF,
    summary=_XML_DECLARATION
    + b"<infos>"
    + CRLF
    + _summary_elements()
    + b"  <by_worker>%s</by_worker>"
    + CRLF
    + b"</infos>"
    + CRLF,
    worker_item=_XML_WORKER,
    worker_last_item=_XML_WORKER,
)
X_JSON = replace(JSON, subtype=b"x-json", content_type="text/x-json")
X_YAML = replace(YAML, subtype=b"x-yaml", content_type="text/x-yaml")

FORMATS: tuple[InfoFormat, ...] = (PLAIN, JSON, YAML, XML, X_JSON, X_YAML)
"""Tried in this order against the text after each `/` of `Accept`."""


_NEGOTIATED_VALUE_SIZE = 512  # longer Accept values are worked out each time


def negotiate(accept: bytes | None) -> InfoFormat:
    """The format for an `Accept` value (§7.1): the first `/` whose following text starts with
    a known subtype decides; JSON when none does.
    """
    if not accept:
        return JSON
    if len(accept) > _NEGOTIATED_VALUE_SIZE:
        return _negotiate(accept)
    return _negotiated(accept)


def _negotiate(accept: bytes) -> InfoFormat:
    slash = accept.find(b"/")
    while slash != -1:
        rest = accept[slash + 1 :]
        for info_format in FORMATS:
            if rest.startswith(info_format.subtype):
                return info_format
        slash = accept.find(b"/", slash + 1)
    return JSON


# A client sends the same Accept value on every request: remembered, up to 256 values.
_negotiated = functools.lru_cache(maxsize=256)(_negotiate)


def iso_time(now: float) -> bytes:
    """Current UTC time as the module writes it: `YYYY-MM-DDTHH:MM:SS`, no zone."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(now))).encode("ascii")


def render_channel(info_format: InfoFormat, info: ChannelInfo) -> bytes:
    """The single-channel body."""
    return info_format.channel % info


def render_group(
    info_format: InfoFormat,
    infos: Sequence[ChannelInfo],
    *,
    hostname: bytes,
    now: float,
    totals: Totals,
) -> bytes:
    """The group body (two or more channels, `ALL`, or a prefix); zero items is allowed."""
    head = info_format.group_head % (
        hostname.lower(),
        iso_time(now),
        totals.channels,
        totals.wildcard_channels,
        totals.uptime,
    )
    last = len(infos) - 1
    items = [
        (info_format.group_last_item if position == last else info_format.group_item) % info
        for position, info in enumerate(infos)
    ]
    return head + b"".join(items) + info_format.group_tail


def render_channels(
    info_format: InfoFormat,
    infos: Sequence[ChannelInfo],
    *,
    hostname: bytes,
    now: float,
    totals: Totals,
) -> bytes | None:
    """Channels looked up by id: None when none was found (404), the single format for one,
    the group format for more.
    """
    if not infos:
        return None
    if len(infos) == 1:
        return render_channel(info_format, infos[0])
    return render_group(info_format, infos, hostname=hostname, now=now, totals=totals)


def render_summary(
    info_format: InfoFormat,
    workers: Sequence[WorkerInfo],
    *,
    hostname: bytes,
    now: float,
    totals: Totals,
) -> bytes:
    """The statistics summary (empty channels path), with one entry per live worker."""
    last = len(workers) - 1
    by_worker = b"".join(
        (info_format.worker_last_item if position == last else info_format.worker_item)
        % (worker.pid, worker.subscribers, worker.uptime)
        for position, worker in enumerate(workers)
    )
    return info_format.summary % (
        hostname.lower(),
        iso_time(now),
        totals.channels,
        totals.wildcard_channels,
        totals.published_messages,
        totals.stored_messages,
        totals.messages_in_trash,
        totals.channels_in_delete,
        totals.channels_in_trash,
        totals.subscribers,
        totals.uptime,
        by_worker,
    )
