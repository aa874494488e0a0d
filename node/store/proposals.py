"""Proposals, the stances cast on them, and the decision log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiosqlite

from node.db import now_iso


@dataclass(frozen=True)
class Proposal:
    id: int
    uuid: str
    kind: str
    scope: str
    crew_id: int | None
    author_id: int
    title: str
    details: str
    options: tuple[str, ...]
    multiple: bool
    closes_at: str
    quorum_percent: int
    hide_results: bool
    action: str | None
    action_args: dict[str, Any] | None
    state: str
    eligible: int | None
    created_at: str
    closed_at: str | None
    outcome: str
    outcome_by: int | None
    enacted_at: str | None
    enact_error: str | None

    @property
    def is_open(self) -> bool:
        return self.state == "open"


_COLUMNS = ("id, uuid, kind, scope, crew_id, author_id, title, details, options, multiple, closes_at, quorum_percent,"
            " hide_results, action, action_args, state, eligible, created_at, closed_at, outcome, outcome_by,"
            " enacted_at, enact_error")
_SELECT = f"SELECT {_COLUMNS} FROM proposals"


def _proposal(row) -> Proposal | None:
    if row is None:
        return None
    values = list(row)
    values[8] = tuple(json.loads(values[8]))
    values[9], values[12] = bool(values[9]), bool(values[12])
    values[14] = json.loads(values[14]) if values[14] else None
    return Proposal(*values)


async def insert(db: aiosqlite.Connection, *, uuid: str, kind: str, scope: str, crew_id: int | None, author_id: int,
                 title: str, details: str, options: tuple[str, ...], multiple: bool, closes_at: str,
                 quorum_percent: int, hide_results: bool, action: str | None,
                 action_args: dict[str, Any] | None) -> int:
    cur = await db.execute(
        "INSERT INTO proposals (uuid, kind, scope, crew_id, author_id, title, details, options, multiple, closes_at,"
        " quorum_percent, hide_results, action, action_args, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (uuid, kind, scope, crew_id, author_id, title, details, json.dumps(list(options)), int(multiple), closes_at,
         quorum_percent, int(hide_results), action, json.dumps(action_args) if action_args is not None else None,
         now_iso()))
    return cur.lastrowid


async def by_id(db: aiosqlite.Connection, proposal_id: int) -> Proposal | None:
    async with db.execute(_SELECT + " WHERE id = ?", (proposal_id,)) as cur:
        return _proposal(await cur.fetchone())


async def by_uuid(db: aiosqlite.Connection, uuid: str) -> Proposal | None:
    async with db.execute(_SELECT + " WHERE uuid = ?", (uuid,)) as cur:
        return _proposal(await cur.fetchone())


async def due(db: aiosqlite.Connection, now: str) -> list[Proposal]:
    async with db.execute(_SELECT + " WHERE state = 'open' AND closes_at <= ? ORDER BY closes_at, id", (now,)) as cur:
        return [_proposal(row) for row in await cur.fetchall()]


async def next_closing(db: aiosqlite.Connection) -> str | None:
    async with db.execute("SELECT MIN(closes_at) FROM proposals WHERE state = 'open'") as cur:
        return (await cur.fetchone())[0]


async def recent(db: aiosqlite.Connection, limit: int = 100) -> list[Proposal]:
    async with db.execute(_SELECT + " ORDER BY (state = 'open') DESC, closes_at DESC, id DESC LIMIT ?",
                          (limit,)) as cur:
        return [_proposal(row) for row in await cur.fetchall()]


async def set_closed(db: aiosqlite.Connection, proposal_id: int, state: str, eligible: int, closed_at: str) -> None:
    await db.execute("UPDATE proposals SET state = ?, eligible = ?, closed_at = ? WHERE id = ? AND state = 'open'",
                     (state, eligible, closed_at, proposal_id))


async def set_state(db: aiosqlite.Connection, proposal_id: int, state: str) -> None:
    await db.execute("UPDATE proposals SET state = ? WHERE id = ?", (state, proposal_id))


async def set_enacted(db: aiosqlite.Connection, proposal_id: int, error: str | None) -> None:
    if error is None:
        await db.execute("UPDATE proposals SET state = 'enacted', enacted_at = ?, enact_error = NULL WHERE id = ?",
                         (now_iso(), proposal_id))
    else:
        await db.execute("UPDATE proposals SET enact_error = ? WHERE id = ?", (error, proposal_id))


async def set_outcome(db: aiosqlite.Connection, proposal_id: int, outcome: str, by: int) -> None:
    await db.execute("UPDATE proposals SET outcome = ?, outcome_by = ? WHERE id = ?", (outcome, by, proposal_id))


@dataclass(frozen=True)
class StanceRow:
    id: int
    voter: str
    choices: tuple[str, ...]
    reason: str
    cast_at: str


async def insert_stance(db: aiosqlite.Connection, proposal_id: int, voter: str, choices: tuple[str, ...], reason: str,
                        cast_at: str, activity_id: str | None) -> int | None:
    """None when this remote vote's activity was already counted (a redelivery)."""
    cur = await db.execute(
        "INSERT INTO stances (proposal_id, voter, choices, reason, cast_at, activity_id) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (activity_id) DO NOTHING",
        (proposal_id, voter, json.dumps(list(choices)), reason, cast_at, activity_id))
    return cur.lastrowid if cur.rowcount == 1 else None


