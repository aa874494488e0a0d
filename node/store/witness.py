"""What this node witnessed of its siblings' decision logs, and the equivocation proofs it holds (migration 0022)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiosqlite


@dataclass(frozen=True)
class Head:
    group: str
    seq: int
    hash: str
    checked_at: int
    problem: str | None


@dataclass(frozen=True)
class HeldEntry:
    seq: int
    hash: str
    item: dict[str, Any]


@dataclass(frozen=True)
class Equivocation:
    id: int
    digest: str
    group: str
    seq: int
    first: dict[str, Any]
    second: dict[str, Any]
    received_from: str | None
    found_at: int


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


async def head(db: aiosqlite.Connection, group: str) -> Head | None:
    rows = await db.execute_fetchall("SELECT grp, seq, hash, checked_at, problem FROM witnessed_logs WHERE grp = ?",
                                     (group,))
    return Head(*rows[0]) if rows else None


async def heads(db: aiosqlite.Connection) -> list[Head]:
    rows = await db.execute_fetchall("SELECT grp, seq, hash, checked_at, problem FROM witnessed_logs ORDER BY grp")
    return [Head(*r) for r in rows]


async def set_head(db: aiosqlite.Connection, group: str, seq: int, hash_: str, now: int) -> None:
    await db.execute("INSERT INTO witnessed_logs (grp, seq, hash, checked_at, problem) VALUES (?, ?, ?, ?, NULL)"
                     " ON CONFLICT (grp) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,"
                     " checked_at = excluded.checked_at, problem = NULL", (group, seq, hash_, now))


async def set_checked(db: aiosqlite.Connection, group: str, now: int, problem: str | None) -> None:
    """Mark a poll done (with what was wrong, if anything) without moving the head; a log never seen before gets
    a row at seq 0 so that it is not polled again before its time."""
    await db.execute("INSERT INTO witnessed_logs (grp, seq, hash, checked_at, problem) VALUES (?, 0, '', ?, ?)"
                     " ON CONFLICT (grp) DO UPDATE SET checked_at = excluded.checked_at, problem = excluded.problem",
                     (group, now, problem))


async def held(db: aiosqlite.Connection, group: str) -> list[HeldEntry]:
    rows = await db.execute_fetchall("SELECT seq, hash, item FROM witnessed_entries WHERE grp = ? ORDER BY seq",
                                     (group,))
    return [HeldEntry(seq, hash_, json.loads(item)) for seq, hash_, item in rows]


async def held_at(db: aiosqlite.Connection, group: str, seq: int) -> HeldEntry | None:
    rows = await db.execute_fetchall("SELECT seq, hash, item FROM witnessed_entries WHERE grp = ? AND seq = ?",
                                     (group, seq))
    return HeldEntry(rows[0][0], rows[0][1], json.loads(rows[0][2])) if rows else None


async def keep_entries(db: aiosqlite.Connection, group: str, entries: list[tuple[int, str, dict[str, Any]]],
                       now: int, keep_from: int) -> None:
    """Hold these signed entries (never replacing one held at the same seq) and drop those before `keep_from`."""
    await db.executemany("INSERT OR IGNORE INTO witnessed_entries (grp, seq, hash, item, seen_at)"
                         " VALUES (?, ?, ?, ?, ?)", [(group, seq, h, _dumps(item), now) for seq, h, item in entries])
    await db.execute("DELETE FROM witnessed_entries WHERE grp = ? AND seq < ?", (group, keep_from))


async def insert_equivocation(db: aiosqlite.Connection, *, digest: str, group: str, seq: int, first: dict[str, Any],
                              second: dict[str, Any], received_from: str | None, now: int) -> int | None:
    """Keep a proof; None when it is held already."""
    cursor = await db.execute(
        "INSERT OR IGNORE INTO log_equivocations (digest, grp, seq, first, second, received_from, found_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)", (digest, group, seq, _dumps(first), _dumps(second), received_from, now))
    return cursor.lastrowid if cursor.rowcount else None


_EQ = "SELECT id, digest, grp, seq, first, second, received_from, found_at FROM log_equivocations"


def _equivocation(row: Any) -> Equivocation:
    return Equivocation(row[0], row[1], row[2], row[3], json.loads(row[4]), json.loads(row[5]), row[6], row[7])


async def has_equivocation(db: aiosqlite.Connection, digest: str) -> bool:
    return bool(await db.execute_fetchall("SELECT 1 FROM log_equivocations WHERE digest = ?", (digest,)))


async def equivocation(db: aiosqlite.Connection, equivocation_id: int) -> Equivocation | None:
    rows = await db.execute_fetchall(f"{_EQ} WHERE id = ?", (equivocation_id,))
    return _equivocation(rows[0]) if rows else None


async def equivocations(db: aiosqlite.Connection, group: str | None = None, *, since: int = 0,
                        limit: int = 100) -> list[Equivocation]:
    """Proofs held (about one Group, when named), the lowest seq first per Group."""
    where, args = "found_at >= ?", [since]
    if group is not None:
        where += " AND grp = ?"
        args.append(group)
    rows = await db.execute_fetchall(f"{_EQ} WHERE {where} ORDER BY grp, seq, id LIMIT ?", (*args, limit))
    return [_equivocation(r) for r in rows]
