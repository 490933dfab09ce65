"""The plugin contract. Implement these with ``from pichr_appliance import hookimpl``.

Every hook takes keyword arguments only; plugins may accept any subset of them.
Hooks whose result "may be awaitable" can be ``async def``: the core awaits results.

``runtime`` is the :class:`pichr_appliance.runtime.Runtime` of the process: settings,
storage, tokens, caches, ``fire(event, ...)`` and ``plugin_config(name)``. Every hook
that runs after start-up receives it, in the server and in CLI commands alike (see
``docs/internals.md``). Built-in behaviour (the local-disk storage backend, the rate-limit
stores, the SQLite database, session/API-key authentication, the role rules) is written
as implementations of these same hooks in ``pichr_appliance.defaults``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .runtime import Runtime

hookspec = pluggy.HookspecMarker("pichr_appliance")


@dataclass(frozen=True)
class Refusal:
    """A ``permission_allowed`` answer: "no, unless another plugin allows it".

    Stronger than None, weaker than False: a True from any plugin overrides it, and
    the caller gets 403 with this ``code`` and ``message`` (the built-in role rule
    answers ``Refusal("insufficient_role", ...)``).
    """

    code: str
    message: str


@hookspec
def startup(runtime: Runtime) -> Any:
    """Called once per server worker after the database is open and before requests
    are served (``runtime.settings``, ``runtime.storage``...).

    May return an awaitable. Every implementation runs; order is pluggy's (last
    registered first).
    """


@hookspec
def shutdown(runtime: Runtime) -> Any:
    """Called once per worker when the server stops, before the database closes.

    May return an awaitable. Every implementation runs.
    """


@hookspec
def register_storage_backends(settings: Any) -> Any:
    """Return a list of ``StorageBackend`` subclasses this plugin provides.

    Synchronous. Each class has a unique ``name``; the configuration key
    ``storage.backend`` chooses one, which the core instantiates as ``cls(settings)``.
    """


@hookspec
def register_rate_limit_stores(settings: Any) -> Any:
    """Return a list of ``RateLimitStore`` subclasses this plugin provides.

    Synchronous. Each class has a unique ``name``; ``rate_limits.store`` chooses one,
    which the core instantiates as ``cls(settings)`` in every worker process. A store
    must count exactly across every process that uses it (see
    ``pichr_appliance.limits.base``).
    """


@hookspec
def configure_database(settings: Any, config: dict) -> None:
    """Edit the Tortoise ORM ``config`` dict in place before the database opens.

    Synchronous. Every implementation runs. The built-in one
    (``pichr_appliance.defaults.sqlite``, ``tryfirst``) fills
    ``config["connections"]["default"]`` for ``sqlite://`` URLs before the others run;
    a plugin such as pichr-postgres sets it for the URLs it handles. When no plugin
    fills it, start-up stops with an error naming the URL scheme.
    """


@hookspec
def register_classifiers(settings: Any) -> Any:
    """Return a list of ``ImageClassifier`` objects that score images for NSFW content.

    Synchronous. The highest score of all classifiers becomes the file's ``nsfwScore``;
    with none installed, ``nsfwScore`` stays ``null``.
    """


@hookspec
def actor_from_request(runtime: Runtime, request: Any) -> Any:
    """Return who is calling: an ``Actor`` or a ``User``, or None to let others decide.

    May return an awaitable. Implementations are asked one at a time in pluggy's order
    (``tryfirst`` ones first, then the others, last registered first) and the first
    non-None answer wins; the rest are not called. A ``User`` becomes
    ``Actor(user, via="plugin")`` (``pichr_appliance.api.context.Actor``). Raise
    ``ApiError`` (401) for credentials that were presented but are invalid; a disabled
    account is refused with 403 ``account_disabled`` whoever found it. The built-in
    ``Authorization: Bearer`` authentication (session tokens and API keys,
    ``pichr_appliance.defaults.auth``) is ``trylast``: plugins (e.g. a trusted proxy)
    take precedence over the header. Used for alternate authentication. Plugin
    actors are ``ambient`` unless they say otherwise (``Actor(..., ambient=False)``):
    cross-site state-changing requests with them are refused.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands to the ``pichr-appliance`` group ``cli``. Synchronous."""


@hookspec
def file_uploaded(runtime: Runtime, file: Any) -> Any:
    """Event: ``file`` (a ``File`` model) finished processing and is ready.

    May return an awaitable; errors are logged and never fail the upload.
    """


@hookspec
def file_deleted(runtime: Runtime, file: Any, actor: Any) -> Any:
    """Event: ``file`` was deleted by ``actor`` (a ``User`` or None for the system).

    May return an awaitable; errors are logged.
    """


@hookspec
def user_created(runtime: Runtime, user: Any) -> Any:
    """Event: a new account ``user`` was created (signup, CLI or a plugin).

    May return an awaitable.
    """


@hookspec
def report_created(runtime: Runtime, report: Any) -> Any:
    """Event: a moderation ``report`` (a ``Report`` model) was filed.

    Also fired for system reports opened by the NSFW classifier scores. May return an
    awaitable; errors are logged.
    """


@hookspec
def file_invalidated(runtime: Runtime, file_id: str) -> Any:
    """Event: this process changed or deleted file ``file_id`` and dropped its cached copy.

    Other processes keep a file's metadata for up to a second; a plugin that connects
    instances (pichr-redis) tells them to drop theirs at once. Called synchronously
    from the code path that made the change, in the server and in CLI commands. May
    return an awaitable, which runs in the background; errors are logged.
    """


@hookspec
def permission_allowed(runtime: Runtime, actor: Any, action: str, resource: Any) -> Any:
    """Allow (True), forbid (False), refuse by default (a ``Refusal``) or have no
    opinion (None) on ``actor`` doing ``action``.

    ``actor`` is the authenticated caller (``actor.user`` is the ``User``; ``actor.via``
    is "session", "api_key" or "plugin"). ``action`` is one of "read", "write",
    "upload", "delete" (API-key permissions, checked for every caller), "access" (any
    signed-in route), "moderate" (staff routes) or "admin" (admin routes).
    ``resource`` is the request path. Runs after the caller's API-key permissions
    passed. Every implementation is asked; the answers combine regardless of order:
    any False forbids (403 ``forbidden_by_plugin``); otherwise any True allows;
    otherwise any ``Refusal`` forbids with its own code (the built-in role rule,
    ``pichr_appliance.defaults.roles``, refuses "moderate"/"admin" to other roles with
    403 ``insufficient_role``); otherwise the action is allowed. May return an awaitable.
    """


@hookspec
def validate_upload(runtime: Runtime, user: Any, file: Any, info: Any, path: Any) -> Any:
    """Accept (None) or reject (a reason string) an upload whose bytes passed the checks.

    ``user`` is the uploader (None when anonymous or in a CLI import without one),
    ``file`` the pending ``File``, ``info`` the ``imaging.ImageInfo`` (mime, width,
    height, frames, phash), ``path`` a local file with the final bytes (read it, do not
    move it). A reason refuses the upload with 400 ``upload_rejected`` and the reason
    as the message; nothing is stored. May return an awaitable.
    """


@hookspec
def file_moderated(runtime: Runtime, file: Any, action: str, actor: Any) -> Any:
    """Event: a moderator decided on ``file``, or the system held it.

    ``action`` is "remove", "restore", "age_restrict", "dismiss" or "hold" (a csam
    report hid it at once; ``actor`` is then None). ``actor`` is the operator who
    decided (``.id``: the user id, or None for a CLI operator; ``.label``: a
    readable name). ``file`` shows the state after the decision. May return an
    awaitable; errors are logged.
    """


@hookspec
def album_created(runtime: Runtime, album: Any) -> Any:
    """Event: ``album`` (an ``Album`` model) was created. May return an awaitable."""


@hookspec
def register_routes(runtime: Runtime) -> Any:
    """Return a list of ``(path, handler, methods)`` routes to mount under ``/-/<plugin>/``.

    Synchronous. ``path`` starts with "/" and is relative to the plugin's prefix
    (``/-/<plugin name>``); ``handler`` is a Sanic handler (``async def h(request)``)
    returning a response; ``methods`` a list such as ``["GET"]``. The core's JSON error
    handling and security headers apply; use ``pichr_appliance.api.context`` helpers
    (``require_actor``, ``require_role``) for authentication.
    """
