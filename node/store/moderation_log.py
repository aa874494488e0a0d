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


# An entry about a report: an action on one (resolved, dismissed, forwarded) or taken because of one (a post removed).
ABOUT_A_REPORT = "(e.report_id IS NOT NULL OR e.kind LIKE 'report%' OR e.kind = 'post-removed')"


async def events(db: aiosqlite.Connection, limit: int = 200, *, reports: bool = True,
                 hide_reports_about: int | None = None) -> list[ModerationEvent]:
    """The newest entries; without `reports`, none about a report; with `hide_reports_about`, none about a report
    concerning that local actor (the report's `account_id`)."""
    where = "1" if reports else f"NOT {ABOUT_A_REPORT}"
    args: tuple = ()
    if reports and hide_reports_about is not None:
        where = ("NOT EXISTS (SELECT 1 FROM reports r WHERE r.id = e.report_id AND r.account_id = ?)")
        args = (hide_reports_about,)
    async with db.execute("SELECT e.id, e.kind, e.target, e.by_id, e.proposal_id, e.report_id, e.reason,"
                          f" e.created_at FROM moderation_events e WHERE {where} ORDER BY e.id DESC LIMIT ?",
                          (*args, limit)) as cur:
        return [ModerationEvent(*row) for row in await cur.fetchall()]
