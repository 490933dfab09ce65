"""``create_app(settings)``: the one place where the appliance is wired together."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse

from . import __version__
from .api import BLUEPRINTS
from .api.context import authenticate
from .api.cors import Cors
from .api.operations import check_response
from .config import Settings
from .db import close_db, init_db
from .errors import ApiError, handle_exception
from .plugins import plugin_routes
from .runtime import build_runtime, choose_rate_limit_store
from .services import sweeper
from .services.ratelimit import EXEMPT_PATHS, RateLimiter

log = logging.getLogger("pichr_appliance")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}
# JSON answers are data, never a page: nothing in them may load, run or be framed.
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def create_app(
    settings: Settings, *, name: str = "pichr_appliance", plugins: Sequence[Any] = ()
) -> Sanic:
    """Build the Sanic application for ``settings`` (picklable; called in every worker).

    ``plugins``: extra plugin objects to register, for tests."""
    if not logging.getLogger().handlers:
        # A spawned worker starts with no logging set up: without this, everything the
        # appliance and its plugins log below WARNING in a worker would be lost.
        logging.basicConfig(level=settings.server.log_level.upper(), format=LOG_FORMAT)
        logging.getLogger("sanic").propagate = False  # Sanic prints its own lines already
    rt = build_runtime(settings, plugins)
    pm = rt.pm
    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = settings.server.max_json_bytes
    app.config.REQUEST_TIMEOUT = settings.server.request_timeout
    app.config.RESPONSE_TIMEOUT = max(settings.server.request_timeout, 60)
    app.config.FALLBACK_ERROR_FORMAT = "json"
    # Touchup compiles away the per-request signal dispatches we never listen to (a
    # third of the serving time); it cannot rewrite code inside a frozen binary.
    app.config.TOUCHUP = not getattr(sys, "frozen", False)
    app.config.AUTO_EXTEND = False
    app.config.ACCESS_LOG = False
    app.ctx.runtime = rt
    app.ctx.settings = settings
    app.ctx.pm = pm
    app.ctx.storage = rt.storage
    app.ctx.passwords = rt.passwords
    app.ctx.tokens = rt.tokens
    app.ctx.version = __version__
    # Aliases of the runtime's parts, for tests; plugins and handlers use the runtime.
    app.ctx.counters = rt.counters
    app.ctx.hotcache = rt.hotcache

    for bp in BLUEPRINTS:
        app.blueprint(bp)
    for index, (_, path, handler, methods) in enumerate(plugin_routes(rt)):
        app.add_route(handler, path, methods=list(methods), name=f"plugin_route_{index}")
    app.error_handler.add(Exception, handle_exception)

    limiter = app.ctx.rate_limiter = RateLimiter(settings, choose_rate_limit_store(settings, pm))

    @app.before_server_start
    async def _open(app: Sanic) -> None:
        await init_db(settings, pm)
        await app.ctx.storage.startup()
        await limiter.store.startup()
        await rt.call("startup")
        loop = asyncio.get_running_loop()
        app.ctx.background = [
            loop.create_task(app.ctx.counters.run(settings.images.count_flush_interval)),
            loop.create_task(sweeper.run(rt, settings.uploads.sweep_interval)),
        ]

    @app.before_server_stop
    async def _flush(app: Sanic) -> None:
        for task in getattr(app.ctx, "background", []):
            task.cancel()
        await app.ctx.counters.flush()

    @app.after_server_stop
    async def _close(app: Sanic) -> None:
        try:
            await rt.call("shutdown")
            await app.ctx.storage.shutdown()
            await limiter.store.shutdown()
        finally:
            await close_db()

    cors = app.ctx.cors = Cors(settings.server.cors_origins)

    @app.on_request
    async def _cors_preflight(request: Request) -> HTTPResponse | None:
        if cors.enabled and request.method == "OPTIONS":
            return cors.preflight(request)
        return None

    @app.on_request
    async def _count_api_call(request: Request) -> None:
        path = request.path
        if (
            not limiter.enabled
            or not path.startswith("/api/v1/")
            or path in EXEMPT_PATHS
            or request.method == "OPTIONS"
        ):
            return
        try:
            actor = await authenticate(request)
        except ApiError:
            actor = None  # the handler answers 401; the call still counts, by address
        await limiter.api_call(request, actor.user if actor else None)

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

    if settings.server.check_responses:
        app.on_response(check_response)  # every JSON answer against its declaration
    return app
