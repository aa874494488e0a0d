"""Invitations to join, their endorsements by Partners, and the membership record."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from node.db import now_iso


@dataclass(frozen=True)
class Invitation:
    id: int
    token_hash: str
    tier: str
    inviter_id: int | None
    note: str
    endorsements_needed: int
    created_at: str
    expires_at: str
    revoked_at: str | None
    revoked_by: int | None
    used_at: str | None
    used_by: int | None
    endorsers: tuple[int, ...] = ()


_SELECT = ("SELECT i.id, i.token_hash, i.tier, i.inviter_id, i.note, i.endorsements_needed, i.created_at,"
           " i.expires_at, i.revoked_at, i.revoked_by, i.used_at, i.used_by,"
           # Only endorsements by those who are Partners now count: a removed or demoted Partner's word lapses.
           " (SELECT group_concat(e.partner_id) FROM invitation_endorsements e"
           "  JOIN members m ON m.actor_id = e.partner_id AND m.tier = 'partner' WHERE e.invitation_id = i.id)"
           " FROM invitations i")


def _invitation(row) -> Invitation | None:
    if row is None:
        return None
    endorsers = tuple(int(x) for x in row[12].split(",")) if row[12] else ()
    return Invitation(*row[:12], endorsers=endorsers)


async def insert(db: aiosqlite.Connection, token_hash: str, tier: str, inviter_id: int | None, note: str,
                 endorsements_needed: int, expires_at: str) -> int:
    cur = await db.execute(
        "INSERT INTO invitations (token_hash, tier, inviter_id, note, endorsements_needed, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)", (token_hash, tier, inviter_id, note, endorsements_needed, now_iso(),
                                          expires_at))
    return cur.lastrowid


async def by_id(db: aiosqlite.Connection, invitation_id: int) -> Invitation | None:
    async with db.execute(_SELECT + " WHERE i.id = ?", (invitation_id,)) as cur:
        return _invitation(await cur.fetchone())


async def by_token_hash(db: aiosqlite.Connection, token_hash: str) -> Invitation | None:
    async with db.execute(_SELECT + " WHERE i.token_hash = ?", (token_hash,)) as cur:
        return _invitation(await cur.fetchone())


async def recent(db: aiosqlite.Connection, limit: int = 100) -> list[Invitation]:
    async with db.execute(_SELECT + " ORDER BY i.id DESC LIMIT ?", (limit,)) as cur:
        return [_invitation(row) for row in await cur.fetchall()]


async def count_open(db: aiosqlite.Connection, now: str) -> int:
    async with db.execute("SELECT COUNT(*) FROM invitations WHERE used_at IS NULL AND revoked_at IS NULL"
                          " AND expires_at > ?", (now,)) as cur:
        return (await cur.fetchone())[0]


async def endorse(db: aiosqlite.Connection, invitation_id: int, partner_id: int) -> None:
    await db.execute("INSERT OR IGNORE INTO invitation_endorsements (invitation_id, partner_id, created_at)"
                     " VALUES (?, ?, ?)", (invitation_id, partner_id, now_iso()))


async def revoke(db: aiosqlite.Connection, invitation_id: int, by_id: int | None) -> None:
    await db.execute("UPDATE invitations SET revoked_at = ?, revoked_by = ? WHERE id = ?",
                     (now_iso(), by_id, invitation_id))


async def mark_used(db: aiosqlite.Connection, invitation_id: int, member_id: int) -> bool:
    """Claim the invitation for `member_id`; False if someone else used it first."""
    cur = await db.execute("UPDATE invitations SET used_at = ?, used_by = ? WHERE id = ? AND used_at IS NULL",
                           (now_iso(), member_id, invitation_id))
    return cur.rowcount == 1


@dataclass(frozen=True)
class MembershipEvent:
    id: int
    kind: str
    member_id: int
    by_id: int | None
    tier: str | None
    reason: str
    created_at: str


async def record_event(db: aiosqlite.Connection, kind: str, member_id: int, by_id: int | None, tier: str | None,
                       reason: str = "") -> int:
    cur = await db.execute("INSERT INTO membership_events (kind, member_id, by_id, tier, reason, created_at)"
                           " VALUES (?, ?, ?, ?, ?, ?)", (kind, member_id, by_id, tier, reason, now_iso()))
    return cur.lastrowid


async def events(db: aiosqlite.Connection, limit: int = 200) -> list[MembershipEvent]:
    async with db.execute("SELECT id, kind, member_id, by_id, tier, reason, created_at FROM membership_events"
                          " ORDER BY id DESC LIMIT ?", (limit,)) as cur:
        return [MembershipEvent(*row) for row in await cur.fetchall()]
