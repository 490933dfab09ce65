"""``GET /api/v1/openapi.json``: the OpenAPI document (not counted by rate limits)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

bp = Blueprint("discovery")


@bp.get("/api/v1/openapi.json", name="openapi")
async def openapi_document(request: Request) -> HTTPResponse:
    """The OpenAPI 3.1 document for this server's settings (built once per worker)."""
    ctx = request.app.ctx
    document = getattr(ctx, "openapi_document", None)
    if document is None:
        from ..openapi import build_document  # the builder imports the handlers' models

        document = ctx.openapi_document = build_document(ctx.settings)
    return json(document)
