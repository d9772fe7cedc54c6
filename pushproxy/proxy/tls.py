"""TLS to upstreams (`proxy_pass https://...`), as nginx's proxy module sets it up: no
certificate check and no SNI unless asked (`proxy_ssl_verify on` with
`proxy_ssl_trusted_certificate`; `proxy_ssl_server_name on`), the name both use being
`proxy_ssl_name` (by default the host of `proxy_pass`); a client certificate with
`proxy_ssl_certificate` and `proxy_ssl_certificate_key`. The handshake is bounded by
`proxy_connect_timeout`, as nginx bounds it, and its failure is nginx's
`SSL_do_handshake() failed (...) while SSL handshaking to upstream` (a 502).
"""

from __future__ import annotations

import functools
import ssl
from dataclasses import dataclass

import trio


@dataclass(frozen=True, slots=True)
class TlsTarget:
    """How to speak TLS to one request's upstream: the context and the name sent (SNI)."""

    context: ssl.SSLContext
    server_name: str | None


@functools.lru_cache(maxsize=64)
def client_context(
    verify: bool,
    trusted: str | None,
    certificate: str | None = None,
    key: str | None = None,
) -> ssl.SSLContext:
    """A client context: no check (nginx's default), or the chain against `trusted` (a PEM
    file) and the name; with `certificate` (and its `key`), the certificate it presents
    (`proxy_ssl_certificate`, `proxy_ssl_certificate_key`)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if certificate:
        context.load_cert_chain(certificate, key or None)
    if verify:
        context.verify_mode = ssl.CERT_REQUIRED
        context.check_hostname = True
        if trusted:
            context.load_verify_locations(trusted)
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class HandshakeFailed(Exception):
    """The TLS handshake failed; the text is what nginx puts in parentheses."""


async def handshake(
    stream: trio.SocketStream, target: TlsTarget
) -> trio.SSLStream[trio.SocketStream]:
    """The connection made secure (the caller bounds the time); HandshakeFailed."""
    secured = trio.SSLStream(stream, target.context, server_hostname=target.server_name)
    try:
        await secured.do_handshake()
    except (trio.BrokenResourceError, ssl.SSLError, OSError) as error:
        cause = error.__cause__ if isinstance(error, trio.BrokenResourceError) else error
        if isinstance(cause, ssl.SSLError):
            raise HandshakeFailed(f"(SSL: {cause.reason or cause})") from None
        raise HandshakeFailed(f"({type(cause).__name__})") from None
    return secured
