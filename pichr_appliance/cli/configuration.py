"""``pichr-appliance config ...``: inspect the configuration."""

from __future__ import annotations

import contextlib
import json

import click

from ..config import ConfigError, fill_anon_key, masked
from .common import common_options, settings_from


@click.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("show")
@common_options
@click.pass_context
def config_show(ctx: click.Context) -> None:
    """Print the effective settings as JSON, secrets masked.

    ``auth.supabase_anon_key`` is shown as is (it is no secret: web pages carry it),
    generated now if this is before the first start, so that it can be copied into a
    client's configuration; it stays empty when the data directory is not writable."""
    settings = settings_from(ctx)
    with contextlib.suppress(ConfigError):
        fill_anon_key(settings)
    click.echo(json.dumps(masked(settings), indent=2))
