"""The push stream module's settings, read from the model, and its startup validations.

nginx runs these checks at two moments, and reports them where it stands then: the location
type and the shared memory size when their directive is read (at its line), everything else
when the http block closes and the module merges its settings (at the line of the `}`), in the
module's order: main checks first, then each push location in configuration order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from pushproxy.config import units
from pushproxy.config.complex import ComplexValue, ComplexValueError, compile_value
from pushproxy.config.diagnostics import Diagnostic
from pushproxy.config.model import Http, Level, Location, build, walk_locations
from pushproxy.config.shared_memory import Zones, declare
from pushproxy.config.tree import Directive
from pushproxy.errors import ConfigError
from pushproxy.push.memory import MIN_ZONE, zone_size
from pushproxy.push.padding import PaddingSyntaxError, parse_paddings
from pushproxy.push.settings import (
    LocationSettings,
    LocationType,
    MainSettings,
    publisher_type,
    subscriber_type,
)

_PREFIX = "push stream module: "
# The statistics first: in a valid location it comes after a publisher or subscriber it
# shares the block with, and replaces it (see `directives_push`).
_TYPE_DIRECTIVES = (
    "push_stream_channels_statistics",
    "push_stream_publisher",
    "push_stream_subscriber",
)
# Main checks, in the module's order (init_main_conf()): a zero here is refused.
_MAIN_NOT_ZERO = (
    ("push_stream_max_number_of_channels", "max_number_of_channels"),
    ("push_stream_max_number_of_wildcard_channels", "max_number_of_wildcard_channels"),
    ("push_stream_message_ttl", "message_ttl"),
    ("push_stream_max_subscribers_per_channel", "max_subscribers_per_channel"),
    ("push_stream_max_messages_stored_per_channel", "max_messages_stored_per_channel"),
    ("push_stream_max_channel_id_length", "max_channel_id_length"),
)
_LOCATION_TIMES_NOT_ZERO = (
    ("push_stream_ping_message_interval", "ping_message_interval"),
    ("push_stream_subscriber_connection_ttl", "subscriber_connection_ttl"),
    ("push_stream_longpolling_connection_ttl", "longpolling_connection_ttl"),
)
_COMPLEX = (
    ("push_stream_channels_path", "channels_path"),
    ("push_stream_last_received_message_time", "last_received_message_time"),
    ("push_stream_last_received_message_tag", "last_received_message_tag"),
    ("push_stream_last_event_id", "last_event_id"),
    ("push_stream_user_agent", "user_agent"),
    ("push_stream_allowed_origins", "allowed_origins"),
)


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


class _Finding(Exception):
    """A validation failure, carried to where it becomes a Diagnostic."""

    def __init__(self, message: str, *, logged_before: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.logged_before = logged_before


def _value(level: Level, name: str, parse: Callable[[str], object]) -> object | None:
    directive = level.last(name)
    if directive is None or len(directive.args) != 1:
        return None
    try:
        return parse(directive.args[0])
    except (ValueError, units.InvalidValue):
        return None  # nginx's own value check reports it


def location_type(location: Location) -> LocationType | None:
    """The push stream location type set in this very location (never inherited)."""
    for name in _TYPE_DIRECTIVES:
        for directive in location.level.own.get(name, ()):
            if name == "push_stream_channels_statistics":
                return LocationType.STATISTICS
            parse = publisher_type if name == "push_stream_publisher" else subscriber_type
            try:
                return parse(directive.args[0] if directive.args else None)
            except ValueError:
                return None
    return None


def main_settings(http: Level) -> MainSettings:
    size_directive = http.last("push_stream_shared_memory_size")
    size = _size_of(size_directive) if size_directive and size_directive.args else 0
    fields: dict[str, object] = {}
    for directive, key, parse in (
        ("push_stream_channel_inactivity_time", "channel_inactivity_time", units.parse_sec),
        ("push_stream_message_ttl", "message_ttl", units.parse_sec),
        ("push_stream_timeout_with_body", "timeout_with_body", units.parse_flag),
        ("push_stream_max_subscribers_per_channel", "max_subscribers_per_channel", int),
        ("push_stream_max_messages_stored_per_channel", "max_messages_stored_per_channel", int),
        ("push_stream_max_channel_id_length", "max_channel_id_length", int),
        ("push_stream_max_number_of_channels", "max_number_of_channels", int),
        ("push_stream_max_number_of_wildcard_channels", "max_number_of_wildcard_channels", int),
    ):
        value = _value(http, directive, parse)
        if isinstance(value, int) and key in ("channel_inactivity_time", "message_ttl"):
            fields[key] = float(value)
        elif value is not None:
            fields[key] = value
    for directive, key in (
        ("push_stream_channel_deleted_message_text", "channel_deleted_message_text"),
        ("push_stream_ping_message_text", "ping_message_text"),
        ("push_stream_wildcard_channel_prefix", "wildcard_channel_prefix"),
        ("push_stream_events_channel_id", "events_channel_id"),
    ):
        text = http.arg(directive)
        if text is not None:
            fields[key] = _bytes(text)
    zone = size_directive.args[1] if size_directive and len(size_directive.args) == 2 else None
    if zone:
        fields["shared_memory_zone"] = zone
    # The zone as the module makes it: whole pages, 128 KiB at least.
    return MainSettings(shared_memory_size=zone_size(size), **fields)  # type: ignore[arg-type]


def _size_of(directive: Directive) -> int:
    try:
        return units.parse_size(directive.args[0])
    except (ValueError, units.InvalidValue):
        return 0


def _read_template_file(directive: Directive) -> bytes | None:
    try:
        with open(directive.args[0], "rb") as handle:
            return handle.read()
    except (OSError, IndexError):
        return None  # reported where the directive stands


def _complex(level: Level, name: str) -> ComplexValue | None:
    directive = level.last(name)
    if directive is None or not directive.args:
        return None
    try:
        return compile_value(directive.args[0])
    except ComplexValueError:
        return None  # reported where the directive stands


def location_settings(
    location: Location, kind: LocationType, main: MainSettings
) -> LocationSettings:
    """The merged settings of one push location; _Finding for the module's merge-time errors."""
    level = location.level
    fields: dict[str, object] = {}
    for name, key in _COMPLEX:
        value = _complex(level, name)
        if value is not None:
            fields[key] = value
    if "channels_path" not in fields:
        raise _Finding("push_stream_channels_path must be set.")
    for name, key in (
        ("push_stream_store_messages", "store_messages"),
        ("push_stream_channel_info_on_publish", "channel_info_on_publish"),
        ("push_stream_authorized_channels_only", "authorized_channels_only"),
        ("push_stream_websocket_allow_publish", "websocket_allow_publish"),
        ("push_stream_allow_connections_to_events_channel", "allow_connections_to_events_channel"),
    ):
        flag = _value(level, name, units.parse_flag)
        if flag is not None:
            fields[key] = flag
    for name, key in _LOCATION_TIMES_NOT_ZERO:
        milliseconds = _value(level, name, units.parse_msec)
        if milliseconds == 0:
            raise _Finding(f"{name} cannot be zero.")
        if isinstance(milliseconds, int):
            fields[key] = milliseconds / 1000
    if "longpolling_connection_ttl" not in fields and "subscriber_connection_ttl" in fields:
        fields["longpolling_connection_ttl"] = fields["subscriber_connection_ttl"]
    header = _header_template(level)
    if header is not None:
        fields["header_template"] = header
    for name, key in (
        ("push_stream_message_template", "message_template"),
        ("push_stream_footer_template", "footer_template"),
    ):
        text = level.arg(name)
        if text is not None:
            fields[key] = _bytes(text)
    if fields.get("message_template") == b"":
        raise _Finding("push_stream_message_template cannot be blank.")
    qtd = _value(level, "push_stream_wildcard_channel_max_qtd", int)
    if qtd is None:
        qtd = main.max_number_of_wildcard_channels
    if qtd == 0:
        raise _Finding("push_stream_wildcard_channel_max_qtd cannot be zero.")
    if qtd is not None and not main.wildcard_channel_prefix:
        raise _Finding(
            "cannot set wildcard channel max qtd if push_stream_wildcard_channel_prefix is not "
            "set or blank."
        )
    limit = main.max_number_of_wildcard_channels
    if qtd is not None and limit is not None and limit < int(str(qtd)):
        raise _Finding(
            "max number of wildcard channels cannot be smaller than value in "
            "push_stream_wildcard_channel_max_qtd."
        )
    fields["wildcard_channel_max_qtd"] = qtd
    paddings = level.arg("push_stream_padding_by_user_agent")
    if kind.is_subscriber and paddings is not None:
        try:
            fields["paddings"] = parse_paddings(_bytes(paddings))
        except PaddingSyntaxError as error:
            detail, final = error.lines
            raise _Finding(final.removeprefix(_PREFIX), logged_before=(detail,)) from None
    return LocationSettings(type=kind, **fields)  # type: ignore[arg-type]


