"""Directive table: the push stream module (ngx_http_push_stream_module).

Contexts and arity follow the module's `ngx_http_push_stream_commands[]`; types and defaults
follow PROTOCOL.md §1. Location-level values not set at a level are inherited from the
enclosing level. The module's own startup checks (shared memory set, channels path set, mode
values, zero limits) are not here: only what nginx's generic slot handlers judge.
"""

from __future__ import annotations

from pushproxy.config.directive_spec import Arity, Ctx, DirectiveSpec, Merge, ValueType

_MODULE = "ngx_http_push_stream_module"
_H = Ctx.HTTP
_HSL = Ctx.HTTP | Ctx.SERVER | Ctx.LOCATION
_HSLI = _HSL | Ctx.LIF


def _main(name: str, value: ValueType | None, default: str | None) -> DirectiveSpec:
    slot = f"push_stream:main.{name}" if value is not None else None
    return DirectiveSpec(
        name=name, module=_MODULE, contexts=_H, arity=Arity.TAKE1, value=value, slot=slot,
        default=default, merge=Merge.NONE, honoured=True,
    )


def _loc(name: str, contexts: Ctx, value: ValueType | None, default: str | None) -> DirectiveSpec:
    return DirectiveSpec(
        name=name, module=_MODULE, contexts=contexts, arity=Arity.TAKE1, value=value,
        slot=f"push_stream:loc.{name}", default=default,
        merge=Merge.INHERIT, honoured=True,
    )


PUSH_STREAM_ROWS: tuple[DirectiveSpec, ...] = (
    # Location types. Publisher and subscriber share one field: either one twice is a duplicate.
    DirectiveSpec(
        name="push_stream_channels_statistics", module=_MODULE, contexts=Ctx.LOCATION,
        arity=Arity.NOARGS, merge=Merge.NONE, honoured=True,
        # The module's handler sets the location type the publisher and subscriber share
        # without looking: after one it wins, before one that one is a duplicate.
        slot="push_stream:loc.location_type", overwrites=True,
    ),
    DirectiveSpec(
        name="push_stream_publisher", module=_MODULE, contexts=Ctx.LOCATION,
        arity=Arity.NOARGS | Arity.TAKE1, slot="push_stream:loc.location_type",
        default="normal", merge=Merge.NONE, honoured=True,
    ),
    DirectiveSpec(
        name="push_stream_subscriber", module=_MODULE, contexts=Ctx.LOCATION,
        arity=Arity.NOARGS | Arity.TAKE1, slot="push_stream:loc.location_type",
        default="streaming", merge=Merge.NONE, honoured=True,
    ),
    # Main (http) level. The size takes an optional zone name; its own handler checks it.
    DirectiveSpec(
        name="push_stream_shared_memory_size", module=_MODULE, contexts=_H,
        arity=Arity.TAKE12, merge=Merge.NONE, honoured=True,
    ),
    _main("push_stream_channel_deleted_message_text", ValueType.STRING, "Channel deleted"),
    _main("push_stream_channel_inactivity_time", ValueType.SEC, "30s"),
    _main("push_stream_ping_message_text", ValueType.STRING, " "),
    _main("push_stream_timeout_with_body", ValueType.FLAG, "off"),
    _main("push_stream_message_ttl", ValueType.SEC, "30m"),
    _main("push_stream_max_subscribers_per_channel", ValueType.NUMBER, None),
    _main("push_stream_max_messages_stored_per_channel", ValueType.NUMBER, None),
    _main("push_stream_max_channel_id_length", ValueType.NUMBER, None),
    _main("push_stream_max_number_of_channels", ValueType.NUMBER, None),
    _main("push_stream_max_number_of_wildcard_channels", ValueType.NUMBER, None),
    _main("push_stream_wildcard_channel_prefix", ValueType.STRING, ""),
    _main("push_stream_events_channel_id", ValueType.STRING, ""),
    # Location level (complex values are evaluated per request, then URL-unescaped).
    _loc("push_stream_channels_path", _HSLI, None, None),
    _loc("push_stream_store_messages", _HSLI, ValueType.FLAG, "off"),
    _loc("push_stream_channel_info_on_publish", _HSL, ValueType.FLAG, "on"),
    _loc("push_stream_authorized_channels_only", _HSL, ValueType.FLAG, "off"),
    # The file and the inline header template fill one field; the module words the clash.
    DirectiveSpec(
        name="push_stream_header_template_file", module=_MODULE, contexts=_HSL,
        arity=Arity.TAKE1, slot="push_stream:loc.push_stream_header_template",
        duplicate_text=(
            "\"push_stream_header_template_file\" directive is duplicate or template set by "
            "'push_stream_header_template'"
        ),
        merge=Merge.INHERIT, honoured=True,
    ),
    _loc("push_stream_header_template", _HSL, ValueType.STRING, ""),
    _loc("push_stream_message_template", _HSL, ValueType.STRING, "~text~"),
    _loc("push_stream_footer_template", _HSL, ValueType.STRING, ""),
    _loc("push_stream_wildcard_channel_max_qtd", _HSL, ValueType.NUMBER, None),
    _loc("push_stream_ping_message_interval", _HSL, ValueType.MSEC, None),
    _loc("push_stream_subscriber_connection_ttl", _HSL, ValueType.MSEC, None),
    _loc("push_stream_longpolling_connection_ttl", _HSL, ValueType.MSEC, None),
    _loc("push_stream_websocket_allow_publish", _HSL, ValueType.FLAG, "off"),
    _loc("push_stream_last_received_message_time", _HSLI, None, None),
    _loc("push_stream_last_received_message_tag", _HSLI, None, None),
    _loc("push_stream_last_event_id", _HSLI, None, None),
    _loc("push_stream_user_agent", _HSL, None, None),
    _loc("push_stream_padding_by_user_agent", _HSL, ValueType.STRING, None),
    _loc("push_stream_allowed_origins", _HSL, None, None),
    _loc("push_stream_allow_connections_to_events_channel", _HSLI, ValueType.FLAG, "off"),
)
