"""Timelines: this node's posts and public notes from elsewhere, newest first, one query per page."""

from __future__ import annotations

import re
from dataclasses import dataclass

import aiosqlite

from node.db import read_all
from node.store.moderation import HIDDEN_FROM_MEMBER

LOCAL, REMOTE = "p", "r"
# Sorts after every stored time ("2026-…"), so the first page needs no special query.
_TOP = ("9999", 2**62)
_CURSOR_RE = re.compile(r"(\d{4}-\d\d-\d\dT[0-9:.]{1,20}Z?)~([pr])(\d{1,18})", re.ASCII)


class BadCursor(ValueError):
    """A `before=` value that this module did not write."""


@dataclass(frozen=True)
class Cursor:
    """A position in a merged timeline: the sort time, which table, and the row, for ties."""

    at: str
    kind: str
    rid: int

    def encode(self) -> str:
        return f"{self.at}~{self.kind}{self.rid}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        """None for no cursor (the newest page); BadCursor for anything malformed."""
        if not text:
            return None
        match = _CURSOR_RE.fullmatch(text)
        if match is None:
            raise BadCursor(text)
        return cls(match.group(1), match.group(2), int(match.group(3)))

    def bound(self, kind: str) -> tuple[str, int]:
        """(time, row) such that `(time, row) < bound` selects this table's rows after the cursor.

        The merged order is (time, kind, row) descending, with a remote row before a local one at the same
        time; so at an equal time every local row follows a remote cursor, and no remote row follows a local one.
        """
        if kind == self.kind:
            return self.at, self.rid
        return (self.at, _TOP[1]) if kind == LOCAL else (self.at, 0)


@dataclass(frozen=True)
class Entry:
    """One timeline row: a local post (`author_id`, `ref` = uuid) or a remote note (`author_uri`, `ref` = uri)."""

    kind: str
    rid: int
    at: str
    ref: str
    author_id: int | None
    author_uri: str | None
    visibility: str
    content: str
    name: str | None
    published: str | None
    updated: str | None
    audience: str | None
    crew_id: int | None = None

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.at, self.kind, self.rid)


_LOCAL = ("SELECT 'p' AS kind, id AS rid, published AS at, uuid AS ref, author_id, NULL AS author_uri, visibility,"
          " content, NULL AS name, published, updated, NULL AS audience, crew_id FROM posts")
_REMOTE = ("SELECT 'r', rowid, received_at, uri, NULL, author, 'public', content, name, published, updated, audience,"
           " NULL FROM remote_objects")
# A crew post is on the home timeline of its crew's members only.
_CREW_VISIBLE = ("(visibility != 'crew' OR crew_id IN (SELECT crew_id FROM crew_members WHERE actor_id = ?))")


def _bounds(before: Cursor | None, kind: str) -> tuple[str, int]:
    return _TOP if before is None else before.bound(kind)


async def _entries(db: aiosqlite.Connection, sql: str, args: tuple) -> list[Entry]:
    # One trip to the database thread instead of three (execute, fetch, close): pages are read on every request.
    return [Entry(*row) for row in await db.execute_fetchall(sql, args)]


async def home(db: aiosqlite.Connection, viewer_id: int, limit: int, before: Cursor | None = None) -> list[Entry]:
    """A member's timeline: this node's posts (crew posts of their crews only) and public notes from elsewhere, but
    none by an account or server the member mutes or blocks."""
    # Each side is limited on its own index first; the outer sort then merges at most 2 × limit rows.
    sql = (f"SELECT * FROM ({_LOCAL} WHERE deleted_at IS NULL AND {_CREW_VISIBLE} AND (published, id) < (?, ?)"
           " ORDER BY published DESC, id DESC LIMIT ?)"
           f" UNION ALL SELECT * FROM ({_REMOTE} WHERE deleted_at IS NULL AND public = 1"
           f" AND (received_at, rowid) < (?, ?) AND {HIDDEN_FROM_MEMBER}"
           " ORDER BY received_at DESC, rowid DESC LIMIT ?)"
           " ORDER BY at DESC, kind DESC, rid DESC LIMIT ?")
    return await _entries(db, sql, (viewer_id, *_bounds(before, LOCAL), limit, *_bounds(before, REMOTE), viewer_id,
                                    viewer_id, limit, limit))


async def by_crew(db: aiosqlite.Connection, crew_id: int, limit: int, before: Cursor | None = None) -> list[Entry]:
    """A crew's own posts, newest first: the crew's page, for its members."""
    sql = (f"{_LOCAL} WHERE crew_id = ? AND deleted_at IS NULL AND (published, id) < (?, ?)"
           " ORDER BY published DESC, id DESC LIMIT ?")
    return await _entries(db, sql, (crew_id, *_bounds(before, LOCAL), limit))


async def public_posts(db: aiosqlite.Connection, limit: int, before: Cursor | None = None) -> list[Entry]:
    """This node's public posts, newest first: the Congregation's page and its feed."""
    sql = (f"{_LOCAL} WHERE deleted_at IS NULL AND visibility = 'public' AND (published, id) < (?, ?)"
           " ORDER BY published DESC, id DESC LIMIT ?")
    return await _entries(db, sql, (*_bounds(before, LOCAL), limit))


async def by_author(db: aiosqlite.Connection, author_id: int, limit: int, before: Cursor | None = None,
                    members_too: bool = False) -> list[Entry]:
    """One actor's posts, newest first; members-only ones only when `members_too`; crew posts never."""
    shown = "('public', 'members')" if members_too else "('public')"
    sql = (f"{_LOCAL} WHERE author_id = ? AND deleted_at IS NULL AND visibility IN {shown}"
           " AND (published, id) < (?, ?) ORDER BY published DESC, id DESC LIMIT ?")
    return await _entries(db, sql, (author_id, *_bounds(before, LOCAL), limit))


