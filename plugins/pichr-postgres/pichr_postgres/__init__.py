"""pichr-postgres: run the appliance on PostgreSQL (asyncpg).

Enabled by configuration alone: a ``database.url`` that starts with ``postgres://`` or
``postgresql://``. Pool sizes and asyncpg options come from ``database.options``.
Adds ``pichr-appliance db migrate-to postgres://...`` to copy a SQLite installation.
"""

from __future__ import annotations

from typing import Any

from pichr_appliance import hookimpl

from .config import connection_config, handles

__version__ = "0.1.0"
__all__ = ["configure_database", "handles", "register_commands"]


@hookimpl
def configure_database(settings: Any, config: dict) -> None:
    """Point the Tortoise ``default`` connection at PostgreSQL for postgres:// URLs."""
    url = settings.database_url
    if handles(url):
        config["connections"]["default"] = connection_config(url, settings.database.options)


@hookimpl
def register_commands(cli: Any) -> None:
    """Add ``db migrate-to`` (creating the ``db`` group when no one else has)."""
    from .migrate_to import migrate_to

    group = cli.commands.get("db")
    if group is None:

        @cli.group("db")
        def db() -> None:
            """Database maintenance."""

        group = db
    group.add_command(migrate_to)
