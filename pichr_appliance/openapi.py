"""The OpenAPI 3.1 document of the appliance's HTTP API (``GET /api/v1/openapi.json``).

Built from the code where the code has the facts: pydantic request bodies come from
``model_json_schema()``, limits and enums from the services' constants, plans and
accepted types from the settings. Component schemas live in :mod:`.openapi_schemas`.

Two tests keep it honest: every registered route is documented and every documented
operation is a route (``tests/test_openapi.py``), and a schemathesis run against a
live server checks status codes, content types, headers and bodies of what the
server really answers. Routes that plugins mount later (``/-/<plugin>/...``) are not
part of this document.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from . import __version__, imaging
from .api.auth import LoginBody, ProfileBody, RefreshBody, SignupBody
from .api.keys import KeyBody
from .openapi_schemas import ID_PATTERNS, PYDANTIC_REFINEMENTS, answers, bodies, ref
from .services.moderation import STATUSES
from .services.multipart import MAX_PARTS

Schema = dict[str, Any]

PYDANTIC_BODIES: tuple[type[BaseModel], ...] = (
    SignupBody,
    LoginBody,
    RefreshBody,
    ProfileBody,
    KeyBody,
)

ERROR_TEXT = {
    400: "Invalid request: malformed JSON, a bad field or query parameter (named in `error`).",
    401: "Credentials missing, or presented but invalid or expired.",
    402: "Storage quota exhausted.",
    403: "Authenticated but not allowed (role, API key permission, session-only route, "
    "disabled account).",
    404: "Absent, or not visible to this caller.",
    409: "Conflict with the current state.",
    411: "The body needs a Content-Length.",
    410: "Expired, or removed by moderation.",
    413: "Larger than allowed (the plan's file size, or the server's JSON body limit).",
    415: "Not a supported image type, or the bytes do not match the declared type.",
    416: "Range not satisfiable.",
    500: "Unexpected error (`details.requestId` appears in the server log).",
}

# Sessions and API keys both travel as ``Authorization: Bearer <token>``.
ANY_AUTH = [{"bearerJwt": []}, {"apiKey": []}]
SESSION_ONLY = [{"bearerJwt": []}]
OPTIONAL_AUTH = [{}, {"bearerJwt": []}, {"apiKey": []}]
NO_AUTH: list = []


def _pydantic_schemas() -> dict[str, Schema]:
    """The request-body models' own JSON schemas, plus the rules services add on top."""
    out = {}
    for model in PYDANTIC_BODIES:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for field, extra in PYDANTIC_REFINEMENTS.get(model.__name__, {}).items():
            prop = schema["properties"][field]
            for key, value in extra.items():
                if key == "items":
                    prop["items"] = {**prop.get("items", {}), **value}
                else:
                    prop[key] = value
        out[model.__name__] = schema
    return out


