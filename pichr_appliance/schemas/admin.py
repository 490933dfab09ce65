"""``/admin``: user changes, listings, site figures and the plugin overview."""

from __future__ import annotations

from pydantic import Field

from .auth import UserWithUsageOut
from .common import Body, Count, Limit, Out, Role, StrictBool, StrictStr
from .files import Paging


class AdminUserPatchRequest(Body):
    """``PATCH /admin/users/{id}``: the plan must be one of the configured plans."""

    role: Role | None = None
    plan: StrictStr | None = Field(None, max_length=64)
    disabled: StrictBool | None = None


class UserListQuery(Paging):
    """``GET /admin/users``."""

    q: str | None = Field(None, description="Matches email or username.")
    search: str | None = Field(None, description="Alias of `q`.")


class UserPage(Out):
    """``{users, total, limit, offset}``."""

    users: list[UserWithUsageOut]
    total: Count
    limit: Limit
    offset: Count


class AdminStats(Out):
    """Site figures."""

    users: Count
    disabledUsers: Count
    files: Count
    removedFiles: Count
    bytes: Count
    albums: Count
    reportsOpen: Count


class PluginInfo(Out):
    """An installed plugin and the hooks it implements."""

    name: str
    version: str | None
    hooks: list[str]


class ActiveBackends(Out):
    """What is in use."""

    storage: str
    rateLimitStore: str
    database: str
    classifiers: list[str]


class PluginRoute(Out):
    """A route a plugin mounted under ``/-/<plugin>/``."""

    plugin: str
    path: str
    methods: list[str]


class AdminPlugins(Out):
    """``GET /admin/plugins``."""

    plugins: list[PluginInfo]
    active: ActiveBackends
    routes: list[PluginRoute]
