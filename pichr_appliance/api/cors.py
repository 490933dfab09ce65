"""Cross-origin requests from browsers, allowed for the origins in ``server.cors_origins``.

Credentials travel in the ``Authorization`` header, never in cookies, so answers never
carry ``Access-Control-Allow-Credentials``. A preflight from an origin that is not
allowed gets 403 without CORS headers: the browser then refuses the real request.
"""

from __future__ import annotations

from typing import Any

from sanic.response import HTTPResponse, empty

from ..errors import ApiError

ALLOWED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE"
ALLOWED_HEADERS = frozenset(
    {"authorization", "content-type", "if-none-match", "if-modified-since", "range"}
)
EXPOSED_HEADERS = (
    "ETag, Content-Length, Content-Range, Retry-After, "
    "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
)
PREFLIGHT_MAX_AGE = "600"


class Cors:
    """The configured policy; ``origins`` may contain ``"*"`` for any origin."""

    def __init__(self, origins: list[str]) -> None:
        self.any = "*" in origins
        self.origins = frozenset(o.rstrip("/") for o in origins if o != "*")

    @property
    def enabled(self) -> bool:
        """True when any origin is allowed at all."""
        return self.any or bool(self.origins)

    def allows(self, origin: str) -> bool:
        """Whether ``origin`` (the request's ``Origin`` header) may call."""
        return self.any or origin in self.origins

    def preflight(self, request: Any) -> HTTPResponse | None:
        """The answer to a CORS preflight, or None when ``request`` is not one."""
        origin = request.headers.get("origin")
        if request.method != "OPTIONS" or not origin:
            return None
        if not request.headers.get("access-control-request-method"):
            return None
        if not self.allows(origin):
            raise ApiError(403, "cors_forbidden", f"Origin {origin} is not allowed")
        wanted = request.headers.get("access-control-request-headers", "")
        asked = [h.strip().lower() for h in wanted.split(",") if h.strip()]
        refused = [h for h in asked if h not in ALLOWED_HEADERS]
        if refused:
            raise ApiError(403, "cors_forbidden", f"Header not allowed: {', '.join(refused)}")
        return empty(
            status=204,
            headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": ALLOWED_METHODS,
                "Access-Control-Allow-Headers": ", ".join(asked) or "authorization",
                "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
                "Vary": "Origin",
            },
        )

    def decorate(self, request: Any, response: HTTPResponse) -> None:
        """Add the CORS headers of an actual cross-origin request's response."""
        origin = request.headers.get("origin")
        if origin and self.allows(origin):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
            response.headers["Vary"] = "Origin"
