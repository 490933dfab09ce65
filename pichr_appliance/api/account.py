"""``/api/v1/account`` (session only): GDPR export and account deletion."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, ResponseStream, empty

from ..errors import ApiError
from ..schemas.account import AccountDeleteRequest
from ..services import accounts, export
from ..services.audit import Operator
from .context import require_actor
from .operations import operation
from .validation import parse_optional

bp = Blueprint("account", url_prefix="/api/v1/account")


@bp.get("/export")
@operation(
    id="exportAccount", summary="The GDPR export (ZIP, streamed)", tag="account",
    auth="session", responses={200: None}, extra={"content": "application/zip"},
)  # fmt: skip
async def export_zip(request: Request) -> HTTPResponse:
    """``GET /account/export``: the GDPR ZIP, streamed (session only)."""
    actor = await require_actor(request, session_only=True)
    rt = request.app.ctx.runtime
    user = actor.user

    async def body(response):
        async for chunk in export.stream(rt, user):
            if chunk:
                await response.write(chunk)

    return ResponseStream(
        body,
        content_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename(user)}"',
            "Cache-Control": "private, no-store",
        },
    )


@bp.delete("")
@operation(
    id="deleteAccount", summary="Delete the account and all it owns", tag="account",
    auth="session", body=AccountDeleteRequest, responses={204: None},
    description="403 `wrong_password` when the password does not match.",
)  # fmt: skip
async def delete(request: Request) -> HTTPResponse:
    """``DELETE /account`` ``{password}``: 204; everything the account owns goes."""
    actor = await require_actor(request, session_only=True)
    password = parse_optional(request, AccountDeleteRequest).password
    rt = request.app.ctx.runtime
    if not await rt.passwords.verify(actor.user.password_hash, password):
        raise ApiError(403, "wrong_password", "password: does not match", {"field": "password"})
    await accounts.delete_account(rt, actor.user, Operator.of_user(actor.user))
    return empty(status=204)
