"""``/moderation``: report and resolve bodies; reports, the queue and the audit log."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ..timeutil import iso
from .albums import AlbumOut
from .common import Body, Count, Id, Limit, Out, Role, StrictBool, StrictStr, Text, Time
from .files import FileOut, Paging

REASONS = ("illegal", "csam", "nsfw", "copyright", "harassment", "spam", "other")
ACTIONS = ("dismiss", "remove", "age_restrict", "restore")
STATUSES = ("open", "resolved", "all")
Reason = Literal["illegal", "csam", "nsfw", "copyright", "harassment", "spam", "other"]
Action = Literal["dismiss", "remove", "age_restrict", "restore"]
TargetType = Literal["file", "album"]
ANONYMOUS_PREFIX = "addr:"  # reporter_key of an anonymous report: addr:<client address>


def reporter_label(report: Any) -> str:
    """Who filed a report, as staff see it: ``system``, the account id, or
    ``anonymous <client address>`` (``anonymous`` alone for reports from before
    addresses were kept)."""
    if report.system:
        return "system"
    if report.reporter_id:
        return report.reporter_id
    key = report.reporter_key or ""
    if key.startswith(ANONYMOUS_PREFIX):
        return "anonymous " + key.removeprefix(ANONYMOUS_PREFIX)
    return "anonymous"


class ReportRequest(Body):
    """``POST /moderation/report``: exactly one of ``fileId`` and ``albumId``."""

    model_config = {
        "json_schema_extra": {
            "oneOf": [
                {"required": ["fileId"], "not": {"required": ["albumId"]}},
                {"required": ["albumId"], "not": {"required": ["fileId"]}},
            ]
        }
    }

    fileId: StrictStr | None = Field(None, min_length=1)
    albumId: StrictStr | None = Field(None, min_length=1)
    reason: Reason
    details: Text = None

    @model_validator(mode="before")
    @classmethod
    def _one_target(cls, data: Any) -> Any:
        if isinstance(data, dict) and (data.get("fileId") is None) == (data.get("albumId") is None):
            raise ValueError("fileId or albumId: exactly one is required")
        return data

    def target(self) -> tuple[str, str]:
        """``(target type, target id)``."""
        if self.fileId is not None:
            return "file", self.fileId
        return "album", self.albumId or ""


class ResolveRequest(Body):
    """``POST /moderation/reports/{id}/resolve``."""

    action: Action
    note: Text = None
    banUser: StrictBool = False


class QueueQuery(Paging):
    """``GET /moderation/queue``."""

    status: Literal["open", "resolved", "all"] = "open"


class AuditQuery(Paging):
    """``GET /moderation/audit`` filters."""

    targetId: str | None = Field(None, description="Only entries about this target.")
    action: str | None = Field(None, description="Only this action.")
    actorId: str | None = Field(None, description="Only this actor's entries.")


class ReportCreated(Out):
    """A new report."""

    id: Id("report")
    status: Literal["open"]
    createdAt: Time


class ReportOut(Out):
    """A report as staff see it."""

    id: Id("report")
    status: Literal["open", "resolving", "resolved"] = Field(
        description="`resolving` only while a decision is being written."
    )
    targetType: TargetType
    targetId: str
    fileId: str | None
    albumId: str | None
    reason: Reason
    details: str
    system: bool
    reporterId: Id("user") | None
    reporter: str = Field(
        description='Who reported: "system", the account id, or "anonymous <client address>".'
    )
    action: Action | None
    note: str | None
    resolvedBy: str | None
    resolvedAt: Time | None
    createdAt: Time

    @classmethod
    def of(cls, report: Any) -> ReportOut:
        """The report object of a ``models.Report`` row."""
        file_target = report.target_type == "file"
        return cls(
            id=report.id,
            status=report.status,
            targetType=report.target_type,
            targetId=report.target_id,
            fileId=report.target_id if file_target else None,
            albumId=report.target_id if not file_target else None,
            reason=report.reason,
            details=report.details,
            system=report.system,
            reporterId=report.reporter_id,
            reporter=reporter_label(report),
            action=report.action,
            note=report.note,
            resolvedBy=report.resolved_by,
            resolvedAt=iso(report.resolved_at),
            createdAt=iso(report.created_at),
        )


class TargetOwner(Out):
    """The owner of a reported thing."""

    id: Id("user")
    username: str
    role: Role
    disabled: bool


class FileTarget(FileOut):
    """A reported File as staff see it."""

    held: bool
    owner: TargetOwner | None


class AlbumTarget(AlbumOut):
    """A reported Album as staff see it."""

    removed: bool
    held: bool
    owner: TargetOwner | None


StaffTarget = FileTarget | AlbumTarget


class QueueItem(Out):
    """The reports on one target."""

    targetType: TargetType
    targetId: str
    target: StaffTarget | None
    reportCount: int = Field(ge=1)
    reasons: dict[str, Count]
    firstReportedAt: Time
    lastReportedAt: Time
    reports: list[ReportOut]


class QueuePage(Out):
    """``{queue, total, limit, offset}``."""

    queue: list[QueueItem]
    total: Count
    limit: Limit
    offset: Count


class ReportDetail(ReportOut):
    """A report with its target and every report on the same target."""

    target: StaffTarget | None
    reports: list[ReportOut]


class AuditEntryOut(Out):
    """Who did what, to what, why and when."""

    id: int
    actorId: Id("user") | None
    actor: str
    action: str
    targetType: str | None
    targetId: str | None
    note: str
    data: dict[str, Any]
    createdAt: Time

    @classmethod
    def of(cls, entry: Any) -> AuditEntryOut:
        """The entry of a ``models.AuditEntry`` row."""
        return cls(
            id=entry.id,
            actorId=entry.actor_id,
            actor=entry.actor_label,
            action=entry.action,
            targetType=entry.target_type or None,
            targetId=entry.target_id or None,
            note=entry.note,
            data=entry.data or {},
            createdAt=iso(entry.created_at),
        )


class AuditPage(Out):
    """``{entries, total, limit, offset}``."""

    entries: list[AuditEntryOut]
    total: Count
    limit: Limit
    offset: Count
