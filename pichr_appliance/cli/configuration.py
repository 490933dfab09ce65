"""``pichr-appliance config ...``: inspect the configuration."""

from __future__ import annotations

import json

import click

from ..config import masked
from .common import common_options, settings_from


@click.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("show")
@common_options
@click.pass_context
def config_show(ctx: click.Context) -> None:
    """Print the effective settings as JSON, secrets masked."""
    click.echo(json.dumps(masked(settings_from(ctx)), indent=2))
