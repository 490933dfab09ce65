"""HTTP concerns around every handler, installed by :func:`install_middleware`.

- the client address (``client_ip``): the socket's peer unless that peer is one of
  ``server.trusted_proxies``; only then are ``Forwarded`` and ``X-Forwarded-For``
  read, right to left, skipping the trusted hops;
- rate limiting: every ``/api/v1`` call is counted (per user, or per address) by the
  ``services.ratelimit`` policy, and the answer carries ``X-RateLimit-*``;
  :class:`HttpRateLimits` (``app.ctx.rate_limiter``) lets handlers count uploads,
  logins and signups by request;
- security headers, and a CSP on JSON answers;
- CORS for the origins in ``server.cors_origins``. Answers never carry
  ``Access-Control-Allow-Credentials``. A preflight from an origin that is not allowed
  gets 403 without CORS headers: the browser then refuses the real request;
- cross-site request forgery: a state-changing request authenticated by *ambient*
  credentials (``Actor.ambient``: a proxy's identity headers, a cookie) answers 403
  ``cross_site_request`` when its ``Origin`` is neither the server's own
  (``server.public_url``) nor one listed in ``server.cors_origins`` (``"*"`` does not
  count), or, without ``Origin``, when ``Sec-Fetch-Site`` says ``cross-site``. Requests
  with neither header (curl, server-to-server) are not from a browser and pass;
- request heads (:func:`check_request_head`, run by :class:`CheckedRequest`, the
  app's request class): a header line whose name is not a token
  (``Transfer-Encoding : chunked``, obsolete line folding) gets 400 and the connection
  closes; Sanic would keep it under another name, so a proxy and the server could
  disagree about where the body ends (request smuggling).
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from sanic import Request, Sanic
from sanic.exceptions import BadRequest
from sanic.response import HTTPResponse, empty

from ..errors import ApiError
from ..limits import Decision, RateLimitStore
from ..services.ratelimit import RateLimiter
from .context import authenticate
from .operations import operation_of

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}
# JSON answers are data, never a page: nothing in them may load, run or be framed.
API_CSP = "default-src 'none'; frame-ancestors 'none'"


# Probes for load balancers and the contract document are not API calls worth counting.
@lru_cache(maxsize=32)
def _networks(proxies: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _trusted(address: str, networks: tuple) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    return any(ip in net for net in networks)


def is_trusted_proxy(address: str, trusted_proxies: list[str]) -> bool:
    """Whether ``address`` is in ``server.trusted_proxies`` (CIDR ranges or addresses)."""
    return _trusted(address, _networks(tuple(trusted_proxies)))


def _forwarded_chain(headers: Any) -> list[str]:
    """Addresses named by ``Forwarded`` (preferred) or ``X-Forwarded-For``, in order."""
    forwarded = headers.get("forwarded")
    chain: list[str] = []
    if forwarded:
        for element in forwarded.split(","):
            for pair in element.split(";"):
                name, _, value = pair.strip().partition("=")
                if name.lower() == "for" and value:
                    value = value.strip('"')
                    if value.startswith("["):  # [v6]:port
                        value = value[1 : value.find("]")]
                    elif value.count(":") == 1:  # v4:port
                        value = value.split(":")[0]
                    chain.append(value)
        return chain
    xff = headers.get("x-forwarded-for")
    if xff:
        chain = [part.strip() for part in xff.split(",") if part.strip()]
    return chain


def client_ip(request: Any, trusted_proxies: list[str]) -> str:
    """The address to count an anonymous caller by (see the module docstring)."""
    peer = request.conn_info.client_ip if request.conn_info else ""
    networks = _networks(tuple(trusted_proxies))
    if not networks or not _trusted(peer, networks):
        return peer
    for address in reversed(_forwarded_chain(request.headers)):
        if not _trusted(address, networks):
            return address
    return peer


class HttpRateLimits:
    """The rate-limit policy as handlers use it: by request (``app.ctx.rate_limiter``)."""

    def __init__(self, policy: RateLimiter) -> None:
        self.policy = policy
        self._proxies = policy.settings.server.trusted_proxies

    @property
    def store(self) -> RateLimitStore:
        """The configured store (opened and closed by the server's lifecycle)."""
        return self.policy.store

    @property
    def enabled(self) -> bool:
        """False when ``rate_limits.enabled`` is off."""
        return self.policy.enabled

    def address(self, request: Request) -> str:
        """The caller's address (:func:`client_ip` with ``server.trusted_proxies``)."""
        return client_ip(request, self._proxies)

    async def api_call(self, request: Request, user: Any) -> Decision:
        """Count one API call; its decision becomes the response's ``X-RateLimit-*``."""
        decision = await self.policy.api_call(self.address(request), user)
        request.ctx.rate_limit = decision
        return decision

    async def upload_started(self, request: Request, user: Any) -> None:
        """Count one upload (429 over the plan's ``uploads_per_hour``)."""
        if not self.exempt(request):
            await self.policy.upload_started(self.address(request), user)

    def exempt(self, request: Request) -> bool:
        """Whether the plans' hourly limits spare this caller: with
        ``rate_limits.exempt_loopback`` on, a client on this machine (a developer
        repeating the guide). The sign-in guards apply to everyone."""
        if not self.policy.settings.rate_limits.exempt_loopback:
            return False
        try:
            return ipaddress.ip_address(self.address(request)).is_loopback
        except ValueError:
            return False

    async def login_attempt(self, request: Request, account: str) -> None:
        """Before checking a password: per-address attempts and the account's failures."""
        await self.policy.login_attempt(self.address(request), account)

    async def login_account(self, user_id: str) -> None:
        """The resolved account's failures, whichever of its names was typed."""
        await self.policy.login_account(user_id)

    async def login_failed(self, account: str, user_id: str | None = None) -> None:
        """Record a wrong password for ``account`` (and the account it names)."""
        await self.policy.login_failed(account, user_id)

    async def login_succeeded(self, account: str, user_id: str | None = None) -> None:
        """A right password clears the failures."""
        await self.policy.login_succeeded(account, user_id)

    async def signup_attempt(self, request: Request) -> None:
        """Count one signup from the caller's address."""
        await self.policy.signup_attempt(self.address(request))


ALLOWED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE"
ALLOWED_HEADERS = frozenset(
    {"authorization", "content-type", "if-none-match", "if-modified-since", "range"}
    # What supabase-js sends to /auth/v1 (docs/supabase-js.md).
    | {"apikey", "x-client-info", "x-supabase-api-version"}
)
EXPOSED_HEADERS = (
    "ETag, Content-Length, Content-Range, Retry-After, "
    "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-Supabase-Api-Version"
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
        if not self.enabled:
            # Without this, the preflight reached the router and answered 405, which
            # reads like a bug of the server rather than a switched-off feature.
            raise ApiError(
                403,
                "cors_disabled",
                "Cross-origin requests (CORS) are off on this server. To let pages of "
                f"{origin} call it, list that origin in server.cors_origins "
                "(PICHR_SERVER__CORS_ORIGINS, docs/configuration.md).",
            )
        if not self.allows(origin):
            raise ApiError(
                403,
                "cors_forbidden",
                f"Origin {origin} is not allowed; server.cors_origins lists the allowed ones",
            )
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


STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` as browsers send ``Origin`` (lower-case, no
    default port); "" for anything else (``null``, garbage)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if not scheme or not host:
        return ""
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" + (f":{port}" if port and port != DEFAULT_PORTS.get(scheme) else "")


class SameSite:
    """Which browser origins may make state-changing requests with ambient credentials."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    @property
    def origins(self) -> frozenset[str]:
        """The server's own origin and the listed CORS origins (read when needed: only
        state-changing requests that carry an ``Origin`` ask)."""
        listed = self.settings.server.cors_origins
        own = {origin_of(self.settings.public_url)} | {origin_of(o) for o in listed if o != "*"}
        return frozenset(o for o in own if o)

    def cross_site(self, request: Any) -> bool:
        """Whether a browser says the request comes from a page of another site."""
        if request.method not in STATE_CHANGING:
            return False
        fetch_site = (request.headers.get("sec-fetch-site") or "").lower()
        if fetch_site in ("same-origin", "none"):
            return False  # the browser's own word (pages cannot set Sec-Fetch-*)
        origin = request.headers.get("origin")
        if origin is not None:
            return (origin_of(origin) or "-") not in self.origins
        return fetch_site == "cross-site"

    async def check(self, request: Request) -> None:
        """403 ``cross_site_request`` for a cross-site request with ambient credentials."""
        if not self.cross_site(request):
            return
        try:
            actor = await authenticate(request)
        except ApiError:
            return  # the handler answers 401 for the bad credentials
        if actor is not None and actor.ambient:
            raise ApiError(
                403,
                "cross_site_request",
                "Cross-site requests cannot use credentials the browser sends by itself",
            )


# After every line break of a request head, a field name (RFC 9110 token) and a colon.
_BAD_HEADER_LINE = re.compile(rb"\r\n(?![!#$%&'*+\-.^_`|~0-9A-Za-z]+:)")