async def stances(db: aiosqlite.Connection, proposal_id: int) -> list[StanceRow]:
    async with db.execute("SELECT id, voter, choices, reason, cast_at FROM stances WHERE proposal_id = ? ORDER BY id",
                          (proposal_id,)) as cur:
        return [StanceRow(r[0], r[1], tuple(json.loads(r[2])), r[3], r[4]) for r in await cur.fetchall()]


@dataclass(frozen=True)
class LogEntry:
    seq: int
    proposal_uuid: str
    entry: str
    hash: str
    signature: str
    created_at: str
    version: int = 1


async def last_entry(db: aiosqlite.Connection) -> LogEntry | None:
    async with db.execute("SELECT seq, proposal_uuid, entry, hash, signature, created_at, version"
                          " FROM decision_log ORDER BY seq DESC LIMIT 1") as cur:
        row = await cur.fetchone()
    return LogEntry(*row) if row else None


async def append_entry(db: aiosqlite.Connection, seq: int, proposal_uuid: str, entry: str, digest: str,
                       signature: str, version: int) -> None:
    await db.execute("INSERT INTO decision_log (seq, proposal_uuid, entry, hash, signature, created_at, version)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?)", (seq, proposal_uuid, entry, digest, signature, now_iso(),
                                                       version))


async def entries(db: aiosqlite.Connection, after: int = 0, limit: int = 100) -> list[LogEntry]:
    async with db.execute("SELECT seq, proposal_uuid, entry, hash, signature, created_at, version"
                          " FROM decision_log WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)) as cur:
        return [LogEntry(*row) for row in await cur.fetchall()]


async def count_entries(db: aiosqlite.Connection) -> int:
    async with db.execute("SELECT COUNT(*) FROM decision_log") as cur:
        return (await cur.fetchone())[0]


def _question_key(proposal_id: int) -> str:
    return f"question_update:{proposal_id}"


async def question_updated_at(db: aiosqlite.Connection, proposal_id: int) -> float | None:
    """When (by the node's clock) the last Update(Question) of a proposal's counts went out."""
    async with db.execute("SELECT value FROM node_state WHERE key = ?", (_question_key(proposal_id),)) as cur:
        row = await cur.fetchone()
    return float(row[0]) if row else None


async def set_question_updated_at(db: aiosqlite.Connection, proposal_id: int, when: float | None) -> None:
    """Remember when the counts last went out; None forgets it (the proposal closed: nothing more to throttle)."""
    if when is None:
        await db.execute("DELETE FROM node_state WHERE key = ?", (_question_key(proposal_id),))
        return
    await db.execute("INSERT INTO node_state (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key)"
                     " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                     (_question_key(proposal_id), repr(when), now_iso()))
