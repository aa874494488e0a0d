"""The Congregation's moderation log: every block, unblock, allowlist change and action on a report (issue 12)."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from node.db import now_iso


@dataclass(frozen=True)
class ModerationEvent:
    id: int
    kind: str
    target: str
    by_id: int | None
    proposal_id: int | None
    report_id: int | None
    reason: str
    created_at: str


async def record(db: aiosqlite.Connection, kind: str, target: str, *, by_id: int | None = None,
                 proposal_id: int | None = None, report_id: int | None = None, reason: str = "") -> int:
    cur = await db.execute("INSERT INTO moderation_events (kind, target, by_id, proposal_id, report_id, reason,"
                           " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (kind, target, by_id, proposal_id, report_id, reason, now_iso()))
    return cur.lastrowid


async def events(db: aiosqlite.Connection, limit: int = 200) -> list[ModerationEvent]:
    async with db.execute("SELECT id, kind, target, by_id, proposal_id, report_id, reason, created_at"
                          " FROM moderation_events ORDER BY id DESC LIMIT ?", (limit,)) as cur:
        return [ModerationEvent(*row) for row in await cur.fetchall()]
