"""The shape of one directive-table row: where a directive may stand, what it takes, what it opens.

The flags mirror nginx's `ngx_command_t.type` bits so rows can be checked against nginx's own
tables: `Ctx` holds the `NGX_*_CONF` context bits (one member per block kind nginx tells
apart), `Arity` the `NGX_CONF_TAKE*`/`NOARGS`/`FLAG`/`ANY`/`1MORE`/`2MORE` bits.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Ctx(enum.Flag):
    """The kind of block a directive stands in (nginx's `cf->cmd_type`)."""

    MAIN = enum.auto()
    EVENTS = enum.auto()
    HTTP = enum.auto()
    SERVER = enum.auto()
    LOCATION = enum.auto()
    UPSTREAM = enum.auto()
    SIF = enum.auto()  # `if` inside a server
    LIF = enum.auto()  # `if` inside a location
    LMT = enum.auto()  # `limit_except`
    MAIL = enum.auto()
    MAIL_SERVER = enum.auto()
    STREAM = enum.auto()
    STREAM_SERVER = enum.auto()
    STREAM_UPSTREAM = enum.auto()
    ANY = (
        MAIN | EVENTS | HTTP | SERVER | LOCATION | UPSTREAM | SIF | LIF | LMT
        | MAIL | MAIL_SERVER | STREAM | STREAM_SERVER | STREAM_UPSTREAM
    )


class Arity(enum.Flag):
    """How many arguments a directive takes, encoded as nginx encodes it."""

    NOARGS = enum.auto()
    TAKE1 = enum.auto()
    TAKE2 = enum.auto()
    TAKE3 = enum.auto()
    TAKE4 = enum.auto()
    TAKE5 = enum.auto()
    TAKE6 = enum.auto()
    TAKE7 = enum.auto()
    FLAG = enum.auto()  # exactly one argument, `on` or `off`
    ANY = enum.auto()  # any number, none included
    MORE1 = enum.auto()  # NGX_CONF_1MORE
    MORE2 = enum.auto()  # NGX_CONF_2MORE
    TAKE12 = TAKE1 | TAKE2
    TAKE13 = TAKE1 | TAKE3
    TAKE23 = TAKE2 | TAKE3
    TAKE123 = TAKE1 | TAKE2 | TAKE3
    TAKE1234 = TAKE1 | TAKE2 | TAKE3 | TAKE4


# NGX_CONF_TAKE<n> by argument count, as nginx's `argument_number[]`.
TAKE_BY_COUNT: tuple[Arity, ...] = (
    Arity.NOARGS, Arity.TAKE1, Arity.TAKE2, Arity.TAKE3,
    Arity.TAKE4, Arity.TAKE5, Arity.TAKE6, Arity.TAKE7,
)


def arity_accepts(arity: Arity, count: int) -> bool:
    """Whether `count` arguments fit `arity`, checked in the order of nginx's ngx_conf_handler()."""
    if Arity.ANY in arity:
        return True
    if Arity.FLAG in arity:
        return count == 1
    if Arity.MORE1 in arity:
        return count >= 1
    if Arity.MORE2 in arity:
        return count >= 2
    return count < len(TAKE_BY_COUNT) and TAKE_BY_COUNT[count] in arity


class ValueType(enum.Enum):
    """The value check nginx's handler makes on a directive's arguments."""

    FLAG = "flag"  # ngx_conf_set_flag_slot: on|off, any case
    SIZE = "size"  # ngx_conf_set_size_slot: 512, 8k, 1m
    COMPLEX_SIZE = "complex_size"  # ngx_http_set_complex_value_size_slot: a size or variables
    OFFSET = "offset"  # ngx_conf_set_off_slot: 512, 8k, 1m, 2g
    MSEC = "msec"  # ngx_conf_set_msec_slot: 500ms, 30s, 1h 30m
    SEC = "sec"  # ngx_conf_set_sec_slot: 30s, 1d (no ms)
    NUMBER = "number"  # ngx_conf_set_num_slot
    ENUM = "enum"  # ngx_conf_set_enum_slot: one of `values`, any case
    BITMASK = "bitmask"  # ngx_conf_set_bitmask_slot: each argument one of `values`
    BUFS = "bufs"  # ngx_conf_set_bufs_slot: `number size`, both non-zero
    STRING = "string"  # ngx_conf_set_str_slot: any text, set once
    WORKER_PROCESSES = "worker_processes"  # `auto` or a number
    CONNECTIONS = "connections"  # worker_connections: a number
    KEEPALIVE_TIMEOUT = "keepalive_timeout"  # msec, then an optional header sec
    CACHED_CONNECTIONS = "cached_connections"  # upstream `keepalive`: a number above 0
    RETURN = "return"  # `return code [text]` or `return URL`


class Merge(enum.Enum):
    """How a level that does not set the directive gets its value."""

    NONE = "none"  # one level only (main, http, upstream, or a block itself)
    INHERIT = "inherit"  # unset here: take the enclosing level's value, else the default
    INHERIT_LIST = "inherit_list"  # all entries of the innermost level that has any


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectiveSpec:
    """One row of the directive table; a name may have several rows (http, mail, stream...).

    `block` is the context of the directives inside the block it opens; `free_form` marks a
    block whose lines are entries (map, types, geo...), not directives. `slot` names the field
    the directive sets: a second directive with the same slot at one level is a duplicate.
    `duplicate_text` replaces `"x" directive is duplicate` when a directive of another name
    set the slot first. `warning` is the text nginx logs at `warn` whenever the directive is used.
    """

    name: str
    module: str
    contexts: Ctx
    arity: Arity
    block: Ctx | None = None
    free_form: bool = False
    value: ValueType | None = None
    values: tuple[str, ...] = ()
    bounds: tuple[int, int] | None = None  # (low, high); high -1: no upper bound
    slot: str | None = None
    duplicate_text: str | None = None  # nginx's text when another directive set the slot
    overwrites: bool = False  # sets its slot without looking (never a duplicate itself)
    warning: str | None = None
    default: str | None = None
    merge: Merge = Merge.INHERIT
    honoured: bool = False

    @property
    def opens_block(self) -> bool:
        return self.block is not None or self.free_form
