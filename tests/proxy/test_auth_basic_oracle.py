"""`auth_basic`, `auth_basic_user_file` and `satisfy` against Debian's nginx: the same
configuration and password file served by nginx, then by pushproxy; the same credentials get
the same status, `WWW-Authenticate` and `$remote_user` from both. Hashes of every form nginx
reads: `{PLAIN}`, `{SHA}`, `{SSHA}`, Apache's `$apr1$` (made by `openssl passwd -apr1`), and
the C library's `$1$`, `$5$`, `$6$`."""

from __future__ import annotations

import base64
import hashlib
import logging
import warnings
from pathlib import Path

import pytest

from pushproxy.http.passwords import md5_crypt

from .conftest import AppFactory, ProxyFactory
from .nginx import at_app, needs_nginx, running_nginx
from .support import conf, connect_from, read_to_end

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # the C library's crypt(), which nginx calls for these forms too


def _ssha(password: bytes, salt: bytes) -> str:
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password + salt).digest() + salt).decode()


USERS = {  # user: (password, line in the file)
    "apr": ("pw1", "apr:$apr1$gOYag24M$Hi.FrU1YntktgKeijfGsO/"),  # openssl passwd -apr1 pw1
    "md5": ("pw2", f"md5:{crypt.crypt('pw2', '$1$saltsalt$')}"),
    "sha256": ("pw3", f"sha256:{crypt.crypt('pw3', '$5$rounds=5000$salt$')}:a comment"),
    "sha512": ("pw4", f"sha512:{crypt.crypt('pw4', '$6$saltsalt$')}"),
    "plain": ("pw5", "plain:{PLAIN}pw5"),
    "sha": ("pw6", "sha:{SHA}" + base64.b64encode(hashlib.sha1(b"pw6").digest()).decode()),
    "ssha": ("pw7", "ssha:" + _ssha(b"pw7", b"salt")),
    "crlf": ("pw8", "crlf:{PLAIN}pw8\r"),
}
FILE = "# users\n#hidden:{PLAIN}x\n" + "\n".join(line for _, line in USERS.values())
ZONE = 'auth_basic "Zone $host"; auth_basic_user_file FILE; add_header X-U "[$remote_user]" always;'
PASS = "proxy_pass http://APP;"
SERVER = f"""
location /a {{ {ZONE} {PASS} }}
location /missing {{ auth_basic "Zone"; auth_basic_user_file FILE.none; {PASS} }}
location /all {{ deny 127.0.0.2; {ZONE} {PASS} }}
location /any {{ satisfy any; deny 127.0.0.2; allow all; {ZONE} {PASS} }}
location /any-deny {{ satisfy any; deny all; {ZONE} {PASS} }}
location /off {{ {ZONE} location /off/in {{ auth_basic off; {PASS} }} }}
location /open {{ add_header X-U "[$remote_user]" always; {PASS} }}
location /paged {{ {ZONE} error_page 401 /login; {PASS} }}
location /login {{ return 200 "please log in"; }}
"""


def _basic(text: bytes) -> str:
    return "Basic " + base64.b64encode(text).decode()


AUTHORIZATIONS = [
    *(_basic(f"{user}:{password}".encode()) for user, (password, _) in USERS.items()),
    _basic(b"apr:wrong"),
    _basic(b"nobody:pw1"),
    _basic(b"hidden:x"),
    _basic(b"#hidden:x"),
    _basic(b":pw5"),
    _basic(b"plain"),
    "basic   " + base64.b64encode(b"plain:pw5").decode(),
    _basic(b"plain:pw5") + "=junk",
    "Basic c!ain",
    "Digest plain",
    None,
]
TARGETS = ["/a", "/missing", "/all", "/any", "/any-deny", "/off/in", "/open", "/paged"]


async def _observe(port: int, source: str, target: str, authorization: str | None) -> str:
    stream = await connect_from(source, port)
    extra = f"Authorization: {authorization}\r\n" if authorization is not None else ""
    await stream.send_all(f"GET {target} HTTP/1.0\r\nHost: h\r\n{extra}\r\n".encode())
    head = (await read_to_end(stream)).partition(b"\r\n\r\n")[0].decode("latin-1")
    lines = head.split("\r\n")
    kept = [line for line in lines[1:] if line.startswith(("WWW-Authenticate", "X-U"))]
    return " | ".join([lines[0].split(" ")[1], *kept])


async def _all(port: int) -> dict[str, str]:
    seen = {}
    for target in TARGETS:
        sources = ("127.0.0.1", "127.0.0.2") if target.startswith("/a") else ("127.0.0.1",)
        for source in sources:
            for authorization in AUTHORIZATIONS:
                key = f"{target} from {source} with {authorization}"
                seen[key] = await _observe(port, source, target, authorization)
    return seen


@needs_nginx
async def test_basic_auth_as_nginx_does(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path
) -> None:
    users = tmp_path / "htpasswd"
    users.write_text(FILE)
    upstream = await app("app")
    body = at_app(SERVER, upstream).replace("FILE", str(users))
    async with running_nginx(tmp_path, body) as port:
        expected = await _all(port)
    granted = [key for key, seen in expected.items() if seen.startswith("200")]
    assert len(granted) > len(USERS)  # every form of hash is checked for real
    assert all(f"/a from 127.0.0.1 with {_basic(f'{u}:{p}'.encode())}" in granted
               for u, (p, _) in USERS.items())  # fmt: skip
    async with proxy(conf(body)) as server:
        got = await _all(server.port())
    assert got == expected


async def test_errors_are_logged_as_nginx_logs_them(
    proxy: ProxyFactory, app: AppFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "htpasswd").write_text(FILE)
    upstream = await app("app")
    # a relative user file starts at the configuration's folder, as in nginx
    body = at_app(SERVER, upstream).replace("FILE", "htpasswd")
    with caplog.at_level(logging.ERROR, logger="pushproxy"):
        async with proxy(conf(body)) as server:
            port = server.port()
            assert (await _observe(port, "127.0.0.1", "/a", _basic(b"apr:pw1"))).startswith("200")
            for authorization in (_basic(b"apr:bad"), _basic(b"who:x")):
                assert (await _observe(port, "127.0.0.1", "/a", authorization)).startswith("401")
            assert (await _observe(port, "127.0.0.1", "/missing", _basic(b"a:b"))) == "403"
    assert 'user "apr": password mismatch, client: 127.0.0.1, server: ' in caplog.text
    assert f'user "who" was not found in "{tmp_path / "htpasswd"}", client: ' in caplog.text
    assert f'open() "{tmp_path / "htpasswd.none"}" failed (2: No such file or directory)' in (
        caplog.text
    )


@pytest.mark.parametrize("password", [b"pw1", b"", b"a" * 40, "pé".encode(), b"x" * 17])
def test_apache_md5_as_the_c_library_does_it(password: bytes) -> None:
    """`$apr1$` and `$1$` differ only in their magic, so the C library's `$1$` checks ours."""
    stored = crypt.crypt(password.decode(), "$1$abcdefgh$").encode()
    assert md5_crypt(password, stored, b"$1$") == stored