class _Builder:
    """Accumulates paths for one settings object."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.paths: dict[str, dict[str, Any]] = {}
        self.limited = bool(settings.rate_limits.enabled)
        self.responses: dict[str, Any] = {}

    # -- responses ------------------------------------------------------------------

    def _headers_obj(self, counted: bool, required: bool = True) -> dict[str, Any]:
        """The ``X-RateLimit-*`` headers of a counted route's answers."""
        if not counted:
            return {}
        if required:
            return {name: {"$ref": f"#/components/headers/{name}"} for name in RATE_HEADERS}
        return {
            name: {k: v for k, v in HEADERS[name].items() if k != "required"}
            for name in RATE_HEADERS
        }

    def ok(self, schema: Schema | None, description: str, counted: bool = True) -> dict:
        """A success response with a JSON body (None: no body)."""
        resp: dict[str, Any] = {"description": description}
        headers = self._headers_obj(counted)
        if headers:
            resp["headers"] = headers
        if schema is not None:
            resp["content"] = {"application/json": {"schema": schema}}
        return resp

    def error(self, status: int, counted: bool = True, text: str | None = None) -> dict:
        """A ``$ref`` to the shared error response for ``status`` (``text``: inline)."""
        name = f"Error{status}" if counted else f"Error{status}NotCounted"
        if text is None:
            self.responses.setdefault(name, self._error(status, counted))
            return {"$ref": f"#/components/responses/{name}"}
        return self._error(status, counted, text)

    def _error(self, status: int, counted: bool, text: str | None = None) -> dict:
        """An error response: the shared Error schema (429: RateLimited)."""
        if status == 429:
            return {
                "description": "Rate limit exceeded.",
                "headers": {
                    **self._headers_obj(counted),
                    "Retry-After": {"$ref": "#/components/headers/Retry-After"},
                },
                "content": {"application/json": {"schema": ref("RateLimited")}},
            }
        # Sanic refuses an oversized body before the middleware that counts the call.
        headers = self._headers_obj(counted, required=status != 413)
        resp: dict[str, Any] = {
            "description": text or ERROR_TEXT[status],
            "content": {"application/json": {"schema": ref("Error")}},
        }
        if headers:
            resp["headers"] = headers
        return resp

    # -- operations -----------------------------------------------------------------

    def op(
        self,
        method: str,
        path: str,
        op_id: str,
        summary: str,
        tag: str,
        *,
        ok: dict[str, dict],
        errors: tuple[int, ...] = (),
        security: list | None = None,
        params: list[dict] | None = None,
        body: Schema | None = None,
        body_required: bool = True,
        raw_body: bool = False,
        counted: bool = True,
        description: str = "",
        **extensions: Any,
    ) -> None:
        """Add one operation; ``errors`` lists the error statuses beyond the common ones."""
        responses = dict(ok)
        statuses = set(errors)
        if counted and path.startswith("/api/v1/"):
            statuses |= {429, 500}
            if security != NO_AUTH:
                statuses |= {401, 403}  # invalid credentials, disabled account
        if body is not None and not raw_body:
            statuses |= {400, 413}
        for status in sorted(statuses):
            responses[str(status)] = self.error(status, counted)
        operation: dict[str, Any] = {
            "operationId": op_id,
            "summary": summary,
            "tags": [tag],
            "responses": responses,
        }
        if description:
            operation["description"] = description
        if security is not None:
            operation["security"] = security
        if params:
            operation["parameters"] = params
        if body is not None:
            if raw_body:
                content = {mt: {"schema": body} for mt in RAW_MEDIA_TYPES}
            else:
                content = {"application/json": {"schema": body}}
            operation["requestBody"] = {"required": body_required, "content": content}
        for key, value in extensions.items():
            operation[f"x-{key.replace('_', '-')}"] = value
        self.paths.setdefault(path, {})[method.lower()] = operation


RAW_MEDIA_TYPES = ("application/octet-stream",)
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")

HEADERS: dict[str, Schema] = {
    "X-RateLimit-Limit": {
        "description": "Calls per hour allowed by the caller's plan.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-RateLimit-Remaining": {
        "description": "Calls left in the sliding hour.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-RateLimit-Reset": {
        "description": "When the oldest counted call leaves the window (epoch seconds).",
        "schema": {"type": "integer"},
    },
    "Retry-After": {
        "description": "Seconds until a call is allowed again.",
        "schema": {"type": "integer", "minimum": 0},
    },
}


def _path_param(name: str, kind: str | None, description: str) -> dict:
    schema: Schema = {"type": "string"}
    if kind:
        schema["pattern"] = ID_PATTERNS[kind]
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema,
        "description": description,
    }


def _query(name: str, schema: Schema, description: str) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _header(name: str, description: str) -> dict:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": description,
    }


PAGING = [
    {"$ref": "#/components/parameters/limit"},
    {"$ref": "#/components/parameters/offset"},
]
FILE_ID = _path_param("file_id", "file", "A file id (`file_...`).")
ALBUM_ID = _path_param("album_id", "album", "An album id (`alb_...`).")
UPLOAD_ID = _path_param("upload_id", "upload", "A multipart upload id (`upl_...`).")
REPORT_ID = _path_param("report_id", "report", "A report id (`rpt_...`).")
USER_ID = _path_param("user_id", "user", "A user id (`usr_...`).")
KEY_ID = _path_param("key_id", "key", "An API key record id (`key_...`).")
UPLOAD_TOKEN = _query(
    "token",
    {"type": "string"},
    "The signed token from `uploadUrl` / `partUrls`; replaces other credentials.",
)


