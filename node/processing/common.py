"""One unit of work: the change and what it sends commit together, or neither does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiosqlite

from node.activitypub.outbound import federate
from node.config import Config
from node.db import transaction
from node.governance.events import Event


async def apply(db: aiosqlite.Connection, config: Config, change: Callable[[], Awaitable[list[Event]]]
                ) -> list[Event]:
    """Run `change` (governance) in a transaction and queue what its events send, in that same transaction."""
    async with transaction(db):
        events = await change()
        await federate(db, config, events)
    return events
