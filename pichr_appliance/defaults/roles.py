"""The built-in role rules: who may use the staff (``moderate``) and ``admin`` routes."""

from __future__ import annotations

from typing import Any

from .. import hookimpl
from ..hookspecs import Refusal

# The roles that grant each role-gated action; other actions are not about roles.
ROLES_FOR_ACTION = {"moderate": ("moderator", "admin"), "admin": ("admin",)}
INSUFFICIENT_ROLE = Refusal("insufficient_role", "Your role does not allow this")


# trylast only keeps the built-in rule at the end of the call order, where readers of
# a PICHR_TRACE_PLUGINS trace expect the core's answer; the verdict combination itself
# does not depend on order (a Refusal is the answer only when nobody says True/False).
@hookimpl(trylast=True)
def permission_allowed(actor: Any, action: str) -> Refusal | None:
    """Refuse a role-gated action to a caller whose role does not grant it.

    A Refusal rather than False: another plugin may still allow the action (True),
    and the caller is told ``insufficient_role``, not ``forbidden_by_plugin``.
    """
    roles = ROLES_FOR_ACTION.get(action)
    if roles is None or actor.user.role in roles:
        return None
    return INSUFFICIENT_ROLE
