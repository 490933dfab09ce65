"""Who acts (a staff account, a command-line operator, the system) and the append-only
audit log of moderation and administration actions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import forbidden
from ..models import AuditEntry, User, is_id

RANKS = {"user": 0, "moderator": 1, "admin": 2}


@dataclass(frozen=True)
class Operator:
    """Whoever performs a moderation or administration action.

    ``user`` is the staff account behind an API call; CLI operators and the system have
    none and act with ``role`` admin (whoever can run commands on the data directory
    owns the installation).
    """

    label: str
    role: str
    user: User | None = None

    @property
    def id(self) -> str | None:
        """The account id behind the operator, or None (CLI, system)."""
        return self.user.id if self.user is not None else None

    @classmethod
    def of_user(cls, user: User) -> Operator:
        """The operator for a signed-in account."""
        return cls(label=user.username, role=user.role, user=user)

    @classmethod
    def cli(cls, name: str) -> Operator:
        """A person running ``pichr-appliance`` commands, named in the audit log."""
        return cls(label=f"cli:{name}", role="admin")

    def outranks_or_equals(self, role: str) -> bool:
        """Whether this operator may act on an account with ``role``."""
        return RANKS.get(self.role, 0) >= RANKS.get(role, 0)


SYSTEM = Operator(label="system", role="admin")


def check_may_act(operator: Operator, owner: User | None) -> None:
    """403 ``insufficient_role`` when ``operator`` ranks below the owner of the content
    or account it acts on: a moderator may not act on an admin's content. The one rule
    for every staff path (moderation decisions, staff deletions)."""
    if owner is not None and not operator.outranks_or_equals(owner.role):
        raise forbidden(
            "Moderators cannot act on an admin's content or account", "insufficient_role"
        )


async def record(
    operator: Operator,
    action: str,
    target_type: str = "",
    target_id: str = "",
    note: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry; entries are never changed or deleted by the appliance."""
    return await AuditEntry.create(
        actor_id=operator.id,
        actor_label=operator.label,
        action=action,
        target_type=target_type,
        target_id=target_id or "",
        note=note or "",
        data=data or {},
    )


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    """The API's audit entry: who (``actorId``, ``actor``), what, on what, why, when."""
    from ..schemas.moderation import AuditEntryOut  # schemas import the models

    return AuditEntryOut.of(entry).dump()


async def list_entries(
    *,
    limit: int,
    offset: int,
    target_id: str | None = None,
    action: str | None = None,
    actor_id: str | None = None,
) -> tuple[list[AuditEntry], int]:
    """Entries, newest first, optionally for one target, action or actor."""
    for value, column in ((target_id, 40), (action, 64), (actor_id, 64)):
        if value and not is_id(value, column):
            return [], 0  # longer than the column: nothing can match
    query = AuditEntry.all()
    if target_id:
        query = query.filter(target_id=target_id)
    if action:
        query = query.filter(action=action)
    if actor_id:
        query = query.filter(actor_id=actor_id)
    total = await query.count()
    entries = await query.order_by("-id").offset(offset).limit(limit)
    return entries, total
