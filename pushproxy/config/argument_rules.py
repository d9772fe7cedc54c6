"""What nginx's handlers say of the arguments of `add_header`, `error_page`, `expires`,
`try_files` and `server_name` as they read them (ngx_http_headers_add(),
ngx_http_core_error_page(), ngx_http_headers_expires(), ngx_http_core_try_files(),
ngx_http_core_server_name()), with nginx's words. Pure: each takes the directive and returns
(code, message) findings; the first one stops nginx.
"""

from __future__ import annotations

from collections.abc import Callable

from pushproxy.config import units
from pushproxy.config.tree import Directive

Findings = list[tuple[str, str]]


def _add_header(d: Directive) -> Findings:
    """A third argument can only be `always`."""
    if len(d.args) == 3 and d.args[2] != "always":
        return [("E106", f'invalid parameter "{d.args[2]}"')]
    return []


def _error_page(d: Directive) -> Findings:
    """Codes from 300 to 599, then `=` or `=CODE` (a number), then the page."""
    codes = d.args[:-1]
    if codes and codes[-1].startswith("="):
        answer, codes = codes[-1], codes[:-1]
        if len(answer) > 1 and not (answer[1:].isascii() and answer[1:].isdigit()):
            return [("E106", f'invalid value "{answer}"')]
    for code in codes:
        if not (code.isascii() and code.isdigit()):
            return [("E106", f'invalid value "{code}"')]
        if not 300 <= int(code) <= 599:
            return [("E106", f'value "{code}" must be between 300 and 599')]
    return []


def _time(text: str) -> bool:
    try:
        units.parse_sec(text)
    except (ValueError, units.InvalidValue):
        return False
    return True


def _expires(d: Directive) -> Findings:
    """`off`, `epoch`, `max`, a time (`-` before it: in the past; `+` allowed), `@` and a
    time of day, or `modified` and a time; with variables, whatever they hold at run time."""
    args = list(d.args)
    if args[0] == "modified" and len(args) == 2:
        args = args[1:]
    value = args[0]
    if len(args) != 1 or "$" in value or value in ("off", "epoch", "max"):
        return []
    text = value[1:] if value[:1] in ("@", "-", "+") else value
    if text and _time(text):
        return []
    return [("E106", '"expires" directive invalid value')]


def _try_files(d: Directive) -> Findings:
    """A last argument `=CODE` must be a number (up to 999)."""
    last = d.args[-1]
    if last.startswith("=") and not (
        last[1:].isascii() and last[1:].isdigit() and int(last[1:]) <= 999
    ):
        return [("E106", f'invalid code "{last}"')]
    return []


def server_name_findings(name: str) -> Findings:
    """One name of `server_name`: one starting with `*` must go on with `.`
    (`*.example.com`) and `.` alone is no name; a `/` is only warned of (a URL given as a
    name, `server_name http://example.com;`, the usual mistake)."""
    if (name.startswith("*") and (len(name) < 3 or name[1] != ".")) or name == ".":
        return [("E106", f'server name "{name}" is invalid')]
    if "/" in name:
        return [("N403", f'server name "{name}" has suspicious symbols')]
    return []


# The type each `*_types` list starts with (the first of the module's default types).
_DEFAULT_TYPES = {"xslt_types": "text/xml"}  # the others': text/html


def _types(d: Directive) -> Findings:
    """ngx_http_types_slot(): a type already in the list (its default one included) is only
    warned of; `*` takes every type and ends the list."""
    seen = {_DEFAULT_TYPES.get(d.name, "text/html")}
    found: Findings = []
    for value in d.args:
        if value == "*":
            break
        lower = value.lower()
        if lower in seen:
            found.append(("N403", f'duplicate MIME type "{lower}"'))
        seen.add(lower)
    return found


ARGUMENT_CHECKS: dict[tuple[str, str], Callable[[Directive], Findings]] = {
    ("ngx_http_gzip_filter_module", "gzip_types"): _types,
    ("ngx_http_sub_filter_module", "sub_filter_types"): _types,
    ("ngx_http_ssi_filter_module", "ssi_types"): _types,
    ("ngx_http_addition_filter_module", "addition_types"): _types,
    ("ngx_http_xslt_filter_module", "xslt_types"): _types,
    ("ngx_http_charset_filter_module", "charset_types"): _types,
    ("ngx_http_headers_filter_module", "add_header"): _add_header,
    ("ngx_http_headers_filter_module", "add_trailer"): _add_header,
    ("ngx_http_headers_filter_module", "expires"): _expires,
    ("ngx_http_core_module", "error_page"): _error_page,
    ("ngx_http_try_files_module", "try_files"): _try_files,
}
