"""Settings decided by the Congregation (decided_settings): one row per setting, the latest decision's value."""

from __future__ import annotations

import aiosqlite


async def decided(db: aiosqlite.Connection) -> dict[str, str]:
    """Every decided setting, name → value as text."""
    async with db.execute("SELECT name, value FROM decided_settings ORDER BY name") as cur:
        return {name: value for name, value in await cur.fetchall()}


async def put(db: aiosqlite.Connection, name: str, value: str, proposal: str, decided_at: str) -> None:
    """Record (or replace) a decided setting; call inside a transaction."""
    await db.execute("INSERT INTO decided_settings (name, value, proposal, decided_at) VALUES (?, ?, ?, ?)"
                     " ON CONFLICT (name) DO UPDATE SET value = excluded.value, proposal = excluded.proposal,"
                     " decided_at = excluded.decided_at", (name, value, proposal, decided_at))
