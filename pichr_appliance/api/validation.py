"""Request parsing: JSON bodies validated by pydantic models, query parameters."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from sanic import Request

from ..errors import ApiError, bad_request

M = TypeVar("M", bound=BaseModel)


class Body(BaseModel):
    """Base for request bodies: unknown fields are ignored, known ones are checked."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


def json_body(request: Request) -> Any:
    """The decoded JSON body; 400 when it is missing or malformed."""
    raw = request.body
    if not raw:
        raise bad_request("Request body must be JSON", "invalid_json")
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


def upload_id_of(body: dict[str, Any]) -> str:
    """``uploadId`` from a body, or 400 naming it."""
    upload_id = body.get("uploadId")
    if not isinstance(upload_id, str):
        raise bad_request("uploadId: required", "invalid_request", {"field": "uploadId"})
    return upload_id


def parse(request: Request, model: type[M]) -> M:
    """Validate the JSON body against ``model``; 400 naming the first bad field."""
    data = json_object(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


def validation_error(exc: ValidationError) -> ApiError:
    errors = exc.errors()
    fields = []
    for err in errors:
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        fields.append({"field": loc, "message": err["msg"]})
    first = fields[0]
    return bad_request(
        f"{first['field']}: {first['message']}", "validation_error", {"fields": fields}
    )


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
