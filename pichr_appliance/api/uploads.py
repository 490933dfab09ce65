"""``/api/v1/upload``: presign, direct PUT (streamed), finalize."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, empty, json

from .. import imaging
from ..errors import ApiError, not_found, unauthorized
from ..models import File, User, is_id
from ..schemas.common import validate
from ..schemas.files import FileOut
from ..schemas.uploads import (
    DirectUpload,
    FinalizeRequest,
    MultipartAbortRequest,
    MultipartCompleteRequest,
    MultipartInit,
    MultipartInitRequest,
    MultipartStatus,
    OneRequestQuery,
    Presign,
    PresignRequest,
    UploadPart,
    UploadTokenQuery,
)
from ..services import files as files_service
from ..services import ingest, multipart, uploads
from .context import authenticate, require_actor
from .operations import RAW, operation
from .validation import json_object, parse

bp = Blueprint("uploads", url_prefix="/api/v1/upload")


async def _uploader(request: Request) -> User | None:
    """The signed-in user with the ``upload`` permission, or None when anonymous."""
    actor = await authenticate(request)
    if actor is None:
        return None
    return (await require_actor(request, "upload")).user


@bp.post("/presign")
@operation(
    id="presign", summary="Start an upload", tag="uploads", auth="optional",
    body=PresignRequest, responses={201: Presign}, errors=[402, 404, 413, 415, 507],
    permission="upload",
    description="Anonymous only when `uploads.allow_anonymous` is on (else 401). "
    "Counts one upload against the plan. 404 for an `albumId` that is not the caller's.",
)  # fmt: skip
async def presign(request: Request) -> HTTPResponse:
    user = await _uploader(request)
    raw = json_object(request)
    # Counted before the fields are checked, as an upload attempt: a client cannot probe
    # past its hourly allowance with bodies that fail validation.
    await request.app.ctx.rate_limiter.upload_started(request, user)
    body = validate(PresignRequest, raw)
    return json(await uploads.presign(request.app.ctx.runtime, user, body), status=201)


async def _body(request: Request) -> AsyncIterator[bytes]:
    while True:
        chunk = await request.stream.read()
        if chunk is None:
            return
        yield chunk


@bp.put("/direct/<file_id:str>", stream=True)
@operation(
    id="uploadDirect", summary="Send the bytes of a presigned upload", tag="uploads",
    auth="optional", body=RAW, query=UploadTokenQuery, responses={200: DirectUpload},
    errors=[400, 402, 404, 409, 413, 415, 507], permission="upload",
    description="The raw image bytes; their type is read from the bytes, not from "
    "`Content-Type`. Without `token`, the owner's credentials (401 without either).",
)  # fmt: skip
async def direct(request: Request, file_id: str) -> HTTPResponse:
    rt = request.app.ctx.runtime
    file = await File.get_or_none(id=file_id) if is_id(file_id) else None
    if file is None:
        raise not_found("Upload")
    token = request.args.get("token")
    if token:
        if rt.tokens.decode_signed(token, "upload", file_id) is None:
            raise unauthorized("The upload token is invalid or expired", "invalid_upload_token")
    else:
        actor = await authenticate(request)
        if actor is None:
            raise unauthorized("Use the uploadUrl from presign, or sign in")
        if file.owner_id != actor.user.id:
            raise not_found("Upload")  # someone else's upload: not visible to you
        await require_actor(request, "upload")
    length = request.headers.get("content-length")
    announced = int(length) if length is not None and length.isdigit() else None
    file = await ingest.direct(rt, file_id, _body(request), length=announced)
    answer = DirectUpload(
        fileId=file.id,
        url=files_service.file_url(rt.settings, file),
        mime=file.mime,
        bytes=file.bytes,
        status=file.status,
    )
    return json(answer.dump())


@bp.post("", stream=True)
@operation(
    id="uploadOneRequest", summary="Upload an image in one request (ShareX, curl)",
    tag="uploads", auth="optional", body=RAW, query=OneRequestQuery,
    responses={201: FileOut}, errors=[400, 402, 404, 411, 413, 415, 507], permission="upload",
    description="Presign and PUT in one: the raw image is the body (with a "
    "Content-Length), its type is read from the bytes. Same checks, limits and "
    "processing as a presigned upload; a refused body leaves nothing behind.",
)  # fmt: skip
async def one_request(request: Request) -> HTTPResponse:
    """One-request upload for tools that cannot presign (ShareX, curl, Flameshot): the
    raw image is the body, the presign fields are query parameters; the type comes
    from the bytes. Same checks, limits and processing as presign + PUT."""
    user = await _uploader(request)
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        raise ApiError(411, "length_required", "Send the image with a Content-Length header")
    await request.app.ctx.rate_limiter.upload_started(request, user)
    first = b""
    while len(first) < imaging.SNIFF_BYTES:
        chunk = await request.stream.read()
        if chunk is None:
            break
        first += chunk
    mime = imaging.sniff(first)
    if mime is None:
        raise ApiError(415, "unsupported_type", "The body is not an image of an accepted type")
    args = request.args
    body: dict = {"filename": args.get("filename") or "upload", "mime": mime, "bytes": int(length)}
    for field in ("title", "description", "visibility", "albumId", "sha256"):
        if args.get(field) is not None:
            body[field] = args.get(field)
    if args.get("tags"):
        body["tags"] = [t for t in args.get("tags").split(",") if t.strip()]
    if args.get("expiresIn"):
        try:
            body["expiresIn"] = float(args.get("expiresIn"))
        except ValueError:
            body["expiresIn"] = args.get("expiresIn")  # refused by PresignRequest, named

    async def rest() -> AsyncIterator[bytes]:
        yield first
        async for chunk in _body(request):
            yield chunk

    rt = request.app.ctx.runtime
    file = await ingest.upload_stream(rt, user, body, rest())
    # A new file is in the one album presign checked and the pipeline added it to, if any.
    album_ids = [body["albumId"]] if body.get("albumId") else []
    return json(FileOut.of(rt.settings, rt.storage, file, album_ids).dump(), 201)


@bp.post("/finalize")
@operation(
    id="finalize", summary="The File of a finished upload", tag="uploads", auth="optional",
    body=FinalizeRequest, responses={200: FileOut}, errors=[404, 409, 507], permission="upload",
    description="409 `upload_incomplete` while the bytes have not arrived.",
)  # fmt: skip
async def finalize(request: Request) -> HTTPResponse:
    rt = request.app.ctx.runtime
    actor = await authenticate(request)
    if actor is not None:  # an API key without `upload` finishes no upload either
        actor = await require_actor(request, "upload")
    body = parse(request, FinalizeRequest)
    file = await uploads.finalize(rt, actor.user if actor else None, body.uploadId, body.fileId)
    album_ids = await files_service.album_ids_for([file.id], actor.user if actor else None)
    return json(FileOut.of(rt.settings, rt.storage, file, album_ids[file.id]).dump())


async def _multipart_upload(request: Request, upload_id: str):
    rt = request.app.ctx.runtime
    token = request.args.get("token")
    token_ok = bool(token) and rt.tokens.decode_signed(token, "multipart", upload_id) is not None
    if token and not token_ok:
        raise unauthorized("The upload token is invalid or expired", "invalid_upload_token")
    user = None
    if not token_ok:
        actor = await authenticate(request)
        if actor is None:
            raise unauthorized("Use the part URLs from init, or sign in")
        user = (await require_actor(request, "upload")).user
    return await multipart.get_upload(upload_id, user, token_ok)


@bp.post("/multipart/init")
@operation(
    id="multipartInit", summary="Start a multipart upload", tag="uploads", auth="optional",
    body=MultipartInitRequest, responses={201: MultipartInit},
    errors=[402, 404, 413, 415, 507], permission="upload",
)  # fmt: skip
async def multipart_init(request: Request) -> HTTPResponse:
    user = await _uploader(request)
    raw = json_object(request)
    # Counted before the fields are checked, as an upload attempt: a client cannot probe
    # past its hourly allowance with bodies that fail validation.
    await request.app.ctx.rate_limiter.upload_started(request, user)
    body = validate(MultipartInitRequest, raw)
    return json(await multipart.init(request.app.ctx.runtime, user, body), status=201)


@bp.put("/multipart/<upload_id:str>/parts/<number:str>", stream=True)
@operation(
    id="multipartPart", summary="Send one part (re-sending replaces it)", tag="uploads",
    auth="optional", body=RAW, query=UploadTokenQuery, responses={200: UploadPart},
    errors=[400, 404, 409, 413, 507], permission="upload",
)  # fmt: skip
async def multipart_part(request: Request, upload_id: str, number: str) -> HTTPResponse:
    upload = await _multipart_upload(request, upload_id)
    part = int(number) if number.isdigit() and len(number) < 7 else None
    result = await multipart.put_part(request.app.ctx.runtime, upload, part, _body(request))
    return json(result)


@bp.get("/multipart/<upload_id:str>")
@operation(
    id="multipartStatus", summary="The parts received so far", tag="uploads",
    auth="optional", query=UploadTokenQuery, responses={200: MultipartStatus}, errors=[404],
    permission="upload",
)  # fmt: skip
async def multipart_status(request: Request, upload_id: str) -> HTTPResponse:
    upload = await _multipart_upload(request, upload_id)
    return json(await multipart.status(upload))


@bp.post("/multipart/complete")
@operation(
    id="multipartComplete", summary="Join the parts and process the file", tag="uploads",
    auth="optional", body=MultipartCompleteRequest, query=UploadTokenQuery,
    responses={200: FileOut}, errors=[402, 404, 409, 415, 507], permission="upload",
    description="400 `missing_parts` / `mismatched_parts` name the parts.",
)  # fmt: skip
async def multipart_complete(request: Request) -> HTTPResponse:
    rt = request.app.ctx.runtime
    body = parse(request, MultipartCompleteRequest)
    upload = await _multipart_upload(request, body.uploadId)
    file = await multipart.complete(rt, upload, body)
    return json(FileOut.of(rt.settings, rt.storage, file).dump())


@bp.post("/multipart/abort")
@operation(
    id="multipartAbort", summary="Drop an unfinished multipart upload", tag="uploads",
    auth="optional", body=MultipartAbortRequest, query=UploadTokenQuery,
    responses={204: None}, errors=[404, 409], permission="upload",
)  # fmt: skip
async def multipart_abort(request: Request) -> HTTPResponse:
    body = parse(request, MultipartAbortRequest)
    upload = await _multipart_upload(request, body.uploadId)
    await multipart.abort(request.app.ctx.runtime, upload)
    return empty(status=204)
