"""What a server worker opens before the first request and closes after the last."""

from __future__ import annotations

import asyncio

from sanic import Sanic

from . import isolation
from .db import close_db, init_db
from .limits import RateLimitStore
from .runtime import Runtime
from .services import sweeper


def install_lifecycle(app: Sanic, rt: Runtime, store: RateLimitStore) -> None:
    """Open the database, storage and rate-limit store, run ``startup`` hooks and the
    background tasks (view-count flushes, the upload sweeper) in every worker; stop
    them in reverse order."""

    @app.before_server_start
    async def _open(app: Sanic) -> None:
        await init_db(rt.settings, rt.pm)
        await rt.storage.startup()
        await store.startup()
        await rt.call("startup")
        loop = asyncio.get_running_loop()
        app.ctx.background = [
            loop.create_task(rt.counters.run(rt.settings.images.count_flush_interval)),
            loop.create_task(sweeper.run(rt, rt.settings.uploads.sweep_interval)),
        ]

    @app.before_server_stop
    async def _flush(app: Sanic) -> None:
        for task in getattr(app.ctx, "background", []):
            task.cancel()
        # Views counted since the last flush are written before the database closes.
        await rt.counters.flush()

    @app.after_server_stop
    async def _close(app: Sanic) -> None:
        try:
            await rt.call("shutdown")
            await rt.storage.shutdown()
            await store.shutdown()
        finally:
            isolation.shutdown()  # the HEIC decoder's child, if one was started
            probe = rt.hotcache.version_probe
            if probe is not None:  # filecache's data_version connection
                probe.close()
            await close_db()
