"""``/api/v1/files``: list, public feed, get, patch, delete, share."""

from __future__ import annotations

import time

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, empty, json

from ..errors import ApiError, bad_request, not_found
from ..models import VISIBILITIES
from ..schemas.files import (
    FileListQuery,
    FileOut,
    FilePage,
    FilePatchRequest,
    PublicFileQuery,
    ShareRequest,
    ShareUrl,
)
from ..services import access, filecache
from ..services import files as files_service
from .context import authenticate, require_actor
from .operations import operation
from .responses import ScrubbedResponse
from .validation import paging, parse, parse_optional

bp = Blueprint("files", url_prefix="/api/v1/files")


async def _page(request: Request, viewer, files: list, total: int, limit: int, offset: int):
    rt = request.app.ctx.runtime
    albums = await files_service.album_ids_for([f.id for f in files], viewer)
    items = [FileOut.of(rt.settings, rt.storage, f, albums[f.id]) for f in files]
    return FilePage(files=items, total=total, limit=limit, offset=offset).dump()


@bp.get("")
@operation(
    id="listFiles", summary="The caller's files", tag="files", auth="any", permission="read",
    query=FileListQuery, responses={200: FilePage}, errors=[400],
)  # fmt: skip
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
    return json(await _page(request, actor.user, files, total, limit, offset))


@bp.get("/public")
@operation(
    id="listPublicFiles", summary="Everyone's public files", tag="files", auth="optional",
    query=PublicFileQuery, responses={200: FilePage}, errors=[400],
    description="Age-restricted files only for callers who confirmed their age.",
)  # fmt: skip
async def list_public(request: Request) -> HTTPResponse:
    actor = await authenticate(request)
    limit, offset = paging(request)
    viewer = actor.user if actor else None
    files, total = await files_service.list_public(
        viewer, limit=limit, offset=offset, tag=request.args.get("tag")
    )
    return json(await _page(request, viewer, files, total, limit, offset))


@bp.get("/<file_id:str>")
@operation(
    id="getFile", summary="A file's metadata", tag="files", auth="optional",
    permission="read", responses={200: FileOut}, errors=[404, 410],
)  # fmt: skip
async def get(request: Request, file_id: str) -> HTTPResponse:
    actor = await authenticate(request)
    if actor is not None and not actor.can("read"):
        await require_actor(request, "read")
    viewer = actor.user if actor else None
    body = await filecache.file_body(request.app.ctx.runtime, file_id, viewer)
    return ScrubbedResponse(body, content_type="application/json")


async def _own(request: Request, file_id: str, permission: str):
    actor = await require_actor(request, permission)
    file = await access.visible_file(file_id, actor.user)
    if not access.is_owner(file, actor.user):
        if permission == "delete" and access.is_staff(actor.user):
            return actor, file
        raise not_found("File")
    return actor, file


@bp.patch("/<file_id:str>")
@operation(
    id="updateFile", summary="Change a file (owner)", tag="files", auth="any",
    permission="write", body=FilePatchRequest, responses={200: FileOut}, errors=[404, 410],
)  # fmt: skip
async def patch(request: Request, file_id: str) -> HTTPResponse:
    actor, file = await _own(request, file_id, "write")
    body = parse(request, FilePatchRequest)
    if file.status == "removed":
        raise ApiError(410, "removed", "This file was removed")
    file = await files_service.update(file, body)
    rt = request.app.ctx.runtime
    files_service.forget(rt, file.id)
    albums = await files_service.album_ids_for([file.id], actor.user)
    return json(FileOut.of(rt.settings, rt.storage, file, albums[file.id]).dump())


@bp.delete("/<file_id:str>")
@operation(
    id="deleteFile", summary="Delete a file (owner or staff)", tag="files", auth="any",
    permission="delete", responses={204: None}, errors=[404],
)  # fmt: skip
async def delete(request: Request, file_id: str) -> HTTPResponse:
    actor, file = await _own(request, file_id, "delete")
    await files_service.delete_by(request.app.ctx.runtime, file, actor.user)
    return empty(status=204)


@bp.post("/<file_id:str>/share")
@operation(
    id="shareFile", summary="A signed, expiring URL for a file (owner)", tag="files",
    auth="any", permission="write", body=ShareRequest, body_required=False,
    responses={200: ShareUrl}, errors=[404, 410],
)  # fmt: skip
async def share(request: Request, file_id: str) -> HTTPResponse:
    actor, file = await _own(request, file_id, "write")
    access.check_available(file)
    rt = request.app.ctx.runtime
    body = parse_optional(request, ShareRequest, {"settings": rt.settings})
    expires = int(time.time()) + body.expiresIn
    path = f"/i/{file.id}"
    sig = rt.tokens.sign_url(path, expires)
    url = f"{rt.settings.image_base_url}/{file.id}?exp={expires}&sig={sig}"
    return json(ShareUrl(url=url, expiresAt=files_service.iso_epoch(expires)).dump())