@dataclass(frozen=True)
class LocalAuthor:
    id: int
    username: str
    kind: str
    display_name: str
    has_avatar: bool


@dataclass(frozen=True)
class RemoteAuthor:
    uri: str
    username: str | None
    host: str
    display_name: str | None
    kind: str


def _marks(count: int) -> str:
    return ", ".join("?" * count)


_LOCAL_AUTHORS = ("SELECT a.id, NULL, a.username, a.kind, a.display_name, v.actor_id IS NOT NULL FROM local_actors a"
                  " LEFT JOIN avatars v ON v.actor_id = a.id WHERE a.id IN ({})")
_REMOTE_AUTHORS = ("SELECT NULL, uri, username, kind, display_name, host FROM remote_actors"
                   " WHERE deleted_at IS NULL AND uri IN ({})")


def _authors_sql(ids: set[int], uris: set[str]) -> tuple[str, list] | None:
    parts, args = [], []
    if ids:
        parts.append(_LOCAL_AUTHORS.format(_marks(len(ids))))
        args += ids
    if uris:
        parts.append(_REMOTE_AUTHORS.format(_marks(len(uris))))
        args += uris
    return (" UNION ALL ".join(parts), args) if parts else None


def _authors(rows) -> tuple[dict[int, LocalAuthor], dict[str, RemoteAuthor]]:
    local: dict[int, LocalAuthor] = {}
    remote: dict[str, RemoteAuthor] = {}
    for actor_id, uri, username, kind, name, extra in rows:
        if actor_id is not None:
            local[actor_id] = LocalAuthor(actor_id, username, kind, name, bool(extra))
        else:
            remote[uri] = RemoteAuthor(uri, username, extra, name, kind)
    return local, remote


async def authors(db: aiosqlite.Connection, ids: set[int],
                  uris: set[str]) -> tuple[dict[int, LocalAuthor], dict[str, RemoteAuthor]]:
    """Every author on a page, local by id and remote by URI, in one query; unknown remote authors are absent."""
    statement = _authors_sql(ids, uris)
    return _authors(await db.execute_fetchall(*statement) if statement else [])


async def remote_authors(db: aiosqlite.Connection, uris: set[str]) -> dict[str, RemoteAuthor]:
    """What we know of every remote author on a page, in one query; unknown authors are simply absent."""
    if not uris:
        return {}
    rows = await db.execute_fetchall(
        "SELECT uri, username, host, display_name, kind FROM remote_actors"
        f" WHERE deleted_at IS NULL AND uri IN ({_marks(len(uris))})", tuple(uris))
    return {row[0]: RemoteAuthor(*row) for row in rows}


_SIBLINGS = ("SELECT ours.followee FROM follows ours JOIN follows theirs"
             " ON theirs.follower = ours.followee AND theirs.followee = ours.follower"
             " JOIN remote_actors r ON r.uri = ours.followee"
             " WHERE ours.follower = ? AND ours.state = 'accepted' AND theirs.state = 'accepted'"
             " AND r.kind = 'Group' AND r.deleted_at IS NULL")


async def sibling_uris(db: aiosqlite.Connection, group_uri: str) -> set[str]:
    """The rule of governance.siblings (remote Groups that follow ours and that ours follows, both accepted),
    in one query: a timeline page asks on every view."""
    return {row[0] for row in await db.execute_fetchall(_SIBLINGS, (group_uri,))}


@dataclass(frozen=True)
class PageFacts:
    """What a page of entries shows beside them: its authors, the siblings (to badge their posts), crew names."""

    local: dict[int, LocalAuthor]
    remote: dict[str, RemoteAuthor]
    siblings: set[str]
    crew_names: dict[int, str]


async def page_facts(db: aiosqlite.Connection, entries: list[Entry], group_uri: str) -> PageFacts:
    """Authors, siblings (only if a post is remote) and crew names of a page, in one trip to the database."""
    uris = {e.author_uri for e in entries if e.author_uri is not None}
    crews = {e.crew_id for e in entries if e.crew_id is not None}
    statements = {}
    if (found := _authors_sql({e.author_id for e in entries if e.author_id is not None}, uris)) is not None:
        statements["authors"] = found
    if uris:
        statements["siblings"] = (_SIBLINGS, (group_uri,))
    if crews:
        statements["crews"] = (f"SELECT id, name FROM crews WHERE id IN ({_marks(len(crews))})", tuple(crews))
    rows = dict(zip(statements, await read_all(db, list(statements.values())) if statements else [], strict=True))
    local, remote = _authors(rows.get("authors", []))
    return PageFacts(local, remote, {row[0] for row in rows.get("siblings", [])},
                     {row[0]: row[1] for row in rows.get("crews", [])})


@dataclass(frozen=True)
class Facts:
    """What an actor's page shows besides posts."""

    members: int
    followers: int
    following: int
    joined_at: str | None
    has_avatar: bool


async def facts(db: aiosqlite.Connection, actor_id: int, uri: str) -> Facts:
    """Counts, join date and avatar of a local actor, in one query (accepted follows only, as the collections)."""
    [row] = await db.execute_fetchall(
        "SELECT (SELECT COUNT(*) FROM members),"
        " (SELECT COUNT(*) FROM follows WHERE followee = ? AND state = 'accepted'),"
        " (SELECT COUNT(*) FROM follows WHERE follower = ? AND state = 'accepted'),"
        " (SELECT joined_at FROM members WHERE actor_id = ?),"
        " EXISTS (SELECT 1 FROM avatars WHERE actor_id = ?)", (uri, uri, actor_id, actor_id))
    return Facts(*row[:4], bool(row[4]))
