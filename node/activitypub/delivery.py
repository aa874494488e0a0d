"""The delivery worker: sends queued rows, signed by their actor, and classifies what came back."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
from email.utils import parsedate_to_datetime
from typing import Any

import aiosqlite

from node.activitypub.as2.documents import key_id
from node.activitypub.fetch import FetchError, HttpClient
from node.activitypub.signatures import load_private_key, sign
from node.clock import Clock, clock_from_env
from node.config import Config
from node.db import StorageUnavailable, transaction
from node.store import deliveries, hosts, local_actors
from node.store.deliveries import Delivery

log = logging.getLogger(__name__)

FINAL_STATUSES = {400, 403, 404, 405, 410, 413, 415, 422}
MAX_BACKOFF = 6 * 3600.0
GIVE_UP_AFTER = 7 * 24 * 3600.0
LEASE_SECONDS = 120.0
EXPIRE_EVERY = 60.0


def next_delay(attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
    """Seconds before attempt `attempt + 1`: exponential from 30 s with ±20 % jitter, capped near 6 h.

    A Retry-After longer than that is honoured up to the same cap.
    """
    base = min(MAX_BACKOFF, 30.0 * (2 ** min(attempt, 20)))
    delay = min(MAX_BACKOFF, base * (rng or random).uniform(0.8, 1.2))
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_BACKOFF))
    return delay


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After as seconds from `now`: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError, IndexError):
            return None


class DeliveryWorker:
    """Claims due deliveries within per-host and overall limits and sends them; `run_once()` is one pass.

    The node hands it a client of its own (clients.Pools.deliveries): no inbound work can hold its connections."""

    def __init__(self, db: aiosqlite.Connection, config: Config, client: HttpClient, clock: Clock | None = None,
                 *, per_host: int | None = None, concurrency: int = 32, lease_seconds: float = LEASE_SECONDS,
                 rng: random.Random | None = None):
        self.db = db
        self.config = config
        self.client = client
        self.clock = clock or clock_from_env()
        self.per_host = per_host or getattr(config, "delivery_per_host", 4)
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.rng = rng
        self.wake = asyncio.Event()
        self._inflight: collections.Counter[str] = collections.Counter()
        self._signers: dict[int, tuple[str, Any]] = {}
        self._failing: set[str] | None = None
        self._expired_at = float("-inf")

    async def run_once(self) -> int:
        """Claim what is due and send all of it; return how many were sent."""
        due = await self.claim()
        if due:
            await asyncio.gather(*(self._send(item) for item in due))
        return len(due)

    async def drain(self) -> int:
        total = 0
        while n := await self.run_once():
            total += n
        return total

    async def claim(self) -> list[Delivery]:
        """Lease due rows: at most `per_host` in flight per host, `concurrency` overall, one probe per dead host."""
        free = self.concurrency - sum(self._inflight.values())
        if free <= 0:
            return []
        now = self.clock.now()
        chosen: list[Delivery] = []
        async with transaction(self.db):
            if now - self._expired_at >= EXPIRE_EVERY:
                await deliveries.expire_unavailable(self.db, now - GIVE_UP_AFTER)
                self._expired_at = now
            taken = collections.Counter(self._inflight)
            limit = free + self.per_host * len(self._inflight)
            for item in await deliveries.due_candidates(self.db, now, self.per_host, limit):
                if len(chosen) < free and taken[item.host] < self.per_host:
                    chosen.append(item)
                    taken[item.host] += 1
            for probe in await deliveries.probe_candidates(self.db, now):
                if len(chosen) < free and taken[probe.host] == 0:
                    chosen.append(probe)
                    taken[probe.host] += 1
                    await hosts.probe_sent(self.db, probe.host, now)
            if chosen:
                await deliveries.lease(self.db, [item.id for item in chosen], now + self.lease_seconds)
        for item in chosen:
            self._inflight[item.host] += 1
        return chosen

    async def _signer(self, actor_id: int):
        """The actor's signing function, or None when the actor is gone."""
        if actor_id not in self._signers:
            actor = await local_actors.by_id(self.db, actor_id)
            if actor is None:
                return None
            # Parsing a PEM RSA key costs more than signing with it: once per actor, not per delivery.
            self._signers[actor_id] = (key_id(self.config, actor.username), load_private_key(actor.private_key_pem))
        kid, private_key = self._signers[actor_id]

        def signer(method: str, url: str, body: bytes | None, content_type: str | None) -> dict[str, str]:
            return sign(method, url, kid, private_key, body, content_type)

        return signer

    async def _send(self, item: Delivery) -> None:
        try:
            await self._attempt(item)
        except StorageUnavailable:
            log.warning("could not record delivery of %s to %s; the lease will retry it", item.activity_id,
                        item.host, extra={"host": item.host, "activity_id": item.activity_id})
        except Exception:
            log.exception("delivery of %s to %s failed unexpectedly; the lease will retry it", item.activity_id,
                          item.host, extra={"host": item.host, "activity_id": item.activity_id})
        finally:
            self._inflight[item.host] -= 1
            if self._inflight[item.host] <= 0:
                del self._inflight[item.host]
            self.wake.set()

    async def _attempt(self, item: Delivery) -> None:
        signer = await self._signer(item.actor_id)
        if signer is None:
            async with transaction(self.db):
                await deliveries.finish(self.db, item.id, "failed", None, "sending actor no longer exists")
            return
        status, error, retry_after = None, "", None
        try:
            result = await self.client.post(item.inbox, item.body.encode(), signer=signer)
            status, error = result.status, result.body[:500]
            retry_after = parse_retry_after(result.retry_after, self.clock.now())
        except FetchError as exc:
            error = exc.reason
        await self._record(item, status, error, retry_after)

    async def _record(self, item: Delivery, status: int | None, error: str, retry_after: float | None) -> None:
        now = self.clock.now()
        async with transaction(self.db):
            if status is not None and (200 <= status < 300 or status in FINAL_STATUSES):
                state = "done" if status < 300 else "failed"
                if state == "failed":
                    log.warning("delivery of %s to %s refused (%s): %s", item.activity_id, item.inbox, status, error,
                                extra={"host": item.host, "status": status, "activity_id": item.activity_id})
                await deliveries.finish(self.db, item.id, state, status, None if state == "done" else error)
                if status == 410:
                    await deliveries.drop_followers_at_inbox(self.db, item.inbox, self.config.base_url + "/")
                # The host answered for itself, even when it refused this one: it is alive.
                await hosts.record_success(self.db, item.host, now)
                self._failing_discard(item.host)
                return
            error = error or f"HTTP {status}"
            if now - item.created_ts >= GIVE_UP_AFTER:
                log.warning("giving up on %s to %s after 7 days: %s", item.activity_id, item.inbox, error,
                            extra={"host": item.host, "status": status, "activity_id": item.activity_id})
                await deliveries.finish(self.db, item.id, "failed", status, f"gave up after 7 days: {error}")
            else:
                due = now + next_delay(item.attempts, retry_after, self.rng)
                await deliveries.retry_later(self.db, item.id, due, status, error)
                log.warning("delivery of %s to %s failed (%s), retrying in %.0f s", item.activity_id, item.inbox,
                            error[:200], due - now,
                            extra={"host": item.host, "status": status, "activity_id": item.activity_id})
            if await hosts.record_failure(self.db, item.host, now, error):
                log.warning("%s failed every attempt for a day: marked unavailable, probing", item.host,
                            extra={"host": item.host})
        if self._failing is not None:
            self._failing.add(item.host)

    def _failing_discard(self, host: str) -> None:
        if self._failing is not None:
            self._failing.discard(host)

    def may_be_failing(self, host: str) -> bool:
        """False when `host` is surely healthy: lets the inbox skip an await on its hot path."""
        return self._failing is None or host.lower() in self._failing

    async def peer_seen_alive(self, host: str) -> None:
        """A verified signed request came from `host`: reset it if it was failing (no write otherwise)."""
        host = host.lower()
        if self._failing is None:
            self._failing = {h.host for h in await hosts.failing(self.db)}
        if host not in self._failing:
            return
        async with transaction(self.db):
            await hosts.host_seen_alive(self.db, host, self.clock.now())
        self._failing.discard(host)
        self.wake.set()

    async def run_forever(self) -> None:
        tasks: set[asyncio.Task] = set()
        try:
            while True:
                self.wake.clear()
                try:
                    claimed = await self.claim()
                except StorageUnavailable:
                    claimed = []
                for item in claimed:
                    task = asyncio.create_task(self._send(item), name=f"deliver-{item.id}")
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if claimed:
                    continue
                timeout = 1.0
                if not self._inflight:
                    soonest = await deliveries.next_due(self.db)
                    if soonest is not None:
                        timeout = max(0.05, min(1.0, soonest - self.clock.now()))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self.wake.wait()
        finally:
            for task in tasks:
                task.cancel()
