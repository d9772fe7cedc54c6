"""The push stream module: channels, messages, templates and statistics.

The modules here are sans-I/O: plain synchronous code with time passed in, so the HTTP layer
(publisher, subscriber, websocket, statistics handlers) owns every socket and timer.
"""
