"""``pichr-appliance webhooks``: look at the outbox, and send dead deliveries again."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from pichr_appliance.cli import common_options, run_with_db, settings_from

from .config import webhooks_config
from .models import Delivery
from .outbox import now_ms


def _when(ms: int | None) -> str | None:
    if not ms:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def delivery_json(row: Delivery) -> dict:
    """One outbox row for ``webhooks list --json``."""
    return {
        "id": row.id,
        "event": row.event,
        "endpoint": row.endpoint,
        "status": row.status,
        "attempts": row.attempts,
        "lastStatus": row.last_status,
        "lastError": row.last_error,
        "createdAt": _when(row.created_at),
        "nextAttemptAt": _when(row.next_attempt_at) if row.status == "pending" else None,
        "deliveredAt": _when(row.delivered_at),
    }


def _configured(ctx: click.Context):
    settings = settings_from(ctx)
    if webhooks_config(settings) is None:
        raise click.ClickException("no webhooks configured ([plugin.webhooks] endpoints)")
    return settings


@click.group("webhooks")
def webhooks() -> None:
    """Webhook deliveries (pichr-webhooks)."""


@webhooks.command("list")
@common_options
@click.option(
    "--status",
    type=click.Choice(["pending", "delivered", "dead", "all"]),
    default="all",
    show_default=True,
)
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_command(ctx: click.Context, status: str, limit: int, as_json: bool) -> None:
    """Deliveries, newest first."""
    settings = _configured(ctx)

    async def work(rt):
        query = Delivery.all() if status == "all" else Delivery.filter(status=status)
        return [delivery_json(r) for r in await query.order_by("-created_at").limit(limit)]

    rows = run_with_db(settings, work)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(
            f"{r['id']}  {r['status']:<9} {r['event']:<15} attempts={r['attempts']} "
            f"{r['endpoint']}  {r['lastError'] or ''}".rstrip()
        )


@webhooks.command("retry")
@common_options
@click.argument("ids", nargs=-1)
@click.option("--all-dead", is_flag=True, help="Every dead delivery.")
@click.pass_context
def retry_command(ctx: click.Context, ids: tuple[str, ...], all_dead: bool) -> None:
    """Send dead (or pending) deliveries again now, with a fresh set of attempts."""
    if not ids and not all_dead:
        raise click.UsageError("name delivery ids, or pass --all-dead")
    settings = _configured(ctx)

    async def work(rt):
        query = Delivery.filter(status__in=("dead", "pending"))
        query = query.filter(id__in=ids) if ids else query.filter(status="dead")
        return await query.update(
            status="pending", attempts=0, next_attempt_at=now_ms(), lease_until=0, lease_holder=""
        )

    count = run_with_db(settings, work)
    click.echo(f"{count} deliver{'y' if count == 1 else 'ies'} queued again")
