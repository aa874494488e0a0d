"""The delivery worker: sends queued rows, signed by their actor, and classifies what came back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from datetime import datetime
from email.utils import parsedate_to_datetime

import aiosqlite

from node.activitypub.documents import key_id
from node.activitypub.fetch import FetchError, HttpClient
from node.activitypub.signatures import load_private_key, sign
from node.config import Config
from node.db import StorageUnavailable, transaction
from node.store import deliveries, local_actors

log = logging.getLogger(__name__)

FINAL_STATUSES = {400, 403, 404, 405, 410, 413, 415, 422}
MAX_BACKOFF = 6 * 3600.0
GIVE_UP_AFTER = 7 * 24 * 3600.0
LEASE_SECONDS = 120.0


def next_delay(attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
    """Seconds before attempt `attempt + 1`: exponential from 30 s with ±20 % jitter, capped near 6 h."""
    base = min(MAX_BACKOFF, 30.0 * (2 ** min(attempt, 20)))
    jitter = (rng or random).uniform(0.8, 1.2)
    delay = min(MAX_BACKOFF, base * jitter)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_BACKOFF))
    return delay


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError, IndexError):
            return None


def _age_seconds(created_at: str) -> float:
    return time.time() - datetime.fromisoformat(created_at.replace("Z", "+00:00")).timestamp()


class DeliveryWorker:
    """Claims due deliveries and sends them; `run_once()` is one pass, for tests and the loop."""

    def __init__(self, db: aiosqlite.Connection, config: Config, client: HttpClient, batch: int = 32):
        self.db = db
        self.config = config
        self.client = client
        self.batch = batch
        self.wake = asyncio.Event()

    async def run_once(self) -> int:
        async with transaction(self.db):
            due = await deliveries.claim_due(self.db, time.time(), LEASE_SECONDS, self.batch)
        if due:
            await asyncio.gather(*(self._send(item) for item in due))
        return len(due)

    async def _send(self, item: deliveries.Delivery) -> None:
        actor = await local_actors.by_id(self.db, item.actor_id)
        if actor is None:
            await self._record(deliveries.finish, item.id, "failed", None, "sending actor no longer exists")
            return
        private_key = load_private_key(actor.private_key_pem)
        kid = key_id(self.config, actor.username)

        def signer(method: str, url: str, body: bytes | None, content_type: str | None) -> dict[str, str]:
            return sign(method, url, kid, private_key, body, content_type)

        status, error, retry_after = None, "", None
        try:
            result = await self.client.post(item.inbox, item.body.encode(), signer=signer)
            status, retry_after = result.status, parse_retry_after(result.retry_after)
            error = result.body[:500]
        except FetchError as exc:
            error = exc.reason
        if status is not None and 200 <= status < 300:
            await self._record(deliveries.finish, item.id, "done", status, None)
        elif status in FINAL_STATUSES:
            log.info("delivery of %s to %s refused (%s): %s", item.activity_id, item.inbox, status, error)
            await self._record(deliveries.finish, item.id, "failed", status, error)
        elif _age_seconds(item.created_at) > GIVE_UP_AFTER:
            await self._record(deliveries.finish, item.id, "failed", status, f"gave up after 7 days: {error}")
        else:
            due = time.time() + next_delay(item.attempts, retry_after)
            await self._record(deliveries.retry_later, item.id, due, status, error or f"HTTP {status}")

    async def _record(self, func, *args) -> None:
        try:
            async with transaction(self.db):
                await func(self.db, *args)
        except StorageUnavailable:
            log.warning("could not record delivery outcome for %s; the lease will retry it", args[0])

    async def run_forever(self) -> None:
        while True:
            try:
                sent = await self.run_once()
            except StorageUnavailable:
                sent = 0
            if sent:
                continue
            soonest = await deliveries.next_due(self.db)
            timeout = 1.0 if soonest is None else max(0.05, min(1.0, soonest - time.time()))
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)