def _header_template(level: Level) -> bytes | None:
    """The header template of the innermost level that sets one, inline or from a file."""
    own_level = level.own
    for source in (own_level, level.effective):
        found = [
            d
            for name in ("push_stream_header_template", "push_stream_header_template_file")
            for d in source.get(name, ())
        ]
        if found:
            latest = max(found, key=lambda d: (d.line, d.column))
            if latest.name == "push_stream_header_template_file":
                return _read_template_file(latest)
            return _bytes(latest.args[0]) if latest.args else b""
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class PushLocation:
    location: Location
    settings: LocationSettings


def push_locations(http: Http) -> list[tuple[Location, LocationType]]:
    found = []
    for server in http.servers:
        for location in walk_locations(server.locations):
            kind = location_type(location)
            if kind is not None:
                found.append((location, kind))
    return found


def _diagnostic(
    message: str,
    directive: Directive,
    *,
    fatal: bool = True,
    nginx_place: tuple[str, int] | None = None,
) -> Diagnostic:
    return Diagnostic(
        code="E201",
        message=message,
        file=directive.file,
        line=directive.line if nginx_place else directive.end_line,
        column=directive.column,
        nginx_level="error",
        nginx_fatal=fatal,
        nginx_place=nginx_place,
    )


def _zone_twice(directive: Directive, size: int, zones: Zones) -> list[Diagnostic]:
    """ngx_shared_memory_add(), then the module's own check: a zone (`push_stream_module`
    unless named) declared again, with another size or the same."""
    name = directive.args[1] if len(directive.args) > 1 else "push_stream_module"
    message = declare(zones, name, directive.name, size, f'duplicate zone "{name}"')
    if message is None:
        return []
    return [replace(_diagnostic(message, directive), nginx_level="emerg")]


