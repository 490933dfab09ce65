"""The OpenAPI 3.1 document (``GET /api/v1/openapi.json``), generated, not written.

Paths come from the routes of the API blueprints, what each operation takes and
answers from its ``@operation`` declaration (``api/operations.py``), and the schemas
from the pydantic models of ``pichr_appliance.schemas`` (``model_json_schema()``).
Only what depends on the settings is added here: accepted types, plans, limits.
Routes that plugins mount (``/-/<plugin>/...``) are not part of this document.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from . import __version__, imaging
from .api.operations import RAW, Operation, operation_of
from .schemas.common import ID_PATTERNS, MAX_PARTS, OFFSET_MAX, PAGE_MAX
from .schemas.errors import ErrorOut, RateLimited

Schema = dict[str, Any]
REF = "#/components/schemas/{model}"
SANIC_PARAM = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)(?::[^>]*)?>")
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
HEADERS: dict[str, Schema] = {
    "X-RateLimit-Limit": {"description": "Calls per hour allowed by the caller's plan.",
                          "schema": {"type": "integer", "minimum": 0}},
    "X-RateLimit-Remaining": {"description": "Calls left in the sliding hour.",
                              "schema": {"type": "integer", "minimum": 0}},
    "X-RateLimit-Reset": {"description": "When the oldest counted call leaves the window "
                          "(epoch seconds).", "schema": {"type": "integer"}},
    "Retry-After": {"description": "Seconds until a call is allowed again.",
                    "schema": {"type": "integer", "minimum": 0}},
}  # fmt: skip
ERROR_TEXT = {
    400: "Invalid request: malformed JSON, a bad field or query parameter (named in `error`).",
    401: "Credentials missing, or presented but invalid or expired.",
    402: "Storage quota exhausted.",
    403: "Authenticated but not allowed (role, API key permission, session-only route, "
    "disabled account).",
    404: "Absent, or not visible to this caller.",
    409: "Conflict with the current state.",
    410: "Expired, or removed by moderation.",
    411: "The body needs a Content-Length.",
    413: "Larger than allowed (the plan's file size, or the server's JSON body limit).",
    415: "Not a supported image type, or the bytes do not match the declared type; or a "
    "JSON body sent without `Content-Type: application/json` (`unsupported_media_type`).",
    416: "Range not satisfiable.",
    500: "Unexpected error (`details.requestId` appears in the server log).",
    503: "The storage backend is unreachable (`storage_unavailable`), or the server took "
    "too long to answer (`response_timeout`).",
    507: "The server is low on disk space (`insufficient_storage`): uploads are refused "
    "before any byte is stored; try again later.",
}
ANY = [{"bearerJwt": []}, {"apiKey": []}]
SECURITY = {"none": [], "optional": [{}, *ANY], "any": ANY, "session": [{"bearerJwt": []}],
            "staff": [{"bearerJwt": []}], "admin": [{"bearerJwt": []}]}  # fmt: skip
ROLES = {"staff": ["moderator", "admin"], "admin": ["admin"]}
PATH_KINDS = {"file_id": "file", "album_id": "album", "upload_id": "upload",
              "report_id": "report", "user_id": "user", "key_id": "key"}  # fmt: skip
TAGS = ("discovery", "auth", "supabase-auth", "api-keys", "uploads", "files", "albums",
        "moderation", "account", "admin", "integrations", "serving")  # fmt: skip


def routes() -> list[tuple[str, str, Any]]:
    """``(method, OpenAPI path, handler)`` of every route of the API blueprints."""
    from .api import BLUEPRINTS

    out = []
    for bp in BLUEPRINTS:
        for route in bp._future_routes:
            uri = (bp.url_prefix or "") + ("/" + route.uri.lstrip("/") if route.uri else "")
            path = "/" + SANIC_PARAM.sub(r"{\1}", uri).lstrip("/")
            out.extend((m.lower(), path, route.handler) for m in sorted(route.methods))
    return out


def _param(name: str, where: str, schema: Schema, description: str = "") -> dict:
    return {"name": name, "in": where, "required": where == "path", "schema": schema,
            "description": description}  # fmt: skip


def _path_param(name: str) -> dict:
    if name == "number":
        return _param(name, "path", {"type": "integer", "minimum": 1, "maximum": MAX_PARTS},
                      "The part number, from 1.")  # fmt: skip
    if name == "name":
        pattern = r"^file_[A-Za-z0-9]{1,40}(\.[A-Za-z0-9]{1,5})?$"
        return _param(name, "path", {"type": "string", "pattern": pattern},
                      "`{fileId}` or `{fileId}.{ext}` (the extension is ignored).")  # fmt: skip
    return _param(name, "path", {"type": "string", "pattern": ID_PATTERNS[PATH_KINDS[name]]})


def _query_params(model: type[BaseModel] | None) -> list[dict]:
    """One query parameter per field of ``model``."""
    if model is None:
        return []
    out = []
    for name, prop in model.model_json_schema()["properties"].items():
        prop = dict(prop)
        prop.pop("title", None)
        description = prop.pop("description", "")
        options = [s for s in prop.pop("anyOf", []) if s.get("type") != "null"]
        if options:
            prop = {**options[0], **prop}
            prop.pop("default", None)
        out.append(_param(name, "query", prop, description))
    return out


class _Document:
    """The parts of one document that operations share: models, error responses."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.models: dict[str, type[BaseModel]] = {"Error": ErrorOut, "RateLimited": RateLimited}
        self.responses: dict[str, Any] = {}

    def ref(self, model: type[BaseModel]) -> Schema:
        self.models[model.__name__] = model
        return {"$ref": REF.format(model=model.__name__)}

    def rate_headers(self, counted: bool, required: bool = True) -> dict:
        if not counted:
            return {}
        if required:
            return {n: {"$ref": f"#/components/headers/{n}"} for n in RATE_HEADERS}
        return {n: {k: v for k, v in HEADERS[n].items() if k != "required"} for n in RATE_HEADERS}

    def error(self, status: int, counted: bool) -> dict:
        """A ``$ref`` to the shared response of an error ``status``."""
        name = f"Error{status}" if counted else f"Error{status}NotCounted"
        if name not in self.responses:
            model = RateLimited if status == 429 else ErrorOut
            # Sanic refuses an oversized body before the middleware that counts the call.
            headers = self.rate_headers(counted, required=status != 413)
            if status == 429:
                headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
            resp = {"description": ERROR_TEXT.get(status, "Rate limit exceeded."),
                    "content": {"application/json": {"schema": self.ref(model)}}}  # fmt: skip
            if headers:
                resp["headers"] = headers
            self.responses[name] = resp
        return {"$ref": f"#/components/responses/{name}"}

    def operation(self, op: Operation, method: str, path: str) -> dict:
        """The OpenAPI operation object of one route."""
        counted = op.counted and path.startswith("/api/v1/")
        responses: dict[str, Any] = {}
        for status, model in op.responses.items():
            resp: dict[str, Any] = {"description": op.summary}
            if counted:
                resp["headers"] = self.rate_headers(True)
            if model is not None:
                resp["content"] = {"application/json": {"schema": self.ref(model)}}
            elif "content" in op.extra:
                binary = {"schema": {"type": "string", "format": "binary"}}
                resp["content"] = {op.extra["content"]: binary}
            responses[str(status)] = resp
        statuses = set(op.errors)
        if counted:
            statuses |= {429, 500} | ({401, 403} if op.auth != "none" else set())
        if op.body is not None and op.body != RAW:
            statuses |= {400, 413, 415}
        for status in sorted(statuses - set(op.responses)):
            responses[str(status)] = self.error(status, counted)
        out: dict[str, Any] = {"operationId": op.op_id(method, path), "summary": op.summary,
                               "tags": [op.tag], "responses": responses,
                               "security": SECURITY[op.auth]}  # fmt: skip
        if op.description:
            out["description"] = op.description
        params = [_path_param(n) for n in re.findall(r"{(\w+)}", path)]
        params += _query_params(op.query) + op.extra.get("parameters", [])
        if params:
            out["parameters"] = params
        if op.body == RAW:
            schema = {"schema": {"type": "string", "format": "binary"}}
            out["requestBody"] = {"required": True, "content": {"application/octet-stream": schema}}
        elif op.body is not None:
            content = {"application/json": {"schema": self.ref(op.body)}}
            out["requestBody"] = {"required": op.body_required, "content": content}
        if op.permission and op.auth in ("any", "optional"):
            out["x-api-key-permission"] = op.permission
        if op.auth in ROLES:
            out["x-required-roles"] = ROLES[op.auth]
        if op.extra.get("responses") == "image":
            out["responses"] = image_responses(self)
        return out

    def schemas(self) -> dict[str, Schema]:
        """Component schemas of every model used, with the settings' own limits."""
        pairs = [(m, "validation") for m in self.models.values()]
        _, top = models_json_schema(pairs, ref_template=REF)
        defs = top.get("$defs", {})
        uploads, plans = self.settings.uploads, self.settings.plans
        for name in ("PresignRequest", "MultipartInitRequest"):
            if name in defs:
                defs[name]["properties"]["mime"]["enum"] = list(uploads.accepted_types)
        if "AdminUserPatchRequest" in defs:
            names = [p for p in plans if p != "anonymous"]
            defs["AdminUserPatchRequest"]["properties"]["plan"]["anyOf"][0]["enum"] = names
        if "ShareRequest" in defs:
            limit = self.settings.images.share_max_seconds
            defs["ShareRequest"]["properties"]["expiresIn"]["maximum"] = limit
        return dict(sorted(defs.items()))


