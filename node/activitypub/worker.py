"""The inbox worker: processes committed activities in order; `run_once()` is one step for tests."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging

from node.activitypub.fetch import FetchError
from node.activitypub.inbound.context import InboxContext
from node.activitypub.inbound.registry import dispatch
from node.activitypub.remote_actors import ActorUnavailable
from node.clock import Clock, clock_from_env
from node.db import StorageUnavailable, transaction
from node.store import inbox as inbox_store

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


class InboxWorker:
    def __init__(self, ctx: InboxContext, batch: int = 64, clock: Clock | None = None):
        self.ctx = ctx
        self.clock = clock or clock_from_env()
        self.batch = batch
        self.wake = asyncio.Event()

    async def run_once(self) -> int:
        """Process up to one batch of pending activities; return how many were looked at."""
        rows = await inbox_store.pending(self.ctx.db, self.clock.now(), self.batch)
        done = [(row.id, outcome) for row in rows if (outcome := await self._process(row)) is not None]
        if done:
            # One commit for the batch: a crash before it replays these rows, and handlers are idempotent.
            async with transaction(self.ctx.db):
                await inbox_store.mark_processed(self.ctx.db, done)
        return len(rows)

    async def drain(self) -> int:
        total = 0
        while n := await self.run_once():
            total += n
        return total

    async def _process(self, row: inbox_store.InboxRow) -> str | None:
        """The outcome to record, or None when the failure was recorded already."""
        ctx = dataclasses.replace(self.ctx, inbox_owner=row.recipient)
        try:
            outcome = await dispatch(ctx, json.loads(row.body), row.actor)
        except (ActorUnavailable, FetchError) as exc:
            retry_at = None if row.attempts + 1 >= MAX_ATTEMPTS else self.clock.now() + 30 * 2**row.attempts
            log.info("inbox %s from %s: %s (attempt %d)", row.activity_id, row.actor, exc, row.attempts + 1)
            async with transaction(self.ctx.db):
                await inbox_store.mark_failed_attempt(self.ctx.db, row.id, f"error: {exc}"[:500], retry_at)
            return None
        except StorageUnavailable:
            raise
        except Exception as exc:
            log.exception("inbox %s from %s failed", row.activity_id, row.actor)
            async with transaction(self.ctx.db):
                await inbox_store.mark_failed_attempt(self.ctx.db, row.id, f"bug: {exc!r}"[:500], None)
            return None
        return outcome

    async def run_forever(self) -> None:
        while True:
            try:
                done = await self.run_once()
            except StorageUnavailable:
                done = 0
            if done:
                continue
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self.wake.wait()
