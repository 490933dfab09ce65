"""``GET /api/v1/openapi.json``: the OpenAPI document (not counted by rate limits)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from ..schemas.health import OpenApiDocument
from .operations import operation

bp = Blueprint("discovery")


@bp.get("/api/v1/openapi.json", name="openapi")
@operation(
    id="openapi", summary="This document", tag="discovery", auth="none",
    responses={200: OpenApiDocument}, counted=False, description="Not counted by rate limits.",
)  # fmt: skip
async def openapi_document(request: Request) -> HTTPResponse:
    """The OpenAPI 3.1 document for this server's settings (built once per worker)."""
    ctx = request.app.ctx
    document = getattr(ctx, "openapi_document", None)
    if document is None:
        from ..openapi import build_document  # the builder imports the blueprints

        document = ctx.openapi_document = build_document(ctx.runtime.settings)
    return json(document)
