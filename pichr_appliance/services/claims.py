"""Upload claims: one request at a time receives an upload, and a dead one's claim runs out.

A request that receives an upload (a direct PUT, a one-request upload, multipart
complete, a bucket finalize) first *claims* it: one atomic ``UPDATE`` moves it from
``pending`` (or from ``receiving`` whose claim has expired) to ``receiving`` and records
who holds it (``claimed_by``: this process plus a per-request token) and until when
(``claimed_until``). The database arbitrates, so this holds across workers and
instances as :mod:`.leases` does.

While the request is alive, a heartbeat extends the claim every quarter of
``uploads.receive_lease_seconds``, but while bytes are being received only if some
arrived since the last beat: a client that stalls lets the claim run out even if the
server never cuts it off. A process that dies (``kill -9``, a restart that outlasts the
drain) stops beating; its claim expires and the next retry takes the upload over. The
sweeper gives expired claims back (``pending``) and removes their temporary bytes; a
one-request upload, whose ids its client never saw, is discarded instead.

A request that finds its claim taken over (it stalled past the lease) stops at its next
chunk, and at the latest when it would mark the upload complete (the final transaction
only completes an upload whose claim it still holds).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from tortoise.expressions import Q

from ..errors import conflict
from ..models import Upload
from ..timeutil import utcnow
from . import leases

LOST = "This upload was taken over by another request (this one stalled too long)"


def expired_q(now: Any = None) -> Q:
    """Uploads in ``receiving`` whose claim has run out (or that predate claims)."""
    now = now or utcnow()
    return Q(status="receiving") & (Q(claimed_until__lt=now) | Q(claimed_until=None))


def is_held(upload: Upload) -> bool:
    """Whether a live request holds ``upload`` right now (as last read)."""
    return (
        upload.status == "receiving"
        and upload.claimed_until is not None
        and upload.claimed_until >= utcnow()
    )


class Claim:
    """This request's hold on one upload, renewed by :meth:`beating`."""

    def __init__(self, upload: Upload, seconds: float) -> None:
        self.upload_id = upload.id
        self.seconds = seconds
        self.token = f"{leases.HOLDER}:{secrets.token_hex(4)}"
        self.receiving = True  # renew only on progress while bytes arrive
        self.progress = False
        self.lost = False

    def until(self) -> Any:
        return utcnow() + timedelta(seconds=self.seconds)

    async def take(self, busy: str) -> None:
        """pending (or receiving, expired) → receiving, held by us; 409 ``busy`` otherwise."""
        taken = (
            await Upload.filter(Q(id=self.upload_id) & (Q(status="pending") | expired_q()))
            .update(status="receiving", claimed_by=self.token, claimed_until=self.until())
        )  # fmt: skip
        if not taken:
            raise conflict(busy, "upload_in_progress")

    async def renew(self) -> bool:
        """Extend the claim; False (and :attr:`lost`) when another request took it."""
        renewed = await Upload.filter(
            id=self.upload_id, status="receiving", claimed_by=self.token
        ).update(claimed_until=self.until())
        if not renewed:
            self.lost = True
        return bool(renewed)

    def received(self) -> None:
        """The bytes are in: from now on the claim is renewed while the request lives."""
        self.receiving = False

    async def watch(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """``chunks``, noting progress; stops with 409 once the claim is lost."""
        async for chunk in chunks:
            if self.lost:
                raise conflict(LOST, "upload_in_progress")
            self.progress = True
            yield chunk

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.seconds / 4)
            if self.receiving and not self.progress:
                continue  # a stalled body: let the claim run out
            self.progress = False
            try:
                if not await self.renew():
                    return
            except asyncio.CancelledError:
                raise
            except Exception:  # a busy database: try again at the next beat
                continue

    @contextlib.asynccontextmanager
    async def beating(self) -> AsyncIterator[Claim]:
        task = asyncio.create_task(self._beat())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def release(self) -> None:
        """Give the upload back for a retry (only if we still hold it)."""
        await Upload.filter(id=self.upload_id, status="receiving", claimed_by=self.token).update(
            status="pending", claimed_by=None, claimed_until=None
        )


def lease_seconds(settings: Any) -> float:
    return float(settings.uploads.receive_lease_seconds)
