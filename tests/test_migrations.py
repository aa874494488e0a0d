"""Upgrades: a database left at any schema version this project has shipped migrates to the latest with
nothing lost — row counts, spot checks, every index an earlier migration made, and SQLite's own checks."""

from __future__ import annotations

import re
import sqlite3

import pytest

from node import db as database
from node.backups import BackupError
from tests.fediverse import cli

LATEST = database.migrations()[-1][0]
PREVIOUS = database.migrations()[-2][0]  # the release before the latest (numbers may leave gaps)
NOW = "2026-11-26T10:00:00.000000Z"


def migrate_to(path, version: int) -> None:
    """Apply the shipped migrations up to `version` only, as that release would have."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                   " applied_at TEXT NOT NULL)")
        for number, name, sql in database.migrations():
            if number > version:
                break
            db.executescript(sql)
            db.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (number, name, NOW))


def seed(path, version: int) -> dict[str, int]:
    """Rows in every table that version has; returns the count per table."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA foreign_keys = ON")
        actors = [(1, "group", "Group"), (2, "ada", "Person"), (3, "bo", "Person")]
        db.executemany("INSERT INTO local_actors (id, username, kind, display_name, private_key_pem, public_key_pem,"
                       " created_at) VALUES (?, ?, ?, ?, 'PRIVATE', 'PUBLIC', ?)",
                       [(i, u, k, u.title(), NOW) for i, u, k in actors])
        db.executemany("INSERT INTO members (actor_id, tier, joined_at) VALUES (?, ?, ?)",
                       [(2, "partner", NOW), (3, "friend", NOW)])
        db.executemany("INSERT INTO follows (follower, followee, activity_id, state, created_at, updated_at)"
                       " VALUES (?, 'https://n.example/actors/group', ?, ?, ?, ?)",
                       [(f"https://r{i}.example/u", f"https://r{i}.example/f", "accepted", NOW, NOW) for i in range(5)])
        db.executemany("INSERT INTO inbox (activity_id, type, actor, body, received_at)"
                       " VALUES (?, 'Follow', ?, '{}', ?)",
                       [(f"https://r{i}.example/a", f"https://r{i}.example/u", NOW) for i in range(7)])
        db.executemany("INSERT INTO outbox (activity_id, actor_id, type, body, public, published)"
                       " VALUES (?, 1, 'Accept', '{}', 0, ?)", [(f"https://n.example/activities/{i}", NOW)
                                                                  for i in range(4)])
        db.executemany("INSERT INTO deliveries (activity_id, actor_id, inbox, body, next_attempt_at, created_at,"
                       " updated_at) VALUES (?, 1, ?, '{}', 0, ?, ?)",
                       [(f"https://n.example/activities/{i}", f"https://R{i}.example/inbox", NOW, NOW)
                        for i in range(4)])
        if version >= 3:
            db.executemany("INSERT INTO posts (uuid, author_id, visibility, content, source, published, deleted_at)"
                           " VALUES (?, 2, ?, ?, ?, ?, ?)",
                           [(f"p{i}", ("public", "members")[i % 2], f"<p>post {i}</p>", f"post {i}", NOW,
                             NOW if i == 5 else None) for i in range(6)])
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                           " AND name != 'schema_migrations'")]
        return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}


def indexes_ever_made() -> set[str]:
    """Every index any shipped migration creates (a later table rebuild must make them again)."""
    return {name for _, _, sql in database.migrations()
            for name in re.findall(r"CREATE (?:UNIQUE )?INDEX (\w+)", sql)}


