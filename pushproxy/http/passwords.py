"""Password hashes of htpasswd files, checked as nginx's ngx_crypt() checks them (pure).

`{PLAIN}`, `{SHA}`, `{SSHA}` and Apache's `$apr1$` are worked out here, as nginx does itself;
every other form (`$1$`, `$5$`, `$6$`, `$2y$`, DES) goes to the C library's crypt(), as in
nginx, through Python's `crypt` module where the interpreter still has it (3.11, 3.12). A
verified pair is remembered: Apache's MD5 takes a thousand rounds, and clients send the same
credentials with every request.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import warnings
from collections.abc import Callable

_ITOA64 = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class CryptFailed(Exception):
    """crypt() could not hash with the stored value (nginx: "crypt() failed", a 500)."""


def _to64(value: int, count: int) -> bytes:
    out = bytearray()
    for _ in range(count):
        out.append(_ITOA64[value & 0x3F])
        value >>= 6
    return bytes(out)


def md5_crypt(password: bytes, stored: bytes, magic: bytes = b"$apr1$") -> bytes:
    """The MD5-based crypt (`$apr1$` Apache's, `$1$` the C library's) of `password` with the
    salt of `stored` (up to 8 characters after the magic, before a `$`)."""
    salt = stored[len(magic) :].split(b"$", 1)[0][:8]
    final = hashlib.md5(password + salt + password).digest()
    context = hashlib.md5(password + magic + salt)
    for left in range(len(password), 0, -16):
        context.update(final[: min(16, left)])
    length = len(password)
    while length:
        context.update(b"\0" if length & 1 else password[:1])
        length >>= 1
    final = context.digest()
    for round_ in range(1000):
        step = hashlib.md5(password if round_ & 1 else final)
        if round_ % 3:
            step.update(salt)
        if round_ % 7:
            step.update(password)
        step.update(final if round_ & 1 else password)
        final = step.digest()
    groups = ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5))
    encoded = b"".join(
        _to64((final[a] << 16) | (final[b] << 8) | final[c], 4) for a, b, c in groups
    )
    return magic + salt + b"$" + encoded + _to64(final[11], 2)


def _ssha(password: bytes, stored: bytes) -> bytes:
    try:
        salt = base64.b64decode(stored[6:])[20:]
    except ValueError:
        salt = b""
    digest = hashlib.sha1(password + salt).digest()
    return b"{SSHA}" + base64.b64encode(digest + salt)


def _libc_crypt(password: bytes, stored: bytes) -> bytes:
    """The C library's crypt(); CryptFailed where it fails or Python has no `crypt`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt
        except ImportError:
            raise CryptFailed from None
    try:
        hashed = crypt.crypt(
            password.decode("utf-8", "surrogateescape"), stored.decode("utf-8", "surrogateescape")
        )
    except OSError:
        raise CryptFailed from None
    if hashed is None:
        raise CryptFailed
    return hashed.encode("utf-8", "surrogateescape")


_SCHEMES: tuple[tuple[bytes, Callable[[bytes, bytes], bytes]], ...] = (
    (b"$apr1$", md5_crypt),
    (b"{PLAIN}", lambda password, _: b"{PLAIN}" + password),
    (b"{SSHA}", _ssha),
    (b"{SHA}", lambda password, _: b"{SHA}" + base64.b64encode(hashlib.sha1(password).digest())),
)


@functools.lru_cache(maxsize=1024)
def password_matches(password: bytes, stored: bytes) -> bool:
    """Whether `password` hashes to the `stored` value of an htpasswd line (CryptFailed when
    the C library cannot say)."""
    for prefix, scheme in _SCHEMES:
        if stored.startswith(prefix):
            return scheme(password, stored) == stored
    return _libc_crypt(password, stored) == stored
