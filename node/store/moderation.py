"""Blocks, mutes and allowlist mode: the Congregation's server blocks, its allowlist and federation mode, and each
member's own mutes and blocks (migration 0017). Hosts are as the connector sees them (IDNA, lowercase, no port)."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from node.db import now_iso
from node.store import inbox

OPEN, ALLOWLIST = "open", "allowlist"


def covers(blocked: str, host: str) -> bool:
    """Whether a block (or allowance) of `blocked` reaches `host`: the host itself and its subdomains."""
    return host == blocked or host.endswith("." + blocked)


def host_in_uri(uri: str) -> str:
    """The host of an http(s) URI as stored here: lowercase, without port or trailing dot ('' when none)."""
    rest = uri.split("//", 1)[1] if "//" in uri else ""
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1].lower()
    if authority.startswith("["):
        return authority[1:].split("]", 1)[0]
    return authority.split(":", 1)[0].rstrip(".")


def canonical_actor(uri: str) -> str:
    """An account's id as a member's mutes and blocks store and compare it: scheme and host lower-cased (ASCII, as
    SQL's lower() does), no trailing slash. `https://EVIL.example/users/x/` is the account muted as
    `https://evil.example/users/x`: its server or a person may write the case of a host as they like."""
    head, sep, rest = uri.partition("//")
    if not sep:
        return uri.rstrip("/")
    authority, slash, path = rest.partition("/")
    return _ascii_lower(head + sep + authority) + (slash + path).rstrip("/")


def _ascii_lower(text: str) -> str:
    return text.translate(_UPPER_TO_LOWER)


_UPPER_TO_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def canonical_actor_sql(column: str) -> str:
    """`canonical_actor` of an SQL column holding an actor id, in SQL."""
    cut = f"instr({column}, '//') + instr(substr({column}, instr({column}, '//') + 2) || '/', '/')"
    return (f"(CASE WHEN instr({column}, '//') = 0 THEN rtrim({column}, '/')"
            f" ELSE lower(substr({column}, 1, {cut})) || rtrim(substr({column}, {cut} + 1), '/') END)")


# The same in SQL, for the author column of remote_objects: 'host[:port]' of the URI, lower-cased; `covered(col)`
# is true when the host is the column's value, a subdomain of it, on any port.
_AUTHORITY = ("lower(substr(substr({0}, instr({0}, '//') + 2), 1,"
              " instr(substr({0}, instr({0}, '//') + 2) || '/', '/') - 1))")


def covered_sql(uri_column: str, host_column: str) -> str:
    """An SQL condition: the host of `uri_column` is covered by the host in `host_column` (see `covers`)."""
    a = _AUTHORITY.format(uri_column)
    return (f"({a} = {host_column} OR {a} GLOB {host_column} || ':*' OR {a} GLOB '*.' || {host_column}"
            f" OR {a} GLOB '*.' || {host_column} || ':*')")


# Congregation


@dataclass(frozen=True)
class ServerBlock:
    host: str
    reason: str
    by_id: int | None
    proposal_id: int | None
    created_at: str


@dataclass(frozen=True)
class Policy:
    """Whom the Congregation federates with: the blocked hosts, the mode, and in allowlist mode the listed hosts."""

    blocked: tuple[str, ...]
    mode: str
    allowed: tuple[str, ...]

    @property
    def open_to_all(self) -> bool:
        return not self.blocked and self.mode == OPEN

    def blocks(self, host: str) -> bool:
        return any(covers(b, host) for b in self.blocked)

    def lists(self, host: str) -> bool:
        return any(covers(a, host) for a in self.allowed)


async def policy(db: aiosqlite.Connection) -> Policy:
    """The blocked hosts, the mode and (in allowlist mode) the allowed hosts, in one query."""
    [row] = await db.execute_fetchall(
        "SELECT (SELECT group_concat(host, ' ') FROM server_blocks), (SELECT mode FROM federation_mode WHERE id = 1),"
        " (SELECT group_concat(host, ' ') FROM allowed_servers"
        "  WHERE EXISTS (SELECT 1 FROM federation_mode WHERE id = 1 AND mode = 'allowlist'))")
    return Policy(tuple((row[0] or "").split()), row[1] or OPEN, tuple((row[2] or "").split()))


async def server_blocks(db: aiosqlite.Connection) -> list[ServerBlock]:
    async with db.execute("SELECT host, reason, by_id, proposal_id, created_at FROM server_blocks"
                          " ORDER BY host") as cur:
        return [ServerBlock(*row) for row in await cur.fetchall()]


async def server_block(db: aiosqlite.Connection, host: str) -> ServerBlock | None:
    async with db.execute("SELECT host, reason, by_id, proposal_id, created_at FROM server_blocks WHERE host = ?",
                          (host,)) as cur:
        row = await cur.fetchone()
    return ServerBlock(*row) if row else None


async def block_server(db: aiosqlite.Connection, host: str, reason: str, by_id: int | None,
                       proposal_id: int | None = None) -> bool:
    """Add the block; False when the host was already blocked."""
    cur = await db.execute("INSERT OR IGNORE INTO server_blocks (host, reason, by_id, proposal_id, created_at)"
                           " VALUES (?, ?, ?, ?, ?)", (host, reason, by_id, proposal_id, now_iso()))
    return cur.rowcount == 1


async def unblock_server(db: aiosqlite.Connection, host: str) -> bool:
    cur = await db.execute("DELETE FROM server_blocks WHERE host = ?", (host,))
    return cur.rowcount == 1


async def allowed_servers(db: aiosqlite.Connection) -> list[tuple[str, int | None, str]]:
    async with db.execute("SELECT host, by_id, created_at FROM allowed_servers ORDER BY host") as cur:
        return [tuple(row) for row in await cur.fetchall()]


async def allow_server(db: aiosqlite.Connection, host: str, by_id: int | None) -> bool:
    cur = await db.execute("INSERT OR IGNORE INTO allowed_servers (host, by_id, created_at) VALUES (?, ?, ?)",
                           (host, by_id, now_iso()))
    return cur.rowcount == 1


async def disallow_server(db: aiosqlite.Connection, host: str) -> bool:
    cur = await db.execute("DELETE FROM allowed_servers WHERE host = ?", (host,))
    return cur.rowcount == 1


async def mode(db: aiosqlite.Connection) -> str:
    async with db.execute("SELECT mode FROM federation_mode WHERE id = 1") as cur:
        row = await cur.fetchone()
    return row[0] if row else OPEN


async def set_mode(db: aiosqlite.Connection, value: str, proposal_id: int | None) -> None:
    await db.execute("INSERT INTO federation_mode (id, mode, proposal_id, changed_at) VALUES (1, ?, ?, ?)"
                     " ON CONFLICT (id) DO UPDATE SET mode = excluded.mode, proposal_id = excluded.proposal_id,"
                     " changed_at = excluded.changed_at", (value, proposal_id, now_iso()))


async def drop_deliveries(db: aiosqlite.Connection, refused, why: str) -> int:
    """Queued deliveries to hosts `refused(host)` says no to are failed with `why`: never sent."""
    async with db.execute("SELECT DISTINCT host FROM deliveries WHERE state = 'queued'") as cur:
        hosts = [row[0] for row in await cur.fetchall()]
    dropped = [h for h in hosts if refused(host_in_uri("//" + h))]
    if not dropped:
        return 0
    cur = await db.execute(
        f"UPDATE deliveries SET state = 'failed', last_error = ?, lease_until = 0, updated_at = ?"
        f" WHERE state = 'queued' AND host IN ({', '.join('?' * len(dropped))})", (why, now_iso(), *dropped))
    return cur.rowcount


async def drop_unprocessed(db: aiosqlite.Connection, refused, why: str) -> int:
    """Inbox rows not yet processed from actors on hosts `refused(host)` says no to: closed with `why`, unread."""
    async with db.execute("SELECT id, actor FROM inbox WHERE processed_at IS NULL") as cur:
        ids = [row[0] for row in await cur.fetchall() if refused(host_in_uri(row[1]))]
    if ids:
        await inbox.mark_processed(db, [(i, why) for i in ids])  # the body goes, as for every processed row
    return len(ids)


async def follows_on(db: aiosqlite.Connection, host: str, local_prefix: str) -> list[tuple[int, str, str, str]]:
    """(id, follower, followee, state) of every follow between an actor here and one on `host` (or a subdomain)."""
    prefix = local_prefix.lower()
    async with db.execute(
            "SELECT id, follower, followee, state FROM follows WHERE"
            f" (lower(substr(followee, 1, length(?))) = ? AND {covered_sql('follower', '?')})"
            f" OR (lower(substr(follower, 1, length(?))) = ? AND {covered_sql('followee', '?')})",
            (prefix, prefix, *[host] * 4, prefix, prefix, *[host] * 4)) as cur:
        return [tuple(row) for row in await cur.fetchall()]


async def hide_notes_from(db: aiosqlite.Connection, host: str) -> int:
    """Tombstone the stored notes of authors on `host` (or a subdomain), as Mastodon removes a suspended server's."""
    cur = await db.execute(f"UPDATE remote_objects SET deleted_at = ? WHERE deleted_at IS NULL AND"
                           f" {covered_sql('author', '?')}", (now_iso(), *[host] * 4))
    return cur.rowcount


async def delete_follows(db: aiosqlite.Connection, ids: list[int]) -> None:
    await db.executemany("DELETE FROM follows WHERE id = ?", [(i,) for i in ids])


# A member's own


@dataclass(frozen=True)
class MemberFilter:
    target_kind: str  # account | server
    target: str
    kind: str  # mute | block
    created_at: str


async def set_filter(db: aiosqlite.Connection, member_id: int, target_kind: str, target: str, kind: str) -> None:
    """Mute or block; a block replaces a mute of the same target and the reverse."""
    await db.execute("INSERT INTO member_filters (member_id, target_kind, target, kind, created_at)"
                     " VALUES (?, ?, ?, ?, ?) ON CONFLICT (member_id, target_kind, target) DO UPDATE"
                     " SET kind = excluded.kind, created_at = excluded.created_at",
                     (member_id, target_kind, target, kind, now_iso()))


async def remove_filter(db: aiosqlite.Connection, member_id: int, target_kind: str, target: str) -> bool:
    cur = await db.execute("DELETE FROM member_filters WHERE member_id = ? AND target_kind = ? AND target = ?",
                           (member_id, target_kind, target))
    return cur.rowcount == 1


async def filters_of(db: aiosqlite.Connection, member_id: int) -> list[MemberFilter]:
    async with db.execute("SELECT target_kind, target, kind, created_at FROM member_filters WHERE member_id = ?"
                          " ORDER BY target_kind, target", (member_id,)) as cur:
        return [MemberFilter(*row) for row in await cur.fetchall()]


async def count_filters(db: aiosqlite.Connection, member_id: int) -> int:
    async with db.execute("SELECT COUNT(*) FROM member_filters WHERE member_id = ?", (member_id,)) as cur:
        return (await cur.fetchone())[0]


async def blocks_actor(db: aiosqlite.Connection, member_id: int, actor_uri: str) -> bool:
    """Whether the member blocks this account (however the case of its host or a trailing slash is written), or
    its server."""
    host, account = host_in_uri(actor_uri), canonical_actor(actor_uri)
    for found in await filters_of(db, member_id):
        if found.kind != "block":
            continue
        if (found.target_kind == "account" and canonical_actor(found.target) == account) or \
                (found.target_kind == "server" and covers(found.target, host)):
            return True
    return False


# For the home timeline: a remote note is hidden from a member who mutes or blocks its author (both read as
# `canonical_actor`: the case of the host and a trailing slash do not matter) or the author's server (two GLOBs per
# server filter of that member). Bound twice to the member's id. Notes from a server the Congregation blocks are
# tombstoned when the block comes (`hide_notes_from`).
HIDDEN_FROM_MEMBER = (
    f"{canonical_actor_sql('author')} NOT IN (SELECT {canonical_actor_sql('target')} FROM member_filters"
    " WHERE member_id = ? AND target_kind = 'account')"
    " AND NOT EXISTS (SELECT 1 FROM member_filters f WHERE f.member_id = ? AND f.target_kind = 'server'"
    " AND (lower(author) GLOB 'http*://' || f.target || '[:/]*'"
    " OR lower(author) GLOB 'http*://*.' || f.target || '[:/]*'))")
