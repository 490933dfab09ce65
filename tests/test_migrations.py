"""Migrations build the schema from an empty database and are idempotent."""

import asyncio
import sqlite3

from pichr_appliance.testing import make_settings, migrate

TABLES = {
    "users",
    "sessions",
    "refresh_tokens",
    "api_keys",
    "files",
    "uploads",
    "upload_parts",
    "albums",
    "album_files",
    "reports",
    "audit_log",
}


def test_migrate_from_empty_database(tmp_path):
    # SQLite on purpose (this test reads the file), whatever PICHR_TEST_DATABASE says.
    url = f"sqlite://{tmp_path / 'data' / 'pichr.sqlite3'}"
    settings = make_settings(tmp_path / "data", {"database": {"url": url}})
    db = settings.database_url[len("sqlite://") :]
    migrate(settings)
    migrate(settings)  # a second run applies nothing and does not fail
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert tables >= TABLES
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_models_match_migrations():
    """No model change without a migration: makemigrations finds nothing to do."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).parent.parent
    out = subprocess.run(
        [sys.executable, "scripts/makemigrations.py", "check"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "No changes detected" in out.stdout + out.stderr, out.stdout + out.stderr


def test_services_work_after_migration(tmp_path):
    from pichr_appliance.db import database
    from pichr_appliance.plugins import get_plugin_manager
    from pichr_appliance.security import Passwords
    from pichr_appliance.services import accounts

    settings = make_settings(tmp_path / "data")

    async def go():
        async with database(settings, get_plugin_manager(settings)):
            user = await accounts.create_user(
                settings, Passwords(settings.auth), email="a@b.co", username="abc", password="x" * 8
            )
            return user.id

    assert asyncio.run(go()).startswith("usr_")
