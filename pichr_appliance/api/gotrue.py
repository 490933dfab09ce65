"""``/auth/v1``: the GoTrue (Supabase Auth) subset that supabase-js v2's auth client uses.

The same accounts, sessions and refresh rotation as ``/api/v1/auth``: signup and the
password grant go through :func:`~.auth.register_from_request` and
:func:`~.auth.sign_in_from_request` (setting, rate limits, ``user_created``, disabled
accounts), the refresh grant through ``sessions.refresh_session_of_user``, and the
``/user`` and ``/logout`` callers through :func:`~.context.require_actor` (plugins'
``actor_from_request`` first). Access tokens issued here work on ``/api/v1``.

Every route checks the ``apikey`` header against ``auth.supabase_anon_key``; the
``Authorization: Bearer <anon key>`` that supabase-js adds on ``/signup`` and
``/token`` is never read there (those handlers do not authenticate). Errors are in
the client's dialect (``gotrue_errors``). docs/supabase-js.md has the whole story.
"""

from __future__ import annotations

import functools
import hmac
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, empty, json

from ..errors import ApiError
from ..schemas.auth import SignupBody
from ..schemas.common import MAX_PASSWORD, MIN_PASSWORD, validate
from ..schemas.gotrue import (
    API_VERSION,
    GoTrueError,
    GoTrueRateLimited,
    GoTrueSignupBody,
    GoTrueUser,
    RefreshGrantBody,
    TokenGrantBody,
    TokenOut,
    UserUpdateBody,
)
from ..services import accounts, sessions
from .auth import register_from_request, sign_in_from_request
from .context import Actor, require_actor
from .gotrue_errors import API_VERSION_HEADER, gotrue_error, weak_password
from .gotrue_shapes import profile_changes, token_out, user_out
from .operations import operation
from .validation import json_object

bp = Blueprint("gotrue", url_prefix="/auth/v1")

PREFIX = "/auth/v1/"
GRANTS = ("password", "refresh_token")
SCOPES = ("global", "local", "others")
APIKEY = {
    "name": "apikey", "in": "header", "required": True, "schema": {"type": "string"},
    "description": "`auth.supabase_anon_key` (supabase-js sends it by itself).",
}  # fmt: skip


def answers(ok: dict[int, Any], *statuses: int) -> dict[int, Any]:
    """``ok`` plus the GoTrue error model of each of ``statuses``."""
    errors = {s: GoTrueRateLimited if s == 429 else GoTrueError for s in statuses}
    return {**ok, **errors}


