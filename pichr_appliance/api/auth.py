"""``/api/v1/auth``: signup, login, refresh, logout, me."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, empty, json

from ..errors import ApiError, forbidden
from ..schemas.auth import (
    AuthResult,
    LoginBody,
    ProfileBody,
    RefreshBody,
    SessionOut,
    SessionResult,
    SignupBody,
    UserResult,
)
from ..services import accounts, sessions
from .context import require_actor
from .operations import operation
from .validation import parse

bp = Blueprint("auth", url_prefix="/api/v1/auth")


@bp.post("/signup")
@operation(
    id="signup", summary="Create an account", tag="auth", auth="none",
    counted=False, body=SignupBody, responses={201: AuthResult}, errors=[403, 409, 429],
    description="403 `signup_disabled` when `auth.allow_signup` is off; 409 for a taken "
    "email or username.",
)  # fmt: skip
async def signup(request: Request) -> HTTPResponse:
    user, session = await register_from_request(request)
    answer = AuthResult(user=accounts.user_out(user), session=SessionOut(**session))
    return json(answer.dump(), status=201)


async def register_from_request(
    request: Request, body: SignupBody | None = None, user_metadata: dict[str, Any] | None = None
) -> tuple[Any, dict[str, Any]]:
    """Signup as every sign-up route does it (this one, the browser's cookie session,
    ``/auth/v1/signup``): the setting, the body, the rate limit, the account, a new
    session. ``body``: the fields already read from another shape of request."""
    ctx = request.app.ctx
    if not ctx.runtime.settings.auth.allow_signup:
        raise forbidden("Signup is disabled on this server", "signup_disabled")
    body = body or parse(request, SignupBody)
    await ctx.rate_limiter.signup_attempt(request)
    user = await accounts.register(
        ctx.runtime,
        email=body.email,
        username=body.username,
        password=body.password,
        first_name=body.firstName,
        last_name=body.lastName,
        age_confirmed=body.ageConfirmed,
        user_metadata=user_metadata,
    )
    session = await sessions.start_session(
        ctx.runtime.settings, ctx.runtime.tokens, user, request.headers.get("user-agent", "")
    )
    return user, session


@bp.post("/login")
@operation(
    id="login", summary="Sign in with email or username", tag="auth", auth="none",
    counted=False, body=LoginBody, responses={200: AuthResult}, errors=[401, 403, 429],
)  # fmt: skip
async def login(request: Request) -> HTTPResponse:
    user, session = await sign_in_from_request(request)
    return json(AuthResult(user=accounts.user_out(user), session=SessionOut(**session)).dump())


async def sign_in_from_request(request: Request) -> tuple[Any, dict[str, Any]]:
    """Login as every sign-in route does it: rate limits per address and per account,
    the same answer and cost whether the account exists, then a new session."""
    ctx = request.app.ctx
    body = parse(request, LoginBody)
    await ctx.rate_limiter.login_attempt(request, body.email)
    user = await accounts.find_login(body.email)
    user_id = user.id if user is not None else None
    if user_id is not None:  # failures count per account too, whichever name was typed
        await ctx.rate_limiter.login_account(user_id)
    # verify() runs against a dummy hash when the account does not exist: same cost,
    # same answer, so that nobody learns which accounts exist.
    ok = await ctx.runtime.passwords.verify(user.password_hash if user else None, body.password)
    if not ok or user is None:
        await ctx.rate_limiter.login_failed(body.email, user_id)
        raise ApiError(401, "invalid_credentials", "Invalid email or password")
    await ctx.rate_limiter.login_succeeded(body.email, user_id)
    if user.disabled:
        raise ApiError(403, "account_disabled", "This account is disabled")
    session = await sessions.start_session(
        ctx.runtime.settings, ctx.runtime.tokens, user, request.headers.get("user-agent", "")
    )
    return user, session


@bp.post("/refresh")
@operation(
    id="refresh", summary="Exchange a refresh token (single use)", tag="auth", auth="none",
    counted=False, body=RefreshBody, responses={200: SessionResult}, errors=[401, 403],
)  # fmt: skip
async def refresh(request: Request) -> HTTPResponse:
    ctx = request.app.ctx
    body = parse(request, RefreshBody)
    session = await sessions.refresh_session(
        ctx.runtime.settings, ctx.runtime.tokens, body.refresh_token
    )
    return json(SessionResult(session=SessionOut(**session)).dump())


@bp.post("/logout")
@operation(
    id="logout", summary="End the current session", tag="auth", auth="session",
    responses={204: None},
)  # fmt: skip
async def logout(request: Request) -> HTTPResponse:
    actor = await require_actor(request, session_only=True)
    if actor.session_id:
        await sessions.end_session(actor.session_id)
    return empty(status=204)


@bp.get("/me")
@operation(
    id="getMe", summary="The caller with usage", tag="auth", auth="any",
    responses={200: UserResult},
)  # fmt: skip
async def me(request: Request) -> HTTPResponse:
    actor = await require_actor(request)
    await actor.user.refresh_from_db()
    user = accounts.user_out(actor.user, usage=True, settings=request.app.ctx.runtime.settings)
    return json(UserResult(user=user).dump())


@bp.patch("/me")
@operation(
    id="updateMe", summary="Change profile or password", tag="auth", auth="session",
    body=ProfileBody, responses={200: UserResult}, errors=[409],
    description="A new `password` needs `currentPassword` (403 `wrong_password`).",
)  # fmt: skip
async def update_me(request: Request) -> HTTPResponse:
    actor = await require_actor(request, session_only=True)
    body = parse(request, ProfileBody)
    changes = body.model_dump(exclude_unset=True)
    for field in ("firstName", "lastName", "username", "ageConfirmed"):
        if field in changes and changes[field] is None:
            del changes[field]
    user = await accounts.update_profile(
        request.app.ctx.runtime.passwords, actor.user, changes, actor.session_id
    )
    out = accounts.user_out(user, usage=True, settings=request.app.ctx.runtime.settings)
    return json(UserResult(user=out).dump())