def check_request_head(head: bytes) -> None:
    """Refuse a head with a header name that is not a token: whitespace before the
    colon, line folding, a line without a colon. RFC 9112 (5.1) wants 400 for these."""
    if _BAD_HEADER_LINE.search(head):
        raise BadRequest("Bad Request")


class CheckedRequest(Request):
    """Sanic's request, refusing a malformed head (:func:`check_request_head`) as it is
    made, while Sanic reads the head: its 400 "Bad Request" (JSON through the error
    handler), and the connection is closed after it.

    Here rather than in an ``http.lifecycle.read_head`` signal: dispatching that signal
    was 7% of the time of every ``GET /i/`` (issue 18), the check itself a tenth of it.
    """

    __slots__ = ()

    def __init__(self, *args: Any, head: bytes = b"", **kwargs: Any) -> None:
        check_request_head(head)  # Sanic passes the head by name (sanic/http/http1.py)
        super().__init__(*args, head=head, **kwargs)


def install_middleware(app: Sanic, limits: HttpRateLimits, cors: Cors, same_site: SameSite) -> None:
    """Register CORS preflights, the cross-site check, API-call
    counting and the response headers on ``app``."""

    @app.on_request
    async def _cors_preflight(request: Request) -> HTTPResponse | None:
        if request.method == "OPTIONS":
            return cors.preflight(request)
        return None

    @app.on_request
    async def _count_api_call(request: Request) -> None:
        path = request.path
        if not limits.enabled or not path.startswith("/api/v1/") or request.method == "OPTIONS":
            return
        op = operation_of(request.route.handler) if request.route is not None else None
        if op is not None and not op.counted:
            return  # declared uncounted: health, discovery, and sign-in (own limits)
        if limits.exempt(request):
            return
        try:
            actor = await authenticate(request)
        except ApiError:
            actor = None  # the handler answers 401; the call still counts, by address
        await limits.api_call(request, actor.user if actor else None)

    @app.on_request
    async def _refuse_cross_site(request: Request) -> None:
        await same_site.check(request)  # after counting: forged requests count too

    @app.on_response
    async def _headers(request: Request, response: HTTPResponse) -> None:
        decision = getattr(request.ctx, "rate_limit", None)
        if decision is not None:
            for key, value in decision.headers().items():
                response.headers.setdefault(key, value)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        content_type = response.content_type or ""
        if content_type == "application/json":
            response.content_type = "application/json; charset=utf-8"
        if content_type.startswith("application/json"):
            response.headers.setdefault("Content-Security-Policy", API_CSP)
        if cors.enabled:
            cors.decorate(request, response)
