"""`congregation export [FILE]`: the Congregation as one portable JSON document (issue 6) — its members, posts,
crews and decisions, with people named by their actor URIs so another node can read it. Unlike a backup it holds
no secret: no private key, password hash, session, invitation or reset token, and no crew join request (a
decline is private). It reads the database read-only, in one transaction, so it is consistent while the node
serves.

The document (`formatVersion` 1); every field comes from a column of the same name, in camelCase:

    {"format": "congregation-export", "formatVersion": 1, "exportedAt": "2026-01-31T12:00:00Z",
     "software": {"name": "congregation", "version": "0.1.0"}, "schema": 6,
     "congregation": {"id": group actor URI, "handle", "name", "summary", "baseUrl", "createdAt", "publicKeyPem",
                      "recordKeyMultibase"},
     "members": [{"id": actor URI, "handle", "displayName", "summary", "tier": "friend" | "partner", "joinedAt",
                  "invitedBy": actor URI | null, "publicKeyPem"}],
     "formerMembers": [{"id", "handle", "displayName", "summary", "createdAt", "publicKeyPem"}],
     "membershipLog": [{"kind": "joined" | "promoted" | "demoted" | "departed" | "removed", "member": URI,
                        "by": URI | null, "tier", "reason", "createdAt"}],
     "posts": [{"id": URI, "author": URI, "visibility": "public" | "members" | "crew", "crew": crew id | null,
                "toGroup", "source", "contentHtml", "published", "updated", "deletedAt"}],
     "crews": [{"id": uuid, "name", "purpose", "rhythm", "kind": "home" | "working", "createdBy": URI | null,
                "createdAt", "closedAt", "members": [{"actor": URI, "joinedAt"}]}],
     "proposals": [{"id": URI, "kind", "scope", "crew", "author", "title", "details", "options", "multiple",
                    "closesAt", "quorumPercent", "hideResults", "action", "actionArgs", "state", "eligible",
                    "createdAt", "closedAt", "outcome", "outcomeBy", "enactedAt", "enactError",
                    "stances": [{"voter": URI, "choices", "reason", "castAt", "activityId"}]}],
     "decisionLog": [{"id", "type": "DecisionRecord", "entry", "hash", "hashAlgorithm", "signature",
                      "signatureAlgorithm", "signedBy", "createdAt"}],
     "siblings": [{"id": URI, "name", "state", "ours", "theirs"}],
     "follows": [{"follower": URI, "followee": URI, "state", "activity", "createdAt", "updatedAt"}]}

`decisionLog` items are the ones the node publishes at /actors/group/decisions, oldest first, so
`decision_log.verify_chain(document["decisionLog"], congregation["publicKeyPem"], congregation["recordKeyMultibase"])`
checks them; unlike the served log, every version-2 entry here has its body and salt (the export is the operator's).
Stances are every one cast (the tally takes each voter's latest); `formerMembers` are the people who left or were
removed, still the authors of their posts.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

import aiosqlite

from node import SOFTWARE_NAME, __version__, uris
from node import config as configuration
from node import db as database
from node.activitypub.as2.decisions import log_item
from node.activitypub.as2.documents import actor_id, key_id
from node.config import Config, ConfigError
from node.governance import records
from node.governance.siblings import sibling_states
from node.store import proposals as proposals_store

FORMAT, FORMAT_VERSION = "congregation-export", 1


class ExportError(ConfigError):
    """The export cannot be made; the message says why, in one line."""


People = dict[int, str]  # local actor id → actor URI


async def _rows(db: aiosqlite.Connection, sql: str, *args: Any) -> list[sqlite3.Row]:
    async with db.execute(sql, args) as cur:
        return list(await cur.fetchall())


async def _people(db: aiosqlite.Connection, config: Config) -> People:
    return {r["id"]: actor_id(config, r["username"]) for r in await _rows(db, "SELECT id, username FROM local_actors")}


async def _congregation(db: aiosqlite.Connection, config: Config) -> dict[str, Any]:
    rows = await _rows(db, "SELECT username, public_key_pem, created_at FROM local_actors WHERE kind = 'Group'"
                           " ORDER BY id LIMIT 1")
    if not rows:
        raise ExportError(f"{config.db_path} holds no Congregation (run `congregation init` first)")
    group = rows[0]
    keys = await _rows(db, "SELECT k.private_key_pem FROM record_keys k JOIN local_actors a ON a.id = k.actor_id"
                           " WHERE a.kind = 'Group'")
    # The Group's name and summary are the operator's settings, as the node serves them.
    return {"id": actor_id(config, group["username"]), "handle": group["username"], "name": config.name,
            "summary": config.summary, "baseUrl": config.base_url, "createdAt": group["created_at"],
            "publicKeyPem": group["public_key_pem"],
            "recordKeyMultibase": records.multikey(keys[0]["private_key_pem"]) if keys else None}


async def _members(db: aiosqlite.Connection, people: People) -> list[dict[str, Any]]:
    rows = await _rows(db, "SELECT a.id, a.username, a.display_name, a.summary, a.public_key_pem, m.tier, m.joined_at,"
                           " (SELECT e.by_id FROM membership_events e WHERE e.member_id = a.id AND e.kind = 'joined'"
                           "  ORDER BY e.id DESC LIMIT 1) AS invited_by"
                           " FROM local_actors a JOIN members m ON m.actor_id = a.id ORDER BY m.joined_at, a.id")
    return [{"id": people[r["id"]], "handle": r["username"], "displayName": r["display_name"], "summary": r["summary"],
             "tier": r["tier"], "joinedAt": r["joined_at"], "invitedBy": people.get(r["invited_by"]),
             "publicKeyPem": r["public_key_pem"]} for r in rows]


async def _former_members(db: aiosqlite.Connection, people: People) -> list[dict[str, Any]]:
    rows = await _rows(db, "SELECT a.id, a.username, a.display_name, a.summary, a.public_key_pem, a.created_at"
                           " FROM local_actors a LEFT JOIN members m ON m.actor_id = a.id"
                           " WHERE a.kind = 'Person' AND m.actor_id IS NULL ORDER BY a.id")
    return [{"id": people[r["id"]], "handle": r["username"], "displayName": r["display_name"], "summary": r["summary"],
             "createdAt": r["created_at"], "publicKeyPem": r["public_key_pem"]} for r in rows]


async def _membership_log(db: aiosqlite.Connection, people: People) -> list[dict[str, Any]]:
    rows = await _rows(db, "SELECT kind, member_id, by_id, tier, reason, created_at FROM membership_events ORDER BY id")
    return [{"kind": r["kind"], "member": people[r["member_id"]], "by": people.get(r["by_id"]), "tier": r["tier"],
             "reason": r["reason"], "createdAt": r["created_at"]} for r in rows]


async def _crew_ids(db: aiosqlite.Connection) -> dict[int, str]:
    return {r["id"]: r["uuid"] for r in await _rows(db, "SELECT id, uuid FROM crews")}


async def _posts(db: aiosqlite.Connection, config: Config, people: People, crews: dict[int, str]
                 ) -> list[dict[str, Any]]:
    rows = await _rows(db, "SELECT uuid, author_id, visibility, crew_id, to_group, content, source, published, updated,"
                           " deleted_at FROM posts ORDER BY id")
    return [{"id": uris.post(config, r["uuid"]), "author": people[r["author_id"]],
             "visibility": r["visibility"], "crew": crews.get(r["crew_id"]), "toGroup": bool(r["to_group"]),
             "source": r["source"], "contentHtml": r["content"], "published": r["published"], "updated": r["updated"],
             "deletedAt": r["deleted_at"]} for r in rows]


async def _crews(db: aiosqlite.Connection, people: People) -> list[dict[str, Any]]:
    members: dict[int, list[dict[str, Any]]] = {}
    for r in await _rows(db, "SELECT crew_id, actor_id, joined_at FROM crew_members ORDER BY joined_at, actor_id"):
        members.setdefault(r["crew_id"], []).append({"actor": people[r["actor_id"]], "joinedAt": r["joined_at"]})
    rows = await _rows(db, "SELECT id, uuid, name, purpose, rhythm, kind, created_by, created_at, closed_at FROM crews"
                           " ORDER BY id")
    return [{"id": r["uuid"], "name": r["name"], "purpose": r["purpose"], "rhythm": r["rhythm"], "kind": r["kind"],
             "createdBy": people.get(r["created_by"]), "createdAt": r["created_at"], "closedAt": r["closed_at"],
             "members": members.get(r["id"], [])} for r in rows]


async def _proposals(db: aiosqlite.Connection, config: Config, people: People, crews: dict[int, str]
                     ) -> list[dict[str, Any]]:
    stances: dict[int, list[dict[str, Any]]] = {}
    for r in await _rows(db, "SELECT proposal_id, voter, choices, reason, cast_at, activity_id FROM stances"
                             " ORDER BY id"):
        stances.setdefault(r["proposal_id"], []).append(
            {"voter": r["voter"], "choices": json.loads(r["choices"]), "reason": r["reason"], "castAt": r["cast_at"],
             "activityId": r["activity_id"]})
    rows = await _rows(db, "SELECT * FROM proposals ORDER BY id")
    return [{"id": uris.proposal(config, r["uuid"]), "kind": r["kind"], "scope": r["scope"],
             "crew": crews.get(r["crew_id"]), "author": people[r["author_id"]], "title": r["title"],
             "details": r["details"], "options": json.loads(r["options"]), "multiple": bool(r["multiple"]),
             "closesAt": r["closes_at"], "quorumPercent": r["quorum_percent"], "hideResults": bool(r["hide_results"]),
             "action": r["action"], "actionArgs": json.loads(r["action_args"]) if r["action_args"] else None,
             "state": r["state"], "eligible": r["eligible"], "createdAt": r["created_at"], "closedAt": r["closed_at"],
             "outcome": r["outcome"], "outcomeBy": people.get(r["outcome_by"]), "enactedAt": r["enacted_at"],
             "enactError": r["enact_error"], "stances": stances.get(r["id"], [])} for r in rows]


async def _decision_log(db: aiosqlite.Connection, config: Config, group_handle: str) -> list[dict[str, Any]]:
    group_uri, kid = actor_id(config, group_handle), key_id(config, group_handle)
    rows = await _rows(db, "SELECT seq, proposal_uuid, entry, hash, signature, created_at, version FROM decision_log"
                           " ORDER BY seq")
    return [{**log_item(group_uri, kid, entry, show_body=True), "createdAt": entry.created_at}
            for entry in (proposals_store.LogEntry(*r) for r in rows)]


async def _siblings(db: aiosqlite.Connection, group_uri: str) -> list[dict[str, Any]]:
    return [{"id": s.uri, "name": s.name, "state": s.state.split(":")[0], "ours": s.ours, "theirs": s.theirs}
            for s in await sibling_states(db, group_uri)]


async def _follows(db: aiosqlite.Connection) -> list[dict[str, Any]]:
    rows = await _rows(db, "SELECT follower, followee, state, activity_id, created_at, updated_at FROM follows"
                           " ORDER BY id")
    return [{"follower": r["follower"], "followee": r["followee"], "state": r["state"], "activity": r["activity_id"],
             "createdAt": r["created_at"], "updatedAt": r["updated_at"]} for r in rows]


async def _open_read_only(path: Path) -> aiosqlite.Connection:
    try:
        db = await aiosqlite.connect(f"file:{pathname2url(str(path.resolve()))}?mode=ro", uri=True,
                                     isolation_level=None)
    except sqlite3.Error as exc:
        raise ExportError(f"cannot open {path}: {exc}") from None
    db.row_factory = sqlite3.Row
    await db.execute("PRAGMA busy_timeout = 5000")
    return db


async def _schema(db: aiosqlite.Connection, path: Path) -> int:
    known = database.migrations()[-1][0]
    version = (await _rows(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))[0][0]
    if version < known:
        raise ExportError(f"{path} is at schema {version}, older than this software's {known}: start the node once"
                          " (`congregation serve`) to migrate it, then export")
    if version > known:
        raise ExportError(f"{path} is at schema {version}, made by newer software; export with that version")
    return version


async def read(data: Path) -> dict[str, Any]:
    """The export document of the Congregation in `data`, read in one read-only transaction."""
    if not (data / configuration.CONFIG_FILE).is_file() or not (data / configuration.DB_FILE).is_file():
        raise ExportError(f"{data} holds no Congregation (run `congregation init` first)")
    config = configuration.load(data)
    db = await _open_read_only(config.db_path)
    try:
        # One snapshot for every query: WAL readers see the database as of their first read, writers carry on.
        await db.execute("BEGIN")
        schema = await _schema(db, config.db_path)
        congregation = await _congregation(db, config)
        people, crews = await _people(db, config), await _crew_ids(db)
        document = {
            "format": FORMAT, "formatVersion": FORMAT_VERSION,
            "exportedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "software": {"name": SOFTWARE_NAME, "version": __version__}, "schema": schema,
            "congregation": congregation,
            "members": await _members(db, people),
            "formerMembers": await _former_members(db, people),
            "membershipLog": await _membership_log(db, people),
            "posts": await _posts(db, config, people, crews),
            "crews": await _crews(db, people),
            "proposals": await _proposals(db, config, people, crews),
            "decisionLog": await _decision_log(db, config, congregation["handle"]),
            "siblings": await _siblings(db, congregation["id"]),
            "follows": await _follows(db),
        }
        await db.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        if database.is_unavailable(exc):
            raise database.StorageUnavailable(str(exc)) from exc
        raise ExportError(f"cannot read {config.db_path} as a Congregation's database: {exc}") from None
    finally:
        await db.close()
    return document


def write(text: str, target: Path) -> None:
    """Write `text` to `target` through `target.partial` and a rename, so a reader never sees half a file."""
    if target.exists():
        raise ExportError(f"{target} already exists; choose a new file name")
    partial = target.with_name(target.name + ".partial")
    try:
        with open(partial, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ExportError(f"cannot write {target}: {exc.strerror or exc}") from None


async def cmd_export(args: argparse.Namespace) -> int:
    target = None if args.file in (None, "-") else Path(args.file)
    if target is not None and target.exists():  # before reading anything: the answer does not depend on the data
        raise ExportError(f"{target} already exists; choose a new file name")
    document = await read(Path(args.data))
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if target is None:
        sys.stdout.buffer.write(text.encode("utf-8"))
        sys.stdout.flush()
        return 0
    write(text, target)
    print(f"Exported {document['congregation']['name']} to {target}: {len(document['members'])} members,"
          f" {len(document['posts'])} posts, {len(document['crews'])} crews, {len(document['proposals'])} proposals,"
          f" {len(document['decisionLog'])} logged decisions; no keys or passwords.")
    return 0


def add_parser(sub, data_arg) -> None:
    p = sub.add_parser("export", help="write members, posts, crews and decisions as portable JSON (no secrets)")
    p.add_argument("file", nargs="?", default=None, help="where to write it (default, or `-`: standard output)")
    data_arg(p)
    p.set_defaults(run=cmd_export)
