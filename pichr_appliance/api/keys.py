"""``/api/v1/api-keys`` (session only)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, empty, json

from ..schemas.keys import ApiKeyCreated, ApiKeyList, KeyBody
from ..services import api_keys
from .context import require_actor
from .operations import operation
from .validation import parse

bp = Blueprint("api_keys", url_prefix="/api/v1/api-keys")


@bp.post("")
@operation(
    id="createApiKey", summary="Create an API key (shown once)", tag="api-keys",
    auth="session", body=KeyBody, responses={201: ApiKeyCreated},
)  # fmt: skip
async def create(request: Request) -> HTTPResponse:
    actor = await require_actor(request, session_only=True)
    body = parse(request, KeyBody)
    key, secret = await api_keys.create_key(actor.user, body)
    return json(api_keys.key_json(key, secret), status=201)


@bp.get("")
@operation(
    id="listApiKeys", summary="The caller's live API keys", tag="api-keys", auth="session",
    responses={200: ApiKeyList},
)  # fmt: skip
async def list_(request: Request) -> HTTPResponse:
    actor = await require_actor(request, session_only=True)
    keys = await api_keys.list_keys(actor.user)
    return json(ApiKeyList(apiKeys=[api_keys.key_out(k) for k in keys]).dump())


@bp.delete("/<key_id:str>")
@operation(
    id="revokeApiKey", summary="Revoke an API key", tag="api-keys", auth="session",
    responses={204: None}, errors=[404],
)  # fmt: skip
async def revoke(request: Request, key_id: str) -> HTTPResponse:
    actor = await require_actor(request, session_only=True)
    await api_keys.revoke_key(actor.user, key_id)
    return empty(status=204)
