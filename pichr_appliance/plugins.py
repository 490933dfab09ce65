"""The plugin manager: loads built-in, installed (entry points) and single-file plugins."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs
from .config import ConfigError, Settings
from .defaults import MODULES as DEFAULT_MODULES

if TYPE_CHECKING:
    from .runtime import Runtime

log = logging.getLogger("pichr_appliance.plugins")

ENTRY_POINT_GROUP = "pichr_appliance"
# The built-ins (pichr_appliance/defaults/), registered first and by module name like
# any plugin; ``plugins.disabled`` does not apply to them (the core needs a storage
# backend and a way to sign in), but any installed plugin can override them.
DEFAULT_PLUGINS = tuple(f"pichr_appliance.defaults.{name}" for name in DEFAULT_MODULES)


def get_plugin_manager(settings: Settings, extra: Sequence[Any] = ()) -> pluggy.PluginManager:
    """A plugin manager with every enabled plugin registered and checked.

    ``extra`` plugin objects (modules, classes or instances with ``@hookimpl``
    functions) are registered too: how tests add a plugin for one test.
    """
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    disabled = set(settings.plugins.disabled)
    only = os.environ.get("PICHR_LOAD_PLUGINS")
    allowed = {p.strip() for p in only.split(",") if p.strip()} if only is not None else None

    # Plugins that failed to load, for the error when the configuration needs one.
    pm.failed_plugins = {}  # type: ignore[attr-defined]
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)

    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in disabled or (allowed is not None and ep.name not in allowed):
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken optional plugin must not stop the appliance
            dist = ep.dist.name if ep.dist else ep.value
            log.warning(
                "plugin %s (package %s) failed to load: %s; fix or reinstall it "
                "(pip install --force-reinstall %s), or add it to plugins.disabled",
                ep.name,
                dist,
                exc,
                dist,
            )
            pm.failed_plugins[ep.name] = f"package {dist}: {exc}"  # type: ignore[attr-defined]
            continue
        pm.register(plugin, name=ep.name)
        dist_name = ep.dist.name if ep.dist else ep.name
        _DIST_NAMES[ep.name] = dist_name

    if settings.plugins.dir:
        _load_plugin_dir(pm, Path(settings.plugins.dir).expanduser(), disabled, allowed)

    for plugin in extra:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        pm.register(plugin, name=f"{name}-{id(plugin):x}" if pm.has_plugin(name) else name)

    pm.check_pending()
    if os.environ.get("PICHR_TRACE_PLUGINS"):
        pm.trace.root.setwriter(lambda msg: log.info("hook: %s", msg.rstrip()))
        pm.enable_tracing()
    return pm


_DIST_NAMES: dict[str, str] = {}


def _load_plugin_dir(
    pm: pluggy.PluginManager, folder: Path, disabled: set[str], allowed: set[str] | None
) -> None:
    if not folder.is_dir():
        raise ConfigError(f"plugins.dir: {folder} is not a directory")
    for path in sorted(folder.glob("*.py")):
        name = path.stem
        if (
            name.startswith("_")
            or name in disabled
            or (allowed is not None and name not in allowed)
        ):
            continue
        module_name = f"pichr_plugin_{name}"
        try:
            spec = importlib.util.spec_from_file_location(module_name, path)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        except Exception as exc:
            log.warning("plugin file %s failed to load: %s; fix the file or remove it", path, exc)
            pm.failed_plugins[name] = f"file {path}: {exc}"  # type: ignore[attr-defined]
            continue
        pm.register(module, name=name)


def plugin_names(pm: pluggy.PluginManager) -> list[str]:
    """The names of every registered plugin, built-ins included."""
    return [name for name, _ in pm.list_name_plugin()]


def describe_plugins(pm: pluggy.PluginManager) -> list[dict[str, Any]]:
    """Installed plugins with their version and implemented hooks (for ``plugins``).

    The built-ins (``pichr_appliance.defaults.<module>``) carry the appliance's version."""
    out = []
    for name, plugin in pm.list_name_plugin():
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        version = None
        dist = _DIST_NAMES.get(name)
        if dist:
            try:
                version = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                version = None
        elif name.startswith("pichr_appliance"):
            from . import __version__

            version = __version__
        out.append({"name": name, "version": version, "hooks": hooks})
    return out


def describe_runtime(rt: Runtime) -> dict[str, Any]:
    """Plugins plus what is active: storage backend, rate-limit store, database engine,
    classifiers and plugin routes (for ``plugins`` and ``GET /api/v1/admin/plugins``)."""
    classifiers = [getattr(c, "name", type(c).__name__) for c in rt.classifiers]
    return {
        "plugins": describe_plugins(rt.pm),
        "active": {
            "storage": rt.settings.storage.backend,
            "rateLimitStore": rt.settings.rate_limits.store,
            "database": rt.settings.database_url.split(":", 1)[0],
            "classifiers": classifiers,
        },
        "routes": [
            {"plugin": plugin, "path": path, "methods": list(methods)}
            for plugin, path, _, methods in plugin_routes(rt)
        ],
    }


def plugin_routes(rt: Runtime) -> list[tuple[str, str, Any, tuple]]:
    """``(plugin, full path, handler, methods)`` of every ``register_routes`` route.

    Paths are mounted under ``/-/<plugin name>``; a route that is not a
    ``(path, handler, methods)`` triple with a path starting with "/" is a plugin bug
    and stops start-up with a message naming the plugin.
    """
    out = []
    for impl in rt.pm.hook.register_routes.get_hookimpls():
        routes = impl.function(**({"runtime": rt} if "runtime" in impl.argnames else {}))
        for route in routes or []:
            try:
                path, handler, methods = route
            except (TypeError, ValueError):
                raise ConfigError(
                    f"plugin {impl.plugin_name}: register_routes must return "
                    "(path, handler, methods) triples"
                ) from None
            if not isinstance(path, str) or not path.startswith("/") or not callable(handler):
                raise ConfigError(
                    f"plugin {impl.plugin_name}: route {path!r} needs a path starting with '/' "
                    "and a callable handler"
                )
            out.append((impl.plugin_name, f"/-/{impl.plugin_name}{path}", handler, tuple(methods)))
    return out