def _auth_and_keys(b: _Builder) -> None:
    j = ref
    b.op(
        "post", "/api/v1/auth/signup", "signup", "Create an account", "auth",
        ok={"201": b.ok(j("AuthResult"), "The new user and a session.")},
        errors=(403, 409), security=NO_AUTH, body=j("SignupBody"),
        description="403 `signup_disabled` when `auth.allow_signup` is off; 409 for a taken "
        "email or username.",
    )  # fmt: skip
    b.op(
        "post", "/api/v1/auth/login", "login", "Sign in with email or username", "auth",
        ok={"200": b.ok(j("AuthResult"), "The user and a new session.")},
        errors=(401, 403), security=NO_AUTH, body=j("LoginBody"),
    )  # fmt: skip
    b.op(
        "post", "/api/v1/auth/refresh", "refresh", "Exchange a refresh token (single use)",
        "auth",
        ok={"200": b.ok(j("SessionResult"), "A new token pair.")},
        errors=(401, 403), security=NO_AUTH, body=j("RefreshBody"),
    )  # fmt: skip
    b.op(
        "post", "/api/v1/auth/logout", "logout", "End the current session", "auth",
        ok={"204": b.ok(None, "The session's tokens stop working.")},
        security=SESSION_ONLY,
    )  # fmt: skip
    b.op(
        "get", "/api/v1/auth/me", "getMe", "The caller with usage", "auth",
        ok={"200": b.ok(j("UserResult"), "The caller.")}, security=ANY_AUTH,
    )  # fmt: skip
    b.op(
        "patch", "/api/v1/auth/me", "updateMe", "Change profile or password", "auth",
        ok={"200": b.ok(j("UserResult"), "The changed user.")},
        errors=(409,), security=SESSION_ONLY, body=j("ProfileBody"),
        description="A new `password` needs `currentPassword` (403 `wrong_password`).",
    )  # fmt: skip
    b.op(
        "post", "/api/v1/api-keys", "createApiKey", "Create an API key (shown once)",
        "api-keys",
        ok={"201": b.ok(j("ApiKeyCreated"), "The key record with its secret `key`.")},
        security=SESSION_ONLY, body=j("KeyBody"),
    )  # fmt: skip
    b.op(
        "get", "/api/v1/api-keys", "listApiKeys", "The caller's live API keys", "api-keys",
        ok={"200": b.ok(j("ApiKeyList"), "Key records, never the secrets.")},
        security=SESSION_ONLY,
    )  # fmt: skip
    b.op(
        "delete", "/api/v1/api-keys/{key_id}", "revokeApiKey", "Revoke an API key",
        "api-keys",
        ok={"204": b.ok(None, "Revoked.")}, errors=(404,), security=SESSION_ONLY,
        params=[KEY_ID],
    )  # fmt: skip


