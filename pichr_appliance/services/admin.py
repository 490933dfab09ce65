"""Administration: listing accounts, changing role, plan and state, and site figures.

``/api/v1/admin`` and the ``pichr-appliance user`` / ``stats`` commands both call these
functions, and every change lands in the audit log with whoever made it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise.functions import Sum

from ..errors import forbidden
from ..models import Album, File, Report, User
from ..schemas.admin import AdminUserPatchRequest
from ..schemas.common import validate
from . import accounts, audit
from .audit import Operator

if TYPE_CHECKING:
    from ..runtime import Runtime


async def list_users(
    *, q: str | None = None, limit: int = 20, offset: int = 0
) -> tuple[list[User], int]:
    """Accounts matching ``q`` (email or username), oldest first."""
    return await accounts.list_users(q=q, limit=limit, offset=offset)


def check_changes(settings: Any, changes: AdminUserPatchRequest | dict[str, Any]) -> dict[str, Any]:
    """The set fields of ``{role?, plan?, disabled?}``; 400 naming a bad field (the plan
    must be a configured one, which only the settings know)."""
    body = validate(AdminUserPatchRequest, changes)
    out = {k: v for k, v in body.model_dump().items() if v is not None}
    if "plan" in out:
        out["plan"] = accounts.check_plan(settings, out["plan"])
    return out


async def update_user(
    rt: Runtime, operator: Operator, user: User, changes: AdminUserPatchRequest | dict[str, Any]
) -> User:
    """Change role, plan and/or disabled state, recording each change in the audit log.

    Disabling revokes the account's sessions and API keys at once and hides its
    public content. Operators cannot act on accounts that outrank them, nor demote or
    disable their own account.
    """
    changes = check_changes(rt.settings, changes)
    if not operator.outranks_or_equals(user.role):
        raise forbidden("You cannot change an account that outranks yours", "insufficient_role")
    if operator.id == user.id and (
        changes.get("disabled") or changes.get("role", user.role) != user.role
    ):
        raise forbidden("You cannot demote or disable your own account", "own_account")
    if "role" in changes and changes["role"] != user.role:
        before = user.role
        await accounts.set_role(user, changes["role"])
        await audit.record(
            operator, "set_role", "user", user.id, data={"from": before, "to": user.role}
        )
    if "plan" in changes and changes["plan"] != user.plan:
        before = user.plan
        await accounts.set_plan(rt.settings, user, changes["plan"])
        await audit.record(
            operator, "set_plan", "user", user.id, data={"from": before, "to": user.plan}
        )
    if "disabled" in changes and changes["disabled"] != user.disabled:
        await accounts.set_disabled(user, changes["disabled"], rt)
        action = "disable" if user.disabled else "enable"
        await audit.record(operator, action, "user", user.id)
    return user


async def stats() -> dict[str, Any]:
    """Site figures: accounts, files, stored bytes, albums and open reports."""
    stored = (
        await File.filter(status__in=["ready", "removed"], purged_at=None)
        .annotate(total=Sum("bytes"))
        .first()
        .values("total")
    )
    return {
        "users": await User.all().count(),
        "disabledUsers": await User.filter(disabled=True).count(),
        "files": await File.filter(status="ready").count(),
        "removedFiles": await File.filter(status="removed").count(),
        "bytes": int((stored or {}).get("total") or 0),
        "albums": await Album.all().count(),
        "reportsOpen": await Report.filter(status="open").count(),
    }
