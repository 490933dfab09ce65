"""One error type for the whole appliance, rendered as JSON everywhere (except a 404 or
410 page for a browser's navigation outside the API, when the web interface is on)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from sanic import Request
from sanic.exceptions import SanicException, ServiceUnavailable
from sanic.response import HTTPResponse, JSONResponse, json

from .storage.base import StorageError

log = logging.getLogger("pichr_appliance")


class ApiError(Exception):
    """An error with an HTTP status, a stable snake_case code and a human message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}
        self.extra = extra or {}  # top-level fields some answers carry (429: retryAfter)

    def body(self) -> dict[str, Any]:
        """The JSON body: ``error``, ``code``, ``details`` when set, and any extras."""
        out: dict[str, Any] = {"error": self.message, "code": self.code}
        if self.details is not None:
            out["details"] = self.details
        out.update(self.extra)
        return out


def bad_request(message: str, code: str = "invalid_request", details: Any = None) -> ApiError:
    return ApiError(400, code, message, details)


def not_found(what: str = "Resource") -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def unauthorized(message: str = "Authentication required", code: str = "unauthorized") -> ApiError:
    return ApiError(401, code, message)


def forbidden(message: str = "Not allowed", code: str = "forbidden") -> ApiError:
    return ApiError(403, code, message)


def conflict(message: str, code: str = "conflict") -> ApiError:
    return ApiError(409, code, message)


_SANIC_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    414: "uri_too_long",
    416: "range_not_satisfiable",
    431: "headers_too_large",
    503: "service_unavailable",
}


def error_response(err: ApiError) -> JSONResponse:
    """Render an ApiError as the JSON response every client sees."""
    return json(err.body(), status=err.status, headers=err.headers)


async def handle_exception(request: Request, exc: Exception) -> HTTPResponse:
    """Sanic error handler: ApiError as is, Sanic's own errors mapped, anything else 500;
    JSON, but for the web interface's 404/410 page where a browser asks for a page."""
    return answer(request, as_api_error(request, exc))


def answer(request: Request, err: ApiError) -> HTTPResponse:
    """The answer of ``err``: the web interface's 404/410 page when a browser asks for
    a page (``web/error_pages.py`` decides), JSON otherwise."""
    if err.status in (404, 410):
        page = _web_page(request, err.status)
        if page is not None:
            return page
    return render(request, err)


def _web_page(request: Request, status: int) -> HTTPResponse | None:
    runtime = getattr(request.app.ctx, "runtime", None)
    if runtime is None or not runtime.settings.web.enabled:
        return None
    from .web.error_pages import page_for_error  # the web package imports this module

    try:
        return page_for_error(request, status)
    except Exception:  # the JSON answer is still right: never fail the error path
        log.exception("rendering the %s page of %s failed", status, request.path)
        return None


Dialect = Callable[[ApiError], ApiError]


def exception_handler(dialects: dict[str, Dialect]) -> Callable[..., Any]:
    """:func:`handle_exception`, with the errors of paths under a prefix of ``dialects``
    rewritten by its function first (``/auth/v1`` answers errors as GoTrue does)."""

    async def handle(request: Request, exc: Exception) -> HTTPResponse:
        err = as_api_error(request, exc)
        for prefix, dialect in dialects.items():
            if request.path.startswith(prefix):
                return render(request, dialect(err))
        return answer(request, err)

    return handle


def render(request: Request, err: ApiError) -> JSONResponse:
    """The JSON answer of ``err`` to ``request``."""
    response = error_response(err)
    stream = getattr(request, "stream", None)
    if stream is not None and getattr(stream, "request_body", None):
        # A streamed body was refused part-way: the rest is not read, so the
        # connection cannot carry another request. Say so (Connection: close).
        stream.keep_alive = False
    return response


def as_api_error(request: Request, exc: Exception) -> ApiError:
    """Any exception as the ApiError it answers: ApiError as is, Sanic's own errors
    mapped, storage failures 503, anything else a logged 500."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, SanicException):
        status = getattr(exc, "status_code", 500) or 500
        if isinstance(exc, ServiceUnavailable) and getattr(exc, "shutting_down", False):
            return ApiError(503, "shutting_down", str(exc), headers={"Retry-After": "5"})
        if isinstance(exc, ServiceUnavailable):
            # Sanic's response timeout (the handler took longer than allowed): a
            # condition of the moment, not a bug, so not logged as one.
            timeout = str(exc) == "Response Timeout"
            log.warning("%s in %s %s", exc, request.method, request.path)
            return ApiError(
                503,
                "response_timeout" if timeout else "service_unavailable",
                "The server took too long to answer; try again" if timeout else str(exc),
                headers={"Retry-After": "5"},
            )
        if status >= 500:
            return _internal(request, exc)
        message = str(exc)
        if status == 413 and "header" in message.lower():
            status = 431  # Sanic says 413 for an oversized head; 431 is what it is
        code = _SANIC_CODES.get(status, "http_error")
        message = message or code.replace("_", " ")
        if status == 404:
            message = "Not found"
        headers = dict(getattr(exc, "headers", None) or {})
        return ApiError(status, code, message, headers=headers)
    from .services.diskspace import insufficient, is_disk_full

    if is_disk_full(exc):
        # ENOSPC, or SQLite's "database or disk is full": a condition, not a bug.
        log.warning("disk full in %s %s: %s", request.method, request.path, exc)
        return insufficient("The server ran out of disk space; try again later")
    if is_database_busy(exc):
        # Another process held the database's write lock past the busy timeout: the
        # write was not made (SQLite rolls it back); the client may simply retry.
        log.warning("database busy in %s %s: %s", request.method, request.path, exc)
        return database_busy()
    if isinstance(exc, StorageError):
        # The object store is down or refusing us: a temporary condition for the client.
        log.warning("storage error in %s %s: %s", request.method, request.path, exc)
        return ApiError(
            503,
            "storage_unavailable",
            "Storage is unavailable right now; try again later",
            headers={"Retry-After": "5"},
        )
    return _internal(request, exc)


_BUSY = ("database is locked", "database is busy", "database table is locked")


def is_database_busy(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) is SQLite giving up on a lock that another
    connection held for longer than the busy timeout."""
    seen = 0
    while exc is not None and seen < 5:
        if any(text in str(exc) for text in _BUSY):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def database_busy() -> ApiError:
    """503 ``database_busy``: retry in a moment (nothing was written)."""
    return ApiError(
        503,
        "database_busy",
        "The database is busy; try again in a moment",
        headers={"Retry-After": "1"},
    )


def _internal(request: Request, exc: Exception) -> ApiError:
    request_id = getattr(request, "id", None) or uuid.uuid4()
    log.error(
        "unhandled error in %s %s [request %s]",
        request.method,
        request.path,
        request_id,
        exc_info=exc,
    )
    return ApiError(
        500, "internal_error", "Internal server error", details={"requestId": str(request_id)}
    )
