"""A cookie's value in a request's `Cookie` headers, found as nginx finds `$cookie_NAME`."""

from __future__ import annotations


def cookie_value(values: list[bytes], name: bytes) -> bytes | None:
    """ngx_http_parse_multi_header_lines(): the first `name=value` pair (name without regard to
    case); a value runs to the next `;`, while a pair that does not match ends at `;` or `,`."""
    size = len(name)
    for value in values:
        start, end = 0, len(value)
        while start < end:
            if value[start : start + size].lower() == name:
                start += size
                while start < end and value[start] == 0x20:
                    start += 1
                if start < end:
                    start += 1
                    if value[start - 1] == 0x3D:  # `=`
                        while start < end and value[start] == 0x20:
                            start += 1
                        last = value.find(b";", start)
                        return value[start:] if last < 0 else value[start:last]
            while start < end:
                start += 1
                if value[start - 1] in (0x3B, 0x2C):  # `;` `,`
                    break
            while start < end and value[start] == 0x20:
                start += 1
    return None
