"""One declaration per HTTP operation, and the checker that holds answers to it.

``@operation(...)`` goes under the route decorator and only *declares*: the operation
id, the body and query models, the response model per status, who may call it
(``auth``) and which API-key permission it needs, and the error statuses it answers.
The checks themselves stay in the handlers (``api/context.py``). The OpenAPI document
(``pichr_appliance.openapi``) is generated from these declarations, and with
``server.check_responses`` on (as in the test suite) every JSON answer is validated
against the model declared for its status: a mismatch answers 500 and is logged.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sanic import Request
from sanic.response import HTTPResponse

from ..errors import ApiError, error_response
from ..schemas.errors import ErrorOut, RateLimited

log = logging.getLogger("pichr_appliance.operations")

Auth = Literal["none", "optional", "any", "session", "staff", "admin"]
RAW = "raw"  # a body of raw bytes (image uploads), not JSON
ATTRIBUTE = "__pichr_operation__"


@dataclass(frozen=True)
class Operation:
    """What one operation takes and answers (see the module docstring)."""

    id: str | dict[str, str]  # a dict: one id per path of a handler with two routes
    summary: str
    tag: str
    responses: dict[int, type[BaseModel] | None]
    auth: Auth
    body: type[BaseModel] | str | None = None
    body_required: bool = True
    query: type[BaseModel] | None = None
    permission: str | None = None
    errors: tuple[int, ...] = ()
    counted: bool = True
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def op_id(self, method: str, path: str) -> str:
        """The operationId for one route of this handler."""
        name = self.id[path] if isinstance(self.id, dict) else self.id
        return name.format(method=method.lower())

    @property
    def label(self) -> str:
        """The operation's name in messages."""
        return self.id if isinstance(self.id, str) else next(iter(self.id.values()))

    def model_for(self, status: int) -> type[BaseModel] | None:
        """The model an answer with ``status`` must match (None: no JSON body)."""
        if status in self.responses:
            return self.responses[status]
        return RateLimited if status == 429 else ErrorOut


def operation(**declared: Any):
    """Attach an :class:`Operation` to a handler (put it under the route decorator)."""
    op = Operation(
        **{k: tuple(v) if k == "errors" else v for k, v in declared.items()}  # hashable
    )

    def attach(handler: Any) -> Any:
        setattr(handler, ATTRIBUTE, op)
        return handler

    return attach


def operation_of(handler: Any) -> Operation | None:
    """The declaration of a route handler, if it has one."""
    return getattr(handler, ATTRIBUTE, None)


class ResponseMismatch(Exception):
    """An answer that does not match its declared model."""


def check_body(op: Operation, status: int, body: Any) -> None:
    """Validate a decoded JSON answer against the model declared for ``status``.

    Raises :class:`ResponseMismatch` naming the operation, the status and what is wrong
    (a missing field, an undeclared one, a wrong type); a status the operation does not
    declare is a mismatch too.
    """
    if status < 400 and status not in op.responses:
        raise ResponseMismatch(f"{op.label}: status {status} is not declared")
    model = op.model_for(status)
    if model is None:
        if body not in (None, b"", ""):
            raise ResponseMismatch(f"{op.label}: {status} declares no body")
        return
    try:
        model.model_validate(body, strict=False)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise ResponseMismatch(
            f"{op.label} {status} does not match {model.__name__}: {problems}"
        ) from None


async def check_response(request: Request, response: HTTPResponse) -> HTTPResponse | None:
    """Response middleware (``server.check_responses``): a JSON answer that does not match
    its operation's declaration is replaced by a 500 saying why."""
    route = request.route
    op = operation_of(route.handler) if route is not None else None
    content_type = response.content_type or ""
    if op is None or not content_type.startswith("application/json"):
        return None
    raw = getattr(response, "body", None)
    if raw is None:
        return None
    try:
        check_body(op, response.status, json.loads(raw) if raw else None)
    except ResponseMismatch as exc:
        log.error("response check failed for %s %s: %s", request.method, request.path, exc)
        return error_response(ApiError(500, "response_mismatch", str(exc)))
    return None
