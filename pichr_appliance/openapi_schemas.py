"""JSON schemas of the OpenAPI document: the objects the API answers with, and the
request bodies that handlers check by hand (pydantic bodies come from the models).

Response objects are closed (``additionalProperties: false``): a field added to a
``*_json`` function without its schema here makes the fuzz test fail, so the
document cannot fall behind the code. Field names follow API.md exactly.
"""

from __future__ import annotations

from typing import Any

from .models import FILE_STATUSES, ROLES, VISIBILITIES
from .services.albums import MAX_FILE_IDS
from .services.api_keys import PERMISSIONS
from .services.moderation import ACTIONS, MAX_TEXT, REASONS
from .services.multipart import MAX_PARTS
from .services.uploads import MAX_EXPIRES_HOURS, MAX_TAG_LEN, MAX_TAGS

Schema = dict[str, Any]

# Ids are a prefix plus random URL-safe letters and digits (security.new_id).
ID_PATTERNS = {
    "user": "^usr_[A-Za-z0-9]+$",
    "file": "^file_[A-Za-z0-9]+$",
    "upload": "^upl_[A-Za-z0-9]+$",
    "album": "^alb_[A-Za-z0-9]+$",
    "report": "^rpt_[A-Za-z0-9]+$",
    "key": "^key_[A-Za-z0-9]+$",
}
API_KEY_PATTERN = "^pk_[1-9A-HJ-NP-Za-km-z]{32}$"