def image_responses(doc: _Document) -> dict[str, Any]:
    """What ``GET|HEAD /i/{name}`` answers: bytes of the accepted and variant types."""
    settings = doc.settings
    mimes = sorted(set(settings.uploads.accepted_types)
                   | {m for _, m in imaging.VARIANT_FORMATS.values()})  # fmt: skip
    binary = {m: {"schema": {"type": "string", "format": "binary"}} for m in mimes}
    string, required = {"type": "string"}, {"required": True}
    headers = {
        "ETag": {"schema": string, **required, "description": "Strong."},
        "Last-Modified": {"schema": string, **required},
        "Cache-Control": {"schema": string, **required},
        "Accept-Ranges": {"schema": {"const": "bytes"}, **required},
        "X-Content-Type-Options": {"schema": {"const": "nosniff"}, **required},
        "Content-Disposition": {"schema": string,
                                "description": "With `download=1`: `attachment`."},
    }  # fmt: skip
    content_range = {"Content-Range": {"schema": string, **required}}
    out: dict[str, Any] = {
        "200": {"description": "The bytes (a resized variant with `w`/`h`/`fit`/`format`).",
                "headers": headers, "content": binary},
        "206": {"description": "One satisfiable byte range.",
                "headers": {**headers, **content_range}, "content": binary},
        "304": {"description": "Not modified (`If-None-Match` / `If-Modified-Since`).",
                "headers": headers},
    }  # fmt: skip
    for status in (400, 403, 404, 410, 416, 500, 503):
        out[str(status)] = doc.error(status, counted=False)
    out["416"] = {**doc.responses["Error416NotCounted"], "headers": content_range}
    if getattr(settings.storage, "serve", "proxy") == "redirect":
        out["302"] = {"description": '`storage.serve = "redirect"`: the bytes are at `Location`.',
                      "headers": {"Location": {"schema": string, **required}}}  # fmt: skip
    return out


