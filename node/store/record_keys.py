"""The Ed25519 key an actor signs records with (the Group's decision log: node/governance/records.py)."""

from __future__ import annotations

import aiosqlite

from node.db import now_iso


async def private_pem(db: aiosqlite.Connection, actor_id: int) -> str | None:
    async with db.execute("SELECT private_key_pem FROM record_keys WHERE actor_id = ?", (actor_id,)) as cur:
        row = await cur.fetchone()
    return row[0] if row else None


async def insert(db: aiosqlite.Connection, actor_id: int, private_key_pem: str) -> None:
    await db.execute("INSERT INTO record_keys (actor_id, private_key_pem, created_at) VALUES (?, ?, ?)",
                     (actor_id, private_key_pem, now_iso()))
