"""pichr-webhooks: signed JSON POSTs of appliance events, from a durable outbox.

Inert until ``[plugin.webhooks] endpoints`` lists at least one endpoint. Then its
outbox table joins the database (``configure_database``), each event hook inserts a
row per interested endpoint, and a worker in every server process delivers them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
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

# The delivery worker of each running server in this process (tests run several);
# events fired by CLI commands find none and are delivered by a server's worker later.
_workers: weakref.WeakKeyDictionary[Any, tuple[Worker, asyncio.Task]] = weakref.WeakKeyDictionary()


@hookimpl
def configure_database(settings: Any, config: dict) -> None:
    """Add the outbox (its own Tortoise app and migrations) when endpoints are set."""
    if webhooks_config(settings) is None:
        return
    config["apps"][APP_LABEL] = {
        "models": ["pichr_webhooks.models"],
        "default_connection": "default",
        "migrations": "pichr_webhooks.migrations",
    }


async def _queue(runtime: Any, event: str, **kw: Any) -> None:
    config = webhooks_config(runtime.settings)
    if config is None:
        return
    if await enqueue(config, event, event_data(runtime.settings, event, **kw)):
        running = _workers.get(runtime)
        if running is not None:
            running[0].wake.set()


@hookimpl
async def startup(runtime: Any) -> None:
    """Start this process's delivery worker when endpoints are configured."""
    config = webhooks_config(runtime.settings)
    if config is None:
        return
    worker = Worker(config)
    _workers[runtime] = (worker, asyncio.get_running_loop().create_task(worker.run()))


@hookimpl
async def shutdown(runtime: Any) -> None:
    """Stop the worker; rows it had claimed are retried when their lease runs out."""
    running = _workers.pop(runtime, None)
    if running is None:
        return
    worker, task = running
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await worker.close()


@hookimpl
async def file_uploaded(runtime: Any, file: Any) -> None:
    """Queue ``file_uploaded``."""
    await _queue(runtime, "file_uploaded", file=file)


@hookimpl
async def file_deleted(runtime: Any, file: Any, actor: Any) -> None:
    """Queue ``file_deleted``."""
    await _queue(runtime, "file_deleted", file=file, actor=actor)


@hookimpl
async def file_moderated(runtime: Any, file: Any, action: str, actor: Any) -> None:
    """Queue ``file_moderated``."""
    await _queue(runtime, "file_moderated", file=file, action=action, actor=actor)


@hookimpl
async def report_created(runtime: Any, report: Any) -> None:
    """Queue ``report_created``."""
    await _queue(runtime, "report_created", report=report)


@hookimpl
async def user_created(runtime: Any, user: Any) -> None:
    """Queue ``user_created``."""
    await _queue(runtime, "user_created", user=user)


@hookimpl
async def album_created(runtime: Any, album: Any) -> None:
    """Queue ``album_created``."""
    await _queue(runtime, "album_created", album=album)


@hookimpl
def register_commands(cli: Any) -> None:
    """``pichr-appliance webhooks list|retry``."""
    from .commands import webhooks

    cli.add_command(webhooks)