@pytest.mark.parametrize("version", range(1, LATEST))
async def test_migrations__from_every_shipped_version_nothing_is_lost(tmp_path, version):
    # Given a database a release at `version` left behind, with data in it
    path = tmp_path / "old.sqlite3"
    migrate_to(path, version)
    before = seed(path, version)
    # When the current node starts on it
    db = await database.connect(path)
    try:
        assert await database.migrate(db) == LATEST
    finally:
        await db.close()
    # Then every row is still there, the data reads the same, and SQLite finds nothing wrong
    with sqlite3.connect(path) as after:
        for table, count in before.items():
            assert after.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == count, table
        assert after.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert after.execute("PRAGMA foreign_key_check").fetchall() == []
        assert after.execute("SELECT tier FROM members WHERE actor_id = 2").fetchone() == ("partner",)
        if version == 1:  # 0002 learned each queued delivery's host from its inbox
            assert after.execute("SELECT DISTINCT host FROM deliveries ORDER BY 1").fetchall()[0] == ("r0.example",)
        if version >= 3:
            # 0006 rebuilt posts for crew visibility: same posts, same visibility, no crew
            assert after.execute("SELECT visibility, content, crew_id FROM posts WHERE uuid = 'p3'").fetchone() == \
                ("members", "<p>post 3</p>", None)
            assert after.execute("SELECT COUNT(*) FROM posts WHERE deleted_at IS NOT NULL").fetchone() == (1,)
        present = {r[0] for r in after.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert indexes_ever_made() <= present
        assert after.execute("SELECT MAX(version) FROM schema_migrations").fetchone() == (LATEST,)


async def test_migrations__a_failing_migration_leaves_the_database_as_it_was(tmp_path, monkeypatch):
    # Given a database at the version before the latest, with data
    path = tmp_path / "old.sqlite3"
    migrate_to(path, PREVIOUS)
    before = seed(path, PREVIOUS)
    schema_before = sqlite3.connect(path).execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    # When the latest migration fails halfway (its last statement is broken)
    shipped = database.migrations()
    number, name, sql = shipped[-1]
    broken = (number, name, sql + "\nSELECT nope FROM nowhere;")
    monkeypatch.setattr(database, "migrations", lambda: [*shipped[:-1], broken])
    db = await database.connect(path)
    try:
        with pytest.raises(sqlite3.OperationalError):
            await database.migrate(db)
    finally:
        await db.close()
    # Then the schema and the rows are exactly as before, and the version was not recorded
    with sqlite3.connect(path) as after:
        assert after.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == schema_before
        for table, count in before.items():
            assert after.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == count, table
        assert after.execute("SELECT MAX(version) FROM schema_migrations").fetchone() == (PREVIOUS,)


@pytest.mark.slow
async def test_migrations__an_upgrade_first_writes_a_backup_that_restores_the_old_database(tmp_path):
    # Given a Congregation's data directory left by the first release, with data in it
    data = tmp_path / "data"
    data.mkdir()
    (data / "congregation.toml").write_text('[congregation]\nbase_url = "https://n.example"\nname = "N"\n')
    path = data / "congregation.sqlite3"
    migrate_to(path, 1)
    before = seed(path, 1)
    # When the current software opens it
    db = await database.connect(path)
    try:
        assert await database.migrate(db) == LATEST
        # (and a second start has nothing to migrate, so writes no second backup)
        assert await database.migrate(db) == LATEST
    finally:
        await db.close()
    # Then a backup of the old database was written first, and `congregation restore` brings it back as it was
    written = sorted((data / "backups").iterdir())
    assert [f.name.split("-from-")[0] for f in written] == [f"before-schema-{LATEST}"]
    code, _, err = cli("restore", str(written[0]), "--data", str(tmp_path / "restored"))
    assert code == 0, err
    with sqlite3.connect(tmp_path / "restored" / "congregation.sqlite3") as old:
        assert old.execute("SELECT MAX(version) FROM schema_migrations").fetchone() == (1,)
        for table, count in before.items():
            assert old.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == count, table
    assert (tmp_path / "restored" / "congregation.toml").read_text() == (data / "congregation.toml").read_text()


async def test_migrations__no_upgrade_when_the_backup_before_it_cannot_be_written(tmp_path):
    # Given an old database whose backups folder cannot be made (a file is in its place)
    path = tmp_path / "congregation.sqlite3"
    migrate_to(path, 1)
    seed(path, 1)
    (tmp_path / "backups").write_text("not a folder")
    # When the current software opens it, the upgrade is refused with a reason
    db = await database.connect(path)
    try:
        with pytest.raises(BackupError, match="cannot write the backup taken before upgrading"):
            await database.migrate(db)
    finally:
        await db.close()
    # And nothing was migrated
    with sqlite3.connect(path) as after:
        assert after.execute("SELECT MAX(version) FROM schema_migrations").fetchone() == (1,)
