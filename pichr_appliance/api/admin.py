"""``/api/v1/admin`` (role admin, session only): accounts and site figures."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from ..errors import not_found
from ..models import User, is_id
from ..plugins import describe_runtime
from ..schemas.admin import (
    AdminPlugins,
    AdminStats,
    AdminUserPatchRequest,
    UserListQuery,
    UserPage,
)
from ..schemas.auth import UserResult
from ..services import accounts, admin
from ..services.audit import Operator
from .context import require_role
from .operations import operation
from .validation import paging, parse

bp = Blueprint("admin", url_prefix="/api/v1/admin")


@bp.get("/users")
@operation(
    id="adminListUsers", summary="Accounts with usage (admin)", tag="admin", auth="admin",
    query=UserListQuery, responses={200: UserPage}, errors=[400],
)  # fmt: skip
async def list_users(request: Request) -> HTTPResponse:
    """``GET /admin/users?q&limit&offset``: accounts with their usage."""
    await require_role(request, "admin")
    limit, offset = paging(request)
    q = request.args.get("q") or request.args.get("search")
    users, total = await admin.list_users(q=q, limit=limit, offset=offset)
    settings = request.app.ctx.runtime.settings
    items = [accounts.user_out(u, usage=True, settings=settings) for u in users]
    return json(UserPage(users=items, total=total, limit=limit, offset=offset).dump())


@bp.patch("/users/<user_id:str>")
@operation(
    id="adminUpdateUser", summary="Change role, plan or disabled state (admin)", tag="admin",
    auth="admin", body=AdminUserPatchRequest, responses={200: UserResult}, errors=[404],
)  # fmt: skip
async def update_user(request: Request, user_id: str) -> HTTPResponse:
    """``PATCH /admin/users/{id}`` ``{role?, plan?, disabled?}``: ``{user}``."""
    actor = await require_role(request, "admin")
    body = parse(request, AdminUserPatchRequest)
    user = await User.get_or_none(id=user_id) if is_id(user_id) else None
    if user is None:
        raise not_found("User")
    rt = request.app.ctx.runtime
    user = await admin.update_user(rt, Operator.of_user(actor.user), user, body)
    return json(UserResult(user=accounts.user_out(user, usage=True, settings=rt.settings)).dump())


@bp.get("/stats")
@operation(
    id="adminStats", summary="Site figures (admin)", tag="admin", auth="admin",
    responses={200: AdminStats},
)  # fmt: skip
async def stats(request: Request) -> HTTPResponse:
    """``GET /admin/stats``: site figures."""
    await require_role(request, "admin")
    return json(AdminStats(**await admin.stats()).dump())


@bp.get("/plugins")
@operation(
    id="adminPlugins", summary="Installed plugins, their hooks and the active backends (admin)",
    tag="admin", auth="admin", responses={200: AdminPlugins},
)  # fmt: skip
async def plugins(request: Request) -> HTTPResponse:
    """``GET /admin/plugins``: installed plugins, their hooks and the active backends."""
    await require_role(request, "admin")
    return json(AdminPlugins(**describe_runtime(request.app.ctx.runtime)).dump())
