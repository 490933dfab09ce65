"""Request parsing: JSON bodies validated by pydantic models, query parameters."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel
from sanic import Request

from ..errors import ApiError, bad_request
from ..schemas.common import validate

M = TypeVar("M", bound=BaseModel)


def is_json_type(content_type: str | None) -> bool:
    """``application/json`` or ``application/*+json``, parameters (charset) allowed."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def require_json_type(request: Request) -> None:
    """415 ``unsupported_media_type`` unless the body is labelled as JSON.

    A browser sends ``text/plain``, form and multipart bodies cross-site without a
    CORS preflight, but not ``application/json``: so a JSON body arriving under another
    label may be a forged request, and is never read."""
    if not is_json_type(request.headers.get("content-type")):
        raise ApiError(
            415, "unsupported_media_type", "Send the body with Content-Type: application/json"
        )


def json_body(request: Request) -> Any:
    """The decoded JSON body; 415 when it is not labelled as JSON, 400 when it is
    missing or malformed."""
    raw = request.body
    if not raw:
        raise bad_request("Request body must be JSON", "invalid_json")
    require_json_type(request)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("Request body is not valid JSON", "invalid_json") from None


def json_object(request: Request) -> dict[str, Any]:
    """The JSON body, which must be an object; 400 otherwise."""
    data = json_body(request)
    if not isinstance(data, dict):
        raise bad_request("Request body must be a JSON object", "invalid_json")
    return data


def parse(request: Request, model: type[M], context: dict[str, Any] | None = None) -> M:
    """Validate the JSON body against ``model``; 400 ``validation_error`` naming the field.

    ``context`` reaches the model's validators (``{"settings": ...}``)."""
    return validate(model, json_object(request), context)


def parse_optional(request: Request, model: type[M], context: dict[str, Any] | None = None) -> M:
    """Like :func:`parse`, but an empty body counts as ``{}`` (whatever its label)."""
    return validate(model, json_object(request) if request.body else {}, context)


def query_int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name}: must be an integer", "invalid_query", {"field": name}) from None
    if value < lo or value > hi:
        raise bad_request(
            f"{name}: must be between {lo} and {hi}", "invalid_query", {"field": name}
        )
    return value


def paging(request: Request) -> tuple[int, int]:
    """``limit`` (default 20, max 100) and ``offset`` from the query string."""
    return query_int(request, "limit", 20, 1, 100), query_int(request, "offset", 0, 0, 10**9)