def _uploads(b: _Builder) -> None:
    j = ref
    b.op(
        "post", "/api/v1/upload/presign", "presign", "Start an upload", "uploads",
        ok={"201": b.ok(j("Presign"), "The pending file and where to PUT its bytes.")},
        errors=(402, 404, 413, 415), security=OPTIONAL_AUTH, body=j("PresignRequest"),
        description="Anonymous only when `uploads.allow_anonymous` is on (else 401). "
        "Counts one upload against the plan. 404 for an `albumId` that is not the caller's.",
        api_key_permission="upload",
    )  # fmt: skip
    b.op(
        "put", "/api/v1/upload/direct/{file_id}", "uploadDirect",
        "Send the bytes of a presigned upload", "uploads",
        ok={"200": b.ok(j("DirectUpload"), "The file is ready.")},
        errors=(400, 402, 404, 409, 413, 415), security=OPTIONAL_AUTH,
        params=[FILE_ID, UPLOAD_TOKEN],
        body={"type": "string", "format": "binary"}, raw_body=True,
        description="The raw image bytes; their type is read from the bytes, not from "
        "`Content-Type`. Without `token`, the owner's credentials (401 without either).",
        api_key_permission="upload",
    )  # fmt: skip
    b.op(
        "post", "/api/v1/upload/finalize", "finalize", "The File of a finished upload",
        "uploads",
        ok={"200": b.ok(j("File"), "The file (idempotent).")},
        errors=(404, 409), security=OPTIONAL_AUTH, body=j("FinalizeRequest"),
        description="409 `upload_incomplete` while the bytes have not arrived.",
    )  # fmt: skip
    b.op(
        "post", "/api/v1/upload/multipart/init", "multipartInit", "Start a multipart upload",
        "uploads",
        ok={"201": b.ok(j("MultipartInit"), "The pending file and one URL per part.")},
        errors=(402, 404, 413, 415), security=OPTIONAL_AUTH,
        body=j("MultipartInitRequest"), api_key_permission="upload",
    )  # fmt: skip
    b.op(
        "put", "/api/v1/upload/multipart/{upload_id}/parts/{number}", "multipartPart",
        "Send one part (re-sending replaces it)", "uploads",
        ok={"200": b.ok(j("UploadPart"), "The stored part.")},
        errors=(400, 404, 409, 413), security=OPTIONAL_AUTH,
        params=[
            UPLOAD_ID,
            {
                "name": "number",
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PARTS},
                "description": "The part number, from 1.",
            },
            UPLOAD_TOKEN,
        ],
        body={"type": "string", "format": "binary"}, raw_body=True,
        api_key_permission="upload",
    )  # fmt: skip
    b.op(
        "get", "/api/v1/upload/multipart/{upload_id}", "multipartStatus",
        "The parts received so far", "uploads",
        ok={"200": b.ok(j("MultipartStatus"), "The upload and its parts.")},
        errors=(404,), security=OPTIONAL_AUTH, params=[UPLOAD_ID, UPLOAD_TOKEN],
        api_key_permission="upload",
    )  # fmt: skip
    b.op(
        "post", "/api/v1/upload/multipart/complete", "multipartComplete",
        "Join the parts and process the file", "uploads",
        ok={"200": b.ok(j("File"), "The ready file.")},
        errors=(402, 404, 409, 415), security=OPTIONAL_AUTH,
        params=[UPLOAD_TOKEN], body=j("MultipartCompleteRequest"),
        description="400 `missing_parts` / `mismatched_parts` name the parts.",
        api_key_permission="upload",
    )  # fmt: skip
    b.op(
        "post", "/api/v1/upload/multipart/abort", "multipartAbort",
        "Drop an unfinished multipart upload", "uploads",
        ok={"204": b.ok(None, "The parts and the pending file are gone.")},
        errors=(404, 409), security=OPTIONAL_AUTH, params=[UPLOAD_TOKEN],
        body=j("MultipartAbortRequest"), api_key_permission="upload",
    )  # fmt: skip


def _one_request_upload(b: _Builder) -> None:
    text = {"type": "string"}
    b.op(
        "post", "/api/v1/upload", "uploadOneRequest",
        "Upload an image in one request (ShareX, curl)", "uploads",
        ok={"201": b.ok(ref("File"), "The ready file.")},
        errors=(400, 402, 404, 411, 413, 415), security=OPTIONAL_AUTH,
        params=[
            _query("filename", text, "The file name (default `upload`)."),
            _query("title", text, "Title."),
            _query("description", text, "Description."),
            _query("visibility", {"enum": ["public", "unlisted", "private"]}, "Visibility."),
            _query("tags", text, "Comma-separated tags."),
            _query("albumId", text, "One of the caller's albums."),
            _query("expiresIn", {"type": "number"}, "Hours until the file expires."),
            _query("sha256", text, "The SHA-256 of the body, checked."),
        ],
        body={"type": "string", "format": "binary"}, raw_body=True,
        description="Presign and PUT in one: the raw image is the body (with a "
        "Content-Length), its type is read from the bytes. Same checks, limits and "
        "processing as a presigned upload; a refused body leaves nothing behind.",
        api_key_permission="upload",
    )  # fmt: skip


def _integrations(b: _Builder) -> None:
    b.op(
        "get", "/api/v1/integrations/sharex", "sharexConfig",
        "A ShareX custom uploader (.sxcu) with a new upload-only API key", "integrations",
        ok={"200": {
            **b.ok({"type": "object"}, "The .sxcu definition (JSON), as an attachment."),
        }},
        security=SESSION_ONLY,
        description="Each call creates an API key named ShareX with the `upload` "
        "permission; its uploads go to `POST /api/v1/upload`.",
    )  # fmt: skip


