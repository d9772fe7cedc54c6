"""The configurations the bench starts its servers with, one per server, all on 127.0.0.1.

Both push servers expose the same URLs, so one workload drives either:

    POST /pub?id=CH      publish the body to CH
    GET  /sub/CH         streaming subscriber, one HTTP chunk per message
    GET  /ev/CH          EventSource subscriber
    GET  /ws/CH          WebSocket subscriber
    GET  /up/...         reverse proxy to the upstream (keep-alive pool)

Framing: the streaming workloads publish bodies that end in a newline and both servers put
exactly `<hex>\\r\\n<body>\\r\\n` on the wire per message: nchan's `chunked` subscriber writes
each message as one chunk, and pushproxy's streaming template is `~text~` (the body's own
newline plays the part of the `"~text~\\n"` of samples/pushproxy.conf).
"""

from __future__ import annotations

from pathlib import Path

NCHAN_MODULE = Path("/usr/lib/nginx/modules/ngx_nchan_module.so")
WORKER_CONNECTIONS = 19000  # 10,000 subscribers plus publishers, under RLIMIT_NOFILE 20000
UPSTREAM_FILE = "file.bin"
UPSTREAM_FILE_BYTES = 1024


def _nginx_main(prefix: Path, *, modules: str = "") -> str:
    """Top of an nginx.conf that keeps every path inside `prefix` (no root needed)."""
    return f"""{modules}worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
worker_rlimit_nofile 20000;
events {{ worker_connections {WORKER_CONNECTIONS}; }}
"""


def _nginx_temp_paths(prefix: Path) -> str:
    return "".join(
        f"    {name}_temp_path {prefix}/{name};\n"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )


def _proxy_upstream(upstream_port: int) -> str:
    return f"""    upstream backend {{
        server 127.0.0.1:{upstream_port};
        keepalive 64;
    }}
"""


_PROXY_LOCATION = """        location /up/ {
            proxy_pass http://backend/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
"""


def nchan(prefix: Path, port: int, upstream_port: int) -> str:
    """Debian's nginx with nchan: the reference the bench measures pushproxy against."""
    first = "nchan_subscriber_first_message newest;"
    return (
        _nginx_main(prefix, modules=f"load_module {NCHAN_MODULE};\n")
        + "http {\n    access_log off;\n"
        + _nginx_temp_paths(prefix)
        + "    nchan_max_reserved_memory 512m;\n"
        + _proxy_upstream(upstream_port)
        + f"""    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = /pub {{
            nchan_publisher;
            nchan_channel_id $arg_id;
            nchan_message_buffer_length 10;
            nchan_message_timeout 5m;
        }}
        location ~ ^/sub/(.+)$ {{ nchan_subscriber chunked; nchan_channel_id $1; {first} }}
        location ~ ^/ev/(.+)$ {{ nchan_subscriber eventsource; nchan_channel_id $1; {first} }}
        location ~ ^/ws/(.+)$ {{ nchan_subscriber websocket; nchan_channel_id $1; {first} }}
"""
        + _PROXY_LOCATION
        + "    }\n}\n"
    )


def pushproxy(prefix: Path, port: int, upstream_port: int) -> str:
    """The same service as push stream locations, for `pushproxy -c`."""
    return f"""worker_processes 1;
daemon off;
pid {prefix}/pushproxy.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections {WORKER_CONNECTIONS}; }}
http {{
    access_log off;
    push_stream_shared_memory_size 512m;
    push_stream_max_messages_stored_per_channel 10;
    push_stream_message_ttl 5m;
{_proxy_upstream(upstream_port)}    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = /pub {{
            push_stream_publisher;
            push_stream_channels_path $arg_id;
            push_stream_store_messages on;
        }}
        location ~ ^/sub/(.+)$ {{
            push_stream_subscriber;
            push_stream_channels_path $1;
            push_stream_message_template "~text~";
        }}
        location ~ ^/ev/(.+)$ {{
            push_stream_subscriber eventsource;
            push_stream_channels_path $1;
        }}
        location ~ ^/ws/(.+)$ {{
            push_stream_subscriber websocket;
            push_stream_channels_path $1;
        }}
{_PROXY_LOCATION}    }}
}}
"""


def upstream(prefix: Path, port: int) -> str:
    """A plain nginx serving the 1 KiB file both proxies forward to."""
    return (
        _nginx_main(prefix)
        + "http {\n    access_log off;\n"
        + _nginx_temp_paths(prefix)
        + f"""    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {prefix}/www;
    }}
}}
"""
    )
