"""nginx's auth_basic module: `auth_basic REALM` with `auth_basic_user_file FILE`.

A request whose location has both (and a realm other than `off`) must bring an
`Authorization: Basic` header with a user and password the file holds; as in
ngx_http_auth_basic_handler():
- no usable credentials: 401 with `WWW-Authenticate: Basic realm="REALM"`;
- a user the file does not hold, or a password that does not match: 401, and the error log
  says `user "x" was not found in "FILE"` or `user "x": password mismatch`;
- a file that does not exist: 403 (`open() "FILE" failed (2: No such file or directory)`);
  one that cannot be read, or a hash crypt() cannot work with: 500.
The file is read at every request (a change counts at once), as nginx reads it. Its lines are
`user:hash[:comment]`; lines starting with `#` are comments (see `passwords` for the hashes).
`$remote_user` is the user the header names (`basic_credentials`), checked or not.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from pushproxy.config.complex import ComplexValue, ComplexValueError, Lookup, compile_value
from pushproxy.config.model import Level
from pushproxy.http.passwords import CryptFailed, password_matches

log = logging.getLogger("pushproxy")
Headers = Sequence[tuple[bytes, bytes]]
_BASE64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def basic_credentials(headers: Headers) -> tuple[bytes, bytes] | None:
    """The user and password of the request's `Authorization: Basic` header, decoded as
    ngx_http_auth_basic_user() decodes it; None without a usable one."""
    value = next((v for name, v in headers if name == b"authorization"), None)
    if value is None or len(value) < 6 or value[:6].lower() != b"basic ":
        return None
    encoded = value[6:].lstrip(b" ").split(b"=", 1)[0]  # nginx stops at the padding
    if not encoded or len(encoded) % 4 == 1 or any(byte not in _BASE64 for byte in encoded):
        return None
    try:
        decoded = base64.b64decode(encoded + b"=" * (-len(encoded) % 4))
    except binascii.Error:
        return None
    user, colon, password = decoded.partition(b":")
    if not user or not colon:
        return None
    return user, password


class Verdict(NamedTuple):
    """0: the credentials are good; else the status (401 comes with `realm`, or with the
    `WWW-Authenticate` headers an `auth_request` subrequest answered with)."""

    status: int
    realm: str = ""
    challenges: tuple[tuple[bytes, bytes], ...] | None = None


@dataclass(frozen=True, slots=True)
class BasicAuth:
    """A location's `auth_basic` and `auth_basic_user_file`; `folder`: where a relative file
    name starts (the configuration's folder, nginx's conf prefix)."""

    realm: ComplexValue
    user_file: ComplexValue
    folder: str

    @classmethod
    def of(cls, level: Level, folder: str) -> BasicAuth | None:
        realm, user_file = level.last("auth_basic"), level.last("auth_basic_user_file")
        if realm is None or user_file is None or not realm.args or not user_file.args:
            return None
        if realm.args[0] == "off":
            return None
        try:
            return cls(compile_value(realm.args[0]), compile_value(user_file.args[0]), folder)
        except ComplexValueError:
            return None

    def check(self, headers: Headers, lookup: Lookup, context: str) -> Verdict | None:
        """The verdict on the request's credentials (None: the realm is `off`, nothing to
        check). `context`: what nginx's error lines about the request end with."""
        realm = self.realm.evaluate(lookup)
        if realm == "off":
            return None
        credentials = basic_credentials(headers)
        if credentials is None:
            log.info("no user/password was provided for basic authentication, %s", context)
            return Verdict(401, realm)
        user, password = credentials
        path = os.path.join(self.folder, self.user_file.evaluate(lookup))
        try:
            with open(path, "rb") as file:
                text = file.read()
        except OSError as error:
            detail = f'open() "{path}" failed ({error.errno}: {error.strerror}), {context}'
            if isinstance(error, FileNotFoundError):
                log.error("%s", detail)
                return Verdict(403)
            log.critical("%s", detail)
            return Verdict(500)
        name = user.decode("latin-1")
        stored = _stored_hash(text, user)
        if stored is None:
            log.error('user "%s" was not found in "%s", %s', name, path, context)
            return Verdict(401, realm)
        try:
            if password_matches(password, stored):
                return Verdict(0)
        except CryptFailed:
            log.critical("crypt() failed, %s", context)
            return Verdict(500)
        log.error('user "%s": password mismatch, %s', name, context)
        return Verdict(401, realm)


def _stored_hash(text: bytes, user: bytes) -> bytes | None:
    """The hash of the first line for `user` (`user:hash[:comment]`); lines that start with
    `#` or a CR are skipped, and the hash ends at a `:`, a CR or the line's end."""
    for line in text.split(b"\n"):
        if line.startswith((b"#", b"\r")):
            continue
        if line.startswith(user + b":"):
            rest = line[len(user) + 1 :]
            return rest.split(b":", 1)[0].split(b"\r", 1)[0]
    return None