def _files(b: _Builder) -> None:
    j = ref
    b.op(
        "get", "/api/v1/files", "listFiles", "The caller's files", "files",
        ok={"200": b.ok(j("FilePage"), "A page of files.")}, errors=(400,),
        security=ANY_AUTH, api_key_permission="read",
        params=[
            *PAGING,
            _query("visibility", {"enum": ["public", "unlisted", "private"]}, "Only these."),
            _query("tag", {"type": "string"}, "Only files with this tag."),
            _query("albumId", {"type": "string"}, "Only files in this album."),
            _query("q", {"type": "string"}, "Search in title, description and filename."),
            _query(
                "sort", {"enum": ["created", "-created", "views"], "default": "-created"},
                "Order.",
            ),
        ],
    )  # fmt: skip
    b.op(
        "get", "/api/v1/files/public", "listPublicFiles", "Everyone's public files",
        "files",
        ok={"200": b.ok(j("FilePage"), "Newest first.")}, errors=(400,),
        security=OPTIONAL_AUTH,
        params=[*PAGING, _query("tag", {"type": "string"}, "Only files with this tag.")],
        description="Age-restricted files only for callers who confirmed their age.",
    )  # fmt: skip
    b.op(
        "get", "/api/v1/files/{file_id}", "getFile", "A file's metadata", "files",
        ok={"200": b.ok(j("File"), "The file.")}, errors=(404, 410),
        security=OPTIONAL_AUTH, params=[FILE_ID], api_key_permission="read",
    )  # fmt: skip
    b.op(
        "patch", "/api/v1/files/{file_id}", "updateFile", "Change a file (owner)", "files",
        ok={"200": b.ok(j("File"), "The changed file.")}, errors=(404, 410),
        security=ANY_AUTH, params=[FILE_ID], body=j("FilePatchRequest"),
        api_key_permission="write",
    )  # fmt: skip
    b.op(
        "delete", "/api/v1/files/{file_id}", "deleteFile", "Delete a file (owner or staff)",
        "files",
        ok={"204": b.ok(None, "Deleted with its bytes and variants.")}, errors=(404,),
        security=ANY_AUTH, params=[FILE_ID], api_key_permission="delete",
    )  # fmt: skip
    b.op(
        "post", "/api/v1/files/{file_id}/share", "shareFile",
        "A signed, expiring URL for a file (owner)", "files",
        ok={"200": b.ok(j("ShareUrl"), "The signed URL.")}, errors=(404, 410),
        security=ANY_AUTH, params=[FILE_ID], body=j("ShareRequest"), body_required=False,
        api_key_permission="write",
    )  # fmt: skip


def _albums(b: _Builder) -> None:
    j = ref
    b.op(
        "post", "/api/v1/albums", "createAlbum", "Create an album", "albums",
        ok={"201": b.ok(j("Album"), "The new album.")}, security=ANY_AUTH,
        body=j("AlbumCreateRequest"), api_key_permission="write",
        description="Only the caller's own ready files (400 `invalid_file_ids` names others).",
    )  # fmt: skip
    b.op(
        "get", "/api/v1/albums", "listAlbums", "The caller's albums", "albums",
        ok={"200": b.ok(j("AlbumPage"), "Newest first.")}, errors=(400,),
        security=ANY_AUTH, params=PAGING, api_key_permission="read",
    )  # fmt: skip
    b.op(
        "get", "/api/v1/albums/{album_id}", "getAlbum", "An album with a page of its files",
        "albums",
        ok={"200": b.ok(j("AlbumWithFiles"), "The album and files in album order.")},
        errors=(400, 404, 410), security=OPTIONAL_AUTH, params=[ALBUM_ID, *PAGING],
        api_key_permission="read",
    )  # fmt: skip
    b.op(
        "patch", "/api/v1/albums/{album_id}", "updateAlbum", "Change an album (owner)",
        "albums",
        ok={"200": b.ok(j("Album"), "The changed album.")}, errors=(404, 410),
        security=ANY_AUTH, params=[ALBUM_ID], body=j("AlbumPatchRequest"),
        api_key_permission="write",
    )  # fmt: skip
    b.op(
        "delete", "/api/v1/albums/{album_id}", "deleteAlbum",
        "Delete an album (owner or staff; the files stay)", "albums",
        ok={"204": b.ok(None, "Deleted.")}, errors=(404,), security=ANY_AUTH,
        params=[ALBUM_ID], api_key_permission="delete",
    )  # fmt: skip
    b.op(
        "post", "/api/v1/albums/{album_id}/files", "addAlbumFiles", "Add files to an album",
        "albums",
        ok={"200": b.ok(j("Album"), "The album.")}, errors=(404, 410), security=ANY_AUTH,
        params=[ALBUM_ID], body=j("AlbumAddFilesRequest"), api_key_permission="write",
    )  # fmt: skip
    b.op(
        "delete", "/api/v1/albums/{album_id}/files/{file_id}", "removeAlbumFile",
        "Take a file out of an album (the file stays)", "albums",
        ok={"204": b.ok(None, "Removed from the album.")}, errors=(404, 410),
        security=ANY_AUTH, params=[ALBUM_ID, FILE_ID], api_key_permission="write",
    )  # fmt: skip
    b.op(
        "put", "/api/v1/albums/{album_id}/order", "reorderAlbum", "Reorder an album's files",
        "albums",
        ok={"200": b.ok(j("Album"), "The album.")}, errors=(404, 410), security=ANY_AUTH,
        params=[ALBUM_ID], body=j("AlbumOrderRequest"), api_key_permission="write",
        description="`fileIds` must list every file of the album once (400 `invalid_order`).",
    )  # fmt: skip


