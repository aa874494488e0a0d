"""Passwords, browser sessions, password-reset links and avatars of local members."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from node.db import now_iso
from node.store.local_actors import ACTOR_COLUMNS, LocalActor


async def password_hash(db: aiosqlite.Connection, actor_id: int) -> str | None:
    async with db.execute("SELECT password_hash FROM credentials WHERE actor_id = ?", (actor_id,)) as cur:
        row = await cur.fetchone()
    return row[0] if row else None


async def set_password_hash(db: aiosqlite.Connection, actor_id: int, hashed: str) -> None:
    await db.execute(
        "INSERT INTO credentials (actor_id, password_hash, changed_at) VALUES (?, ?, ?)"
        " ON CONFLICT (actor_id) DO UPDATE SET password_hash = excluded.password_hash,"
        " changed_at = excluded.changed_at", (actor_id, hashed, now_iso()))


@dataclass(frozen=True)
class Session:
    token_hash: str
    actor_id: int
    csrf: str
    created_at: str
    seen_at: str
    expires_at: str


async def insert_session(db: aiosqlite.Connection, token_hash: str, actor_id: int, csrf: str,
                         expires_at: str, now: str | None = None) -> None:
    now = now or now_iso()
    await db.execute("INSERT INTO sessions (token_hash, actor_id, csrf, created_at, seen_at, expires_at)"
                     " VALUES (?, ?, ?, ?, ?, ?)", (token_hash, actor_id, csrf, now, now, expires_at))


async def session_with_actor(db: aiosqlite.Connection,
                             token_hash: str) -> tuple[Session, LocalActor | None] | None:
    """A session and its actor (with tier), in one query: every signed-in page asks before anything else."""
    rows = await db.execute_fetchall(
        f"SELECT s.token_hash, s.actor_id, s.csrf, s.created_at, s.seen_at, s.expires_at, {ACTOR_COLUMNS}"
        " FROM sessions s LEFT JOIN local_actors a ON a.id = s.actor_id LEFT JOIN members m ON m.actor_id = a.id"
        " WHERE s.token_hash = ?", (token_hash,))
    if not rows:
        return None
    row = tuple(rows[0])
    return Session(*row[:6]), (LocalActor(*row[6:]) if row[6] is not None else None)


async def touch_session(db: aiosqlite.Connection, token_hash: str, expires_at: str, now: str | None = None) -> None:
    await db.execute("UPDATE sessions SET seen_at = ?, expires_at = ? WHERE token_hash = ?",
                     (now or now_iso(), expires_at, token_hash))


async def delete_session(db: aiosqlite.Connection, token_hash: str) -> None:
    await db.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))


async def delete_sessions_of(db: aiosqlite.Connection, actor_id: int, keep: str | None = None) -> None:
    await db.execute("DELETE FROM sessions WHERE actor_id = ? AND token_hash IS NOT ?", (actor_id, keep))


async def delete_expired_sessions(db: aiosqlite.Connection, now: str) -> None:
    await db.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))


@dataclass(frozen=True)
class PasswordReset:
    token_hash: str
    actor_id: int
    issued_by: int | None
    created_at: str
    expires_at: str
    used_at: str | None


async def insert_reset(db: aiosqlite.Connection, token_hash: str, actor_id: int, issued_by: int | None,
                       expires_at: str) -> None:
    await db.execute("INSERT INTO password_resets (token_hash, actor_id, issued_by, created_at, expires_at)"
                     " VALUES (?, ?, ?, ?, ?)", (token_hash, actor_id, issued_by, now_iso(), expires_at))


async def reset(db: aiosqlite.Connection, token_hash: str) -> PasswordReset | None:
    async with db.execute("SELECT token_hash, actor_id, issued_by, created_at, expires_at, used_at"
                          " FROM password_resets WHERE token_hash = ?", (token_hash,)) as cur:
        row = await cur.fetchone()
    return PasswordReset(*row) if row else None


async def delete_open_resets_of(db: aiosqlite.Connection, actor_id: int) -> None:
    """Void a member's unused reset links (the used ones stay, as the record that a reset happened)."""
    await db.execute("DELETE FROM password_resets WHERE actor_id = ? AND used_at IS NULL", (actor_id,))


async def mark_reset_used(db: aiosqlite.Connection, token_hash: str) -> None:
    await db.execute("UPDATE password_resets SET used_at = ? WHERE token_hash = ?", (now_iso(), token_hash))


async def avatar(db: aiosqlite.Connection, actor_id: int) -> tuple[str, bytes, str] | None:
    """(media type, bytes, updated_at) of a member's avatar, if they set one."""
    async with db.execute("SELECT media_type, data, updated_at FROM avatars WHERE actor_id = ?",
                          (actor_id,)) as cur:
        row = await cur.fetchone()
    return (row[0], bytes(row[1]), row[2]) if row else None


async def set_avatar(db: aiosqlite.Connection, actor_id: int, media_type: str, data: bytes) -> None:
    await db.execute(
        "INSERT INTO avatars (actor_id, media_type, data, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (actor_id)"
        " DO UPDATE SET media_type = excluded.media_type, data = excluded.data, updated_at = excluded.updated_at",
        (actor_id, media_type, data, now_iso()))


async def delete_avatar(db: aiosqlite.Connection, actor_id: int) -> None:
    await db.execute("DELETE FROM avatars WHERE actor_id = ?", (actor_id,))


async def avatar_media_type(db: aiosqlite.Connection, actor_id: int) -> str | None:
    """The avatar's media type without reading its bytes: enough to say the actor has an icon."""
    found = await avatar_meta(db, actor_id)
    return found[0] if found else None


async def avatar_meta(db: aiosqlite.Connection, actor_id: int) -> tuple[str, str] | None:
    """(media type, when it last changed) of a member's avatar, without reading its bytes."""
    async with db.execute("SELECT media_type, updated_at FROM avatars WHERE actor_id = ?", (actor_id,)) as cur:
        row = await cur.fetchone()
    return (row[0], row[1]) if row else None


async def avatar_versions(db: aiosqlite.Connection) -> dict[int, str]:
    """actor id → when its avatar last changed, for every actor with one (to bust browser caches)."""
    async with db.execute("SELECT actor_id, updated_at FROM avatars") as cur:
        return {row[0]: row[1] for row in await cur.fetchall()}
