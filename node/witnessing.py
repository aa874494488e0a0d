"""The witness clock: polls each sibling's decision log on the node's clock (FEDERATION.md, "Witnessed decision
logs"). `run_once()` is one step (tests call it); `run_forever` steps it every POLL_EVERY seconds at most."""

from __future__ import annotations

import asyncio
import logging

import aiosqlite

from node.activitypub.fetch import HttpClient
from node.config import Config
from node.processing import witness

log = logging.getLogger(__name__)
TICK = 60.0  # look for a sibling due a poll this often


class LogWitness:
    def __init__(self, db: aiosqlite.Connection, config: Config, client: HttpClient | None,
                 every: int = witness.POLL_EVERY):
        self.db, self.config, self.client, self.every = db, config, client, every

    async def run_once(self) -> list[witness.Polled]:
        """Poll the siblings whose logs are due (the time is the node's clock)."""
        return await witness.run_once(self.db, self.config, self.client, self.every)

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("witnessing the siblings' decision logs failed; trying again shortly")
            await asyncio.sleep(TICK)
