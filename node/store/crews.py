"""Crews, their members, and requests to join a home crew with each crew member's answer."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from node.db import now_iso


@dataclass(frozen=True)
class Crew:
    id: int
    uuid: str
    name: str
    purpose: str
    rhythm: str
    kind: str
    created_by: int | None
    created_at: str
    closed_at: str | None
    members: tuple[int, ...] = ()


_SELECT = ("SELECT c.id, c.uuid, c.name, c.purpose, c.rhythm, c.kind, c.created_by, c.created_at, c.closed_at,"
           " (SELECT group_concat(actor_id) FROM crew_members m WHERE m.crew_id = c.id) FROM crews c")


def _crew(row) -> Crew | None:
    if row is None:
        return None
    members = tuple(sorted(int(x) for x in row[9].split(","))) if row[9] else ()
    return Crew(*row[:9], members=members)


async def insert(db: aiosqlite.Connection, uuid: str, name: str, purpose: str, rhythm: str, kind: str,
                 created_by: int) -> int:
    cur = await db.execute("INSERT INTO crews (uuid, name, purpose, rhythm, kind, created_by, created_at)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?)", (uuid, name, purpose, rhythm, kind, created_by, now_iso()))
    return cur.lastrowid


async def by_id(db: aiosqlite.Connection, crew_id: int) -> Crew | None:
    async with db.execute(_SELECT + " WHERE c.id = ?", (crew_id,)) as cur:
        return _crew(await cur.fetchone())


async def by_uuid(db: aiosqlite.Connection, uuid: str) -> Crew | None:
    async with db.execute(_SELECT + " WHERE c.uuid = ?", (uuid,)) as cur:
        return _crew(await cur.fetchone())


async def all_open(db: aiosqlite.Connection) -> list[Crew]:
    async with db.execute(_SELECT + " WHERE c.closed_at IS NULL ORDER BY c.name COLLATE NOCASE") as cur:
        return [_crew(row) for row in await cur.fetchall()]


async def of_member(db: aiosqlite.Connection, actor_id: int) -> list[Crew]:
    async with db.execute(_SELECT + " WHERE c.closed_at IS NULL AND c.id IN"
                          " (SELECT crew_id FROM crew_members WHERE actor_id = ?) ORDER BY c.name", (actor_id,)) as cur:
        return [_crew(row) for row in await cur.fetchall()]


async def add_member(db: aiosqlite.Connection, crew_id: int, actor_id: int) -> None:
    await db.execute("INSERT OR IGNORE INTO crew_members (crew_id, actor_id, joined_at) VALUES (?, ?, ?)",
                     (crew_id, actor_id, now_iso()))


async def remove_member(db: aiosqlite.Connection, crew_id: int, actor_id: int) -> None:
    await db.execute("DELETE FROM crew_members WHERE crew_id = ? AND actor_id = ?", (crew_id, actor_id))


async def remove_from_all(db: aiosqlite.Connection, actor_id: int) -> None:
    await db.execute("DELETE FROM crew_members WHERE actor_id = ?", (actor_id,))


async def is_member(db: aiosqlite.Connection, crew_id: int, actor_id: int) -> bool:
    async with db.execute("SELECT 1 FROM crew_members WHERE crew_id = ? AND actor_id = ?", (crew_id, actor_id)) as cur:
        return await cur.fetchone() is not None


@dataclass(frozen=True)
class JoinRequest:
    id: int
    crew_id: int
    actor_id: int
    message: str
    state: str
    created_at: str
    decided_at: str | None
    consents: tuple[int, ...] = ()
    declines: tuple[int, ...] = ()


_REQ = ("SELECT r.id, r.crew_id, r.actor_id, r.message, r.state, r.created_at, r.decided_at,"
        " (SELECT group_concat(member_id) FROM crew_answers a WHERE a.request_id = r.id AND a.answer = 'consent'),"
        " (SELECT group_concat(member_id) FROM crew_answers a WHERE a.request_id = r.id AND a.answer = 'decline')"
        " FROM crew_requests r")


def _ids(text: str | None) -> tuple[int, ...]:
    return tuple(sorted(int(x) for x in text.split(","))) if text else ()


def _request(row) -> JoinRequest | None:
    return JoinRequest(*row[:7], consents=_ids(row[7]), declines=_ids(row[8])) if row else None


async def insert_request(db: aiosqlite.Connection, crew_id: int, actor_id: int, message: str) -> int:
    cur = await db.execute("INSERT INTO crew_requests (crew_id, actor_id, message, state, created_at)"
                           " VALUES (?, ?, ?, 'pending', ?)", (crew_id, actor_id, message, now_iso()))
    return cur.lastrowid


async def request_by_id(db: aiosqlite.Connection, request_id: int) -> JoinRequest | None:
    async with db.execute(_REQ + " WHERE r.id = ?", (request_id,)) as cur:
        return _request(await cur.fetchone())


async def pending_request(db: aiosqlite.Connection, crew_id: int, actor_id: int) -> JoinRequest | None:
    async with db.execute(_REQ + " WHERE r.crew_id = ? AND r.actor_id = ? AND r.state = 'pending'",
                          (crew_id, actor_id)) as cur:
        return _request(await cur.fetchone())


async def pending_requests(db: aiosqlite.Connection, crew_id: int) -> list[JoinRequest]:
    async with db.execute(_REQ + " WHERE r.crew_id = ? AND r.state = 'pending' ORDER BY r.id", (crew_id,)) as cur:
        return [_request(row) for row in await cur.fetchall()]


async def requests_awaiting(db: aiosqlite.Connection, member_id: int) -> list[JoinRequest]:
    """Pending requests to the member's crews that the member has not answered yet."""
    async with db.execute(
        _REQ + " WHERE r.state = 'pending' AND r.crew_id IN (SELECT crew_id FROM crew_members WHERE actor_id = ?)"
        " AND NOT EXISTS (SELECT 1 FROM crew_answers a WHERE a.request_id = r.id AND a.member_id = ?)"
        " ORDER BY r.id", (member_id, member_id)) as cur:
        return [_request(row) for row in await cur.fetchall()]


async def answer(db: aiosqlite.Connection, request_id: int, member_id: int, answer: str, reason: str) -> None:
    await db.execute("INSERT INTO crew_answers (request_id, member_id, answer, reason, created_at)"
                     " VALUES (?, ?, ?, ?, ?) ON CONFLICT (request_id, member_id) DO UPDATE SET"
                     " answer = excluded.answer, reason = excluded.reason, created_at = excluded.created_at",
                     (request_id, member_id, answer, reason, now_iso()))


async def set_request_state(db: aiosqlite.Connection, request_id: int, state: str) -> None:
    await db.execute("UPDATE crew_requests SET state = ?, decided_at = ? WHERE id = ?", (state, now_iso(), request_id))
