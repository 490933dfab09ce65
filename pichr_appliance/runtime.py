"""The long-lived parts of a running appliance, shared by the server and the CLI."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pluggy

from .config import ConfigError, Settings, ensure_data_dir
from .limits import RateLimitStore
from .plugins import get_plugin_manager
from .security import Passwords, Tokens
from .storage.base import StorageBackend, StorageError


@dataclass
class Runtime:
    """Settings, plugin manager, storage and crypto helpers for one process.

    The HTTP app keeps one in ``app.ctx.runtime`` (its attributes are also on
    ``app.ctx``); CLI commands build their own with :func:`open_runtime`. Services take
    a Runtime so that the API and the CLI share one code path.
    """

    settings: Settings
    pm: pluggy.PluginManager
    storage: StorageBackend
    passwords: Passwords
    tokens: Tokens
    app: Any = None  # the Sanic app when running as a server
    extras: dict[str, Any] = field(default_factory=dict)


def _not_available(key: str, kind: str, name: str, available: Any, pm: Any) -> ConfigError:
    """One line: what is missing, what there is, and which plugins failed to load."""
    message = (
        f"{key}: no {kind} named {name!r}; available: "
        f"{', '.join(sorted(available)) or 'none'} (install the plugin that provides it)"
    )
    failed = getattr(pm, "failed_plugins", None)
    if failed:
        message += "; plugins that failed to load: " + "; ".join(
            f"{plugin} ({why})" for plugin, why in sorted(failed.items())
        )
    return ConfigError(message)


def _choose(hook: Any, settings: Settings, pm: Any, key: str, kind: str, name: str) -> Any:
    """Instantiate the registered class called ``name`` (classes from ``hook``)."""
    available: dict[str, type] = {}
    for classes in hook(settings=settings):
        for cls in classes or []:
            available[cls.name] = cls
    if name not in available:
        raise _not_available(key, kind, name, available, pm)
    return available[name](settings)


def choose_storage(settings: Settings, pm: Any) -> StorageBackend:
    """Instantiate the backend named by ``storage.backend`` from the registered ones."""
    return _choose(
        pm.hook.register_storage_backends,
        settings,
        pm,
        "storage.backend",
        "backend",
        settings.storage.backend,
    )


def choose_rate_limit_store(settings: Settings, pm: Any) -> RateLimitStore:
    """Instantiate the store named by ``rate_limits.store`` from the registered ones."""
    return _choose(
        pm.hook.register_rate_limit_stores,
        settings,
        pm,
        "rate_limits.store",
        "store",
        settings.rate_limits.store,
    )


def build_runtime(settings: Settings, plugins: Sequence[Any] = ()) -> Runtime:
    """Everything but open connections: safe to call in every worker process.

    ``plugins`` are extra plugin objects to register (tests use this)."""
    ensure_data_dir(settings)
    pm = get_plugin_manager(settings, plugins)
    return Runtime(
        settings=settings,
        pm=pm,
        storage=choose_storage(settings, pm),
        passwords=Passwords(settings.auth),
        tokens=Tokens(settings.auth.secret, settings.auth.access_token_ttl),
    )


async def check_storage(settings: Settings, pm: Any) -> None:
    """Start and stop the configured backend once, so that ``serve`` fails fast with
    one line (wrong credentials, missing bucket, unwritable folder) instead of a
    traceback in every worker."""
    storage = choose_storage(settings, pm)
    try:
        await storage.startup()
    except StorageError as exc:
        raise ConfigError(str(exc)) from None
    finally:
        await storage.shutdown()


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings, migrate: bool = True) -> AsyncIterator[Runtime]:
    """A Runtime with the database (migrated) and storage open: for CLI commands."""
    from .db import database

    rt = build_runtime(settings)
    async with database(settings, rt.pm, migrate=migrate):
        try:
            await rt.storage.startup()
        except StorageError as exc:
            raise ConfigError(str(exc)) from None
        try:
            yield rt
        finally:
            await rt.storage.shutdown()