def _directive_time(tree: Sequence[Directive]) -> list[Diagnostic]:
    """Checks the module makes as it reads a directive: type values, shared memory size."""
    found: list[Diagnostic] = []
    zones: Zones = {}

    def visit(items: Sequence[Directive]) -> None:
        for directive in items:
            if directive.name in ("push_stream_publisher", "push_stream_subscriber"):
                parse = (
                    publisher_type if directive.name == "push_stream_publisher" else subscriber_type
                )
                try:
                    parse(directive.args[0] if len(directive.args) == 1 else None)
                except ValueError as error:
                    found.append(_diagnostic(str(error), directive))
            elif directive.name == "push_stream_header_template_file" and directive.args:
                if _read_template_file(directive) is None:
                    found.append(
                        _diagnostic(
                            f'{_PREFIX}unable to open file "{directive.args[0]}" for header '
                            "template",
                            directive,
                        )
                    )
            elif directive.name == "push_stream_shared_memory_size" and directive.args:
                size = _size_of(directive)  # (0 when it does not parse, as the module's)
                if size < MIN_ZONE:
                    found.append(
                        Diagnostic(
                            code="E201",
                            message="The push_stream_shared_memory_size value must be at least "
                            f"{MIN_ZONE // 1024}KiB",
                            file=directive.file,
                            line=directive.end_line,
                            column=directive.column,
                            nginx_level="warn",
                        )
                    )
                else:
                    found.extend(_zone_twice(directive, size, zones))
            if directive.block:
                visit(directive.block)

    visit(tree)
    return found


def validate(tree: Sequence[Directive], _stopped: bool = False) -> list[Diagnostic]:
    """The module's validations, in the order nginx makes them."""
    found = _directive_time(tree)
    try:
        config = build(tree)
    except ConfigError:
        return found  # nginx's own checks report what keeps the model from being built
    http = config.http
    if http is None or not http.directive.close_line:
        return found  # no http block, or nginx never reached its end
    # Merge-time checks: nginx reports them at the http block's closing brace.
    where = http.directive
    place = (where.file, where.close_line)
    locations = push_locations(http)
    if not locations:
        return found  # the module only logs that it will not be used
    main = main_settings(http.level)
    if http.level.last("push_stream_shared_memory_size") is None:
        found.append(
            _diagnostic(
                _PREFIX + "push_stream_shared_memory_size must be set.", where, nginx_place=place
            )
        )
        return found
    for name, key in _MAIN_NOT_ZERO:
        if getattr(main, key) == 0:
            culprit = http.level.last(name) or where
            found.append(
                _diagnostic(f"{_PREFIX}{name} cannot be zero.", culprit, nginx_place=place)
            )
            return found
    for location, kind in locations:
        try:
            location_settings(location, kind, main)
        except _Finding as finding:
            culprit = location.directive or where
            for text in finding.logged_before:
                found.append(_diagnostic(text, culprit, fatal=False, nginx_place=place))
            found.append(_diagnostic(_PREFIX + finding.message, culprit, nginx_place=place))
            # nginx stops at the first (which `--nginx` prints); `check` goes on to the rest.
    return found
