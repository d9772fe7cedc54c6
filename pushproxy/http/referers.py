"""nginx's referer module: `valid_referers` (server, location) and `$invalid_referer`, which is
empty for a request whose `Referer` is valid there and `1` otherwise, as
ngx_http_referer_variable() says:

- `none`: no `Referer` header; `blocked`: one that does not start with `http://` or
  `https://` (a firewall or proxy took it apart);
- a host name, exact, `*.example.com` / `.example.com` (subdomains; the latter the name
  too) or `www.example.*`, letter case aside, optionally followed by a URI prefix the
  referer's path must start with (`example.com/galleries/`);
- `server_names`: the server's own names (its regex names as regexes);
- `~regex`: searched, letter case aside, in the referer after its scheme.
A location without `valid_referers` (or with none inherited) takes every referer as valid.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from pushproxy.config import pcre
from pushproxy.config.model import Level

if TYPE_CHECKING:
    from pushproxy.http.variables import RequestVars

Uri = str | None  # the URI prefix a host entry asks for (None: any)
_NOTHING: Mapping[str, Uri] = MappingProxyType({})
_SCHEMES = (b"http://", b"https://")


@dataclass(frozen=True, slots=True)
class ValidReferers:
    """A location's `valid_referers`, indexed as nginx's combined hash holds them."""

    none: bool = False
    blocked: bool = False
    exact: Mapping[str, Uri] = field(default_factory=lambda: _NOTHING)
    heads: Mapping[str, Uri] = field(default_factory=lambda: _NOTHING)  # `*.x.com` by "x.com"
    tails: Mapping[str, Uri] = field(default_factory=lambda: _NOTHING)  # `www.x.*` by "www.x"
    regexes: tuple[re.Pattern[str], ...] = ()  # searched in the referer after its scheme
    name_regexes: tuple[re.Pattern[str], ...] = ()  # the server's regex names: in the host

    @classmethod
    def of(cls, level: Level) -> ValidReferers | None:
        """None without `valid_referers` in effect."""
        directives = level.all("valid_referers")
        if not directives:
            return None
        names = [name for d in level.all("server_name") for name in d.args] or [""]
        none = blocked = False
        exact: dict[str, Uri] = {}
        heads: dict[str, Uri] = {}
        tails: dict[str, Uri] = {}
        regexes: list[re.Pattern[str]] = []
        name_regexes: list[re.Pattern[str]] = []
        entries = [arg for d in directives for arg in d.args]
        for entry in entries:
            if entry in ("none", "blocked"):
                none, blocked = none or entry == "none", blocked or entry == "blocked"
                continue
            server_names = entry == "server_names"
            for name in names if server_names else [entry]:
                if name.startswith("~"):
                    found = name_regexes if server_names else regexes
                    found.append(re.compile(pcre.translate(name[1:])[0], pcre.regex_flags(True)))
                    continue
                host, slash, path = name.partition("/")
                _add(host.lower(), "/" + path if slash else None, exact, heads, tails)
        return cls(
            none=none,
            blocked=blocked,
            exact=MappingProxyType(exact),
            heads=MappingProxyType(heads),
            tails=MappingProxyType(tails),
            regexes=tuple(regexes),
            name_regexes=tuple(name_regexes),
        )

    def invalid(self, referer: bytes | None) -> bool:
        """Whether `$invalid_referer` is `1` for this `Referer` (None: no header)."""
        if not (self.exact or self.heads or self.tails or self.regexes or self.name_regexes):
            return False
        if referer is None:
            return not self.none
        scheme = next((s for s in _SCHEMES if referer[: len(s)].lower() == s), None)
        if scheme is None or len(referer) < len("http://i.ru"):  # nginx's shortest
            return not self.blocked
        rest = referer[len(scheme) :].decode("latin-1")
        end = next((i for i, char in enumerate(rest) if char in "/:"), len(rest))
        host = rest[:end].lower()
        if len(host) >= 256:
            return True
        found, uri = self._find(host)
        if found:
            path = rest[end:]
            path = path[path.find("/") :] if "/" in path else ""
            return uri is not None and not path.startswith(uri)
        if any(regex.search(host) for regex in self.name_regexes):
            return False
        return not any(regex.search(rest) for regex in self.regexes)

    def _find(self, host: str) -> tuple[bool, Uri]:
        """ngx_hash_find_combined(): the exact name, else the longest head wildcard, else
        the longest tail wildcard."""
        if host in self.exact:
            return True, self.exact[host]
        dot = host.find(".")
        while dot >= 0:
            suffix = host[dot + 1 :]
            if suffix in self.heads:
                return True, self.heads[suffix]
            dot = host.find(".", dot + 1)
        dot = host.rfind(".")
        while dot > 0:
            if host[:dot] in self.tails:
                return True, self.tails[host[:dot]]
            dot = host.rfind(".", 0, dot)
        return False, None


def _add(
    host: str, uri: Uri, exact: dict[str, Uri], heads: dict[str, Uri], tails: dict[str, Uri]
) -> None:
    """One host entry, as ngx_hash_add_key() files a wildcard key."""
    if host.startswith("*."):
        heads.setdefault(host[2:], uri)
    elif host.startswith("."):
        heads.setdefault(host[1:], uri)
        exact.setdefault(host[1:], uri)
    elif host.endswith(".*"):
        tails.setdefault(host[:-2], uri)
    else:
        exact.setdefault(host, uri)


def _invalid_referer(variables: RequestVars) -> str | None:
    setup = variables.setup
    referers = setup.referers if setup is not None else None
    if referers is None:
        return ""
    referer = variables.lookup("http_referer")
    raw = None if referer is None else referer.encode("utf-8", "surrogateescape")
    return "1" if referers.invalid(raw) else ""


REFERER_GETTERS: dict[str, Callable[[RequestVars], str | None]] = {
    "invalid_referer": _invalid_referer,
}