def _moderation(b: _Builder) -> None:
    j = ref
    b.op(
        "post", "/api/v1/moderation/report", "report", "Report a file or an album",
        "moderation",
        ok={"201": b.ok(j("ReportCreated"), "The report.")}, errors=(404, 409, 410),
        security=OPTIONAL_AUTH, body=j("ReportRequest"),
        description="Anyone who can see the target; one open report per reporter and target.",
    )  # fmt: skip
    b.op(
        "get", "/api/v1/moderation/queue", "moderationQueue",
        "Reports grouped by target (staff)", "moderation",
        ok={"200": b.ok(j("QueuePage"), "Oldest first.")}, errors=(400,),
        security=SESSION_ONLY, required_roles=["moderator", "admin"],
        params=[*PAGING, _query("status", {"enum": list(STATUSES), "default": "open"}, "")],
    )  # fmt: skip
    b.op(
        "get", "/api/v1/moderation/reports/{report_id}", "getReport",
        "A report with its target and siblings (staff)", "moderation",
        ok={"200": b.ok(j("ReportDetail"), "The report.")}, errors=(404,),
        security=SESSION_ONLY, params=[REPORT_ID], required_roles=["moderator", "admin"],
    )  # fmt: skip
    b.op(
        "post", "/api/v1/moderation/reports/{report_id}/resolve", "resolveReport",
        "Decide on a report's target (staff)", "moderation",
        ok={"200": b.ok(j("Report"), "The decided report.")}, errors=(404, 409),
        security=SESSION_ONLY, params=[REPORT_ID], body=j("ResolveRequest"),
        required_roles=["moderator", "admin"],
    )  # fmt: skip
    b.op(
        "get", "/api/v1/moderation/audit", "auditLog", "The audit log (staff)",
        "moderation",
        ok={"200": b.ok(j("AuditPage"), "Newest first.")}, errors=(400,),
        security=SESSION_ONLY, required_roles=["moderator", "admin"],
        params=[
            *PAGING,
            _query("targetId", {"type": "string"}, "Only entries about this target."),
            _query("action", {"type": "string"}, "Only this action."),
            _query("actorId", {"type": "string"}, "Only this actor's entries."),
        ],
    )  # fmt: skip


