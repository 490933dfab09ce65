"""The built-in authentication: ``Authorization: Bearer`` with a session token or an API key."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

from .. import hookimpl
from ..api.context import Actor, check_enabled
from ..errors import unauthorized
from ..security import looks_like_api_key
from ..services import api_keys, sessions
from ..timeutil import utcnow

# lastUsedAt is refreshed at most this often per key: no write per request.
LAST_USED_GRANULARITY = timedelta(seconds=60)


# trylast: every other plugin's actor_from_request (a trusted proxy's headers, ...) is
# asked first, and the first actor found wins; only when none names one is the Bearer
# header read. This keeps the precedence the core had when this code was inline.
@hookimpl(trylast=True)
def actor_from_request(runtime: Any, request: Any) -> Awaitable[Actor] | None:
    """The caller named by the Bearer header; None without one; 401 when it is invalid.

    A plain function that returns an awaitable only when there is a header: anonymous
    requests (most of ``/i/{id}``) then cost one dict lookup, not a coroutine."""
    header = request.headers.get("authorization", "")
    if not header:
        return None
    return _bearer_actor(runtime, header)


async def _bearer_actor(runtime: Any, header: str) -> Actor:
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("Authorization must be 'Bearer <token>'", "invalid_token")
    if looks_like_api_key(token):
        return await _api_key_actor(token)
    claims = runtime.tokens.decode_access(token)
    user = None
    if claims is not None:
        user = await sessions.session_user(claims.session_id, claims.user_id)
    if user is None:
        raise unauthorized("Invalid or expired token", "invalid_token")
    check_enabled(user)
    return Actor(user, "session", session_id=claims.session_id)


async def _api_key_actor(token: str) -> Actor:
    key = await api_keys.resolve_key(token)
    if key is None:
        raise unauthorized("Invalid, expired or revoked API key", "invalid_token")
    check_enabled(key.user)  # before lastUsedAt: a disabled account's key stays unused
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_GRANULARITY:
        await type(key).filter(id=key.id).update(last_used_at=now)
    return Actor(key.user, "api_key", permissions=frozenset(key.permissions))
