"""``create_app(settings)``: the one place where the appliance is wired together."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any

from sanic import Sanic

from . import __version__, web
from .api import BLUEPRINTS
from .api.gotrue_errors import as_gotrue
from .api.middleware import CheckedRequest, Cors, HttpRateLimits, SameSite, install_middleware
from .api.operations import check_response
from .config import Settings
from .errors import exception_handler
from .lifecycle import install_lifecycle
from .plugins import plugin_routes
from .runtime import Runtime, build_runtime, choose_rate_limit_store
from .services.ratelimit import RateLimiter

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def create_app(
    settings: Settings, *, name: str = "pichr_appliance", plugins: Sequence[Any] = ()
) -> Sanic:
    """Build the Sanic application for ``settings`` (picklable; called in every worker).

    ``plugins``: extra plugin objects to register, for tests."""
    _set_up_logging(settings)
    rt = build_runtime(settings, plugins)
    app = Sanic(name, request_class=CheckedRequest)  # malformed heads: 400
    _configure_sanic(app, settings)
    _set_context(app, rt)
    for bp in [*BLUEPRINTS, *web.blueprints(settings)]:
        app.blueprint(bp)
    for index, (_, path, handler, methods) in enumerate(plugin_routes(rt)):
        app.add_route(handler, path, methods=list(methods), name=f"plugin_route_{index}")
    # Errors under /auth/v1 in the dialect supabase-js parses (docs/supabase-js.md).
    app.error_handler.add(Exception, exception_handler({"/auth/v1": as_gotrue}))
    limits = app.ctx.rate_limiter = HttpRateLimits(
        RateLimiter(settings, choose_rate_limit_store(settings, rt.pm))
    )
    install_lifecycle(app, rt, limits.store)
    cors = Cors(settings.server.cors_origins)
    install_middleware(app, limits, cors, SameSite(settings))
    if settings.server.check_responses:
        app.on_response(check_response)  # every JSON answer against its declaration
    return app


def _set_up_logging(settings: Settings) -> None:
    if not logging.getLogger().handlers:
        # A spawned worker starts with no logging set up: without this, everything the
        # appliance and its plugins log below WARNING in a worker would be lost.
        logging.basicConfig(level=settings.server.log_level.upper(), format=LOG_FORMAT)
        logging.getLogger("sanic").propagate = False  # Sanic prints its own lines already


def _configure_sanic(app: Sanic, settings: Settings) -> None:
    app.config.REQUEST_MAX_SIZE = settings.server.max_json_bytes
    # Silence allowed while a request head or body arrives; the head's total deadline
    # (HEADER_TIMEOUT) and the body's limit are enforced by protocol.TimeoutProtocol.
    app.config.REQUEST_TIMEOUT = settings.server.request_timeout
    app.config.HEADER_TIMEOUT = settings.server.header_timeout
    app.config.RESPONSE_TIMEOUT = settings.server.response_timeout
    app.config.FALLBACK_ERROR_FORMAT = "json"
    # Touchup compiles away the per-request signal dispatches we never listen to (a
    # third of the serving time); it cannot rewrite code inside a frozen binary.
    app.config.TOUCHUP = not getattr(sys, "frozen", False)
    app.config.AUTO_EXTEND = False
    app.config.ACCESS_LOG = False


def _set_context(app: Sanic, rt: Runtime) -> None:
    # The runtime is the one thing handlers reach through the app (request.app.ctx.runtime);
    # the rate limiter (an HTTP concern) is set next to it by create_app.
    app.ctx.runtime = rt
    app.ctx.version = __version__