def _account_and_admin(b: _Builder) -> None:
    j = ref
    b.op(
        "get", "/api/v1/account/export", "exportAccount", "The GDPR export (ZIP, streamed)",
        "account",
        ok={
            "200": {
                **b.ok(None, "A ZIP of the account's metadata and original files."),
                "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            }
        },
        security=SESSION_ONLY,
    )  # fmt: skip
    b.op(
        "delete", "/api/v1/account", "deleteAccount", "Delete the account and all it owns",
        "account",
        ok={"204": b.ok(None, "Deleted.")}, security=SESSION_ONLY,
        body=j("AccountDeleteRequest"),
        description="403 `wrong_password` when the password does not match.",
    )  # fmt: skip
    b.op(
        "get", "/api/v1/admin/users", "adminListUsers", "Accounts with usage (admin)",
        "admin",
        ok={"200": b.ok(j("UserPage"), "Oldest first.")}, errors=(400,),
        security=SESSION_ONLY, required_roles=["admin"],
        params=[
            *PAGING,
            _query("q", {"type": "string"}, "Matches email or username."),
            _query("search", {"type": "string"}, "Alias of `q`."),
        ],
    )  # fmt: skip
    b.op(
        "patch", "/api/v1/admin/users/{user_id}", "adminUpdateUser",
        "Change role, plan or disabled state (admin)", "admin",
        ok={"200": b.ok(j("UserResult"), "The changed user.")}, errors=(404,),
        security=SESSION_ONLY, params=[USER_ID], body=j("AdminUserPatchRequest"),
        required_roles=["admin"],
    )  # fmt: skip
    b.op(
        "get", "/api/v1/admin/stats", "adminStats", "Site figures (admin)", "admin",
        ok={"200": b.ok(j("AdminStats"), "Counts and bytes.")}, security=SESSION_ONLY,
        required_roles=["admin"],
    )  # fmt: skip
    b.op(
        "get", "/api/v1/admin/plugins", "adminPlugins",
        "Installed plugins, their hooks and the active backends (admin)", "admin",
        ok={"200": b.ok(j("AdminPlugins"), "Plugins and what is active.")},
        security=SESSION_ONLY, required_roles=["admin"],
    )  # fmt: skip


def _discovery(b: _Builder) -> None:
    health = {
        "200": b.ok(ref("Health"), "Database and storage are reachable.", counted=False),
        "503": {
            "description": "The database or the storage is unreachable (named in `error`).",
            "content": {"application/json": {"schema": ref("Health")}},
        },
    }
    for path, op_id in (("/health", "health"), ("/api/v1/health", "apiHealth")):
        b.op(
            "get", path, op_id, "Liveness and dependencies", "discovery", ok=health,
            security=NO_AUTH, counted=False,
            description="Not counted by rate limits.",
        )  # fmt: skip
    b.op(
        "get", "/api/v1/openapi.json", "openapi", "This document", "discovery",
        ok={"200": b.ok({"type": "object"}, "The OpenAPI 3.1 document.", counted=False)},
        security=NO_AUTH, counted=False, description="Not counted by rate limits.",
    )  # fmt: skip


def _serving(b: _Builder) -> None:
    settings = b.settings
    mimes = sorted(
        set(settings.uploads.accepted_types) | {m for _, m in imaging.VARIANT_FORMATS.values()}
    )
    binary = {"schema": {"type": "string", "format": "binary"}}
    image_headers = {
        "ETag": {"schema": {"type": "string"}, "required": True, "description": "Strong."},
        "Last-Modified": {"schema": {"type": "string"}, "required": True},
        "Cache-Control": {"schema": {"type": "string"}, "required": True},
        "Accept-Ranges": {"schema": {"const": "bytes"}, "required": True},
        "X-Content-Type-Options": {"schema": {"const": "nosniff"}, "required": True},
        "Content-Disposition": {
            "schema": {"type": "string"},
            "description": "With `download=1`: `attachment`.",
        },
    }
    responses = {
        "200": {
            "description": "The bytes (a resized variant with `w`/`h`/`fit`/`format`).",
            "headers": image_headers,
            "content": {m: binary for m in mimes},
        },
        "206": {
            "description": "One satisfiable byte range.",
            "headers": {
                **image_headers,
                "Content-Range": {"schema": {"type": "string"}, "required": True},
            },
            "content": {m: binary for m in mimes},
        },
        "304": {"description": "Not modified (`If-None-Match` / `If-Modified-Since`).",
                "headers": image_headers},
        "400": b.error(400, counted=False, text="A bad `w`, `h`, `fit` or `format`."),
        "403": b.error(
            403, counted=False,
            text="Age-restricted: needs an authenticated caller who confirmed their age.",
        ),
        "404": b.error(404, counted=False),
        "410": b.error(410, counted=False),
        "416": {
            **b.error(416, counted=False),
            "headers": {"Content-Range": {"schema": {"type": "string"}, "required": True}},
        },
        "500": b.error(500, counted=False),
        "503": b.error(503, counted=False, text="The storage backend is unreachable."),
    }  # fmt: skip
    if getattr(b.settings.storage, "serve", "proxy") == "redirect":
        responses["302"] = {
            "description": '`storage.serve = "redirect"`: the bytes are at `Location` '
            "(the public URL, or a short-lived presigned URL for private files).",
            "headers": {"Location": {"schema": {"type": "string"}, "required": True}},
        }
    size = {"type": "integer", "minimum": 1}
    params = [
        _path_param("name", None, "`{fileId}` or `{fileId}.{ext}` (the extension is ignored)."),
        _query("w", size, "Variant width (rounded up to a configured size)."),
        _query("h", size, "Variant height (rounded up to a configured size)."),
        _query("fit", {"enum": ["cover", "contain"], "default": "contain"}, "Variant fit."),
        _query("format", {"enum": sorted(imaging.VARIANT_FORMATS)}, "Variant format."),
        _query("download", {"enum": ["1", "true"]}, "Answer as an attachment; counts a download."),
        _query("sig", {"type": "string"}, "Signature of a share URL (private files)."),
        _query("exp", {"type": "integer"}, "Expiry of a share URL (epoch seconds)."),
        _header("Range", "One range: `bytes=first-last`, `bytes=first-`, `bytes=-suffix`."),
        _header("If-None-Match", "ETags; a match answers 304."),
        _header("If-Modified-Since", "An HTTP date; not modified since answers 304."),
        _header("If-Range", "Serve the range only while the ETag matches."),
    ]
    params[0]["schema"]["pattern"] = r"^file_[A-Za-z0-9]{1,40}(\.[A-Za-z0-9]{1,5})?$"
    for method, summary in (("get", "The image bytes"), ("head", "The image headers")):
        b.op(
            method, "/i/{name}", f"{method}Image", summary, "serving",
            ok=responses, security=OPTIONAL_AUTH, params=params, counted=False,
            description="Public and unlisted files for anyone; private ones for the owner, "
            "staff or a signed share URL (404 otherwise). Not counted by rate limits.",
        )  # fmt: skip


def build_document(settings: Any) -> dict[str, Any]:
    """The OpenAPI 3.1 document for an appliance running with ``settings``."""
    b = _Builder(settings)
    _discovery(b)
    _auth_and_keys(b)
    _uploads(b)
    _one_request_upload(b)
    _files(b)
    _albums(b)
    _moderation(b)
    _account_and_admin(b)
    _integrations(b)
    _serving(b)
    schemas = {**answers(), **bodies(settings), **_pydantic_schemas()}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pichr-appliance",
            "version": __version__,
            "description": "A self-hosted image host speaking the Pichr v1 API. Every error "
            "is JSON `{error, code, details?}`; every call under /api/v1 except health and "
            "this document counts against the caller's hourly plan limits and carries "
            "`X-RateLimit-*` headers. Routes mounted by plugins under `/-/<plugin>/` are "
            "not described here.",
        },
        "servers": [{"url": settings.public_url}],
        "tags": [
            {"name": n}
            for n in (
                "discovery",
                "auth",
                "api-keys",
                "uploads",
                "files",
                "albums",
                "moderation",
                "account",
                "admin",
                "integrations",
                "serving",
            )
        ],  # fmt: skip
        "paths": b.paths,
        "components": {
            "schemas": schemas,
            "parameters": {
                "limit": _query(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                    "Page size.",
                ),
                "offset": _query(
                    "offset",
                    {"type": "integer", "minimum": 0, "maximum": 10**9, "default": 0},
                    "Items to skip.",
                ),
            },  # fmt: skip
            "headers": {
                name: {**spec, "required": name == "Retry-After" or b.limited}
                for name, spec in HEADERS.items()
            },
            "responses": dict(sorted(b.responses.items())),
            "securitySchemes": {
                "bearerJwt": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A session access token (HS256) from signup, login or refresh.",
                },
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "pk_ + 32 base58 characters",
                    "description": "An API key, also sent as `Authorization: Bearer pk_...`; "
                    "`x-api-key-permission` names what the key needs. Session-only "
                    "operations answer 403 to a key.",
                },
            },
        },
    }