def build_document(settings: Any) -> dict[str, Any]:
    """The OpenAPI 3.1 document for an appliance running with ``settings``."""
    doc = _Document(settings)
    paths: dict[str, dict[str, Any]] = {}
    for method, path, handler in routes():
        op = operation_of(handler)
        if op is None:
            raise LookupError(f"{method.upper()} {path} has no @operation declaration")
        paths.setdefault(path, {})[method] = doc.operation(op, method, path)
    schemas = doc.schemas()  # after the operations: they name the models
    limited = bool(settings.rate_limits.enabled)
    return {
        "openapi": "3.1.0",
        "info": {"title": "pichr-appliance", "version": __version__,
                 "description": "A self-hosted image host speaking the Pichr v1 API. Every "
                 "error is JSON `{error, code, details?}`; every call under /api/v1 except "
                 "health and this document counts against the caller's hourly plan limits "
                 "and carries `X-RateLimit-*` headers. Routes mounted by plugins under "
                 "`/-/<plugin>/` are not described here."},
        "servers": [{"url": settings.public_url}],
        "tags": [{"name": n} for n in TAGS],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": {
                "limit": _param("limit", "query", {"type": "integer", "minimum": 1,
                                "maximum": PAGE_MAX, "default": 20}, "Page size."),
                "offset": _param("offset", "query", {"type": "integer", "minimum": 0,
                                 "maximum": OFFSET_MAX, "default": 0}, "Items to skip."),
            },
            "headers": {n: {**spec, "required": n == "Retry-After" or limited}
                        for n, spec in HEADERS.items()},
            "responses": dict(sorted(doc.responses.items())),
            "securitySchemes": {
                "bearerJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                              "description": "A session access token (HS256) from signup, "
                              "login or refresh."},
                "apiKey": {"type": "http", "scheme": "bearer",
                           "bearerFormat": "pk_ + 32 base58 characters",
                           "description": "An API key, also sent as `Authorization: Bearer "
                           "pk_...`; `x-api-key-permission` names what the key needs. "
                           "Session-only operations answer 403 to a key."},
            },
        },
    }  # fmt: skip
