"""``/api/v1/admin`` (role admin, session only): accounts and site figures."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from ..errors import not_found
from ..models import User, is_id
from ..plugins import describe_runtime
from ..services import accounts, admin
from ..services.audit import Operator
from .context import require_role
from .validation import json_object, paging

bp = Blueprint("admin", url_prefix="/api/v1/admin")


@bp.get("/users")
async def list_users(request: Request) -> HTTPResponse:
    """``GET /admin/users?q&limit&offset``: accounts with their usage."""
    await require_role(request, "admin")
    limit, offset = paging(request)
    q = request.args.get("q") or request.args.get("search")
    users, total = await admin.list_users(q=q, limit=limit, offset=offset)
    settings = request.app.ctx.settings
    items = [accounts.user_json(u, usage=True, settings=settings) for u in users]
    return json({"users": items, "total": total, "limit": limit, "offset": offset})


@bp.patch("/users/<user_id:str>")
async def update_user(request: Request, user_id: str) -> HTTPResponse:
    """``PATCH /admin/users/{id}`` ``{role?, plan?, disabled?}``: ``{user}``."""
    actor = await require_role(request, "admin")
    body = json_object(request)
    user = await User.get_or_none(id=user_id) if is_id(user_id) else None
    if user is None:
        raise not_found("User")
    rt = request.app.ctx.runtime
    user = await admin.update_user(rt, Operator.of_user(actor.user), user, body)
    return json({"user": accounts.user_json(user, usage=True, settings=rt.settings)})


@bp.get("/stats")
async def stats(request: Request) -> HTTPResponse:
    """``GET /admin/stats``: site figures."""
    await require_role(request, "admin")
    return json(await admin.stats())


@bp.get("/plugins")
async def plugins(request: Request) -> HTTPResponse:
    """``GET /admin/plugins``: installed plugins, their hooks and the active backends."""
    await require_role(request, "admin")
    return json(describe_runtime(request.app.ctx.runtime))
