"""``/api/v1/files``: list, public feed, get, patch, delete, share."""

from __future__ import annotations

import time

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, empty, json

from ..errors import ApiError, bad_request, not_found
from ..models import VISIBILITIES
from ..services import files as files_service
from .context import authenticate, require_actor
from .validation import json_object, paging

bp = Blueprint("files", url_prefix="/api/v1/files")


async def _page(request: Request, files: list, total: int, limit: int, offset: int) -> dict:
    rt = request.app.ctx.runtime
    items = await files_service.files_json(rt.settings, rt.storage, files)
    return {"files": items, "total": total, "limit": limit, "offset": offset}


@bp.get("")
async def list_own(request: Request) -> HTTPResponse:
    actor = await require_actor(request, "read")
    limit, offset = paging(request)
    visibility = request.args.get("visibility")
    if visibility is not None and visibility not in VISIBILITIES:
        raise bad_request(
            f"visibility: one of {', '.join(VISIBILITIES)}",
            "invalid_query",
            {"field": "visibility"},
        )
    files, total = await files_service.list_own(
        actor.user,
        limit=limit,
        offset=offset,
        visibility=visibility,
        tag=request.args.get("tag"),
        album_id=request.args.get("albumId"),
        q=request.args.get("q"),
        sort=request.args.get("sort", "-created"),
    )
    return json(await _page(request, files, total, limit, offset))


@bp.get("/public")
async def list_public(request: Request) -> HTTPResponse:
    actor = await authenticate(request)
    limit, offset = paging(request)
    files, total = await files_service.list_public(
        actor.user if actor else None, limit=limit, offset=offset, tag=request.args.get("tag")
    )
    return json(await _page(request, files, total, limit, offset))


@bp.get("/<file_id:str>")
async def get(request: Request, file_id: str) -> HTTPResponse:
    actor = await authenticate(request)
    if actor is not None and not actor.can("read"):
        await require_actor(request, "read")
    rt = request.app.ctx.runtime
    file = await files_service.get_visible(file_id, actor.user if actor else None)
    files_service.check_available(file)
    albums = await files_service.album_ids_for([file.id])
    return json(files_service.file_json(rt.settings, rt.storage, file, albums[file.id]))


async def _own(request: Request, file_id: str, permission: str):
    actor = await require_actor(request, permission)
    file = await files_service.get_visible(file_id, actor.user)
    if not files_service.is_owner(file, actor.user):
        if permission == "delete" and files_service.is_staff(actor.user):
            return actor, file
        raise not_found("File")
    return actor, file


@bp.patch("/<file_id:str>")
async def patch(request: Request, file_id: str) -> HTTPResponse:
    actor, file = await _own(request, file_id, "write")
    body = json_object(request)
    if file.status == "removed":
        raise ApiError(410, "removed", "This file was removed")
    file = await files_service.update(file, body)
    rt = request.app.ctx.runtime
    files_service.forget(rt, file.id)
    albums = await files_service.album_ids_for([file.id])
    return json(files_service.file_json(rt.settings, rt.storage, file, albums[file.id]))


@bp.delete("/<file_id:str>")
async def delete(request: Request, file_id: str) -> HTTPResponse:
    actor, file = await _own(request, file_id, "delete")
    await files_service.delete_file(request.app.ctx.runtime, file, actor.user)
    return empty(status=204)


@bp.post("/<file_id:str>/share")
async def share(request: Request, file_id: str) -> HTTPResponse:
    actor, file = await _own(request, file_id, "write")
    files_service.check_available(file)
    rt = request.app.ctx.runtime
    body = json_object(request) if request.body else {}
    expires_in = body.get("expiresIn", 3600)
    limit = rt.settings.images.share_max_seconds
    if (
        isinstance(expires_in, bool)
        or not isinstance(expires_in, int)
        or not (0 < expires_in <= limit)
    ):
        raise bad_request(
            f"expiresIn: seconds, 1 to {limit}", "invalid_expiry", {"field": "expiresIn"}
        )
    expires = int(time.time()) + expires_in
    path = f"/i/{file.id}"
    sig = rt.tokens.sign_url(path, expires)
    url = f"{rt.settings.image_base_url}/{file.id}?exp={expires}&sig={sig}"
    return json({"url": url, "expiresAt": files_service.iso_epoch(expires)})
