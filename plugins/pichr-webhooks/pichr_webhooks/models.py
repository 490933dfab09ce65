"""The outbox: one row per (event, endpoint), kept until delivered or given up on.

A Tortoise app of its own (label ``pichr_webhooks``) with its own migrations, added to
the core's ORM config by ``configure_database``: ``pichr-appliance migrate`` (and
``serve``) create the table on SQLite and PostgreSQL alike, and every query is the
ORM's, so nothing here is dialect-specific. Times are epoch milliseconds (plain
integers compare the same on every engine and need no time-zone handling).
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

APP_LABEL = "pichr_webhooks"


class Delivery(Model):
    """One event for one endpoint.

    ``status`` is pending, delivered or dead. A worker owns a pending row while
    ``lease_until`` is in the future; a worker that dies mid-delivery leaves a lease
    that simply runs out, and the row is tried again.
    """

    # No "#:" field comments to look for: without this Tortoise parses this module's
    # source when the class is made (the core's models do the same, issue 18).
    _no_comments = True
    id = fields.CharField(max_length=40, primary_key=True)
    event = fields.CharField(max_length=64)
    endpoint = fields.CharField(max_length=200)
    url = fields.TextField()
    body = fields.TextField()
    status = fields.CharField(max_length=16, default="pending", db_index=True)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.BigIntField(db_index=True)
    lease_until = fields.BigIntField(default=0)
    lease_holder = fields.CharField(max_length=64, default="")
    last_status = fields.IntField(null=True)
    last_error = fields.TextField(default="")
    created_at = fields.BigIntField()
    delivered_at = fields.BigIntField(null=True)

    class Meta:
        table = "webhook_deliveries"
        app = APP_LABEL
