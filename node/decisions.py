"""The decision clock: closes proposals when their time comes (also those due while the node was down) and has
processing carry out what passed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import aiosqlite

from node.activitypub.fetch import HttpClient
from node.clock import Clock, clock_from_env
from node.config import Config
from node.governance import proposals
from node.governance.events import Event
from node.processing import assembly
from node.processing import proposals as processing_proposals

log = logging.getLogger(__name__)
MAX_SLEEP = 60.0  # look again at least this often, so a clock jump or a new proposal is noticed


class DecisionClock:
    """Closes proposals at their closing time, and on start those whose time passed while the node was down."""

    def __init__(self, db: aiosqlite.Connection, config: Config, client: HttpClient | None,
                 clock: Clock | None = None):
        self.db, self.config, self.client = db, config, client
        self.clock = clock or clock_from_env()
        self.wake = asyncio.Event()
        self.started = False

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    async def run_once(self) -> list[Event]:
        """Close what is due and carry it out; then the Assembly's step (our stances, catch-up, final results),
        which on the first run after a start also pulls what siblings hold that we missed while down."""
        events = await processing_proposals.close_due(self.db, self.config, self.client, now=self.now())
        starting, self.started = not self.started, True
        events += await assembly.run_once(self.db, self.config, self.client, starting=starting)
        return events

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("closing proposals failed; trying again shortly")
            upcoming = await proposals.next_closing(self.db)
            delay = MAX_SLEEP if upcoming is None else (upcoming - self.now()).total_seconds()
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(max(delay, 0.05), MAX_SLEEP)):
                    await self.wake.wait()
