"""pichr-webhooks: signed JSON POSTs of appliance events, from a durable outbox.

Inert until ``[plugin.webhooks] endpoints`` lists at least one endpoint. Then its
outbox table joins the database (``configure_database``), each event hook inserts a
row per interested endpoint, and a worker in every server process delivers them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from pichr_appliance import hookimpl

from .config import EVENTS, Endpoint, WebhooksConfig, webhooks_config
from .models import APP_LABEL, Delivery
from .outbox import Worker, enqueue, sign, signature_header, verify
from .payloads import event_data

__version__ = "0.1.0"
__all__ = [
    "EVENTS",
    "Delivery",
    "Endpoint",
    "WebhooksConfig",
    "Worker",
    "__version__",
    "enqueue",
    "sign",
    "signature_header",
    "verify",
    "webhooks_config",
]
log = logging.getLogger("pichr_webhooks")

# The settings of the last database this process configured: event hooks fired by CLI
# commands get no app (and so no settings), but the database they write to was opened
# with these.
_process_settings: Any = None


@hookimpl
def configure_database(settings: Any, config: dict) -> None:
    """Add the outbox (its own Tortoise app and migrations) when endpoints are set."""
    global _process_settings
    if webhooks_config(settings) is None:
        return
    _process_settings = settings
    config["apps"][APP_LABEL] = {
        "models": ["pichr_webhooks.models"],
        "default_connection": "default",
        "migrations": "pichr_webhooks.migrations",
    }


def _settings_of(app: Any) -> Any:
    return app.ctx.settings if app is not None else _process_settings


async def _queue(app: Any, event: str, **kw: Any) -> None:
    settings = _settings_of(app)
    config = webhooks_config(settings) if settings is not None else None
    if config is None:
        return
    if await enqueue(config, event, event_data(settings, event, **kw)):
        worker = getattr(app.ctx, "webhooks_worker", None) if app is not None else None
        if worker is not None:
            worker.wake.set()


@hookimpl
async def startup(app: Any) -> None:
    """Start this process's delivery worker when endpoints are configured."""
    config = webhooks_config(app.ctx.settings)
    if config is None:
        return
    worker = app.ctx.webhooks_worker = Worker(config)
    app.ctx.webhooks_task = asyncio.get_running_loop().create_task(worker.run())


@hookimpl
async def shutdown(app: Any) -> None:
    """Stop the worker; rows it had claimed are retried when their lease runs out."""
    task = getattr(app.ctx, "webhooks_task", None)
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await app.ctx.webhooks_worker.close()


@hookimpl
async def file_uploaded(app: Any, file: Any) -> None:
    """Queue ``file_uploaded``."""
    await _queue(app, "file_uploaded", file=file)


@hookimpl
async def file_deleted(app: Any, file: Any, actor: Any) -> None:
    """Queue ``file_deleted``."""
    await _queue(app, "file_deleted", file=file, actor=actor)


@hookimpl
async def file_moderated(app: Any, file: Any, action: str, actor: Any) -> None:
    """Queue ``file_moderated``."""
    await _queue(app, "file_moderated", file=file, action=action, actor=actor)


@hookimpl
async def report_created(app: Any, report: Any) -> None:
    """Queue ``report_created``."""
    await _queue(app, "report_created", report=report)


@hookimpl
async def user_created(app: Any, user: Any) -> None:
    """Queue ``user_created``."""
    await _queue(app, "user_created", user=user)


@hookimpl
async def album_created(app: Any, album: Any) -> None:
    """Queue ``album_created``."""
    await _queue(app, "album_created", album=album)


@hookimpl
def register_commands(cli: Any) -> None:
    """``pichr-appliance webhooks list|retry``."""
    from .commands import webhooks

    cli.add_command(webhooks)
