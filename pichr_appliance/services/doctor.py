"""``pichr-appliance doctor``: check an installation and say what to fix.

Each check gives ``ok``, ``warn`` or ``fail`` with a message and, when not ok, the fix.
Nothing is changed, except a probe object written to and deleted from storage, and
the database is not migrated (a pending migration is reported instead).
"""

from __future__ import annotations

import logging
import os
import pkgutil
import shutil
import stat
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from ..config import ConfigError, Settings
from . import diskspace

MIB = 1024 * 1024
FREE_FAIL_BYTES = 100 * MIB
FREE_WARN_BYTES = 1024 * MIB
FREE_WARN_RATIO = 0.05


@dataclass
class Check:
    """One finding of ``doctor``."""

    name: str
    status: str  # ok | warn | fail
    message: str
    fix: str = ""


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def check_config(settings: Settings) -> list[Check]:
    """Settings that load but will probably not do what the operator wants."""
    out = []
    if settings.server.host in ("0.0.0.0", "::") and not settings.server.public_url:
        out.append(
            Check(
                "config",
                "warn",
                f"listening on {settings.server.host} but server.public_url is empty: "
                "links will point at 127.0.0.1",
                "set server.public_url to the address people use (https://img.example.com)",
            )
        )
    if settings.server.workers > 1 and settings.rate_limits.store == "memory":
        out.append(
            Check(
                "config",
                "warn",
                "rate_limits.store = memory counts per worker: limits are not exact",
                'use rate_limits.store = "local" (or redis for several machines)',
            )
        )
    if not out:
        out.append(Check("config", "ok", "configuration loads and looks consistent"))
    return out


def check_data_dir(settings: Settings) -> list[Check]:
    """The data directory exists, is ours to write, and is not open to everyone."""
    path = settings.data_path
    if not path.exists():
        return [
            Check(
                "data directory",
                "fail",
                f"{path} does not exist",
                f"run 'pichr-appliance migrate --data-dir {path}' (or serve) to create it",
            )
        ]
    out = []
    if not os.access(path, os.W_OK | os.X_OK):
        out.append(
            Check(
                "data directory",
                "fail",
                f"{path} is not writable by this user (uid {os.getuid()})",
                f"chown -R <service user> {path}, or run as the user that owns it",
            )
        )
    mode = path.stat().st_mode
    if mode & stat.S_IWOTH:
        out.append(
            Check(
                "data directory",
                "fail",
                f"{path} is writable by everyone (mode {stat.filemode(mode)})",
                f"chmod 700 {path}",
            )
        )
    elif mode & stat.S_IROTH:
        out.append(
            Check(
                "data directory",
                "warn",
                f"{path} is readable by everyone (mode {stat.filemode(mode)}): private "
                "images and the database are exposed to other local users",
                f"chmod 700 {path}",
            )
        )
    secret = path / "secret.key"
    if secret.exists() and secret.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        out.append(
            Check(
                "data directory",
                "fail",
                f"{secret} can be read by other users: anyone who has it can forge sessions",
                f"chmod 600 {secret}",
            )
        )
    if not out:
        out.append(Check("data directory", "ok", f"{path} is writable and private"))
    return out


def check_disk(settings: Settings) -> list[Check]:
    """Free space where the database and the local storage live."""
    places = {settings.data_path}
    if settings.storage.backend == "local":
        places.add(settings.storage_path)
    out = []
    devices = set()
    for place in sorted(places):
        probe = place
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if probe.stat().st_dev in devices:
            continue  # the same filesystem: one line is enough
        devices.add(probe.stat().st_dev)
        usage = shutil.disk_usage(probe)
        free_mib = usage.free // MIB
        text = f"{free_mib} MiB free of {usage.total // MIB} MiB at {place}"
        reserve = settings.storage.min_free_bytes
        space = diskspace.state(settings, usage.free)
        if space == "full":
            out.append(
                Check(
                    "disk",
                    "fail",
                    f"{text}: below storage.min_free_bytes ({reserve // MIB} MiB), "
                    "uploads are refused (507)",
                    "free space ('pichr-appliance gc' removes orphans and stale temp files; "
                    "delete files or grow the disk), or lower storage.min_free_bytes",
                )
            )
        elif space == "low":
            out.append(
                Check(
                    "disk",
                    "warn",
                    f"{text}: under twice storage.min_free_bytes ({reserve // MIB} MiB); "
                    "uploads stop below it",
                    "free space soon ('pichr-appliance gc' may help) or grow the disk",
                )
            )
        elif usage.free < FREE_FAIL_BYTES:
            out.append(Check("disk", "fail", text, "free space or move the data directory"))
        elif usage.free < FREE_WARN_BYTES or usage.free < usage.total * FREE_WARN_RATIO:
            out.append(
                Check("disk", "warn", text, "free space soon; 'pichr-appliance gc' may help")
            )
        else:
            out.append(Check("disk", "ok", text))
    return out


def _known_migrations() -> list[str]:
    from .. import migrations

    return sorted(m.name for m in pkgutil.iter_modules(migrations.__path__) if m.name[:1].isdigit())


