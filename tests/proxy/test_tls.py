"""`proxy_pass https://...`: TLS to the upstream as nginx speaks it (no check and no SNI by
default; `proxy_ssl_server_name`, `proxy_ssl_name`, `proxy_ssl_verify` with
`proxy_ssl_trusted_certificate`), its connections kept alive, nginx's 502 when the
handshake fails."""

from __future__ import annotations

import functools
import json
import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
import trustme
from helpers import request

from .conftest import ProxyFactory
from .support import conf


class TlsApp:
    """An HTTPS upstream answering `{"sni": ..., "target": ...}`, keeping connections."""

    def __init__(self) -> None:
        self.port = 0
        self.connections = 0
        self.names: list[str | None] = []

    async def serve(self, stream: trio.SSLStream[trio.SocketStream]) -> None:
        self.connections += 1
        buffer = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = await stream.receive_some(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                target = head.split(b" ")[1].decode()
                body = json.dumps({"sni": self.names[-1], "target": target}).encode()
                await stream.send_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
                )
        except trio.BrokenResourceError:
            return


@pytest.fixture
def authority() -> trustme.CA:
    return trustme.CA()


@asynccontextmanager
async def tls_app(
    authority: trustme.CA, *, client_certificate: bool = False
) -> AsyncIterator[TlsApp]:
    app = TlsApp()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("backend.test").configure_cert(context)
    if client_certificate:  # only a client with a certificate of the authority's
        context.verify_mode = ssl.CERT_REQUIRED
        authority.configure_trust(context)
    context.sni_callback = lambda sock, name, ctx: app.names.append(name)
    async with trio.open_nursery() as nursery:
        serve = functools.partial(trio.serve_ssl_over_tcp, host="127.0.0.1")
        listeners = await nursery.start(serve, app.serve, 0, context)
        app.port = listeners[0].transport_listener.socket.getsockname()[1]
        yield app
        nursery.cancel_scope.cancel()


def _site(port: int, extra: str = "", http: str = "") -> str:
    return conf(f"location / {{ proxy_pass https://127.0.0.1:{port}; {extra} }}", http=http)


async def test_https_upstream_without_check_or_sni_by_default(
    proxy: ProxyFactory, authority: trustme.CA
) -> None:
    async with tls_app(authority) as app, proxy(_site(app.port)) as server:
        response = await request(server.port(), "GET", "/a?b=1")
    assert response.status == 200
    assert json.loads(response.body) == {"sni": None, "target": "/a?b=1"}


async def test_the_name_sent_and_checked(
    proxy: ProxyFactory, authority: trustme.CA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    trusted = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(trusted))
    named = "proxy_ssl_server_name on; proxy_ssl_name backend.test;"
    checked = f"proxy_ssl_verify on; proxy_ssl_trusted_certificate {trusted};"
    async with tls_app(authority) as app:
        async with proxy(_site(app.port, named)) as server:
            sni = await request(server.port(), "GET", "/")
        async with proxy(_site(app.port, named + checked)) as server:
            verified = await request(server.port(), "GET", "/")
        wrong = checked + "proxy_ssl_name other.test;"
        async with proxy(_site(app.port, wrong)) as server:
            refused = await request(server.port(), "GET", "/")
    assert json.loads(sni.body)["sni"] == "backend.test"
    assert verified.status == 200
    assert refused.status == 502
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert lines[0].startswith("SSL_do_handshake() failed (SSL: CERTIFICATE_VERIFY_FAILED")
    assert "while SSL handshaking to upstream" in lines[0]


async def test_tls_connections_are_kept_alive(proxy: ProxyFactory, authority: trustme.CA) -> None:
    async with tls_app(authority) as app:
        upstream = f"upstream backend {{ server 127.0.0.1:{app.port}; keepalive 4; }}"
        site = conf(
            "location / { proxy_pass https://backend; proxy_http_version 1.1; "
            'proxy_set_header Connection ""; }',
            http=upstream,
        )
        async with proxy(site) as server:
            for n in range(3):
                response = await request(server.port(), "GET", f"/{n}")
                assert json.loads(response.body)["target"] == f"/{n}"
    assert app.connections == 1


async def test_a_client_certificate_is_presented(
    proxy: ProxyFactory, authority: trustme.CA, tmp_path: Path
) -> None:
    issued = authority.issue_cert("pushproxy.test")
    certificate, key = tmp_path / "client.pem", tmp_path / "client.key"
    issued.cert_chain_pems[0].write_to_path(str(certificate))
    issued.private_key_pem.write_to_path(str(key))
    # relative paths start at the configuration's folder (nginx's conf prefix)
    presented = "proxy_ssl_certificate client.pem; proxy_ssl_certificate_key client.key;"
    async with tls_app(authority, client_certificate=True) as app:
        async with proxy(_site(app.port, presented)) as server:
            with_certificate = await request(server.port(), "GET", "/")
        async with proxy(_site(app.port)) as server:
            without = await request(server.port(), "GET", "/")
    assert with_certificate.status == 200
    assert without.status == 502
