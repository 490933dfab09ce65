"""``/api/v1/moderation``: reports (anyone), the queue, decisions and the audit log (staff)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from ..schemas.moderation import (
    ANONYMOUS_PREFIX,
    AuditEntryOut,
    AuditPage,
    AuditQuery,
    QueuePage,
    QueueQuery,
    ReportCreated,
    ReportDetail,
    ReportOut,
    ReportRequest,
    ResolveRequest,
)
from ..services import audit, moderation
from ..services.audit import Operator
from ..timeutil import iso
from .context import authenticate, require_role
from .operations import operation
from .validation import paging, parse

bp = Blueprint("moderation", url_prefix="/api/v1/moderation")

STAFF = ("moderator", "admin")


def reporter_key(user_id: str | None, address: str) -> str:
    """Who reported, for "one open report per reporter and target" and for staff: the
    account, or the client address of an anonymous reporter (shown to staff, so that
    they see who holds what)."""
    return user_id or ANONYMOUS_PREFIX + address


@bp.post("/report")
@operation(
    id="report", summary="Report a file or an album", tag="moderation", auth="optional",
    body=ReportRequest, responses={201: ReportCreated}, errors=[404, 409, 410, 429],
    description="Anyone who can see the target; one open report per reporter and target; "
    "limited per client address per hour (`csam` reports more strictly).",
)  # fmt: skip
async def report(request: Request) -> HTTPResponse:
    """``POST /moderation/report``: anyone (also anonymous and API keys); 201."""
    actor = await authenticate(request)
    user = actor.user if actor else None
    body = parse(request, ReportRequest)
    rt = request.app.ctx.runtime
    limits = request.app.ctx.rate_limiter
    address = limits.address(request)
    await limits.policy.report_filed(address, user, body.reason)
    created = await moderation.create_report(
        rt, user, reporter_key(user.id if user else None, address), body
    )
    answer = ReportCreated(id=created.id, status=created.status, createdAt=iso(created.created_at))
    return json(answer.dump(), status=201)


@bp.get("/queue")
@operation(
    id="moderationQueue", summary="Reports grouped by target (staff)", tag="moderation",
    auth="staff", query=QueueQuery, responses={200: QueuePage}, errors=[400],
)  # fmt: skip
async def queue(request: Request) -> HTTPResponse:
    """``GET /moderation/queue?status=open|resolved|all``: reports grouped by target."""
    await require_role(request, *STAFF)
    limit, offset = paging(request)
    items, total = await moderation.queue(
        request.app.ctx.runtime,
        status=request.args.get("status", "open"),
        limit=limit,
        offset=offset,
    )
    return json(QueuePage(queue=items, total=total, limit=limit, offset=offset).dump())


@bp.get("/reports/<report_id:str>")
@operation(
    id="getReport", summary="A report with its target and siblings (staff)",
    tag="moderation", auth="staff", responses={200: ReportDetail}, errors=[404],
)  # fmt: skip
async def show(request: Request, report_id: str) -> HTTPResponse:
    """``GET /moderation/reports/{id}``: a report, its target and its siblings."""
    await require_role(request, *STAFF)
    return json(await moderation.show(request.app.ctx.runtime, report_id))


@bp.post("/reports/<report_id:str>/resolve")
@operation(
    id="resolveReport", summary="Decide on a report's target (staff)", tag="moderation",
    auth="staff", body=ResolveRequest, responses={200: ReportOut}, errors=[404, 409],
)  # fmt: skip
async def resolve(request: Request, report_id: str) -> HTTPResponse:
    """``POST /moderation/reports/{id}/resolve``: decide; returns the report."""
    actor = await require_role(request, *STAFF)
    action, note, ban = moderation.check_resolution(parse(request, ResolveRequest))
    report = await moderation.resolve(
        request.app.ctx.runtime, Operator.of_user(actor.user), report_id, action, note, ban
    )
    return json(moderation.report_json(report))


@bp.get("/audit")
@operation(
    id="auditLog", summary="The audit log (staff)", tag="moderation", auth="staff",
    query=AuditQuery, responses={200: AuditPage}, errors=[400],
)  # fmt: skip
async def audit_log(request: Request) -> HTTPResponse:
    """``GET /moderation/audit?targetId&action&actorId``: newest first."""
    await require_role(request, *STAFF)
    limit, offset = paging(request)
    entries, total = await audit.list_entries(
        limit=limit,
        offset=offset,
        target_id=request.args.get("targetId"),
        action=request.args.get("action"),
        actor_id=request.args.get("actorId"),
    )
    items = [AuditEntryOut.of(e) for e in entries]
    return json(AuditPage(entries=items, total=total, limit=limit, offset=offset).dump())
