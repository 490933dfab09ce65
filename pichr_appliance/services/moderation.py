"""Moderation: reports, the staff queue, decisions, automatic flags and retention.

The HTTP API and ``pichr-appliance moderate`` call these same functions; every
decision is written to the audit log with whoever made it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tortoise.transactions import in_transaction

from ..errors import bad_request, conflict, not_found
from ..models import Album, File, Report, User, is_id
from ..schemas.albums import AlbumOut
from ..schemas.common import validate
from ..schemas.files import FileOut
from ..schemas.moderation import (
    STATUSES,
    AlbumTarget,
    FileTarget,
    QueueItem,
    ReportDetail,
    ReportOut,
    ReportRequest,
    ResolveRequest,
    TargetOwner,
    reporter_label,
)
from ..security import new_id
from ..timeutil import iso, utcnow
from . import access, accounts, albums, audit
from . import files as files_service
from .audit import SYSTEM, Operator

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger("pichr_appliance.moderation")

SYSTEM_REPORTER = "system"


def report_json(report: Report) -> dict[str, Any]:
    """The full report, as staff see it (``schemas.moderation.ReportOut``)."""
    return ReportOut.of(report).dump()


async def _load_target(target_type: str, target_id: str) -> File | Album | None:
    model = File if target_type == "file" else Album
    return await model.get_or_none(id=target_id) if is_id(target_id) else None


async def create_report(
    rt: Runtime, reporter: User | None, reporter_key: str, body: ReportRequest | dict[str, Any]
) -> Report:
    """File a report on something the reporter can see; 409 for a second open one.

    A ``csam`` report holds (hides) the target at once until a moderator decides,
    unless it is anonymous and ``moderation.anonymous_csam`` is ``queue`` (then it only
    comes first in the queue). The hold's audit entry names the reporter.
    """
    body = validate(ReportRequest, body)
    target_type, target_id = body.target()
    reason, details = body.reason, body.details
    # Owners may report their own removed content: that is how they appeal a removal.
    if target_type == "file":
        file = await access.visible_file(target_id, reporter)
        if not (file.status == "removed" and access.is_owner(file, reporter)):
            access.check_available(file)
    else:
        album = await Album.get_or_none(id=target_id) if is_id(target_id) else None
        appeal = album is not None and reporter is not None and album.owner_id == reporter.id
        if not (appeal and album.removed_at is not None):
            await access.visible_album(target_id, reporter)
    duplicate = await Report.filter(
        reporter_key=reporter_key, target_type=target_type, target_id=target_id, status="open"
    ).exists()
    if duplicate:
        raise conflict("You already reported this and the report is still open", "duplicate_report")
    hold = reason == "csam" and (
        reporter is not None or rt.settings.moderation.anonymous_csam == "hold"
    )
    async with in_transaction("default"):
        report = await Report.create(
            id=new_id("rpt"),
            reporter=reporter,
            reporter_key=reporter_key,
            target_type=target_type,
            target_id=target_id,
            reason=reason,
            details=details,
        )
        if hold:
            await _set_hold(rt, target_type, target_id, True)
            await audit.record(
                SYSTEM,
                "hold",
                target_type,
                target_id,
                "held until a moderator decides",
                {"reportId": report.id, "reporter": reporter_label(report)},
            )
    await rt.fire("report_created", report=report)
    if hold and target_type == "file":
        held = await File.get_or_none(id=target_id)
        if held is not None:
            await rt.fire("file_moderated", file=held, action="hold", actor=None)
    return report


async def _set_hold(rt: Runtime, target_type: str, target_id: str, hidden: bool) -> None:
    model = File if target_type == "file" else Album
    await model.filter(id=target_id).update(hidden=hidden)
    if target_type == "file":
        files_service.forget(rt, target_id)


def auto_age_restricted(settings: Any, score: float | None) -> bool:
    """Whether an ``nsfwScore`` makes a file age-restricted on its own."""
    return score is not None and score >= settings.moderation.age_restrict_threshold


async def after_classification(rt: Runtime, file: File) -> None:
    """Record automatic age restriction and open a system report above the queue threshold."""
    score = file.nsfw_score
    if score is None:
        return
    if file.age_restricted and auto_age_restricted(rt.settings, score):
        await audit.record(SYSTEM, "auto_age_restrict", "file", file.id, data={"nsfwScore": score})
    if score >= rt.settings.moderation.queue_threshold:
        exists = await Report.filter(
            target_type="file", target_id=file.id, system=True, status="open"
        ).exists()
        if not exists:
            report = await Report.create(
                id=new_id("rpt"),
                reporter=None,
                reporter_key=SYSTEM_REPORTER,
                target_type="file",
                target_id=file.id,
                reason="nsfw",
                details=f"nsfwScore {score:.3f} reached moderation.queue_threshold",
                system=True,
            )
            await audit.record(
                SYSTEM,
                "auto_report",
                "file",
                file.id,
                data={"reportId": report.id, "nsfwScore": score},
            )
            await rt.fire("report_created", report=report)


def _check_status(status: str) -> str:
    if status not in STATUSES:
        raise bad_request(
            f"status: one of {', '.join(STATUSES)}", "invalid_query", {"field": "status"}
        )
    return status


async def target_json(rt: Runtime, target_type: str, target: File | Album | None) -> dict | None:
    """The reported thing's metadata as staff see it (None once it was deleted): every
    album id, whatever its visibility."""
    if target is None:
        return None
    owner = await User.get_or_none(id=target.owner_id) if target.owner_id else None
    staff = {
        "held": bool(target.hidden),
        "owner": TargetOwner(
            id=owner.id, username=owner.username, role=owner.role, disabled=owner.disabled
        )
        if owner
        else None,
    }
    if isinstance(target, File):
        ids = await files_service.album_ids_for([target.id], None, every=True)
        out = FileOut.of(rt.settings, rt.storage, target, ids[target.id]).model_dump()
        return FileTarget(**out, **staff).dump()
    counts = await albums.file_counts([target.id])
    fields = AlbumOut.fields_of(rt.settings, target, counts[target.id], target.cover_file_id)
    return AlbumTarget(**fields, removed=target.removed_at is not None, **staff).dump()


async def queue(
    rt: Runtime, *, status: str = "open", limit: int = 20, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """Reports grouped by target with counts and the target's metadata: targets with a
    ``csam`` report first, then oldest first."""
    query = Report.all()
    if _check_status(status) != "all":
        query = query.filter(status=status)
    groups: dict[tuple[str, str], list[Report]] = {}
    for report in await query.order_by("created_at", "id"):
        groups.setdefault((report.target_type, report.target_id), []).append(report)
    ordered = sorted(groups.items(), key=lambda g: not any(r.reason == "csam" for r in g[1]))
    window = ordered[offset : offset + limit]
    out = []
    for (target_type, target_id), reports in window:
        reasons: dict[str, int] = {}
        for r in reports:
            reasons[r.reason] = reasons.get(r.reason, 0) + 1
        target = await _load_target(target_type, target_id)
        out.append(
            {
                "targetType": target_type,
                "targetId": target_id,
                "target": await target_json(rt, target_type, target),
                "reportCount": len(reports),
                "reasons": reasons,
                "firstReportedAt": iso(reports[0].created_at),
                "lastReportedAt": iso(reports[-1].created_at),
                "reports": [report_json(r) for r in reports],
            }
        )
        QueueItem.model_validate(out[-1])  # the declared shape, checked where it is built
    return out, len(groups)


async def get_report(report_id: str) -> Report:
    """A report by id; 404 when absent."""
    report = await Report.get_or_none(id=report_id) if is_id(report_id) else None
    if report is None:
        raise not_found("Report")
    return report


async def show(rt: Runtime, report_id: str) -> dict[str, Any]:
    """A report with its target and every report on the same target."""
    report = await get_report(report_id)
    target = await _load_target(report.target_type, report.target_id)
    related = await Report.filter(
        target_type=report.target_type, target_id=report.target_id
    ).order_by("created_at", "id")
    return ReportDetail(
        **ReportOut.of(report).model_dump(),
        target=await target_json(rt, report.target_type, target),
        reports=[ReportOut.of(r) for r in related],
    ).dump()


def check_resolution(body: ResolveRequest | dict[str, Any]) -> tuple[str, str, bool]:
    """``action``, ``note`` and ``banUser`` of a resolve request; 400 when invalid."""
    body = validate(ResolveRequest, body)
    return body.action, body.note, body.banUser


async def resolve(
    rt: Runtime, operator: Operator, report_id: str, action: str, note: str = "", ban: bool = False
) -> Report:
    """Decide a report: the action applies to its target and closes every open report on it.

    ``dismiss`` lifts a hold and changes nothing else; ``remove`` makes the target answer
    410 (its bytes are kept for ``moderation.removed_retention_days``); ``age_restrict``
    restricts a file; ``restore`` undoes removal, hold and age restriction. ``ban``
    disables the owner (sessions and keys revoked). 409 when the report is already
    resolved; 403 when a moderator acts on an admin's content or account.
    """
    action, note, ban = check_resolution({"action": action, "note": note, "banUser": ban})
    report = await get_report(report_id)
    if report.status != "open":
        raise conflict("This report is already resolved", "already_resolved")
    target = await _load_target(report.target_type, report.target_id)
    owner = await User.get_or_none(id=target.owner_id) if target and target.owner_id else None
    if owner is not None and (action != "dismiss" or ban):
        audit.check_may_act(operator, owner)
        if ban and operator.id == owner.id:
            raise bad_request("banUser: you cannot ban yourself", "invalid_request")
    if action == "age_restrict" and not isinstance(target, File) and target is not None:
        raise bad_request("action: age_restrict applies to files", "invalid_action")
    if action == "restore" and isinstance(target, File) and target.purged_at is not None:
        raise conflict(
            "The removed file's bytes were already deleted; it cannot be restored", "purged"
        )
    now = utcnow()
    async with in_transaction("default"):
        # Claimed in one statement: of two concurrent decisions only one goes through.
        claimed = await Report.filter(id=report.id, status="open").update(status="resolving")
        if not claimed:
            raise conflict("This report is already resolved", "already_resolved")
        if target is not None:
            await _apply(rt, target, action, now)
        closed = await Report.filter(
            target_type=report.target_type,
            target_id=report.target_id,
            status__in=["open", "resolving"],
        ).values_list("id", flat=True)
        await Report.filter(id__in=closed).update(
            status="resolved", action=action, note=note, resolved_by=operator.label, resolved_at=now
        )
        await audit.record(
            operator,
            action,
            report.target_type,
            report.target_id,
            note,
            {"reportIds": sorted(closed), "reason": report.reason, "targetGone": target is None},
        )
        if ban and owner is not None:
            await accounts.set_disabled(owner, True, rt)
            await audit.record(
                operator, "ban_user", "user", owner.id, note, {"reportId": report.id}
            )
    if isinstance(target, File):
        files_service.forget(rt, target.id)
        await target.refresh_from_db()
        await rt.fire("file_moderated", file=target, action=action, actor=operator)
    await report.refresh_from_db()
    return report


async def _apply(rt: Runtime, target: File | Album, action: str, now: Any) -> None:
    fields: dict[str, Any] = {"hidden": False}  # every decision ends a hold
    if action == "remove":
        fields["removed_at"] = now
        if isinstance(target, File):
            fields["status"] = "removed"
    elif action == "age_restrict":
        fields["age_restricted"] = True
    elif action == "restore":
        fields["removed_at"] = None
        if isinstance(target, File):
            fields["age_restricted"] = False
            if target.status == "removed":
                fields["status"] = "ready"
    await type(target).filter(id=target.id).update(**fields)


async def purge_removed(rt: Runtime) -> int:
    """Delete the bytes of files removed longer than ``moderation.removed_retention_days``.

    The record stays (the file keeps answering 410) and its quota is freed.
    """
    days = rt.settings.moderation.removed_retention_days
    cutoff = utcnow() - timedelta(days=days)
    purged = 0
    for file in await File.filter(status="removed", purged_at=None, removed_at__lte=cutoff):
        await files_service.delete_bytes(rt, file)
        async with in_transaction("default"):  # the mark and the quota together
            done = await File.filter(id=file.id, purged_at=None).update(purged_at=utcnow())
            if done:
                await files_service.add_usage(file.owner_id, -file.bytes, -1)
        if done:
            files_service.forget(rt, file.id)
            purged += 1
    return purged
