"""The outbound registry's line for reports: a forwarded report goes to the reported account's server as a Flag."""

from __future__ import annotations

import aiosqlite

from node.activitypub.as2 import flags
from node.activitypub.as2.documents import actor_id
from node.activitypub.outbox import publish
from node.config import Config
from node.governance.events import Event, ReportForwarded


async def report_forwarded(db: aiosqlite.Connection, config: Config, event: Event) -> None:
    assert isinstance(event, ReportForwarded)
    group_uri = actor_id(config, event.group.username)
    await publish(db, event.group, flags.flag(config, group_uri, event.report.account, event.report.posts,
                                              event.comment), [event.inbox])
