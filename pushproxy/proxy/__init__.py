"""The reverse proxy: every location that is not a push location, passed to an upstream as
nginx's proxy module passes it (`proxy_pass`, `upstream` blocks, `proxy_*` directives).

address.py   `proxy_pass` URLs, peer addresses, names resolved at load
upstream.py  peers, smooth weighted round-robin, passive health, backup peers (pure)
pool.py      idle keep-alive connections per upstream (pure bookkeeping)
connect.py   opening upstream connections, the pools' I/O side, the failures of a try
request.py   the request line and headers nginx sends upstream (pure)
response.py  the response head nginx sends back: hidden headers, `proxy_redirect` (pure)
settings.py  a location's `proxy_*` directives, read once at load (pure)
body.py      the client's request body as the upstream gets it (buffered, spooled, streamed)
job.py       a request ready to go upstream, and nginx's request context for error lines
attempt.py   one try on one connection: send, read the head, stream the body back
forward.py   one request: pick a peer, try it, move to the next peer when nginx would
tunnel.py    `Upgrade` (WebSocket) connections spliced after the upstream's 101
handler.py   `ProxyRuntime` and `handle_proxy`, what the HTTP server calls
"""