def ref(name: str) -> Schema:
    """A ``$ref`` to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """``schema`` or null (OpenAPI 3.1 / JSON Schema style)."""
    return {"anyOf": [schema, {"type": "null"}]}


def obj(props: dict[str, Schema], required: list[str] | None = None, closed: bool = True) -> Schema:
    """An object schema; every property is required unless ``required`` says otherwise."""
    out: Schema = {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
    }
    if closed:
        out["additionalProperties"] = False
    return out


STRING: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
COUNT: Schema = {"type": "integer", "minimum": 0}
BOOL: Schema = {"type": "boolean"}
TIME: Schema = {"type": "string", "format": "date-time"}
URL: Schema = {"type": "string", "format": "uri"}
TAGS_OUT: Schema = {"type": "array", "items": STRING}


def _id(kind: str) -> Schema:
    return {"type": "string", "pattern": ID_PATTERNS[kind]}


def page_of(items_key: str, item: Schema) -> Schema:
    """``{<items>: [...], total, limit, offset}``."""
    return obj(
        {
            items_key: {"type": "array", "items": item},
            "total": COUNT,
            "limit": {"type": "integer", "minimum": 1, "maximum": 100},
            "offset": COUNT,
        }
    )


# --- answers ---------------------------------------------------------------------------

ERROR = obj(
    {
        "error": {"type": "string", "description": "A human message."},
        "code": {"type": "string", "description": "Stable snake_case code."},
        "details": {"description": "Where useful: fields, ids, limits."},
    },
    required=["error", "code"],
)

RATE_LIMITED = obj(
    {
        **ERROR["properties"],
        "retryAfter": {"type": "integer", "description": "When to retry, epoch milliseconds."},
        "remaining": {"const": 0},
    },
    required=["error", "code", "retryAfter", "remaining"],
)

HEALTH = obj(
    {
        "status": {"enum": ["ok", "unavailable"]},
        "version": STRING,
        "database": {"enum": ["ok", "unavailable"]},
        "storage": {"enum": ["ok", "unavailable"]},
        "error": STRING,
        "code": {"const": "service_unavailable"},
    },
    required=["status", "version", "database", "storage"],
)

USER_PROPS: dict[str, Schema] = {
    "id": _id("user"),
    "email": {"type": "string", "format": "email"},
    "username": STRING,
    "firstName": STRING,
    "lastName": STRING,
    "role": {"enum": list(ROLES)},
    "plan": STRING,
    "ageConfirmed": BOOL,
    "disabled": BOOL,
    "createdAt": TIME,
}
USER = obj(USER_PROPS)
USAGE = obj({"bytes": COUNT, "files": COUNT, "quotaBytes": nullable(COUNT)})
USER_WITH_USAGE = obj({**USER_PROPS, "usage": ref("Usage")})

SESSION = obj(
    {
        "access_token": STRING,
        "refresh_token": STRING,
        "expires_in": {"type": "integer", "minimum": 1},
        "token_type": {"const": "bearer"},
    }
)

API_KEY_PROPS: dict[str, Schema] = {
    "id": _id("key"),
    "name": STRING,
    "prefix": STRING,
    "permissions": {"type": "array", "items": {"enum": list(PERMISSIONS)}},
    "createdAt": TIME,
    "expiresAt": nullable(TIME),
    "lastUsedAt": nullable(TIME),
}
API_KEY = obj(API_KEY_PROPS)
API_KEY_CREATED = obj(
    {**API_KEY_PROPS, "key": {"type": "string", "pattern": API_KEY_PATTERN}},
)

FILE_PROPS: dict[str, Schema] = {
    "id": _id("file"),
    "url": URL,
    "cdnUrl": nullable(URL),
    "title": STRING,
    "description": STRING,
    "filename": STRING,
    "mime": STRING,
    "bytes": COUNT,
    "width": nullable(COUNT),
    "height": nullable(COUNT),
    "visibility": {"enum": list(VISIBILITIES)},
    "status": {"enum": list(FILE_STATUSES)},
    "viewCount": COUNT,
    "downloadCount": COUNT,
    "nsfwScore": nullable({"type": "number"}),
    "ageRestricted": BOOL,
    "tags": TAGS_OUT,
    "sha256": nullable({"type": "string", "pattern": "^[0-9a-f]{64}$"}),
    "phash": nullable(STRING),
    "duplicateOf": nullable(STRING),
    "albumIds": {"type": "array", "items": _id("album")},
    "ownerId": nullable(_id("user")),
    "createdAt": TIME,
    "updatedAt": TIME,
    "expiresAt": nullable(TIME),
}
FILE = obj(FILE_PROPS)

ALBUM_PROPS: dict[str, Schema] = {
    "id": _id("album"),
    "title": STRING,
    "description": STRING,
    "visibility": {"enum": list(VISIBILITIES)},
    "tags": TAGS_OUT,
    "coverFileId": nullable(STRING),
    "fileCount": COUNT,
    "ownerId": _id("user"),
    "createdAt": TIME,
    "updatedAt": TIME,
    "url": URL,
}
ALBUM = obj(ALBUM_PROPS)
ALBUM_WITH_FILES = obj(
    {
        **ALBUM_PROPS,
        "files": {"type": "array", "items": ref("File")},
        "total": COUNT,
        "limit": {"type": "integer", "minimum": 1, "maximum": 100},
        "offset": COUNT,
    }
)

PRESIGN = obj(
    {
        "uploadId": _id("upload"),
        "uploadUrl": URL,
        "fileId": _id("file"),
        "r2Key": STRING,
        "expiresAt": TIME,
        "message": STRING,
    }
)
DIRECT_UPLOAD = obj(
    {
        "fileId": _id("file"),
        "url": URL,
        "mime": STRING,
        "bytes": COUNT,
        "status": {"const": "ready"},
    }
)
PART = obj(
    {
        "partNumber": {"type": "integer", "minimum": 1, "maximum": MAX_PARTS},
        "etag": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
        "bytes": COUNT,
    }
)
MULTIPART_INIT = obj(
    {
        "uploadId": _id("upload"),
        "fileId": _id("file"),
        "r2Key": STRING,
        "partSize": {"type": "integer", "minimum": 1},
        "partCount": {"type": "integer", "minimum": 1, "maximum": MAX_PARTS},
        "partUrls": {"type": "array", "items": URL},
        "expiresAt": TIME,
    }
)
MULTIPART_STATUS = obj(
    {
        "uploadId": _id("upload"),
        "fileId": _id("file"),
        "status": {"enum": ["pending", "receiving", "completed"]},
        "partSize": {"type": "integer", "minimum": 1},
        "partCount": {"type": "integer", "minimum": 1},
        "totalBytes": {"type": "integer", "minimum": 1},
        "parts": {"type": "array", "items": ref("UploadPart")},
    }
)
SHARE = obj({"url": URL, "expiresAt": TIME})

REPORT_CREATED = obj({"id": _id("report"), "status": {"const": "open"}, "createdAt": TIME})
REPORT_PROPS: dict[str, Schema] = {
    "id": _id("report"),
    "status": {
        "enum": ["open", "resolving", "resolved"],
        "description": "`resolving` only while a decision is being written.",
    },
    "targetType": {"enum": ["file", "album"]},
    "targetId": STRING,
    "fileId": nullable(STRING),
    "albumId": nullable(STRING),
    "reason": {"enum": list(REASONS)},
    "details": STRING,
    "system": BOOL,
    "reporterId": nullable(_id("user")),
    "action": nullable({"enum": list(ACTIONS)}),
    "note": nullable(STRING),
    "resolvedBy": nullable(STRING),
    "resolvedAt": nullable(TIME),
    "createdAt": TIME,
}
REPORT = obj(REPORT_PROPS)
TARGET_OWNER = obj(
    {"id": _id("user"), "username": STRING, "role": {"enum": list(ROLES)}, "disabled": BOOL}
)
STAFF_TARGET = {
    "description": "The reported File or Album as staff see it, plus `held` and `owner`.",
    "oneOf": [
        obj({**FILE_PROPS, "held": BOOL, "owner": nullable(ref("TargetOwner"))}),
        obj({**ALBUM_PROPS, "removed": BOOL, "held": BOOL, "owner": nullable(ref("TargetOwner"))}),
    ],
}
QUEUE_ITEM = obj(
    {
        "targetType": {"enum": ["file", "album"]},
        "targetId": STRING,
        "target": nullable(ref("StaffTarget")),
        "reportCount": {"type": "integer", "minimum": 1},
        "reasons": {"type": "object", "additionalProperties": COUNT},
        "firstReportedAt": TIME,
        "lastReportedAt": TIME,
        "reports": {"type": "array", "items": ref("Report")},
    }
)
REPORT_DETAIL = obj(
    {
        **REPORT_PROPS,
        "target": nullable(ref("StaffTarget")),
        "reports": {"type": "array", "items": ref("Report")},
    }
)
AUDIT_ENTRY = obj(
    {
        "id": INT,
        "actorId": nullable(_id("user")),
        "actor": STRING,
        "action": STRING,
        "targetType": nullable(STRING),
        "targetId": nullable(STRING),
        "note": STRING,
        "data": {"type": "object"},
        "createdAt": TIME,
    }
)
ADMIN_STATS = obj(
    {
        k: COUNT
        for k in (
            "users",
            "disabledUsers",
            "files",
            "removedFiles",
            "bytes",
            "albums",
            "reportsOpen",
        )
    }
)


ADMIN_PLUGINS = obj(
    {
        "plugins": {
            "type": "array",
            "items": obj(
                {
                    "name": STRING,
                    "version": nullable(STRING),
                    "hooks": {"type": "array", "items": STRING},
                }
            ),
        },
        "active": obj(
            {
                "storage": STRING,
                "rateLimitStore": STRING,
                "database": STRING,
                "classifiers": {"type": "array", "items": STRING},
            }
        ),
        "routes": {
            "type": "array",
            "items": obj(
                {"plugin": STRING, "path": STRING, "methods": {"type": "array", "items": STRING}}
            ),
        },
    }
)


def answers() -> dict[str, Schema]:
    """Component schemas of every answer body."""
    return {
        "Error": ERROR,
        "RateLimited": RATE_LIMITED,
        "Health": HEALTH,
        "User": USER,
        "Usage": USAGE,
        "UserWithUsage": USER_WITH_USAGE,
        "Session": SESSION,
        "AuthResult": obj({"user": ref("User"), "session": ref("Session")}),
        "SessionResult": obj({"session": ref("Session")}),
        "UserResult": obj({"user": ref("UserWithUsage")}),
        "ApiKey": API_KEY,
        "ApiKeyCreated": API_KEY_CREATED,
        "ApiKeyList": obj({"apiKeys": {"type": "array", "items": ref("ApiKey")}}),
        "File": FILE,
        "FilePage": page_of("files", ref("File")),
        "ShareUrl": SHARE,
        "Album": ALBUM,
        "AlbumPage": page_of("albums", ref("Album")),
        "AlbumWithFiles": ALBUM_WITH_FILES,
        "Presign": PRESIGN,
        "DirectUpload": DIRECT_UPLOAD,
        "UploadPart": PART,
        "MultipartInit": MULTIPART_INIT,
        "MultipartStatus": MULTIPART_STATUS,
        "ReportCreated": REPORT_CREATED,
        "Report": REPORT,
        "TargetOwner": TARGET_OWNER,
        "StaffTarget": STAFF_TARGET,
        "QueueItem": QUEUE_ITEM,
        "QueuePage": page_of("queue", ref("QueueItem")),
        "ReportDetail": REPORT_DETAIL,
        "AuditEntry": AUDIT_ENTRY,
        "AuditPage": page_of("entries", ref("AuditEntry")),
        "UserPage": page_of("users", ref("UserWithUsage")),
        "AdminStats": ADMIN_STATS,
        "AdminPlugins": ADMIN_PLUGINS,
    }


# --- request bodies checked by hand (services/*.check_*) --------------------------------

TITLE_IN = nullable({"type": "string", "maxLength": 200})
DESCRIPTION_IN = nullable({"type": "string", "maxLength": 5000})
VISIBILITY_IN = {"enum": list(VISIBILITIES)}
TAGS_IN = nullable(
    {
        "type": "array",
        "maxItems": MAX_TAGS,
        "items": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_TAG_LEN,
            "pattern": r"\S",
            "description": "Lower-cased and de-duplicated; surrounding blanks are dropped.",
        },
    }
)
FILE_IDS_IN = {
    "type": "array",
    "maxItems": MAX_FILE_IDS,
    "items": {"type": "string", "minLength": 1, "maxLength": 40},
}


def _upload_fields(settings: Any) -> dict[str, Schema]:
    """Metadata fields shared by presign and multipart init."""
    return {
        "filename": {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "pattern": r"^[^\x00-\x1f\x7f-\x9f]*\S[^\x00-\x1f\x7f-\x9f]*$",
            "description": "No control characters; a path is reduced to its last part.",
        },
        "mime": {
            "type": "string",
            "description": "An accepted image type (case-insensitive): "
            + ", ".join(settings.uploads.accepted_types),
            "enum": list(settings.uploads.accepted_types),
        },
        "sha256": nullable({"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}),
        "title": TITLE_IN,
        "description": DESCRIPTION_IN,
        "visibility": nullable(VISIBILITY_IN),
        "tags": TAGS_IN,
        "expiresIn": nullable(
            {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": MAX_EXPIRES_HOURS,
                "description": "Hours.",
            }
        ),
        "albumId": nullable({"type": "string", "description": "One of the caller's albums."}),
    }


def bodies(settings: Any) -> dict[str, Schema]:
    """Component schemas of the request bodies the handlers validate by hand."""
    size = {"type": "integer", "minimum": 1}
    return {
        "PresignRequest": obj(
            {**_upload_fields(settings), "bytes": size},
            required=["filename", "mime", "bytes"],
            closed=False,
        ),
        "MultipartInitRequest": obj(
            {
                **_upload_fields(settings),
                "totalBytes": size,
                "partSize": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "At least 5 MiB unless one part holds the whole file; "
                    f"at most {MAX_PARTS} parts.",
                },
            },
            required=["filename", "mime", "totalBytes", "partSize"],
            closed=False,
        ),
        "FinalizeRequest": obj(
            {
                "uploadId": STRING,
                "fileId": STRING,
                "r2Key": {"description": "Ignored."},
                "r2Etag": {"description": "Ignored."},
                "width": {"description": "Ignored: the server measures."},
                "height": {"description": "Ignored: the server measures."},
                "phash": {"description": "Ignored: the server computes it."},
                "nsfwScore": {"description": "Ignored: the classifiers decide."},
            },
            required=["uploadId", "fileId"],
            closed=False,
        ),
        "MultipartCompleteRequest": obj(
            {
                "uploadId": STRING,
                "fileId": STRING,
                "r2Key": {"description": "Ignored."},
                "parts": {
                    "type": "array",
                    "items": obj(
                        {"partNumber": INT, "etag": STRING},
                        closed=False,
                    ),
                },
            },
            required=["uploadId", "fileId", "parts"],
            closed=False,
        ),
        "MultipartAbortRequest": obj({"uploadId": STRING}, closed=False),
        "FilePatchRequest": obj(
            {
                "title": TITLE_IN,
                "description": DESCRIPTION_IN,
                "visibility": VISIBILITY_IN,
                "tags": TAGS_IN,
                "expiresAt": nullable({**TIME, "description": "In the future."}),
            },
            required=[],
            closed=False,
        ),
        "ShareRequest": obj(
            {
                "expiresIn": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": settings.images.share_max_seconds,
                    "default": 3600,
                    "description": "Seconds.",
                }
            },
            required=[],
            closed=False,
        ),
        "AlbumCreateRequest": obj(
            {
                "title": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"},
                "description": DESCRIPTION_IN,
                "visibility": nullable(VISIBILITY_IN),
                "tags": TAGS_IN,
                "fileIds": nullable(FILE_IDS_IN),
                "coverFileId": nullable({"type": "string", "description": "One of `fileIds`."}),
            },
            required=["title"],
            closed=False,
        ),
        "AlbumPatchRequest": obj(
            {
                "title": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"},
                "description": DESCRIPTION_IN,
                "visibility": VISIBILITY_IN,
                "tags": TAGS_IN,
                "coverFileId": nullable({"type": "string", "description": "A file of the album."}),
            },
            required=[],
            closed=False,
        ),
        "AlbumAddFilesRequest": obj(
            {
                "fileIds": {**FILE_IDS_IN, "minItems": 1},
                "position": nullable({"type": "integer", "minimum": 0}),
            },
            required=["fileIds"],
            closed=False,
        ),
        "AlbumOrderRequest": obj(
            {"fileIds": {**FILE_IDS_IN, "uniqueItems": True}},
            closed=False,
        ),
        "ReportRequest": {
            **obj(
                {
                    "fileId": {"type": "string", "minLength": 1},
                    "albumId": {"type": "string", "minLength": 1},
                    "reason": {"enum": list(REASONS)},
                    "details": nullable({"type": "string", "maxLength": MAX_TEXT}),
                },
                required=["reason"],
                closed=False,
            ),
            "oneOf": [
                {"required": ["fileId"], "not": {"required": ["albumId"]}},
                {"required": ["albumId"], "not": {"required": ["fileId"]}},
            ],
        },
        "ResolveRequest": obj(
            {
                "action": {"enum": list(ACTIONS)},
                "note": nullable({"type": "string", "maxLength": MAX_TEXT}),
                "banUser": BOOL,
            },
            required=["action"],
            closed=False,
        ),
        "AccountDeleteRequest": obj({"password": {"type": "string", "minLength": 1}}, closed=False),
        "AdminUserPatchRequest": obj(
            {
                "role": nullable({"enum": list(ROLES)}),
                "plan": nullable({"enum": [p for p in settings.plans if p != "anonymous"]}),
                "disabled": nullable(BOOL),
            },
            required=[],
            closed=False,
        ),
    }


# Rules the services check after a pydantic model accepted the body (accounts.*,
# api_keys.create_key): merged into the models' schemas so the document tells all.
PYDANTIC_REFINEMENTS: dict[str, dict[str, Schema]] = {
    "SignupBody": {
        "email": {"format": "email"},
        "password": {"minLength": 8},
        "username": {"pattern": "^[A-Za-z0-9_]{3,32}$"},
    },
    "ProfileBody": {
        "username": {"pattern": "^[A-Za-z0-9_]{3,32}$"},
        "password": {"minLength": 8},
    },
    "KeyBody": {
        "name": {"pattern": r"\S"},
        "permissions": {"minItems": 1, "items": {"enum": list(PERMISSIONS)}},
    },
}
