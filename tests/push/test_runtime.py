"""The push runtime built from a configuration: which locations serve, with what settings."""

from __future__ import annotations

from pathlib import Path

from pushproxy.config.includes import inline, load
from pushproxy.config.model import Config, build
from pushproxy.push.runtime import PushRuntime
from pushproxy.push.settings import LocationType

CONF = """
events {}
http {
    push_stream_shared_memory_size 32m;
    server {
        listen 127.0.0.1:0;
        location ~ /ev/(.*) {
            push_stream_subscriber eventsource;
            push_stream_channels_path $1;
            push_stream_header_template "header";
            if ($arg_qs = "on") {
                push_stream_last_event_id "$arg_eventid";
                if ($arg_deep = "on") {
                    push_stream_footer_template "footer";
                }
            }
        }
        location /text { return 200 "x"; }
    }
}
"""


def load_config(tmp_path: Path) -> Config:
    path = tmp_path / "nginx.conf"
    path.write_text(CONF)
    return build(inline(load(str(path)))[0])


async def test_if_blocks_serve_as_their_location(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    runtime = PushRuntime(config)
    assert config.http is not None
    events, text = config.http.servers[0].locations
    (block,) = events.conditions
    (deep,) = block.conditions
    assert runtime.location(text) is None
    outer, inner, innermost = (runtime.location(place) for place in (events, block, deep))
    assert outer is not None
    assert inner is not None
    assert innermost is not None
    assert {outer.settings.type, inner.settings.type, innermost.settings.type} == {
        LocationType.EVENTSOURCE
    }
    assert outer.complex("last_event_id") is None
    assert inner.complex("last_event_id") is not None
    # the eventsource rewrites are made once, whatever the nesting
    assert outer.templates.header == inner.templates.header == b": header\n"
    assert (inner.templates.footer, innermost.templates.footer) == (b"", b": footer\n")
