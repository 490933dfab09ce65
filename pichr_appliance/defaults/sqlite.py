"""The built-in database: ``sqlite://`` URLs (a file under the data directory)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import hookimpl


# tryfirst: the SQLite entry is filled before any other plugin's configure_database
# runs, so that a plugin may still adjust it (as it could when the core filled it
# inline); plugins for other URL schemes (pichr-postgres) ignore sqlite:// anyway.
@hookimpl(tryfirst=True)
def configure_database(settings: Any, config: dict) -> None:
    """Fill the ``default`` Tortoise connection for ``sqlite://`` URLs."""
    url = settings.database_url
    if not url.startswith("sqlite://"):
        return
    path = url[len("sqlite://") :]
    if path != ":memory:":
        # aiosqlite hangs instead of failing when the folder is missing.
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    config["connections"]["default"] = {
        "engine": "tortoise.backends.sqlite",
        "credentials": {
            "file_path": path,
            # WAL + a busy timeout let CLI commands work while the server runs.
            "journal_mode": "WAL",
            "busy_timeout": settings.database.busy_timeout_ms,
            # FULL: in WAL mode every commit fsyncs the WAL, so an acknowledged
            # write survives a power cut (NORMAL may lose the last commits).
            "synchronous": "FULL",
        },
    }
