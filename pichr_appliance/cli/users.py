"""``pichr-appliance user ...``: account administration from the shell."""

from __future__ import annotations

import click

from ..models import ROLES
from .common import (
    common_options,
    emit,
    operator_name,
    password_options,
    require_data_dir,
    resolve_password,
    run_with_db,
    settings_from,
)


@click.group()
def user() -> None:
    """Manage accounts."""


@user.command("create")
@common_options
@click.option("--email", required=True)
@click.option("--username", required=True)
@password_options
@click.option("--role", type=click.Choice(ROLES), default="user", show_default=True)
@click.option("--plan", default=None, help="free, pro, enterprise (default: auth.default_plan)")
@click.option("--first-name", default="")
@click.option("--last-name", default="")
@click.option("--age-confirmed/--no-age-confirmed", default=False)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def create(
    ctx,
    email,
    username,
    password,
    password_stdin,
    role,
    plan,
    first_name,
    last_name,
    age_confirmed,
    as_json,
):
    """Create an account. The password comes from --password-stdin, --password, a
    prompt at a terminal, or is generated and printed once."""
    from ..services import accounts

    settings = settings_from(ctx)
    require_data_dir(settings)  # before asking for a password that would be lost
    password, generated = resolve_password(password, password_stdin)

    async def go(rt):
        u = await accounts.register(
            rt,
            email=email,
            username=username,
            password=password,
            role=role,
            plan=plan,
            first_name=first_name,
            last_name=last_name,
            age_confirmed=age_confirmed,
        )
        return accounts.user_json(u)

    data = run_with_db(settings, go)
    text = f"created {data['id']} ({data['username']}, {data['role']}, {data['plan']})"
    if generated:
        data = {**data, "generatedPassword": password}
        text += f"\npassword (shown only now): {password}"
    emit(data, as_json, text)


@user.command("list")
@common_options
@click.option("--search", "q", default=None, help="Filter by email or username.")
@click.option("--limit", type=click.IntRange(1, 10000), default=100)
@click.option("--offset", type=click.IntRange(0), default=0)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_(ctx, q, limit, offset, as_json):
    """List accounts."""
    from ..services import accounts

    settings = settings_from(ctx)

    async def go(rt):
        from ..services import admin

        users, total = await admin.list_users(q=q, limit=limit, offset=offset)
        return {
            "users": [accounts.user_json(u, usage=True, settings=settings) for u in users],
            "total": total,
        }

    data = run_with_db(settings, go)
    if as_json:
        emit(data, True)
        return
    rows = [("ID", "USERNAME", "EMAIL", "ROLE", "PLAN", "STATE", "FILES", "BYTES")]
    for u in data["users"]:
        rows.append(
            (
                u["id"],
                u["username"],
                u["email"],
                u["role"],
                u["plan"],
                "disabled" if u["disabled"] else "active",
                str(u["usage"]["files"]),
                str(u["usage"]["bytes"]),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    click.echo(f"{data['total']} account(s)")


def _change(ctx, ref: str, changes: dict, describe) -> None:
    """Apply ``changes`` to account ``ref`` through the admin service (audited as the
    operator at the shell), and print ``describe(user)``."""
    from ..services import accounts, admin
    from ..services.audit import Operator

    settings = settings_from(ctx)

    async def go(rt):
        u = await accounts.get_user(ref)
        u = await admin.update_user(rt, Operator.cli(operator_name()), u, changes)
        return describe(u)

    click.echo(run_with_db(settings, go))


@user.command("disable")
@common_options
@click.argument("ref")
@click.pass_context
def disable(ctx, ref):
    """Disable an account (by id, email or username); its sessions and keys end at once."""
    _change(
        ctx,
        ref,
        {"disabled": True},
        lambda u: f"disabled {u.id} ({u.username}); sessions and API keys revoked",
    )


@user.command("enable")
@common_options
@click.argument("ref")
@click.pass_context
def enable(ctx, ref):
    """Enable an account again."""
    _change(ctx, ref, {"disabled": False}, lambda u: f"enabled {u.id} ({u.username})")


@user.command("set-role")
@common_options
@click.argument("ref")
@click.argument("role", type=click.Choice(ROLES))
@click.pass_context
def set_role(ctx, ref, role):
    """Set the role of an account."""
    _change(ctx, ref, {"role": role}, lambda u: f"{u.username} is now {u.role}")


@user.command("set-plan")
@common_options
@click.argument("ref")
@click.argument("plan")
@click.pass_context
def set_plan(ctx, ref, plan):
    """Set the plan of an account."""
    _change(ctx, ref, {"plan": plan}, lambda u: f"{u.username} is now on plan {u.plan}")


@user.command("reset-password")
@common_options
@click.argument("ref")
@password_options
@click.pass_context
def reset_password(ctx, ref, password, password_stdin):
    """Set a new password and end every session of the account (the password as for
    ``user create``)."""
    settings = settings_from(ctx)
    require_data_dir(settings)
    password, generated = resolve_password(password, password_stdin)

    async def go(rt):
        from ..services import accounts

        u = await accounts.set_password(rt.passwords, await accounts.get_user(ref), password)
        shown = f"\npassword (shown only now): {password}" if generated else ""
        return f"password of {u.username} changed; sessions ended{shown}"

    click.echo(run_with_db(settings, go))


@user.command("delete")
@common_options
@click.argument("ref")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def delete(ctx, ref, yes):
    """Delete an account with its sessions, keys, files and albums."""
    settings = settings_from(ctx)
    if not yes:
        click.confirm(f"Delete account {ref} and everything it owns?", abort=True)

    async def go(rt):
        from ..services import accounts
        from ..services.audit import Operator

        u = await accounts.get_user(ref)
        await accounts.delete_account(rt, u, Operator.cli(operator_name()))
        return f"deleted {u.id} ({u.username}) and everything it owned"

    click.echo(run_with_db(settings, go))
