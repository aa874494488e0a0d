"""Cached remote actors and their public keys."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from node.db import now_iso


@dataclass(frozen=True)
class RemoteActor:
    uri: str
    kind: str
    username: str | None
    host: str
    inbox: str
    shared_inbox: str | None
    display_name: str | None
    fetched_at: str
    deleted_at: str | None


# The largest actor document kept: real ones are a few kB (Misskey's with many emoji, tens); what a stranger's
# server answers beyond this is refused, not stored (issue 12: the disk filled with actor documents).
MAX_DOCUMENT_BYTES = 256 * 1024


class DocumentTooLarge(ValueError):
    """An actor document over MAX_DOCUMENT_BYTES: refused, nothing stored."""


_COLUMNS = "uri, kind, username, host, inbox, shared_inbox, display_name, fetched_at, deleted_at"


async def upsert_actor(db: aiosqlite.Connection, actor: RemoteActor, document: str) -> None:
    """Cache the actor and its document; DocumentTooLarge (nothing stored) past MAX_DOCUMENT_BYTES."""
    if len(document.encode()) > MAX_DOCUMENT_BYTES:
        raise DocumentTooLarge(f"the document of {actor.uri} is over {MAX_DOCUMENT_BYTES // 1024} KiB")
    await db.execute(
        "INSERT INTO remote_actors (uri, kind, username, host, inbox, shared_inbox, display_name, document,"
        " fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (uri) DO UPDATE SET kind = excluded.kind,"
        " username = excluded.username, host = excluded.host, inbox = excluded.inbox,"
        " shared_inbox = excluded.shared_inbox, display_name = excluded.display_name,"
        " document = excluded.document, fetched_at = excluded.fetched_at WHERE remote_actors.deleted_at IS NULL",
        (actor.uri, actor.kind, actor.username, actor.host, actor.inbox, actor.shared_inbox,
         actor.display_name, document, actor.fetched_at),
    )


async def actor(db: aiosqlite.Connection, uri: str) -> RemoteActor | None:
    async with db.execute(f"SELECT {_COLUMNS} FROM remote_actors WHERE uri = ?", (uri,)) as cur:
        row = await cur.fetchone()
    return RemoteActor(*row) if row else None


async def tombstone_actor(db: aiosqlite.Connection, uri: str) -> None:
    await db.execute(
        "INSERT INTO remote_actors (uri, kind, host, inbox, document, fetched_at, deleted_at)"
        " VALUES (?, 'Tombstone', '', '', '{}', ?, ?) ON CONFLICT (uri) DO UPDATE SET"
        " deleted_at = excluded.deleted_at, document = '{}', display_name = NULL",
        (uri, now_iso(), now_iso()),
    )


async def upsert_key(db: aiosqlite.Connection, key_id: str, owner: str, public_key_pem: str) -> bool:
    """Cache the key; False (nothing changed) when the id is cached for another owner, whose key it stays."""
    async with db.execute(
        "INSERT INTO remote_keys (key_id, owner, public_key_pem, fetched_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (key_id) DO UPDATE SET public_key_pem = excluded.public_key_pem,"
        " fetched_at = excluded.fetched_at WHERE remote_keys.owner = excluded.owner",
        (key_id, owner, public_key_pem, now_iso()),
    ) as cur:
        return cur.rowcount > 0


async def key(db: aiosqlite.Connection, key_id: str) -> tuple[str, str] | None:
    """(owner, public_key_pem) for a cached key."""
    async with db.execute("SELECT owner, public_key_pem FROM remote_keys WHERE key_id = ?", (key_id,)) as cur:
        row = await cur.fetchone()
    return (row[0], row[1]) if row else None


async def delete_keys_of(db: aiosqlite.Connection, owner: str) -> None:
    await db.execute("DELETE FROM remote_keys WHERE owner = ?", (owner,))


async def host_known(db: aiosqlite.Connection, host: str) -> bool:
    """Whether we hold a live actor on `host` (host[:port], lower-cased): one whose signature verified, that we
    follow or that follows us, or that a verified activity named."""
    async with db.execute("SELECT 1 FROM remote_actors WHERE host = ? AND deleted_at IS NULL LIMIT 1",
                          (host,)) as cur:
        return await cur.fetchone() is not None
