"""``pichr-appliance db migrate-to postgres://...``: copy an installation's database
(usually the built-in SQLite one) into PostgreSQL, table by table, and verify it.

The target gets the schema through the normal migrations, then every model table is
copied in foreign-key order inside one transaction (COPY, in batches), generated ids
get their sequences moved past the copied rows, and the row counts are compared.
Stored objects (the storage folder or bucket) are not touched: point the new
configuration at the same storage.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click
from tortoise import Tortoise, connections
from tortoise.fields import JSONField
from tortoise.models import Model

from pichr_appliance.cli import common_options, settings_from
from pichr_appliance.config import ConfigError, Settings
from pichr_appliance.db import APP_LABEL, run_migrations, tortoise_config
from pichr_appliance.plugins import get_plugin_manager

from .config import PLUGIN, handles

BATCH = 1000


def ordered_models() -> list[type[Model]]:
    """The app's models, each after the models it references (foreign keys)."""
    models = list(Tortoise.apps[APP_LABEL].values())
    done: list[type[Model]] = []
    seen: set[type[Model]] = set()

    def visit(model: type[Model]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name in model._meta.fk_fields:
            related = model._meta.fields_map[name].related_model
            if related is not model:
                visit(related)
        done.append(model)

    for model in sorted(models, key=lambda m: m._meta.db_table):
        visit(model)
    return done


def _columns(model: type[Model]) -> list[tuple[str, Any]]:
    """(column, field) for every stored column of ``model``."""
    meta = model._meta
    return [(column, meta.fields_map[name]) for name, column in meta.fields_db_projection.items()]


async def _count(conn_name: str, table: str) -> int:
    rows = await connections.get(conn_name).execute_query_dict(
        f'SELECT COUNT(*) AS n FROM "{table}"'
    )
    return int(rows[0]["n"])


async def copy_database(
    settings: Settings, target_url: str, *, force: bool = False, progress: Any = None
) -> list[tuple[str, int, int]]:
    """Copy every table of ``settings``' database into ``target_url``.

    Returns ``(table, source rows, target rows)`` per table. Raises ConfigError when the
    target is not PostgreSQL, is the source, or is not empty (unless ``force``).
    """
    if not handles(target_url):
        raise ConfigError(f"{PLUGIN}: the target must be a postgres:// or postgresql:// URL")
    if target_url == settings.database_url:
        raise ConfigError(f"{PLUGIN}: the target is the database in use (database.url)")
    pm = get_plugin_manager(settings)
    target = settings.model_copy(deep=True)
    target.database.url = target_url
    await run_migrations(settings, pm)  # the source at the current schema
    await run_migrations(target, pm)
    config = tortoise_config(settings, pm)
    config["connections"]["target"] = tortoise_config(target, pm)["connections"]["default"]
    await Tortoise.init(config=config, _enable_global_fallback=True)
    try:
        models = ordered_models()
        tables = [m._meta.db_table for m in models]
        busy = {t: n for t in tables if (n := await _count("target", t))}
        if busy and not force:
            listed = ", ".join(f"{t}: {n}" for t, n in busy.items())
            raise ConfigError(
                f"{PLUGIN}: the target database is not empty ({listed}); "
                "use --force to replace its contents"
            )
        source_counts = {t: await _count("default", t) for t in tables}
        if progress is not None:
            progress.length = sum(source_counts.values()) or 1
        client = connections.get("target")
        async with client.acquire_connection() as conn, conn.transaction():
            if busy:
                quoted = ", ".join(f'"{t}"' for t in tables)
                await conn.execute(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
            for model in models:
                await _copy_table(model, conn, progress)
        return [(t, source_counts[t], await _count("target", t)) for t in tables]
    finally:
        await Tortoise.close_connections()


async def _copy_table(model: type[Model], conn: Any, progress: Any) -> None:
    meta = model._meta
    table, pk = meta.db_table, meta.db_pk_column
    columns = _columns(model)
    names = [c for c, _ in columns]
    select = ", ".join(f'"{c}"' for c in names)
    source = connections.get("default")
    # The source is usually SQLite ("?"), but may be another PostgreSQL ("$1").
    mark = "$1" if source.capabilities.dialect == "postgres" else "?"
    last: Any = None
    while True:
        where = "" if last is None else f'WHERE "{pk}" > {mark}'
        sql = f'SELECT {select} FROM "{table}" {where} ORDER BY "{pk}" LIMIT {BATCH}'
        rows = await source.execute_query_dict(sql, [] if last is None else [last])
        if not rows:
            break
        records = [tuple(_convert(field, row[col]) for col, field in columns) for row in rows]
        await conn.copy_records_to_table(table, records=records, columns=names)
        last = rows[-1][pk]
        if progress is not None:
            progress.label = f"{table:<14}"
            progress.update(len(rows))
    if meta.pk.generated:
        # Copied rows carry their ids: move the sequence past them for new inserts.
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{pk}'), "
            f'COALESCE((SELECT MAX("{pk}") FROM "{table}"), 0) + 1, false)'
        )


def _convert(field: Any, value: Any) -> Any:
    """A source column value as asyncpg's COPY wants it for the target column."""
    value = field.to_python_value(value)
    if isinstance(field, JSONField) and value is not None:
        return json.dumps(value, separators=(",", ":"))
    return value


@click.command("migrate-to")
@common_options
@click.argument("target_url", metavar="POSTGRES_URL")
@click.option("--force", is_flag=True, help="Replace the contents of a non-empty target.")
@click.pass_context
def migrate_to(ctx: click.Context, target_url: str, force: bool) -> None:
    """Copy this installation's database (e.g. SQLite) into PostgreSQL at POSTGRES_URL.

    Creates the schema, copies every table in dependency order, verifies the row
    counts, then tells you the setting to switch to. Refuses a non-empty target
    unless --force.
    """
    settings = settings_from(ctx)
    source = settings.database_url.split("://", 1)[0]
    with click.progressbar(length=1, label="copying", show_pos=True) as bar:
        try:
            results = asyncio.run(copy_database(settings, target_url, force=force, progress=bar))
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
    width = max(len(t) for t, _, _ in results)
    click.echo(f"{'table':<{width}}  {source:>8}  {'postgres':>8}")
    bad = []
    for table, src, dst in results:
        mark = "ok" if src == dst else "MISMATCH"
        if src != dst:
            bad.append(table)
        click.echo(f"{table:<{width}}  {src:>8}  {dst:>8}  {mark}")
    if bad:
        raise click.ClickException(f"row counts differ in: {', '.join(bad)}")
    total = sum(src for _, src, _ in results)
    click.echo(
        f"copied {total} rows in {len(results)} tables. Now set database.url to the "
        "PostgreSQL URL (storage stays where it is)."
    )
