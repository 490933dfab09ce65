"""``pichr-appliance auth-proxy link|unlink``: let the proxy sign in as an existing account.

The proxy signs in only as accounts it created or that an operator linked here, so a
local signup that took a proxy user's name cannot be adopted (account pre-hijacking).
"""

from __future__ import annotations

import click

from pichr_appliance.cli import common_options, emit, run_with_db, settings_from
from pichr_appliance.cli.common import operator_name
from pichr_appliance.services.audit import Operator

from . import linking


@click.group("auth-proxy")
def auth_proxy_group() -> None:
    """Accounts the trusted proxy may sign in as (pichr-auth-proxy)."""


@auth_proxy_group.command("link")
@click.argument("user")
@click.option(
    "--remote-user", default=None, help="The proxy's user name (default: USER's username)."
)
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def link_command(
    ctx: click.Context, user: str, remote_user: str | None, as_json: bool = False
) -> None:
    """Let the proxy's REMOTE_USER sign in as USER (id, email or username)."""

    async def work(rt):
        return await linking.link(user, remote_user, Operator.cli(operator_name()))

    u = run_with_db(settings_from(ctx), work)
    emit(
        {"id": u.id, "externalId": u.external_id},
        as_json,
        f"linked {u.username} to {u.external_id}",
    )


@auth_proxy_group.command("unlink")
@click.argument("user")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def unlink_command(ctx: click.Context, user: str, as_json: bool = False) -> None:
    """Stop the proxy from signing in as USER."""

    async def work(rt):
        return await linking.unlink(user, Operator.cli(operator_name()))

    u = run_with_db(settings_from(ctx), work)
    emit({"id": u.id, "externalId": None}, as_json, f"unlinked {u.username}")