async def check_database(settings: Settings) -> list[Check]:
    """The database opens, is intact (SQLite: integrity_check) and fully migrated."""
    from tortoise import connections

    from ..db import close_db, init_db
    from ..plugins import get_plugin_manager

    out = []
    try:
        await init_db(settings, get_plugin_manager(settings))
    except Exception as exc:
        return [Check("database", "fail", f"cannot open the database: {exc}", "check database.url")]
    try:
        out += await _database_checks(settings, connections.get("default"))
    except Exception as exc:
        out.append(
            Check(
                "database",
                "fail",
                f"the database cannot be read: {exc}",
                "stop the server and restore the latest backup "
                "('pichr-appliance restore BACKUP --force')",
            )
        )
    finally:
        await close_db()
    return out


async def _database_checks(settings: Settings, conn: Any) -> list[Check]:
    """Integrity and migrations, on an open connection."""
    out = []
    if settings.database_url.startswith("sqlite://"):
        rows = await conn.execute_query_dict("PRAGMA integrity_check")
        result = [next(iter(r.values())) for r in rows]
        if result != ["ok"]:
            out.append(
                Check(
                    "database",
                    "fail",
                    "integrity check failed: " + "; ".join(map(str, result[:5])),
                    "stop the server and restore the latest backup "
                    "('pichr-appliance restore BACKUP --force')",
                )
            )
        else:
            out.append(Check("database", "ok", "integrity check passed"))
    else:
        await conn.execute_query("SELECT 1")
        out.append(Check("database", "ok", "the database answers"))
    try:
        rows = await conn.execute_query_dict("SELECT name FROM tortoise_migrations")
        applied = {r["name"] for r in rows}
    except Exception:
        applied = set()
    pending = [m for m in _known_migrations() if m not in applied]
    if pending:
        out.append(
            Check(
                "migrations",
                "warn",
                f"{len(pending)} migration(s) not applied: {', '.join(pending)}",
                "run 'pichr-appliance migrate' (serve applies them on start)",
            )
        )
    else:
        out.append(Check("migrations", "ok", "the schema is up to date"))
    return out


async def check_plugins(settings: Settings, probe: bool = True) -> list[Check]:
    """Plugins load; the selected storage and rate-limit store start and work
    (``probe``: also write, read and delete a probe object)."""
    from ..plugins import describe_plugins, get_plugin_manager
    from ..runtime import choose_rate_limit_store, choose_storage

    out = []
    collector = _Collector()
    plugin_log = logging.getLogger("pichr_appliance.plugins")
    plugin_log.addHandler(collector)
    try:
        pm = get_plugin_manager(settings)
    except (ConfigError, Exception) as exc:
        return [Check("plugins", "fail", f"plugins cannot be loaded: {exc}", "fix the plugin")]
    finally:
        plugin_log.removeHandler(collector)
    for message in collector.messages:
        out.append(Check("plugins", "warn", message, "fix or disable that plugin"))
    names = [p["name"] for p in describe_plugins(pm)]
    out.append(Check("plugins", "ok", f"{len(names)} loaded: {', '.join(names)}"))

    if not probe:
        return out
    try:
        storage = choose_storage(settings, pm)
        await storage.startup()
        try:
            await storage.health()
            key = f"doctor/{uuid.uuid4().hex}"

            async def probe_bytes():
                yield b"pichr doctor probe"

            await storage.put(key, probe_bytes())
            data = b"".join([chunk async for chunk in storage.open(key)])
            await storage.delete(key)
            if data != b"pichr doctor probe":
                raise RuntimeError("a written probe read back differently")
        finally:
            await storage.shutdown()
        out.append(Check("storage", "ok", f"{settings.storage.backend}: write, read and delete"))
    except Exception as exc:
        out.append(
            Check(
                "storage",
                "fail",
                f"{settings.storage.backend}: {exc}",
                "check the [storage] settings, credentials and permissions",
            )
        )
    try:
        store = choose_rate_limit_store(settings, pm)
        await store.startup()
        await store.shutdown()
        out.append(Check("rate limits", "ok", f"store {settings.rate_limits.store} starts"))
    except Exception as exc:
        out.append(Check("rate limits", "fail", f"{settings.rate_limits.store}: {exc}", "check it"))
    return out


async def run_checks(settings: Settings) -> list[Check]:
    """Every check, in the order an operator would fix things."""
    checks = check_config(settings) + check_data_dir(settings) + check_disk(settings)
    exists = settings.data_path.exists()
    if exists:
        checks += await check_database(settings)
    # Starting the local backend would create the missing data directory.
    checks += await check_plugins(settings, probe=exists or settings.storage.backend != "local")
    return checks


def as_json(checks: list[Check]) -> dict[str, Any]:
    """The checks and an overall status (the worst one)."""
    worst = "ok"
    for c in checks:
        if c.status == "fail" or (c.status == "warn" and worst == "ok"):
            worst = c.status
    return {"status": worst, "checks": [asdict(c) for c in checks]}
