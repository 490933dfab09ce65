"""``pichr-appliance serve`` and ``migrate``: run the HTTP server, update the schema."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import shlex
import sys
from collections.abc import Iterator
from typing import Any

import click

from .. import __version__
from ..config import ensure_data_dir
from .common import common_options, config_errors, plugin_manager, settings_from


@click.command()
@common_options
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8787).")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Worker processes.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Run the HTTP server (migrations are applied first)."""
    from sanic import Sanic
    from sanic.worker.loader import AppLoader

    from ..app import LOG_FORMAT
    from ..db import run_migrations
    from ..runtime import check_storage

    settings = settings_from(ctx)
    from ..security import warm_dummy_hash

    warm_dummy_hash(settings.auth)  # beside the imports below (start-up time)
    if host is not None:
        settings.server.host = host
    if port is not None:
        settings.server.port = port
    if workers is not None:
        settings.server.workers = workers

    logging.basicConfig(level=settings.server.log_level.upper(), format=LOG_FORMAT)
    logging.getLogger("sanic").propagate = False  # Sanic prints its own lines already
    with config_errors():
        ensure_data_dir(settings)
        # The primary app (built here, in the parent) brings the parent's only plugin
        # manager: migrations and the storage check reuse it. Each worker process builds
        # its own app, and so its own manager, through the same factory: Sanic spawns
        # workers, so nothing built here reaches them.
        loader = AppLoader(factory=functools.partial(_worker_app, settings, os.getpid()))
        app = loader.load()
        pm = app.ctx.runtime.pm
        with _quiet("tortoise"):  # its "shutdown" line read as if the server had stopped
            asyncio.run(run_migrations(settings, pm))
            asyncio.run(check_storage(settings, pm))
            asyncio.run(_preflight(app))
            admins = asyncio.run(_count_admins(settings, pm))
    from ..protocol import TimeoutProtocol

    app.prepare(
        protocol=TimeoutProtocol,  # head and body deadlines (slow clients)
        host=settings.server.host,
        port=settings.server.port,
        workers=settings.server.workers,
        backlog=settings.server.backlog,
        motd=False,
        access_log=False,
        single_process=False,
    )
    click.echo(
        f"pichr-appliance {__version__} serving {settings.public_url} "
        f"(listening on {settings.server.host}:{settings.server.port}, "
        f"{settings.server.workers} worker(s), data in {settings.data_path}, "
        f"storage {settings.storage.backend}, database {settings.database_url.split(':')[0]})"
    )
    if not admins:
        click.echo(
            "no admin account yet; create the first one with:\n"
            f"  pichr-appliance user create --data-dir {shlex.quote(str(settings.data_path))} "
            "--email you@example.com --username you --role admin"
        )
    sys.stdout.flush()
    from ..services import running

    # Workers are forked from this process, which has imported the whole application
    # already, instead of spawned (Sanic's default): a spawned worker starts a new
    # interpreter and imports everything again, about 1 s of CPU per worker before the
    # first answer (bench/bench_startup.py). Each worker still builds its own app and
    # plugin manager through the factory; nothing runs here that a fork would copy
    # half-way (the event loops above are closed, their database threads stopped).
    Sanic.start_method = "fork"
    from ..drain import keep_stopping_workers

    keep_stopping_workers()
    record = running.announce(settings)
    try:
        Sanic.serve(primary=app, app_loader=loader)
    finally:
        running.withdraw(record)


def _worker_app(settings: Any, parent: int) -> Any:
    """The app of one process: the primary here, a worker's own in a forked worker.

    A forked worker inherits the primary app in Sanic's registry of app names, where
    a second app of the same name is refused: it is forgotten first (the worker builds
    its own, with its own plugin manager and connections, as a spawned one would)."""
    from sanic import Sanic

    from ..app import create_app
    from ..drain import install_drain

    if os.getpid() != parent:
        Sanic.unregister_app(Sanic.get_app("pichr_appliance"))
    app = create_app(settings)
    # Here, not in create_app: only a served app chooses its loop (Sanic warns when an
    # app run by create_server, as in the tests, has it set). Always set, because
    # Sanic's default means uvloop whenever it is installed.
    app.config.USE_UVLOOP = settings.server.event_loop == "uvloop"
    app.before_server_start(_say_event_loop)
    # Last, so that it runs first of the stop listeners (Sanic reverses them).
    install_drain(app, settings.server.graceful_timeout, settings.server.port)
    return app


async def _say_event_loop(app: Any) -> None:
    """Log which event loop this worker really runs (``server.event_loop``)."""
    kind = type(asyncio.get_running_loop()).__module__.split(".")[0]  # asyncio, uvloop
    logging.getLogger("pichr_appliance").info("worker %d: %s event loop", os.getpid(), kind)


@contextlib.contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """Log only warnings and errors of ``logger`` inside the block."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(level)


async def _count_admins(settings: Any, pm: Any) -> int:
    """How many admin accounts exist (the banner says how to make the first)."""
    from ..db import database
    from ..models import User

    async with database(settings, pm, migrate=False):
        return await User.filter(role="admin").count()


async def _preflight(app: Any) -> None:
    """Open and close what the workers will need, so that a wrong setting stops
    ``serve`` with one line here instead of a traceback in every worker."""
    store = app.ctx.rate_limiter.store
    await store.startup()
    await store.shutdown()


@click.command()
@common_options
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Apply pending database migrations."""
    from ..db import run_migrations

    settings = settings_from(ctx)
    with config_errors():
        ensure_data_dir(settings)
        asyncio.run(run_migrations(settings, plugin_manager(settings)))
    click.echo("migrations applied")
