"""Queueing events in the outbox and delivering them: signing, claiming, retrying.

Delivery is at least once: a receiver that answers 2xx too late for the lease, or a
worker killed between the POST and the row update, means a repeat. Receivers
deduplicate on ``X-Pichr-Delivery``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
from typing import TYPE_CHECKING, Any

from pichr_appliance.security import new_id
from pichr_appliance.timeutil import iso, utcnow

from .config import WebhooksConfig
from .models import Delivery

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("pichr_webhooks")
USER_AGENT = "pichr-appliance-webhooks/0.1"
DAY_MS = 86_400_000


def now_ms() -> int:
    """The current time in epoch milliseconds (how the outbox stores times)."""
    return int(time.time() * 1000)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 of ``"<timestamp>.<body>"`` with ``secret``, as hex."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``X-Pichr-Signature`` value: ``t=<unix seconds>,v1=<hex>``."""
    ts = int(time.time()) if timestamp is None else timestamp
    return f"t={ts},v1={sign(secret, ts, body)}"


def verify(secret: str, header: str, body: bytes, tolerance: float = 300) -> bool:
    """Check an ``X-Pichr-Signature`` the way a receiver should (a reference for
    receivers, and what the tests use): right MAC, timestamp within ``tolerance``."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        ts = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, ts, body), fields.get("v1", ""))


async def enqueue(config: WebhooksConfig, event: str, data: dict[str, Any]) -> list[str]:
    """Insert one pending row per endpoint that wants ``event``; returns their ids.

    This is all an event hook does: a request never waits for a receiver.
    """
    endpoints = [e for e in config.endpoints if e.wants(event)]
    if not endpoints:
        return []
    body = json.dumps(
        {"id": new_id("evt"), "event": event, "createdAt": iso(utcnow()), "data": data},
        separators=(",", ":"),
    )
    now = now_ms()
    rows = [
        Delivery(
            id=new_id("whd"),
            event=event,
            endpoint=e.name,
            url=e.url,
            body=body,
            next_attempt_at=now,
            created_at=now,
        )
        for e in endpoints
    ]
    await Delivery.bulk_create(rows)
    return [r.id for r in rows]


class Worker:
    """Delivers due rows. Several may run (one per server worker process, on several
    machines): a row is claimed with a compare-and-set on its lease, so each attempt
    is made by exactly one of them."""

    def __init__(self, config: WebhooksConfig, client: httpx.AsyncClient | None = None) -> None:
        # httpx is imported here, not with the module: an appliance with this plugin
        # installed and no webhook configured does not pay for it (start-up time).
        import httpx

        self._http_error = httpx.HTTPError
        self.config = config
        self.holder = secrets.token_hex(8)
        self.client = client or httpx.AsyncClient(
            timeout=config.timeout, follow_redirects=False, headers={"User-Agent": USER_AGENT}
        )
        self.wake = asyncio.Event()
        self._last_cleanup = 0.0

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.client.aclose()

    async def claim(self, limit: int) -> list[Delivery]:
        """Take up to ``limit`` due rows for this worker (atomically, row by row).

        When other workers took every row it picked, it looks again (a few times), so a
        worker that loses a race does not go idle while due rows remain.
        """
        for _ in range(3):
            now = now_ms()
            candidates = (
                await Delivery.filter(
                    status="pending", next_attempt_at__lte=now, lease_until__lte=now
                )
                .order_by("next_attempt_at")
                .limit(limit)
            )
            if not candidates:
                return []
            claimed = []
            for row in candidates:
                # Only one worker's UPDATE can match the lease it read.
                won = await Delivery.filter(
                    id=row.id, status="pending", lease_until=row.lease_until
                ).update(lease_until=now + self.config.lease_ms, lease_holder=self.holder)
                if won:
                    claimed.append(row)
            if claimed:
                return claimed
        return []

    async def deliver(self, row: Delivery) -> bool:
        """POST one claimed row and record the outcome; True when delivered."""
        endpoint = self.config.endpoint(row.endpoint)
        attempts = row.attempts + 1
        status: int | None = None
        if endpoint is None:
            error = f"endpoint {row.endpoint!r} is no longer configured"
            return await self._finish(row, attempts, None, error, give_up=True)
        body = row.body.encode()
        headers = {
            "Content-Type": "application/json",
            "X-Pichr-Event": row.event,
            "X-Pichr-Delivery": row.id,
            "X-Pichr-Signature": signature_header(endpoint.secret, body),
        }
        try:
            response = await self.client.post(endpoint.url, content=body, headers=headers)
            status = response.status_code
            error = "" if 200 <= status < 300 else f"HTTP {status}"
        except self._http_error as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return await self._finish(row, attempts, status, error)

    async def _finish(
        self, row: Delivery, attempts: int, status: int | None, error: str, give_up: bool = False
    ) -> bool:
        now = now_ms()
        mine = Delivery.filter(id=row.id, lease_holder=self.holder, status="pending")
        if not error:
            await mine.update(
                status="delivered",
                attempts=attempts,
                last_status=status,
                last_error="",
                delivered_at=now,
                lease_until=0,
                lease_holder="",
            )
            return True
        if give_up or attempts >= self.config.max_attempts:
            log.warning(
                "webhook %s (%s to %s) is dead after %d attempt(s): %s",
                row.id,
                row.event,
                row.endpoint,
                attempts,
                error,
            )
            await mine.update(
                status="dead",
                attempts=attempts,
                last_status=status,
                last_error=error[:2000],
                lease_until=0,
                lease_holder="",
            )
            return False
        wait = self.config.backoff(attempts)
        wait += wait * self.config.jitter * random.random()
        await mine.update(
            attempts=attempts,
            last_status=status,
            last_error=error[:2000],
            next_attempt_at=now + int(wait * 1000),
            lease_until=0,
            lease_holder="",
        )
        return False

    async def run_once(self) -> int:
        """Claim and deliver one batch of due rows; returns how many were attempted."""
        rows = await self.claim(self.config.batch)
        if rows:
            await asyncio.gather(*(self.deliver(r) for r in rows))
        return len(rows)

    async def next_due_in(self) -> float:
        """Seconds until the earliest pending row is due (capped by ``poll_interval``)."""
        rows = (
            await Delivery.filter(status="pending")
            .order_by("next_attempt_at")
            .limit(1)
            .values("next_attempt_at", "lease_until")
        )
        if not rows:
            return self.config.poll_interval
        due = max(rows[0]["next_attempt_at"], rows[0]["lease_until"])
        return min(self.config.poll_interval, max(0.0, (due - now_ms()) / 1000))

    async def cleanup(self) -> int:
        """Delete delivered and dead rows older than ``keep_days`` (at most hourly)."""
        if time.monotonic() - self._last_cleanup < 3600:
            return 0
        self._last_cleanup = time.monotonic()
        cutoff = now_ms() - self.config.keep_days * DAY_MS
        return await Delivery.filter(
            status__in=("delivered", "dead"), created_at__lt=cutoff
        ).delete()

    async def run(self) -> None:
        """Deliver until cancelled; a database hiccup is logged and retried."""
        while True:
            try:
                while await self.run_once():
                    pass
                await self.cleanup()
                delay = await self.next_due_in()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook worker: delivery round failed; retrying")
                delay = self.config.poll_interval
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=delay)
