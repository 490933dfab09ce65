"""Password hashing, ids, tokens, API keys and signed URLs."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import base58
import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .config import AuthSettings

JWT_ALGORITHM = "HS256"
API_KEY_PREFIX = "pk_"
API_KEY_BODY_LEN = 32
BASE58_ALPHABET = base58.BITCOIN_ALPHABET.decode()


def new_id(prefix: str, nbytes: int = 12) -> str:
    """An unguessable id such as ``file_3q2v...`` (random, URL-safe, never sequential)."""
    return f"{prefix}_{secrets.token_urlsafe(nbytes).replace('-', 'x').replace('_', 'z')}"


def sha256_hex(text: str | bytes) -> str:
    """The sha256 of a string or bytes (hex)."""
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def file_size_and_sha256(path: Any) -> tuple[int, str]:
    """Size and sha256 (hex) of a file, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    total = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            total += len(chunk)
    return total, digest.hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    """Compare secrets without leaking where they differ."""
    return hmac.compare_digest(a.encode(), b.encode())


_dummies: dict[tuple[int, int, int], str] = {}
_dummies_lock = threading.Lock()


def _dummy_hash(time_cost: int, memory_kib: int, parallelism: int) -> str:
    key = (time_cost, memory_kib, parallelism)
    with _dummies_lock:  # one computation, even when warm_dummy_hash's is under way
        if key not in _dummies:
            hasher = PasswordHasher(
                time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
            )
            _dummies[key] = hasher.hash(secrets.token_urlsafe(16))
        return _dummies[key]


def warm_dummy_hash(auth: AuthSettings) -> threading.Thread:
    """Start making the timing-equaliser hash of :class:`Passwords` in a thread (argon2
    releases the GIL): ``serve`` starts it first, so that its 0.14 s overlap the
    imports instead of following them."""
    args = (auth.argon2_time_cost, auth.argon2_memory_kib, auth.argon2_parallelism)
    thread = threading.Thread(target=_dummy_hash, args=args, daemon=True)
    thread.start()
    return thread


class Passwords:
    """Argon2id hashing, run in a thread so that the event loop keeps serving."""

    def __init__(self, auth: AuthSettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=auth.argon2_time_cost,
            memory_cost=auth.argon2_memory_kib,
            parallelism=auth.argon2_parallelism,
        )
        # A hash of a random password, verified against when the account does not exist,
        # so that "no such user" costs as long as "wrong password". Made once per
        # process and parameters: it was 85% of building an app (0.14 s), paid again
        # by every worker, which now inherits the main process's through the fork.
        self._dummy = _dummy_hash(
            auth.argon2_time_cost, auth.argon2_memory_kib, auth.argon2_parallelism
        )

    def hash_sync(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify_sync(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(None, self.hash_sync, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(
            None, self.verify_sync, stored, password
        )


def make_api_key() -> tuple[str, str, str]:
    """A new API key: (key shown once, display prefix, sha256 stored)."""
    body = "".join(secrets.choice(BASE58_ALPHABET) for _ in range(API_KEY_BODY_LEN))
    key = API_KEY_PREFIX + body
    return key, key[:8], sha256_hex(key)


def looks_like_api_key(token: str) -> bool:
    return (
        token.startswith(API_KEY_PREFIX)
        and len(token) == len(API_KEY_PREFIX) + API_KEY_BODY_LEN
        and all(c in BASE58_ALPHABET for c in token[len(API_KEY_PREFIX) :])
    )


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    session_id: str
    expires_at: int


class Tokens:
    """HS256 JWTs for sessions and short-lived signed tokens (uploads, shares)."""

    def __init__(self, secret: str, access_ttl: int) -> None:
        if not secret:
            raise ValueError("a signing secret is required")
        self._secret = secret.encode()
        self.access_ttl = access_ttl

    def access_token(self, user_id: str, session_id: str) -> str:
        now = int(time.time())
        claims = {
            "sub": user_id,
            "sid": session_id,
            "iat": now,
            "nbf": now,
            "exp": now + self.access_ttl,
            "typ": "access",
        }
        return jwt.encode(claims, self._secret, algorithm=JWT_ALGORITHM)

    def decode_access(self, token: str) -> AccessClaims | None:
        """Claims of a valid access token, else None (alg pinned, exp/nbf enforced)."""
        claims = self._decode(token, "access")
        if (
            not claims
            or not isinstance(claims.get("sub"), str)
            or not isinstance(claims.get("sid"), str)
        ):
            return None
        return AccessClaims(claims["sub"], claims["sid"], int(claims["exp"]))

    def signed_token(self, typ: str, subject: str, ttl: int, **extra: Any) -> str:
        """A short-lived token of type ``typ`` for ``subject`` (e.g. an upload)."""
        now = int(time.time())
        claims = {"sub": subject, "typ": typ, "iat": now, "nbf": now, "exp": now + ttl, **extra}
        return jwt.encode(claims, self._secret, algorithm=JWT_ALGORITHM)

    def decode_signed(self, token: str, typ: str, subject: str) -> dict[str, Any] | None:
        claims = self._decode(token, typ)
        if not claims or not constant_time_equal(str(claims.get("sub", "")), subject):
            return None
        return claims

    def _decode(self, token: str, typ: str) -> dict[str, Any] | None:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[JWT_ALGORITHM],
                options={"require": ["exp", "iat", "sub", "typ"]},
                leeway=5,
            )
        except jwt.PyJWTError:
            return None
        if claims.get("typ") != typ:
            return None
        return claims

    def sign_url(self, path: str, expires: int) -> str:
        """HMAC signature of ``path`` valid until epoch second ``expires``."""
        msg = f"{path}\n{expires}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def verify_url(self, path: str, expires: str, sig: str) -> bool:
        try:
            exp = int(expires)
        except (TypeError, ValueError):
            return False
        if exp < time.time():
            return False
        return hmac.compare_digest(self.sign_url(path, exp), sig or "")


def new_refresh_token() -> tuple[str, str]:
    """A refresh token and its stored sha256."""
    token = secrets.token_urlsafe(32)
    return token, sha256_hex(token)
