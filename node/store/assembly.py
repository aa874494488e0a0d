"""Assembly proposals this node holds and the Congregations' stances on them (migration 0021)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiosqlite


@dataclass(frozen=True)
class AssemblyProposal:
    id: int
    uri: str
    tabled_by: str
    title: str
    kind: str
    closes_at: int
    final_at: int
    rules: dict[str, Any]
    roster: tuple[tuple[str, str], ...]
    document: dict[str, Any]
    digest: str
    state: str
    withdrawal: dict[str, Any] | None
    tabling_proposal_id: int | None
    local_proposal_id: int | None
    stance_digest: str | None
    result: dict[str, Any] | None
    logged_seq: int | None
    pulled_at: int | None
    received_from: str | None
    received_at: int


@dataclass(frozen=True)
class StanceRow:
    id: int
    proposal_id: int
    group: str
    digest: str
    choice: str
    members: int
    created: int
    received_at: int
    reasons: str
    document: dict[str, Any]
    received_from: str | None


_COLUMNS = ("id, uri, tabled_by, title, kind, closes_at, final_at, rules, roster, document, digest, state, withdrawal,"
            " tabling_proposal_id, local_proposal_id, stance_digest, result, logged_seq, pulled_at, received_from,"
            " received_at")
_SELECT = f"SELECT {_COLUMNS} FROM assembly_proposals"
_STANCE_COLUMNS = ("id, proposal_id, grp, digest, choice, members, created, received_at, reasons, document,"
                   " received_from")


def _proposal(row: Any) -> AssemblyProposal | None:
    if row is None:
        return None
    values = list(row)
    values[7] = json.loads(values[7])
    values[8] = tuple(tuple(pair) for pair in json.loads(values[8]))
    values[9] = json.loads(values[9])
    values[12] = json.loads(values[12]) if values[12] else None
    values[16] = json.loads(values[16]) if values[16] else None
    return AssemblyProposal(*values)


def _stance(row: Any) -> StanceRow:
    values = list(row)
    values[9] = json.loads(values[9])
    return StanceRow(*values)


async def insert_proposal(db: aiosqlite.Connection, *, uri: str, tabled_by: str, title: str, kind: str,
                          closes_at: int, final_at: int, rules: dict[str, Any], roster: list[tuple[str, str]],
                          document: dict[str, Any], digest: str, received_from: str | None, received_at: int,
                          tabling_proposal_id: int | None = None) -> int | None:
    """The new row's id, or None when a proposal with this id is held already (the first verified copy stays)."""
    cur = await db.execute(
        "INSERT OR IGNORE INTO assembly_proposals (uri, tabled_by, title, kind, closes_at, final_at, rules, roster,"
        " document, digest, received_from, received_at, tabling_proposal_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (uri, tabled_by, title, kind, closes_at, final_at, json.dumps(rules), json.dumps(roster),
         json.dumps(document, ensure_ascii=False), digest, received_from, received_at, tabling_proposal_id))
    return cur.lastrowid if cur.rowcount else None


async def by_uri(db: aiosqlite.Connection, uri: str) -> AssemblyProposal | None:
    async with db.execute(_SELECT + " WHERE uri = ?", (uri,)) as cur:
        return _proposal(await cur.fetchone())


async def by_digest(db: aiosqlite.Connection, digest: str) -> AssemblyProposal | None:
    async with db.execute(_SELECT + " WHERE digest = ?", (digest,)) as cur:
        return _proposal(await cur.fetchone())


async def by_token(db: aiosqlite.Connection, token: str) -> AssemblyProposal | None:
    """The one proposal whose id ends in /TOKEN (None when none, or several, do); TOKEN is [A-Za-z0-9_-]."""
    async with db.execute(_SELECT + " WHERE substr(uri, -length(?) - 1) = '/' || ? LIMIT 2", (token, token)) as cur:
        rows = await cur.fetchall()
    return _proposal(rows[0]) if len(rows) == 1 else None


async def by_id(db: aiosqlite.Connection, proposal_id: int) -> AssemblyProposal | None:
    async with db.execute(_SELECT + " WHERE id = ?", (proposal_id,)) as cur:
        return _proposal(await cur.fetchone())


async def by_local_proposal(db: aiosqlite.Connection, local_proposal_id: int) -> AssemblyProposal | None:
    async with db.execute(_SELECT + " WHERE local_proposal_id = ?", (local_proposal_id,)) as cur:
        return _proposal(await cur.fetchone())


async def by_tabling_proposal(db: aiosqlite.Connection, tabling_proposal_id: int) -> AssemblyProposal | None:
    async with db.execute(_SELECT + " WHERE tabling_proposal_id = ?", (tabling_proposal_id,)) as cur:
        return _proposal(await cur.fetchone())


async def listed(db: aiosqlite.Connection, *, limit: int = 50, before_id: int | None = None
                 ) -> list[AssemblyProposal]:
    """Newest first, a page at a time."""
    sql, args = _SELECT, []
    if before_id is not None:
        sql, args = sql + " WHERE id < ?", [before_id]
    async with db.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)) as cur:
        return [p for p in map(_proposal, await cur.fetchall()) if p is not None]


