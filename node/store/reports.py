"""Reports: members' reports of posts and accounts, and remote servers' `Flag`s about ours (issue 12)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import aiosqlite

from node.db import now_iso


@dataclass(frozen=True)
class Report:
    id: int
    reporter_id: int | None     # a member's report
    reporter_uri: str | None    # a remote server's Flag: its actor
    reporter_host: str | None
    activity_id: str | None
    account: str                # the reported actor's id
    account_id: int | None      # the reported actor, when it is one of ours
    posts: tuple[str, ...]      # the reported posts' ids
    comment: str
    state: str                  # open | resolved | dismissed
    note: str
    closed_by: int | None
    closed_at: str | None
    forwarded_at: str | None
    created_at: str

    @property
    def remote(self) -> bool:
        """Filed by another server (an inbound Flag), not by a member."""
        return self.reporter_id is None


_SELECT = ("SELECT id, reporter_id, reporter_uri, reporter_host, activity_id, account, account_id, posts, comment,"
           " state, note, closed_by, closed_at, forwarded_at, created_at FROM reports")


def _report(row) -> Report | None:
    if row is None:
        return None
    values = list(row)
    values[7] = tuple(json.loads(values[7]))
    return Report(*values)


async def insert(db: aiosqlite.Connection, *, account: str, account_id: int | None, posts: list[str], comment: str,
                 reporter_id: int | None = None, reporter_uri: str | None = None, reporter_host: str | None = None,
                 reporter_domain: str | None = None, activity_id: str | None = None) -> int:
    cur = await db.execute(
        "INSERT INTO reports (reporter_id, reporter_uri, reporter_host, reporter_domain, activity_id, account,"
        " account_id, posts, comment, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (reporter_id, reporter_uri, reporter_host, reporter_domain, activity_id, account, account_id,
         json.dumps(list(posts)),
         comment, now_iso()))
    return cur.lastrowid


async def by_id(db: aiosqlite.Connection, report_id: int) -> Report | None:
    async with db.execute(_SELECT + " WHERE id = ?", (report_id,)) as cur:
        return _report(await cur.fetchone())


async def by_activity(db: aiosqlite.Connection, activity_id: str) -> Report | None:
    async with db.execute(_SELECT + " WHERE activity_id = ?", (activity_id,)) as cur:
        return _report(await cur.fetchone())


async def listed(db: aiosqlite.Connection, state: str | None = "open", limit: int = 200) -> list[Report]:
    """Reports in `state` (every state when None), newest first."""
    where, args = ("", ()) if state is None else (" WHERE state = ?", (state,))
    async with db.execute(_SELECT + where + " ORDER BY id DESC LIMIT ?", (*args, limit)) as cur:
        return [_report(row) for row in await cur.fetchall()]


async def count_open_for(db: aiosqlite.Connection, viewer_id: int) -> int:
    """Open reports a Partner may see: every one but those about the Partner."""
    async with db.execute("SELECT COUNT(*) FROM reports WHERE state = 'open' AND account_id IS NOT ?",
                          (viewer_id,)) as cur:
        return (await cur.fetchone())[0]


async def count_open_from_domain(db: aiosqlite.Connection, domain: str) -> int:
    async with db.execute("SELECT COUNT(*) FROM reports WHERE reporter_domain = ? AND state = 'open'",
                          (domain,)) as cur:
        return (await cur.fetchone())[0]


async def count_open_remote(db: aiosqlite.Connection) -> int:
    async with db.execute("SELECT COUNT(*) FROM reports WHERE reporter_id IS NULL AND state = 'open'") as cur:
        return (await cur.fetchone())[0]


async def open_by_member(db: aiosqlite.Connection, reporter_id: int, account: str, posts: list[str]) -> int | None:
    """The member's open report of exactly these posts of this account, if there is one."""
    async with db.execute("SELECT id FROM reports WHERE reporter_id = ? AND account = ? AND posts = ?"
                          " AND state = 'open'", (reporter_id, account, json.dumps(list(posts)))) as cur:
        row = await cur.fetchone()
    return row[0] if row else None


async def close(db: aiosqlite.Connection, report_id: int, state: str, by_id: int, note: str) -> None:
    await db.execute("UPDATE reports SET state = ?, note = ?, closed_by = ?, closed_at = ? WHERE id = ?",
                     (state, note, by_id, now_iso(), report_id))


async def mark_forwarded(db: aiosqlite.Connection, report_id: int) -> None:
    await db.execute("UPDATE reports SET forwarded_at = ? WHERE id = ?", (now_iso(), report_id))
