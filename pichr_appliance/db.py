"""Database wiring: the Tortoise config, start-up, shutdown and migrations."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.exceptions import IntegrityError
from tortoise.migrations.api import migrate as tortoise_migrate

from .config import ConfigError, Settings

APP_LABEL = "models"


def tortoise_config(settings: Settings, pm: Any = None) -> dict[str, Any]:
    """The Tortoise config for these settings, after plugins had their say.

    Every URL scheme is a plugin's ``configure_database``: ``sqlite://`` is the
    built-in ``pichr_appliance.defaults.sqlite``, ``postgres://`` is pichr-postgres.
    Without ``pm``, the plugins that ``settings`` enable are loaded.
    """
    url = settings.database_url
    config: dict[str, Any] = {
        "connections": {},
        "apps": {
            APP_LABEL: {
                "models": ["pichr_appliance.models"],
                "default_connection": "default",
                "migrations": "pichr_appliance.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }
    if pm is None:
        from .plugins import get_plugin_manager

        pm = get_plugin_manager(settings)
    pm.hook.configure_database(settings=settings, config=config)
    if "default" not in config["connections"]:
        scheme = url.split("://", 1)[0]
        raise ConfigError(
            f"database.url: no installed plugin handles {scheme}:// URLs "
            "(for PostgreSQL install pichr-postgres)"
        )
    return config


def _forget_cached_sql() -> None:
    # Tortoise caches INSERT/DELETE statements per connection *name*: a process that
    # opens "default" on SQLite and later on PostgreSQL (tests, db migrate-to) would
    # reuse SQLite's SQL.
    EXECUTOR_CACHE.clear()


READ = "read"  # the SQLite read connection's name (see :func:`with_read_connection`)


class ReadConnectionRouter:
    """Tortoise router: reads on the ``read`` connection, except inside a transaction.

    A SQLite connection runs one statement at a time on its own thread; with one
    connection per process, a read waited behind every write, and a write waiting
    for the file's lock (another worker, a CLI command, a backup) stalled every read
    of the worker for up to the busy timeout. WAL lets readers and the writer work
    at once when they use different connections, so reads get their own. A read
    inside a transaction stays on that transaction (it must see its own writes)."""

    def db_for_read(self, model: Any) -> str | None:
        """``read``, unless the current task is inside a transaction on ``default``."""
        if isinstance(connections.get("default"), TransactionalDBClient):
            return None
        return READ

    def db_for_write(self, model: Any) -> str | None:
        """The model's own connection (``default``)."""
        return None


def with_read_connection(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` plus a read connection and its router, when ``default`` is a SQLite
    file; other databases (PostgreSQL's pool) are left as they are. Only for serving
    and commands: migrations run on ``default`` alone."""
    default = config["connections"]["default"]
    if not isinstance(default, dict) or default.get("engine") != "tortoise.backends.sqlite":
        return config
    credentials = dict(default.get("credentials") or {})
    if credentials.get("file_path", ":memory:") == ":memory:":
        return config  # a second connection would be another, empty, database
    # query_only: a bug that routed a write here fails loudly instead of racing the
    # writer connection for the lock.
    credentials["query_only"] = "ON"
    read = {**default, "credentials": credentials}
    return {
        **config,
        "connections": {**config["connections"], READ: read},
        "routers": [ReadConnectionRouter],
    }


def read_connection() -> Any:
    """The connection hot read paths send their one prepared statement to: SQLite's
    read connection, else ``default`` (PostgreSQL's pool, in-memory SQLite)."""
    try:
        return connections.get(READ)
    except Exception:  # no read connection configured
        return connections.get("default")


def placeholders(conn: Any, count: int) -> tuple[str, ...]:
    """The ``count`` parameter markers of ``conn``'s dialect: ``?`` or ``$1..$n``."""
    return _placeholders(conn.capabilities.dialect, count)


@functools.cache
def _placeholders(dialect: str, count: int) -> tuple[str, ...]:
    if dialect == "sqlite":
        return ("?",) * count
    return tuple(f"${n}" for n in range(1, count + 1))


# Cached: these statements run on every authenticated request, and building the column
# list each time was 6-10 us of a 230 us statement. Columns are fixed once Tortoise is
# initialised, and nothing calls this before (queries need an initialised ORM).
@functools.cache
def select_list(model: Any, alias: str, prefix: str = "") -> str:
    """Every column of ``model`` from table ``alias``, each named ``prefix + column``,
    for a hand-written SELECT whose rows :func:`from_row` turns back into instances.
    Known only once Tortoise is initialised (foreign keys add their ``*_id`` then)."""
    names = model._meta.fields_db_projection.values()
    return ", ".join(f'{alias}."{c}" AS "{prefix}{c}"' for c in names)


def from_row(model: Any, row: dict[str, Any], prefix: str = "") -> Any:
    """The ``model`` instance of a row selected with :func:`select_list` (values
    converted as the ORM converts them: dates, JSON, booleans)."""
    names = model._meta.fields_db_projection.values()
    return model._init_from_db(**{c: row[prefix + c] for c in names})


async def init_db(settings: Settings, pm: Any = None) -> None:
    """Open the ORM for this process (on SQLite with a read connection of its own).

    Tortoise 1.x keeps its state per task (a ContextVar); a Sanic listener runs in
    another task than the handlers, which see the ORM only through the global fallback.
    """
    _forget_cached_sql()
    config = with_read_connection(tortoise_config(settings, pm))
    await Tortoise.init(config=config, _enable_global_fallback=True)


async def upsert(model: Any, where: dict[str, Any], values: dict[str, Any]) -> None:
    """Insert the row ``where`` names with ``values``, or update it if it exists.

    Write statements only, not Tortoise's ``update_or_create``, a transaction that
    reads and then writes: on SQLite, such a transaction whose snapshot another
    connection's commit has made stale cannot take the write lock and fails at once,
    whereas a single write statement waits up to ``database.busy_timeout_ms``."""
    if await model.filter(**where).update(**values):
        return
    try:
        await model.create(**where, **values)
    except IntegrityError:  # made meanwhile by another request: ours is the later value
        await model.filter(**where).update(**values)


async def insert_if_absent(model: Any, where: dict[str, Any], values: dict[str, Any]) -> None:
    """Insert the row ``where`` names unless it exists (``get_or_create`` without its
    read-then-write transaction; see :func:`upsert`)."""
    with contextlib.suppress(IntegrityError):
        await model.create(**where, **values)


async def close_db() -> None:
    """Close every connection this process opened."""
    await Tortoise.close_connections()


async def run_migrations(settings: Settings, pm: Any = None) -> None:
    """Apply every pending migration (idempotent)."""
    _forget_cached_sql()
    await tortoise_migrate(config=tortoise_config(settings, pm))
    await Tortoise.close_connections()


@contextlib.asynccontextmanager
async def database(settings: Settings, pm: Any = None, migrate: bool = True) -> AsyncIterator[None]:
    """Migrate (optionally), open the ORM, and close it again: for CLI commands and tests."""
    if migrate:
        await run_migrations(settings, pm)
    await init_db(settings, pm)
    try:
        yield
    finally:
        await close_db()
