"""Who is calling: session JWT, API key, or a plugin's ``actor_from_request``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sanic import Request

from ..errors import ApiError, forbidden, unauthorized
from ..models import User
from ..security import looks_like_api_key
from ..services import api_keys, sessions
from ..timeutil import utcnow

# lastUsedAt is refreshed at most this often per key: no write per request.
LAST_USED_GRANULARITY = timedelta(seconds=60)


@dataclass
class Actor:
    user: User
    via: str  # "session" | "api_key" | "plugin"
    session_id: str | None = None
    permissions: frozenset[str] | None = None  # None: everything the user may do

    @property
    def is_staff(self) -> bool:
        return self.user.role in ("moderator", "admin")

    def can(self, permission: str) -> bool:
        return self.permissions is None or permission in self.permissions


_UNSET = object()


async def authenticate(request: Request) -> Actor | None:
    """The caller, or None when anonymous; 401 for presented but invalid credentials."""
    cached = getattr(request.ctx, "actor", _UNSET)
    if cached is not _UNSET:
        return cached
    actor = await _authenticate(request)
    request.ctx.actor = actor
    return actor


async def _authenticate(request: Request) -> Actor | None:
    rt = request.app.ctx.runtime
    # Asking pluggy when no plugin answers costs as much as the rest of serving an image.
    if rt.has_impls("actor_from_request"):
        for result in await rt.call("actor_from_request", request=request):
            if isinstance(result, User):
                _check_enabled(result)
                return Actor(result, "plugin")
    header = request.headers.get("authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("Authorization must be 'Bearer <token>'", "invalid_token")
    if looks_like_api_key(token):
        key = await api_keys.resolve_key(token)
        if key is None:
            raise unauthorized("Invalid, expired or revoked API key", "invalid_token")
        _check_enabled(key.user)
        now = utcnow()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_GRANULARITY:
            await type(key).filter(id=key.id).update(last_used_at=now)
        return Actor(key.user, "api_key", permissions=frozenset(key.permissions))
    claims = rt.tokens.decode_access(token)
    if claims is None or not await sessions.active_session(claims.session_id, claims.user_id):
        raise unauthorized("Invalid or expired token", "invalid_token")
    user = await User.get_or_none(id=claims.user_id)
    if user is None:
        raise unauthorized("Invalid or expired token", "invalid_token")
    _check_enabled(user)
    return Actor(user, "session", session_id=claims.session_id)


def _check_enabled(user: User) -> None:
    if user.disabled:
        raise ApiError(403, "account_disabled", "This account is disabled")


async def require_actor(
    request: Request, permission: str | None = None, *, session_only: bool = False
) -> Actor:
    """The authenticated caller, or 401; 403 for API keys on session-only routes or
    keys lacking ``permission``."""
    actor = await authenticate(request)
    if actor is None:
        raise unauthorized()
    if session_only and actor.via == "api_key":
        raise forbidden("This endpoint needs a session token, not an API key", "session_required")
    if permission and not actor.can(permission):
        raise forbidden(
            f"This API key lacks the '{permission}' permission", "insufficient_permissions"
        )
    if await plugin_verdict(request, actor, permission or "access") is False:
        raise forbidden("A plugin does not allow this", "forbidden_by_plugin")
    return actor


async def require_role(request: Request, *roles: str) -> Actor:
    """A signed-in (session) caller whose role is one of ``roles``, else 403.

    Plugins (``permission_allowed``) may forbid it, or allow it to other roles.
    """
    actor = await require_actor(request, session_only=True)
    action = "admin" if set(roles) == {"admin"} else "moderate"
    verdict = await plugin_verdict(request, actor, action)
    if verdict is False:
        raise forbidden("A plugin does not allow this", "forbidden_by_plugin")
    if actor.user.role not in roles and verdict is not True:
        raise forbidden("Your role does not allow this", "insufficient_role")
    return actor


async def plugin_verdict(request: Request, actor: Actor, action: str) -> bool | None:
    """What ``permission_allowed`` implementations say: False if any forbids, True if
    any allows, None when none has an opinion (or none is installed)."""
    rt = request.app.ctx.runtime
    if not rt.has_impls("permission_allowed"):
        return None
    results = await rt.call("permission_allowed", actor=actor, action=action, resource=request.path)
    if any(r is False for r in results):
        return False
    if any(r is True for r in results):
        return True
    return None
