"""nginx's shared memory zones as the configuration declares them (ngx_shared_memory_add()):
one name per zone, whichever module asks for it. A zone declared again gets nginx's words for
a clash (another module's name, another size), or none: then the module says itself what it
thinks of a second declaration (`is already bound to key`, `duplicate zone`)."""

from __future__ import annotations

PAGE = 4096  # zone sizes are rounded up to whole pages

# The zones declared so far: name -> (the declaring directive, size in bytes, in pages)
Zones = dict[str, tuple[str, int]]


def declare(zones: Zones, name: str, by: str, size: int, again: str) -> str | None:
    """Declare a zone `by` a directive: None the first time, else nginx's message: for a clash,
    or `again` when `by` declares it as it was (the module's own words)."""
    size = -(-size // PAGE) * PAGE
    first = zones.get(name)
    if first is None:
        zones[name] = (by, size)
        return None
    if first[0] != by:
        return f'the shared memory zone "{name}" is already declared for a different use'
    if first[1] != size:
        return (
            f'the size {size} of shared memory zone "{name}" conflicts with already declared '
            f"size {first[1]}"
        )
    return again
