"""The long-lived parts of a running appliance, shared by the server and the CLI."""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

import pluggy
import pydantic

from .config import ConfigError, Settings, ensure_data_dir
from .limits import RateLimitStore
from .plugins import get_plugin_manager
from .security import Passwords, Tokens
from .services.counters import ViewCounters
from .services.hotcache import HotCache
from .storage.base import StorageBackend, StorageError

log = logging.getLogger("pichr_appliance.runtime")
M = TypeVar("M", bound=pydantic.BaseModel)


@dataclass(eq=False)
class Runtime:
    """The running appliance as services and plugins see it, one per process.

    Settings, the plugin manager, storage, crypto helpers and the in-process caches.
    The HTTP server keeps one in ``app.ctx.runtime``; CLI commands build their own with
    :func:`open_runtime`. Every hook receives it as ``runtime=``, in the server and in
    the CLI alike, and services take it, so that the API and the CLI share one path.
    """

    settings: Settings
    pm: pluggy.PluginManager
    storage: StorageBackend
    passwords: Passwords
    tokens: Tokens
    hotcache: HotCache = field(default_factory=HotCache)
    counters: ViewCounters = field(default_factory=ViewCounters)
    _classifiers: list[Any] | None = field(default=None, repr=False)

    _plugin_configs: dict[tuple[str, Any], Any] = field(default_factory=dict, repr=False)

    @overload
    def plugin_config(self, name: str) -> dict[str, Any]: ...
    @overload
    def plugin_config(self, name: str, model: type[M]) -> M: ...

    def plugin_config(self, name: str, model: type[M] | None = None) -> Any:
        """The ``[plugin.<name>]`` settings section of plugin ``name``.

        Without ``model``: the raw dict ({} when unset). With a pydantic ``model``
        class: the section validated into it, once per process (cached, so reading it
        per request is free); a bad value raises ``ConfigError`` naming the key, e.g.
        ``plugin.hello.greeting: ...``. See :func:`parse_plugin_config`.
        """
        if model is None:
            return self.settings.plugin_config(name)
        key = (name, model)
        if key not in self._plugin_configs:
            self._plugin_configs[key] = parse_plugin_config(self.settings, name, model)
        return self._plugin_configs[key]

    async def fire(self, event: str, **kwargs: Any) -> None:
        """Tell every implementation of event hook ``event`` (``file_uploaded``, ...).

        Each implementation gets ``runtime=`` plus ``kwargs`` and runs on its own: one
        failing plugin is logged and neither stops the others nor breaks the caller.
        """
        hook = getattr(self.pm.hook, event)
        kwargs["runtime"] = self
        for impl in hook.get_hookimpls():
            args = {name: kwargs[name] for name in impl.argnames if name in kwargs}
            try:
                result = impl.function(**args)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("plugin %s failed while handling event %s", impl.plugin_name, event)

    async def call(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call hook ``hook_name`` with ``runtime=`` and ``kwargs``; await awaitable results.

        Unlike :meth:`fire`, an exception propagates: for hooks whose answers matter
        (``validate_upload``, ``actor_from_request``, ``permission_allowed``).
        """
        hook = getattr(self.pm.hook, hook_name)
        results = []
        for result in hook(runtime=self, **kwargs):
            if inspect.isawaitable(result):
                result = await result
            results.append(result)
        return results

    async def first(self, hook_name: str, **kwargs: Any) -> Any:
        """The first non-None answer of ``hook_name``, asking one implementation at a time.

        Pluggy's call order (``tryfirst``, then the others last registered first, then
        ``trylast``) with ``runtime=`` and ``kwargs``; awaitable answers are awaited
        before the next implementation is asked, and later ones are not called. What
        pluggy's ``firstresult`` cannot do with ``async def`` implementations (a
        coroutine object is never None, so it would always win). Exceptions propagate.
        """
        impls = getattr(self.pm.hook, hook_name).get_hookimpls()
        kwargs["runtime"] = self
        for impl in reversed(impls):  # pluggy keeps them in reverse call order
            result = impl.function(*[kwargs[name] for name in impl.argnames])
            if result is None:  # the common answer, checked before the costlier test
                continue
            if inspect.isawaitable(result):
                result = await result
            if result is not None:
                return result
        return None

    def has_impls(self, hook_name: str) -> bool:
        """Whether any plugin implements ``hook_name`` (asking pluggy is not free)."""
        return bool(getattr(self.pm.hook, hook_name).get_hookimpls())

    @property
    def classifiers(self) -> list[Any]:
        """The ``register_classifiers`` objects, collected once per process."""
        if self._classifiers is None:
            self._classifiers = [
                c
                for group in self.pm.hook.register_classifiers(settings=self.settings)
                for c in group or []
            ]
        return self._classifiers


def parse_plugin_config(settings: Settings, name: str, model: type[M]) -> M:
    """``[plugin.<name>]`` validated into the pydantic ``model``; ConfigError names the key.

    For hooks that get ``settings`` but no runtime (``register_*``); elsewhere prefer
    ``runtime.plugin_config(name, model)``, which caches the result. Give the model
    ``model_config = ConfigDict(extra="forbid")`` to reject misspelled keys.
    """
    try:
        return model.model_validate(settings.plugin_config(name))
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise ConfigError(f"plugin.{name}.{where}: {error['msg']}") from None


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


def build_runtime(
    settings: Settings, plugins: Sequence[Any] = (), pm: pluggy.PluginManager | None = None
) -> Runtime:
    """Everything but open connections: safe to call in every worker process.

    ``plugins`` are extra plugin objects to register (tests use this); ``pm`` is a plugin
    manager the caller already built for these settings (the CLI builds one per run)."""
    ensure_data_dir(settings)
    if pm is None:
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
async def open_runtime(
    settings: Settings, migrate: bool = True, pm: pluggy.PluginManager | None = None
) -> AsyncIterator[Runtime]:
    """A Runtime with the database (migrated) and storage open: for CLI commands."""
    from .db import database

    rt = build_runtime(settings, pm=pm)
    async with database(settings, rt.pm, migrate=migrate):
        try:
            await rt.storage.startup()
        except StorageError as exc:
            raise ConfigError(str(exc)) from None
        try:
            yield rt
        finally:
            await rt.storage.shutdown()
