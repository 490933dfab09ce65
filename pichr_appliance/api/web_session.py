"""``/api/v1/auth/web``: sign-in for the browser interface, with the refresh token in a
cookie that page scripts cannot read (docs/web.md, "Browser sessions").

The access token goes to the page (kept in memory, sent as ``Authorization: Bearer``);
the refresh token goes into ``pichr_refresh``: ``HttpOnly``, ``SameSite=Strict``,
``Path=/api/v1/auth/web`` (only these routes ever receive it), ``Secure`` when the
public URL is HTTPS. The cookie is the only ambient credential, so only these routes
can be forged cross-site; each one refuses a request a browser marks as coming from
another origin (``Origin`` or ``Sec-Fetch-Site``) with 403 ``cross_site_request``.
The rules (rate limits, lockout, disabled accounts, rotation and reuse detection) are
those of ``/api/v1/auth``: the same functions run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, empty, json

from ..errors import ApiError, unauthorized
from ..models import User
from ..schemas.auth import LoginBody, SignupBody
from ..schemas.web import WebSessionOut
from ..services import accounts, sessions
from .auth import register_from_request, sign_in_from_request
from .middleware import origin_of
from .operations import operation

COOKIE = "pichr_refresh"
PATH = "/api/v1/auth/web"

bp = Blueprint("web_session", url_prefix=PATH)


def check_same_origin(request: Request) -> None:
    """403 ``cross_site_request`` unless the browser says this request comes from one of
    the appliance's own pages (the cookie makes these routes forgeable otherwise)."""
    fetch_site = (request.headers.get("sec-fetch-site") or "").lower()
    origin = request.headers.get("origin")
    own = {origin_of(request.app.ctx.runtime.settings.public_url)}
    own.add(origin_of(f"{request.scheme}://{request.host}"))
    own.discard("")  # an unreadable Origin ("null", garbage) is never our own
    if fetch_site and fetch_site not in ("same-origin", "none"):
        allowed = False
    elif origin is not None:
        allowed = origin_of(origin) in own
    else:
        allowed = True  # not a browser page's request (a browser sends one or the other)
    if not allowed:
        raise ApiError(403, "cross_site_request", "This request must come from this site's pages")


def _secure(request: Request) -> bool:
    return request.app.ctx.runtime.settings.public_url.startswith("https://")


def _set_cookie(request: Request, response: HTTPResponse, token: str | None) -> None:
    secure = _secure(request)
    ttl = request.app.ctx.runtime.settings.auth.refresh_token_ttl
    response.add_cookie(
        COOKIE,
        token or "",
        path=PATH,
        httponly=True,
        samesite="Strict",
        secure=secure,
        max_age=ttl if token else 0,
    )
    response.headers["Cache-Control"] = "no-store"


def _answer(request: Request, user: User, session: dict[str, Any], status: int) -> HTTPResponse:
    claims = request.app.ctx.runtime.tokens.decode_access(session["access_token"])
    expires = datetime.fromtimestamp(claims.expires_at, UTC) if claims else datetime.now(UTC)
    out = WebSessionOut(
        user=accounts.user_out(user),
        accessToken=session["access_token"],
        expiresAt=expires.isoformat().replace("+00:00", "Z"),
    )
    response = json(out.dump(), status=status)
    _set_cookie(request, response, session["refresh_token"])
    return response


@bp.post("/signup")
@operation(
    id="webSignup", summary="Create an account (browser session)", tag="web", auth="none",
    counted=False, body=SignupBody, responses={201: WebSessionOut}, errors=[403, 409, 429],
    description="As `signup`; the refresh token is set as the `pichr_refresh` cookie.",
)  # fmt: skip
async def web_signup(request: Request) -> HTTPResponse:
    check_same_origin(request)
    user, session = await register_from_request(request)
    return _answer(request, user, session, 201)


@bp.post("/login")
@operation(
    id="webLogin", summary="Sign in (browser session)", tag="web", auth="none",
    counted=False, body=LoginBody, responses={200: WebSessionOut}, errors=[401, 403, 429],
    description="As `login`; the refresh token is set as the `pichr_refresh` cookie.",
)  # fmt: skip
async def web_login(request: Request) -> HTTPResponse:
    check_same_origin(request)
    user, session = await sign_in_from_request(request)
    return _answer(request, user, session, 200)


@bp.post("/refresh")
@operation(
    id="webRefresh", summary="A new access token from the session cookie", tag="web",
    counted=False, auth="none", responses={200: WebSessionOut}, errors=[401, 403],
    description="Rotates the cookie (single use, reuse revokes the session). 401 "
    "`no_session` without a cookie; the cookie is cleared on any 401.",
)  # fmt: skip
async def web_refresh(request: Request) -> HTTPResponse:
    check_same_origin(request)
    token = request.cookies.get(COOKIE)
    if not token:
        raise unauthorized("Not signed in", "no_session")
    rt = request.app.ctx.runtime
    try:
        session = await sessions.refresh_session(rt.settings, rt.tokens, token)
    except ApiError as error:
        if error.status == 401:  # a dead cookie is useless: clear it
            error.headers["Set-Cookie"] = (
                f"{COOKIE}=; Path={PATH}; Max-Age=0; HttpOnly; SameSite=Strict"
                + ("; Secure" if _secure(request) else "")
            )
        raise
    claims = rt.tokens.decode_access(session["access_token"])
    user = await User.get(id=claims.user_id)
    return _answer(request, user, session, 200)


@bp.post("/logout")
@operation(
    id="webLogout", summary="End the browser session", tag="web", auth="none",
    counted=False, responses={204: None}, errors=[403],
    description="Ends the cookie's session (when there is one) and clears the cookie.",
)  # fmt: skip
async def web_logout(request: Request) -> HTTPResponse:
    check_same_origin(request)
    token = request.cookies.get(COOKIE)
    if token:
        await sessions.end_session_of_refresh_token(token)
    response = empty(status=204)
    _set_cookie(request, response, None)
    return response
