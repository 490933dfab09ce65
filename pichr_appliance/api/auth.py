"""``/api/v1/auth``: signup, login, refresh, logout, me."""

from __future__ import annotations

from pydantic import Field, StrictBool, StrictStr
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, empty, json

from ..errors import ApiError, forbidden
from ..services import accounts, sessions
from .context import require_actor
from .validation import Body, parse

bp = Blueprint("auth", url_prefix="/api/v1/auth")


class SignupBody(Body):
    email: StrictStr = Field(max_length=254)
    password: StrictStr = Field(max_length=1024)
    username: StrictStr = Field(max_length=64)
    firstName: StrictStr = Field("", max_length=100)
    lastName: StrictStr = Field("", max_length=100)
    ageConfirmed: StrictBool = False


class LoginBody(Body):
    email: StrictStr = Field(max_length=254)
    password: StrictStr = Field(max_length=1024)


class RefreshBody(Body):
    refresh_token: StrictStr = Field(max_length=200)


class ProfileBody(Body):
    firstName: StrictStr | None = Field(None, max_length=100)
    lastName: StrictStr | None = Field(None, max_length=100)
    username: StrictStr | None = Field(None, max_length=64)
    ageConfirmed: StrictBool | None = None
    password: StrictStr | None = Field(None, max_length=1024)
    currentPassword: StrictStr | None = Field(None, max_length=1024)


@bp.post("/signup")
async def signup(request: Request) -> HTTPResponse:
    ctx = request.app.ctx
    if not ctx.settings.auth.allow_signup:
        raise forbidden("Signup is disabled on this server", "signup_disabled")
    body = parse(request, SignupBody)
    await ctx.rate_limiter.signup_attempt(request)
    user = await accounts.register(
        ctx.runtime,
        email=body.email,
        username=body.username,
        password=body.password,
        first_name=body.firstName,
        last_name=body.lastName,
        age_confirmed=body.ageConfirmed,
    )
    session = await sessions.start_session(
        ctx.settings, ctx.tokens, user, request.headers.get("user-agent", "")
    )
    return json({"user": accounts.user_json(user), "session": session}, status=201)


@bp.post("/login")
async def login(request: Request) -> HTTPResponse:
    ctx = request.app.ctx
    body = parse(request, LoginBody)
    await ctx.rate_limiter.login_attempt(request, body.email)
    user = await accounts.find_login(body.email)
    # verify() runs against a dummy hash when the account does not exist: same cost,
    # same answer, so that nobody learns which accounts exist.
    ok = await ctx.passwords.verify(user.password_hash if user else None, body.password)
    if not ok or user is None:
        await ctx.rate_limiter.login_failed(body.email)
        raise ApiError(401, "invalid_credentials", "Invalid email or password")
    await ctx.rate_limiter.login_succeeded(body.email)
    if user.disabled:
        raise ApiError(403, "account_disabled", "This account is disabled")
    session = await sessions.start_session(
        ctx.settings, ctx.tokens, user, request.headers.get("user-agent", "")
    )
    return json({"user": accounts.user_json(user), "session": session})


@bp.post("/refresh")
async def refresh(request: Request) -> HTTPResponse:
    ctx = request.app.ctx
    body = parse(request, RefreshBody)
    session = await sessions.refresh_session(ctx.settings, ctx.tokens, body.refresh_token)
    return json({"session": session})


@bp.post("/logout")
async def logout(request: Request) -> HTTPResponse:
    actor = await require_actor(request, session_only=True)
    if actor.session_id:
        await sessions.end_session(actor.session_id)
    return empty(status=204)


@bp.get("/me")
async def me(request: Request) -> HTTPResponse:
    actor = await require_actor(request)
    await actor.user.refresh_from_db()
    return json(
        {"user": accounts.user_json(actor.user, usage=True, settings=request.app.ctx.settings)}
    )


@bp.patch("/me")
async def update_me(request: Request) -> HTTPResponse:
    actor = await require_actor(request, session_only=True)
    body = parse(request, ProfileBody)
    changes = body.model_dump(exclude_unset=True)
    for field in ("firstName", "lastName", "username", "ageConfirmed"):
        if field in changes and changes[field] is None:
            del changes[field]
    user = await accounts.update_profile(
        request.app.ctx.passwords, actor.user, changes, actor.session_id
    )
    return json({"user": accounts.user_json(user, usage=True, settings=request.app.ctx.settings)})
