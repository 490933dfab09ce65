"""Leases: one process at a time runs a named background job, across workers and hosts.

A lease is a row in the database every process shares (SQLite for the workers of one
machine, PostgreSQL for several machines), taken and renewed with single atomic
statements, so no other lock service is needed. The holder renews before it expires;
if the holder dies, the lease runs out and another process takes the job over.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from ..models import Lease
from ..timeutil import utcnow

# Who this process is, in leases and logs.
HOLDER = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


async def acquire(name: str, seconds: float, holder: str = HOLDER) -> bool:
    """Take or renew the lease ``name`` for ``seconds``; False if another holds it."""
    now = utcnow()
    until = now + timedelta(seconds=seconds)
    taken = await Lease.filter(Q(name=name) & (Q(expires_at__lt=now) | Q(holder=holder))).update(
        holder=holder, expires_at=until
    )
    if taken:
        return True
    try:
        await Lease.create(name=name, holder=holder, expires_at=until)
    except IntegrityError:
        return False  # someone else holds it (or took it a moment ago)
    return True


async def release(name: str, holder: str = HOLDER) -> None:
    """Give the lease up at once (on clean shutdown), if this process holds it."""
    await Lease.filter(name=name, holder=holder).delete()