def gotrue_route(handler: Any) -> Any:
    """The ``apikey`` check before ``handler``, and ``X-Supabase-Api-Version`` on its
    answer (errors get it from ``gotrue_errors``)."""

    @functools.wraps(handler)
    async def wrapped(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
        check_apikey(request)
        response = await handler(request, *args, **kwargs)
        response.headers[API_VERSION_HEADER] = API_VERSION
        return response

    return wrapped


def check_apikey(request: Request) -> None:
    """401 unless the ``apikey`` header is this server's anon key."""
    presented = request.headers.get("apikey", "")
    expected = request.app.ctx.runtime.settings.auth.supabase_anon_key
    if not presented:
        raise gotrue_error(401, "no_api_key", "No API key found in request")
    if not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise gotrue_error(401, "invalid_api_key", "Invalid API key")


def check_new_password(password: str) -> None:
    """422 ``weak_password`` under the appliance's minimum length (GoTrue's own minimum is
    6; the appliance asks for 8 everywhere); 400 over the maximum."""
    if len(password) < MIN_PASSWORD:
        raise weak_password(f"Password should be at least {MIN_PASSWORD} characters.", ["length"])
    if len(password) > MAX_PASSWORD:
        raise gotrue_error(400, "validation_failed", f"password: at most {MAX_PASSWORD} characters")


async def user_actor(request: Request, *, session_only: bool = False) -> Actor:
    """The caller of ``/user`` and ``/logout`` as on ``/api/v1``; a token that is genuine
    but whose session has ended answers ``session_not_found`` (the client then drops its
    stored session: ``AuthSessionMissingError``)."""
    try:
        return await require_actor(request, session_only=session_only)
    except ApiError as err:
        if err.code == "invalid_token" and _genuine_token(request):
            raise gotrue_error(
                403, "session_not_found", "Session from session_id claim in JWT does not exist"
            ) from None
        raise


def _genuine_token(request: Request) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    tokens = request.app.ctx.runtime.tokens
    return scheme.lower() == "bearer" and tokens.decode_access(token.strip()) is not None


@bp.post("/signup")
@operation(
    id="gotrueSignup", summary="Sign up with email and password (supabase-js signUp)",
    tag="supabase-auth", auth="none", body=GoTrueSignupBody, counted=False,
    responses=answers({200: TokenOut}, 400, 401, 403, 413, 415, 422, 429, 500),
    extra={"parameters": [APIKEY]},
    description="The username is `data.username`, else derived from the email "
    "(docs/supabase-js.md). 422 `weak_password`, `user_already_exists`, `signup_disabled`.",
)  # fmt: skip
@gotrue_route
async def signup(request: Request) -> HTTPResponse:
    raw = json_object(request)
    if "email" not in raw and "phone" in raw:
        raise gotrue_error(422, "phone_provider_disabled", "Phone signups are disabled")
    body = validate(GoTrueSignupBody, raw)
    check_new_password(body.password)
    metadata, profile = profile_changes(body.data or {})
    fields = {"email": body.email, "password": body.password, **profile}
    derived = "username" not in fields
    for _attempt in range(2):  # a derived name taken meanwhile: derive once more
        if derived:
            base = accounts.username_from_email(body.email)
            fields["username"] = await accounts.unused_username(base)
        try:
            user, session = await register_from_request(
                request, validate(SignupBody, fields), user_metadata=metadata
            )
            break
        except ApiError as err:
            if err.code in ("email_taken", "account_exists"):
                raise gotrue_error(422, "user_already_exists", "User already registered") from None
            if not (derived and err.code == "username_taken") or _attempt:
                raise
    return json(await token_out(request, session, user))


@bp.post("/token")
@operation(
    id="gotrueToken", summary="Password sign-in or refresh (signInWithPassword, "
    "refreshSession)", tag="supabase-auth", auth="none", body=TokenGrantBody, counted=False,
    responses=answers({200: TokenOut}, 400, 401, 403, 413, 415, 429, 500),
    extra={"parameters": [APIKEY, {"name": "grant_type", "in": "query", "required": True,
                                   "schema": {"type": "string", "enum": list(GRANTS)}}]},
    description="400 `invalid_credentials`, `refresh_token_not_found`, "
    "`refresh_token_already_used` (that revokes the session), `session_expired`; "
    "403 `user_banned` (disabled account).",
)  # fmt: skip
@gotrue_route
async def token(request: Request) -> HTTPResponse:
    grant = request.args.get("grant_type")
    if grant == "password":
        user, session = await sign_in_from_request(request)
    elif grant == "refresh_token":
        body = validate(RefreshGrantBody, json_object(request))
        rt = request.app.ctx.runtime
        session, user = await sessions.refresh_session_of_user(
            rt.settings, rt.tokens, body.refresh_token
        )
    else:
        raise gotrue_error(
            400, "validation_failed", f"unsupported_grant_type: use one of {', '.join(GRANTS)}"
        )
    return json(await token_out(request, session, user))


@bp.get("/user")
@operation(
    id="gotrueGetUser", summary="The signed-in user (getUser)", tag="supabase-auth",
    auth="any", counted=False, responses=answers({200: GoTrueUser}, 401, 403, 500),
    extra={"parameters": [APIKEY]},
    description="403 `session_not_found` once the token's session has ended.",
)  # fmt: skip
@gotrue_route
async def get_user(request: Request) -> HTTPResponse:
    actor = await user_actor(request)
    await actor.user.refresh_from_db()
    return json((await user_out(actor.user)).dump())


@bp.put("/user")
@operation(
    id="gotrueUpdateUser", summary="Change email, password or metadata (updateUser)",
    tag="supabase-auth", auth="session", body=UserUpdateBody, counted=False,
    responses=answers({200: GoTrueUser}, 400, 401, 403, 413, 415, 422, 500),
    extra={"parameters": [APIKEY]},
    description="`data` is merged into the user metadata (`null` removes a key); "
    "`data.username`, `first_name`, `last_name` and `age_confirmed` change the account. "
    "A new email or password needs `current_password` (400 `reauthentication_needed`).",
)  # fmt: skip
@gotrue_route
async def update_user(request: Request) -> HTTPResponse:
    actor = await user_actor(request, session_only=True)
    body = validate(UserUpdateBody, json_object(request))
    if body.phone is not None:
        raise gotrue_error(422, "phone_provider_disabled", "Phone numbers are not supported")
    changes: dict[str, Any] = {"currentPassword": body.current_password}
    if body.data is not None:
        changes["metadata"], profile = profile_changes(body.data)
        changes.update(profile)
    if body.email is not None:
        changes["email"] = body.email
    if body.password is not None:
        check_new_password(body.password)
        changes["password"] = body.password
    passwords = request.app.ctx.runtime.passwords
    try:
        user = await accounts.update_profile(passwords, actor.user, changes, actor.session_id)
    except ApiError as err:
        if err.code == "wrong_password" and not body.current_password:
            raise gotrue_error(
                400,
                "reauthentication_needed",
                "current_password is required to change the email or the password",
            ) from None
        raise
    return json((await user_out(user)).dump())


@bp.post("/logout")
@operation(
    id="gotrueLogout", summary="Sign out (signOut): scope global, local or others",
    tag="supabase-auth", auth="session", counted=False,
    responses=answers({204: None}, 400, 401, 403, 500),
    extra={"parameters": [APIKEY, {"name": "scope", "in": "query", "required": False,
                                   "schema": {"type": "string", "enum": list(SCOPES),
                                              "default": "global"}}]},
    description="`global` ends every session of the account, `local` this one, `others` "
    "all but this one. API keys are not sessions and keep working.",
)  # fmt: skip
@gotrue_route
async def logout(request: Request) -> HTTPResponse:
    scope = request.args.get("scope", "global")
    if scope not in SCOPES:
        raise gotrue_error(400, "validation_failed", f"scope: must be one of {', '.join(SCOPES)}")
    actor = await user_actor(request, session_only=True)
    if scope == "local":
        if actor.session_id:
            await sessions.end_session(actor.session_id)
    else:
        keep = actor.session_id if scope == "others" else None
        await sessions.end_user_sessions(actor.user.id, keep=keep)
    return empty(status=204)
