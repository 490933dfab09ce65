"""``/api/v1/api-keys`` (session only)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, StrictStr
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, empty, json

from ..services import api_keys
from .context import require_actor
from .validation import Body, parse

bp = Blueprint("api_keys", url_prefix="/api/v1/api-keys")


class KeyBody(Body):
    name: StrictStr = Field(max_length=100)
    permissions: list[StrictStr] = Field(max_length=10)
    expiresAt: datetime | None = None


@bp.post("")
async def create(request: Request) -> HTTPResponse:
    actor = await require_actor(request, session_only=True)
    body = parse(request, KeyBody)
    expires = body.expiresAt
    if expires is not None and expires.tzinfo is None:
        from datetime import UTC

        expires = expires.replace(tzinfo=UTC)
    key, secret = await api_keys.create_key(actor.user, body.name, body.permissions, expires)
    return json(api_keys.key_json(key, secret), status=201)


@bp.get("")
async def list_(request: Request) -> HTTPResponse:
    actor = await require_actor(request, session_only=True)
    keys = await api_keys.list_keys(actor.user)
    return json({"apiKeys": [api_keys.key_json(k) for k in keys]})


@bp.delete("/<key_id:str>")
async def revoke(request: Request, key_id: str) -> HTTPResponse:
    actor = await require_actor(request, session_only=True)
    await api_keys.revoke_key(actor.user, key_id)
    return empty(status=204)
