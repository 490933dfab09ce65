"""The appliance on a real PostgreSQL: migrations, pool options, start-up errors."""

import asyncio
import os
import subprocess
import sys

from pichr_postgres.testing import fetch
from sanic_testing.reusable import ReusableClient

from pichr_appliance.app import create_app
from pichr_appliance.testing import ApiClient, free_port, make_settings, migrate

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


def cli(*args, data_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PICHR_")}
    return subprocess.run(
        [sys.executable, "-m", "pichr_appliance", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_migrations_build_the_schema_on_postgres(tmp_path, fresh_database):
    out = cli("migrate", "-s", f"database.url={fresh_database}", data_dir=tmp_path / "d")
    assert out.returncode == 0, out.stderr
    again = cli("migrate", "-s", f"database.url={fresh_database}", data_dir=tmp_path / "d")
    assert again.returncode == 0, again.stderr  # idempotent
    rows = asyncio.run(
        fetch(fresh_database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    )
    assert {r["tablename"] for r in rows} >= TABLES
    types = asyncio.run(
        fetch(
            fresh_database,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'files' AND column_name IN ('tags', 'created_at', 'bytes')",
        )
    )
    assert {r["column_name"]: r["data_type"] for r in types} == {
        "tags": "jsonb",
        "created_at": "timestamp with time zone",
        "bytes": "bigint",
    }


def test_the_api_runs_on_postgres_with_pool_options(tmp_path, migrated_database, sample_image):
    settings = make_settings(
        tmp_path / "data",
        {"database": {"url": migrated_database, "options": {"min_size": 2, "max_size": 3}}},
    )
    migrate(settings)
    app = create_app(settings, name="pg_api")
    with ReusableClient(app, host="127.0.0.1", port=free_port()) as raw:
        client = ApiClient(raw, app)
        user = client.signup("pguser")
        f = client.upload(user, data=sample_image("PNG"), tags=["Sea", "sky"])
        assert client.get("/api/v1/files?tag=sea", headers=user["headers"]).json["total"] == 1
        assert client.get(f"/i/{f['id']}").status == 200
        health = client.get("/health").json
        assert health["database"] == "ok"

        from tortoise import connections

        pool = connections.get("default")._pool
        assert (pool.get_min_size(), pool.get_max_size()) == (2, 3)
    rows = asyncio.run(fetch(migrated_database, "SELECT username FROM users"))
    assert [r["username"] for r in rows] == ["pguser"]


def test_unreachable_database_is_one_line(tmp_path):
    url = "postgres://postgres@127.0.0.1:1/pichr"
    for command in (["migrate"], ["serve", "--port", "0"], ["user", "list"]):
        out = cli(*command, "-s", f"database.url={url}", data_dir=tmp_path / "d")
        assert out.returncode == 1, (command, out.stdout, out.stderr)
        assert "Traceback" not in out.stdout + out.stderr
        last = out.stderr.strip().splitlines()[-1]
        assert last.startswith("Error: pichr-postgres: database.url: cannot connect"), out.stderr
        assert "127.0.0.1:1" in last
