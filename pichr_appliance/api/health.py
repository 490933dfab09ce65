"""``/health`` and ``/api/v1/health``."""

from __future__ import annotations

import logging

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from tortoise import connections

from .. import __version__
from ..schemas.health import Health
from ..services import diskspace
from .operations import operation

bp = Blueprint("health")
log = logging.getLogger("pichr_appliance")


@bp.get("/health", name="health")
@bp.get("/api/v1/health", name="api_health")
@operation(
    id={"/health": "health", "/api/v1/health": "apiHealth"}, summary="Liveness and dependencies",
    tag="discovery", auth="none", responses={200: Health, 503: Health}, counted=False,
    description="Not counted by rate limits.",
)  # fmt: skip
async def health(request: Request) -> HTTPResponse:
    rt = request.app.ctx.runtime
    out = {"status": "ok", "version": __version__, "database": "ok", "storage": "ok"}
    try:
        out["disk"] = diskspace.state(rt.settings)
    except OSError as exc:
        log.warning("health: disk check failed: %s", exc)
        out["disk"] = "full"
    if out["disk"] != "ok":
        log.warning("health: disk space %s (storage.min_free_bytes)", out["disk"])
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception as exc:
        log.warning("health: database check failed: %s", exc)
        out["database"] = "unavailable"
    try:
        await rt.storage.health()
    except Exception as exc:
        log.warning("health: storage check failed: %s", exc)
        out["storage"] = "unavailable"
    failing = [k for k in ("database", "storage") if out[k] != "ok"]
    if failing or out["disk"] == "full":
        out["status"] = "unavailable"
        reasons = [f"{' and '.join(failing)} unavailable"] if failing else []
        if out["disk"] == "full":
            reasons.append("disk full (uploads are refused)")
        out["error"] = "; ".join(reasons)
        out["code"] = "service_unavailable"
        return json(Health(**out).dump(), status=503)
    return json(Health(**out).dump())
