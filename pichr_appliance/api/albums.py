"""``/api/v1/albums``: create, list, get with a page of files, patch, delete, entries."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, empty, json

from ..schemas.albums import (
    AlbumAddFilesRequest,
    AlbumCreateRequest,
    AlbumOrderRequest,
    AlbumOut,
    AlbumPage,
    AlbumPatchRequest,
    AlbumWithFiles,
)
from ..schemas.files import Paging
from ..services import access
from ..services import albums as albums_service
from .context import authenticate, require_actor
from .operations import operation
from .validation import paging, parse

bp = Blueprint("albums", url_prefix="/api/v1/albums")


@bp.post("")
@operation(
    id="createAlbum", summary="Create an album", tag="albums", auth="any", permission="write",
    body=AlbumCreateRequest, responses={201: AlbumOut},
    description="Only the caller's own ready files (400 `invalid_file_ids` names others).",
)  # fmt: skip
async def create(request: Request) -> HTTPResponse:
    """``POST /albums``: 201 Album; only the caller's own files (400 naming others)."""
    actor = await require_actor(request, "write")
    album = await albums_service.create(
        request.app.ctx.runtime, actor.user, parse(request, AlbumCreateRequest)
    )
    settings = request.app.ctx.runtime.settings
    return json(await albums_service.owner_json(settings, album), status=201)


@bp.get("")
@operation(
    id="listAlbums", summary="The caller's albums", tag="albums", auth="any",
    permission="read", query=Paging, responses={200: AlbumPage}, errors=[400],
)  # fmt: skip
async def list_own(request: Request) -> HTTPResponse:
    """``GET /albums``: the caller's albums, newest first."""
    actor = await require_actor(request, "read")
    limit, offset = paging(request)
    albums, total = await albums_service.list_own(actor.user, limit=limit, offset=offset)
    counts = await albums_service.file_counts([a.id for a in albums])
    settings = request.app.ctx.runtime.settings
    items = [
        AlbumOut(**AlbumOut.fields_of(settings, a, counts[a.id], a.cover_file_id)) for a in albums
    ]
    return json(AlbumPage(albums=items, total=total, limit=limit, offset=offset).dump())


@bp.get("/<album_id:str>")
@operation(
    id="getAlbum", summary="An album with a page of its files", tag="albums",
    auth="optional", permission="read", query=Paging, responses={200: AlbumWithFiles},
    errors=[400, 404, 410],
)  # fmt: skip
async def get(request: Request, album_id: str) -> HTTPResponse:
    """``GET /albums/{id}``: Album plus a page of its files in album order."""
    actor = await authenticate(request)
    if actor is not None and not actor.can("read"):
        await require_actor(request, "read")
    viewer = actor.user if actor else None
    limit, offset = paging(request)
    album = await access.visible_album(album_id, viewer)
    rt = request.app.ctx.runtime
    return json(await albums_service.page(rt, album, viewer, limit=limit, offset=offset))


@bp.patch("/<album_id:str>")
@operation(
    id="updateAlbum", summary="Change an album (owner)", tag="albums", auth="any",
    permission="write", body=AlbumPatchRequest, responses={200: AlbumOut}, errors=[404, 410],
)  # fmt: skip
async def patch(request: Request, album_id: str) -> HTTPResponse:
    """``PATCH /albums/{id}`` (owner): title, description, visibility, tags, cover."""
    actor = await require_actor(request, "write")
    album = await albums_service.get_own(album_id, actor.user)
    album = await albums_service.update(album, parse(request, AlbumPatchRequest))
    return json(await albums_service.owner_json(request.app.ctx.runtime.settings, album))


@bp.delete("/<album_id:str>")
@operation(
    id="deleteAlbum", summary="Delete an album (owner or staff; the files stay)",
    tag="albums", auth="any", permission="delete", responses={204: None}, errors=[404],
)  # fmt: skip
async def delete(request: Request, album_id: str) -> HTTPResponse:
    """``DELETE /albums/{id}`` (owner or staff): 204; the files stay."""
    actor = await require_actor(request, "delete")
    album = await albums_service.get_own(album_id, actor.user, staff_ok=True)
    await albums_service.delete(album, actor.user)
    return empty(status=204)


@bp.post("/<album_id:str>/files")
@operation(
    id="addAlbumFiles", summary="Add files to an album", tag="albums", auth="any",
    permission="write", body=AlbumAddFilesRequest, responses={200: AlbumOut},
    errors=[404, 410],
)  # fmt: skip
async def add_files(request: Request, album_id: str) -> HTTPResponse:
    """``POST /albums/{id}/files`` ``{fileIds, position?}``: the Album."""
    actor = await require_actor(request, "write")
    album = await albums_service.get_own(album_id, actor.user)
    body = parse(request, AlbumAddFilesRequest)
    album = await albums_service.add_files(album, actor.user, body)
    return json(await albums_service.owner_json(request.app.ctx.runtime.settings, album))


@bp.delete("/<album_id:str>/files/<file_id:str>")
@operation(
    id="removeAlbumFile", summary="Take a file out of an album (the file stays)",
    tag="albums", auth="any", permission="write", responses={204: None}, errors=[404, 410],
)  # fmt: skip
async def remove_file(request: Request, album_id: str, file_id: str) -> HTTPResponse:
    """``DELETE /albums/{id}/files/{fileId}``: 204; the file stays."""
    actor = await require_actor(request, "write")
    album = await albums_service.get_own(album_id, actor.user)
    await albums_service.remove_file(album, file_id)
    return empty(status=204)


@bp.put("/<album_id:str>/order")
@operation(
    id="reorderAlbum", summary="Reorder an album's files", tag="albums", auth="any",
    permission="write", body=AlbumOrderRequest, responses={200: AlbumOut}, errors=[404, 410],
    description="`fileIds` must list every file of the album once (400 `invalid_order`).",
)  # fmt: skip
async def reorder(request: Request, album_id: str) -> HTTPResponse:
    """``PUT /albums/{id}/order`` ``{fileIds}``: every file of the album once."""
    actor = await require_actor(request, "write")
    album = await albums_service.get_own(album_id, actor.user)
    album = await albums_service.reorder(album, parse(request, AlbumOrderRequest))
    return json(await albums_service.owner_json(request.app.ctx.runtime.settings, album))
