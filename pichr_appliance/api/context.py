"""Who is calling, and whether they may: the ``Actor`` that handlers work with.

Credentials are resolved by ``actor_from_request`` implementations (the built-in
Bearer session-token / API-key one is ``pichr_appliance.defaults.auth``), and the
rules by ``permission_allowed`` implementations (the built-in role rule is
``pichr_appliance.defaults.roles``). Handlers call :func:`authenticate`,
:func:`require_actor` and :func:`require_role`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sanic import Request

from ..errors import ApiError, forbidden, unauthorized
from ..hookspecs import Refusal
from ..models import User
from ..services import access


@dataclass
class Actor:
    """An authenticated caller: the account, and how it proved who it is.

    ``ambient``: the credentials are ones a browser sends by itself, whichever page
    makes the request (a trusted proxy's identity headers, a cookie), as opposed to an
    ``Authorization`` header that only the client's own code can add. State-changing
    requests with ambient credentials must not come cross-site (``api/middleware.py``).
    Unset, it is True for ``via="plugin"`` (a plugin that reads an explicit header of
    its own says ``ambient=False``) and False for the built-in Bearer credentials; a
    cookie login sets it True.
    """

    user: User
    via: str  # "session" | "api_key" | "plugin"
    session_id: str | None = None
    permissions: frozenset[str] | None = None  # None: everything the user may do
    ambient: bool | None = None

    def __post_init__(self) -> None:
        if self.ambient is None:
            self.ambient = self.via == "plugin"
        if self.via == "api_key":
            access.through_api_key(self.user)  # staff powers never come from a key

    @property
    def is_staff(self) -> bool:
        """True for moderators and admins (never through an API key)."""
        return access.is_staff(self.user)

    def can(self, permission: str) -> bool:
        """Whether this credential carries ``permission`` (API keys are scoped)."""
        return self.permissions is None or permission in self.permissions


_UNSET = object()


async def authenticate(request: Request) -> Actor | None:
    """The caller, or None when anonymous; 401 for presented but invalid credentials.

    Resolved once per request (``request.ctx.actor``): the first non-None answer of
    ``actor_from_request`` in pluggy's call order (plugins before the built-in Bearer
    header check, which is ``trylast``)."""
    cached = getattr(request.ctx, "actor", _UNSET)
    if cached is not _UNSET:
        return cached
    found = await request.app.ctx.runtime.first("actor_from_request", request=request)
    actor = None if found is None else as_actor(found)
    if actor is not None:
        check_enabled(actor.user)
    request.ctx.actor = actor
    return actor


def as_actor(found: Any) -> Actor | None:
    """An ``actor_from_request`` answer as an Actor: a bare ``User`` is ``via="plugin"``."""
    if found is None or isinstance(found, Actor):
        return found
    if isinstance(found, User):
        return Actor(found, "plugin")
    raise TypeError(f"actor_from_request returned {type(found).__name__}, not Actor/User/None")


def check_enabled(user: User) -> None:
    """403 ``account_disabled`` for a disabled account, however it authenticated."""
    if user.disabled:
        raise ApiError(403, "account_disabled", "This account is disabled")


async def require_actor(
    request: Request, permission: str | None = None, *, session_only: bool = False
) -> Actor:
    """The authenticated caller, or 401; 403 for API keys on session-only routes or
    keys lacking ``permission``, and when ``permission_allowed`` refuses it."""
    actor = await authenticate(request)
    if actor is None:
        raise unauthorized()
    if session_only and actor.via == "api_key":
        raise forbidden("This endpoint needs a session token, not an API key", "session_required")
    if permission and not actor.can(permission):
        raise forbidden(
            f"This API key lacks the '{permission}' permission", "insufficient_permissions"
        )
    await check_permission(request, actor, permission or "access")
    return actor


async def require_role(request: Request, *roles: str) -> Actor:
    """A signed-in (session) caller allowed the staff action of ``roles``, else 403.

    ``("admin",)`` asks for the "admin" action, anything else for "moderate"; which
    roles grant them is the built-in ``permission_allowed`` rule, which plugins may
    override (True) or tighten (False).
    """
    actor = await require_actor(request, session_only=True)
    await check_permission(request, actor, "admin" if set(roles) == {"admin"} else "moderate")
    return actor


async def check_permission(request: Request, actor: Actor, action: str) -> None:
    """Raise 403 unless the ``permission_allowed`` answers let ``actor`` do ``action``."""
    rt = request.app.ctx.runtime
    answers = await rt.call("permission_allowed", actor=actor, action=action, resource=request.path)
    verdict = combine_verdicts(answers)
    if isinstance(verdict, Refusal):
        raise forbidden(verdict.message, verdict.code)


FORBIDDEN_BY_PLUGIN = Refusal("forbidden_by_plugin", "A plugin does not allow this")


def combine_verdicts(answers: list[Any]) -> Refusal | None:
    """The refusal that ``answers`` add up to, or None when they allow the action.

    Any False forbids; otherwise any True allows; otherwise the first Refusal stands;
    otherwise (only None) the action is allowed. Order does not matter.
    """
    if any(a is False for a in answers):
        return FORBIDDEN_BY_PLUGIN
    if any(a is True for a in answers):
        return None
    return next((a for a in answers if isinstance(a, Refusal)), None)
