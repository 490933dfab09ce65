"""The Tortoise engine module: asyncpg, with connection failures as one-line errors."""

from __future__ import annotations

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.exceptions import DBConnectionError

from pichr_appliance.config import ConfigError

from .config import PLUGIN


class PichrAsyncpgClient(AsyncpgDBClient):
    """Tortoise's asyncpg client; a database that cannot be reached at start-up becomes
    a ConfigError naming the plugin and ``database.url`` (no traceback for operators)."""

    async def create_connection(self, with_db: bool) -> None:
        """Open the pool, translating connection failures."""
        try:
            await super().create_connection(with_db)
        except (
            TimeoutError,
            OSError,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
            DBConnectionError,
        ) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(
                f"{PLUGIN}: database.url: cannot connect to PostgreSQL at "
                f"{self.host}:{self.port} (database {self.database!r}, user {self.user!r}): "
                f"{reason}"
            ) from None


client_class = PichrAsyncpgClient