async def unfinished(db: aiosqlite.Connection) -> list[AssemblyProposal]:
    """Proposals with no final result yet, soonest first."""
    async with db.execute(_SELECT + " WHERE result IS NULL ORDER BY final_at, id") as cur:
        return [p for p in map(_proposal, await cur.fetchall()) if p is not None]


async def set_local_proposal(db: aiosqlite.Connection, proposal_id: int, local_proposal_id: int) -> None:
    await db.execute("UPDATE assembly_proposals SET local_proposal_id = ? WHERE id = ?",
                     (local_proposal_id, proposal_id))


async def set_stance_digest(db: aiosqlite.Connection, proposal_id: int, digest: str) -> None:
    await db.execute("UPDATE assembly_proposals SET stance_digest = ? WHERE id = ? AND stance_digest IS NULL",
                     (digest, proposal_id))


async def set_result(db: aiosqlite.Connection, proposal_id: int, result: dict[str, Any], logged_seq: int | None
                     ) -> None:
    await db.execute("UPDATE assembly_proposals SET result = ?, logged_seq = ? WHERE id = ? AND result IS NULL",
                     (json.dumps(result), logged_seq, proposal_id))


async def set_withdrawn(db: aiosqlite.Connection, proposal_id: int, withdrawal: dict[str, Any]) -> bool:
    cur = await db.execute("UPDATE assembly_proposals SET state = 'withdrawn', withdrawal = ? WHERE id = ?"
                           " AND state = 'open'", (json.dumps(withdrawal, ensure_ascii=False), proposal_id))
    return cur.rowcount > 0


async def set_pulled(db: aiosqlite.Connection, proposal_id: int, when: int) -> None:
    await db.execute("UPDATE assembly_proposals SET pulled_at = ? WHERE id = ?", (when, proposal_id))


async def insert_stance(db: aiosqlite.Connection, proposal_id: int, *, group: str, digest: str, choice: str,
                        members: int, created: int, received_at: int, reasons: str, document: dict[str, Any],
                        received_from: str | None) -> bool:
    """True when this (proposal, Group, digest) is new; a copy of a stance held already changes nothing."""
    cur = await db.execute(
        "INSERT OR IGNORE INTO assembly_stances (proposal_id, grp, digest, choice, members, created, received_at,"
        " reasons, document, received_from) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (proposal_id, group, digest, choice, members, created, received_at, reasons,
         json.dumps(document, ensure_ascii=False), received_from))
    return cur.rowcount > 0


async def stances(db: aiosqlite.Connection, proposal_id: int, *, after_id: int = 0, limit: int | None = None
                  ) -> list[StanceRow]:
    sql = f"SELECT {_STANCE_COLUMNS} FROM assembly_stances WHERE proposal_id = ? AND id > ? ORDER BY id"
    args: tuple[Any, ...] = (proposal_id, after_id)
    if limit is not None:
        sql, args = sql + " LIMIT ?", (*args, limit)
    async with db.execute(sql, args) as cur:
        return [_stance(row) for row in await cur.fetchall()]


async def versions(db: aiosqlite.Connection, proposal_id: int, group: str, except_digest: str) -> int:
    """How many different stances by `group` on this proposal are held, other than `except_digest`."""
    rows = await db.execute_fetchall("SELECT COUNT(*) FROM assembly_stances WHERE proposal_id = ? AND grp = ?"
                                     " AND digest != ?", (proposal_id, group, except_digest))
    return int(rows[0][0])


async def unfinished_from(db: aiosqlite.Connection, tabled_by: str) -> int:
    rows = await db.execute_fetchall("SELECT COUNT(*) FROM assembly_proposals WHERE tabled_by = ? AND result IS NULL",
                                     (tabled_by,))
    return int(rows[0][0])


async def stance_by_uri(db: aiosqlite.Connection, uri: str) -> StanceRow | None:
    """One of our own stances by its id (ours have no received_from)."""
    async with db.execute(f"SELECT {_STANCE_COLUMNS} FROM assembly_stances WHERE received_from IS NULL"
                          " AND json_extract(document, '$.id') = ? LIMIT 1", (uri,)) as cur:
        row = await cur.fetchone()
    return _stance(row) if row else None


async def stance_count(db: aiosqlite.Connection, proposal_id: int) -> int:
    async with db.execute("SELECT COUNT(*) FROM assembly_stances WHERE proposal_id = ?", (proposal_id,)) as cur:
        return int((await cur.fetchone())[0])


async def save_attestation(db: aiosqlite.Connection, group: str, document: dict[str, Any], when: int) -> None:
    await db.execute("INSERT INTO sibling_attestations (grp, document, fetched_at) VALUES (?, ?, ?)"
                     " ON CONFLICT (grp) DO UPDATE SET document = excluded.document, fetched_at = excluded.fetched_at",
                     (group, json.dumps(document, ensure_ascii=False), when))


async def attestations(db: aiosqlite.Connection) -> dict[str, tuple[dict[str, Any], int]]:
    """Group → (its attestation as verified, when fetched)."""
    rows = await db.execute_fetchall("SELECT grp, document, fetched_at FROM sibling_attestations")
    return {group: (json.loads(document), when) for group, document, when in rows}


async def forget_attestations_except(db: aiosqlite.Connection, keep: set[str]) -> None:
    for group in set(await attestations(db)) - keep:
        await db.execute("DELETE FROM sibling_attestations WHERE grp = ?", (group,))
