"""Where upstreams are: `proxy_pass` URLs as nginx splits them, peer addresses, and names
resolved to addresses (once, at load, as nginx does without a `resolver`). Pure but for
`resolve_host`, which asks the system resolver.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# Host name → addresses (IP literals), the way `getaddrinfo` answers; raises OSError.
Resolve = Callable[[str], Sequence[str]]


def resolve_host(host: str) -> tuple[str, ...]:
    """Every address of a name, in resolver order, once each (an IP literal as itself)."""
    try:
        return (str(ipaddress.ip_address(host)),)
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """Where to connect: an IP address and port, or a unix socket path."""

    host: str = ""
    port: int = 0
    unix: str | None = None

    @property
    def name(self) -> str:
        """As nginx logs it: `127.0.0.1:8080`, `[::1]:8080`, `unix:/run/app.sock`."""
        if self.unix is not None:
            return f"unix:{self.unix}"
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyUrl:
    """`proxy_pass` as ngx_parse_url() splits it. `authority` is what `$proxy_host` says
    (`host:port` as written, `host` alone when no port was written, `localhost` for a unix
    socket); `uri` is None when the URL has no URI part (then the request URI passes as is)."""

    source: str
    scheme: str
    host: str
    port: int | None
    unix: str | None
    uri: str | None

    @property
    def authority(self) -> str:
        if self.unix is not None:
            return "localhost"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else (443 if self.scheme == "https" else 80)


def parse_proxy_url(text: str) -> ProxyUrl:
    """ValueError with nginx's wording for what it would reject."""
    lowered = text[:8].lower()
    if lowered.startswith("http://"):
        scheme, rest = "http", text[7:]
    elif lowered.startswith("https://"):
        scheme, rest = "https", text[8:]
    else:
        raise ValueError(f'invalid URL prefix in "{text}"')
    if rest[:5].lower() == "unix:":
        path, colon, tail = rest[5:].partition(":")
        if not path:
            raise ValueError(f'no path in the unix domain socket in "{text}"')
        return ProxyUrl(
            source=text, scheme=scheme, host="", port=None, unix=path, uri=tail if colon else None
        )
    cut = len(rest)
    for mark in "/?":
        found = rest.find(mark)
        if found >= 0:
            cut = min(cut, found)
    authority, uri = rest[:cut], rest[cut:] or None
    host, port = split_host_port(authority, text)
    return ProxyUrl(source=text, scheme=scheme, host=host, port=port, unix=None, uri=uri)


def split_host_port(authority: str, source: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]`, `[v6]:port`; ValueError as nginx words it."""
    host, port_text = authority, ""
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise ValueError(f'invalid host in "{source}"')
        host, tail = authority[1:close], authority[close + 1 :]
        if tail and not tail.startswith(":"):
            raise ValueError(f'invalid host in "{source}"')
        port_text = tail[1:]
    elif ":" in authority:
        host, _, port_text = authority.rpartition(":")
    if not host:
        raise ValueError(f'no host in "{source}"')
    if not port_text:
        if authority.endswith(":"):
            raise ValueError(f'invalid port in "{source}"')
        return host, None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f'invalid port in "{source}"')
    return host, int(port_text)


def endpoints(address: str, default_port: int, resolve: Resolve) -> tuple[Endpoint, ...]:
    """The endpoints of `host[:port]` or `unix:/path`; OSError when the name does not resolve."""
    if address[:5].lower() == "unix:":
        return (Endpoint(unix=address[5:]),)
    host, port = split_host_port(address, address)
    return tuple(Endpoint(host=ip, port=port or default_port) for ip in resolve(host))
