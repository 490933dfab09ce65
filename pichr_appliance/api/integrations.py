"""``/api/v1/integrations``: configuration files for uploader tools (session only)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from ..schemas.integrations import SharexConfig
from ..services import integrations
from .context import require_actor
from .operations import operation

bp = Blueprint("integrations", url_prefix="/api/v1/integrations")


@bp.get("/sharex")
@operation(
    id="sharexConfig", summary="A ShareX custom uploader (.sxcu) with a new upload-only API key",
    tag="integrations", auth="session", responses={200: SharexConfig},
    description="Each call creates an API key named ShareX with the `upload` "
    "permission; its uploads go to `POST /api/v1/upload`.",
)  # fmt: skip
async def sharex(request: Request) -> HTTPResponse:
    """A ShareX ``.sxcu`` for the signed-in user, with a new upload-only API key (each
    download makes a key; revoke old ones under ``/api/v1/api-keys``)."""
    actor = await require_actor(request, session_only=True)
    settings = request.app.ctx.runtime.settings
    secret = await integrations.new_upload_key(actor.user)
    filename = integrations.sharex_filename(settings)
    return json(
        integrations.sharex_config(settings, secret),
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
