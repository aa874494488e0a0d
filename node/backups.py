"""Backups: one file with the database (every key in it) and the settings, taken with SQLite's online backup
while the node serves; restored only into an empty data directory; written before every upgrade."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from node import __version__
from node import config as configuration
from node.config import ConfigError

MANIFEST = "manifest.json"
MEMBERS = (MANIFEST, configuration.CONFIG_FILE, configuration.DB_FILE)
PAGES_PER_STEP = 1024  # about 4 MiB at SQLite's default page size: progress shows, the node is not held up


class BackupError(ConfigError):
    """A backup or restore cannot be made; the message says why."""


class _Progress:
    """Progress of a large copy on stderr: a line that updates itself on a terminal, a line per tenth in a log."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.shown = -1

    def __call__(self, status: int, remaining: int, total: int) -> None:
        if total <= 4 * PAGES_PER_STEP:
            return
        done = total - remaining
        if self.stream.isatty():
            end = "\n" if remaining == 0 else ""
            print(f"\r  copied {done:,} of {total:,} pages ({100 * done // total} %)", end=end, file=self.stream,
                  flush=True)
        elif (tenth := 10 * done // total) > self.shown:
            self.shown = tenth
            print(f"  copied {done:,} of {total:,} pages ({10 * tenth} %)", file=self.stream, flush=True)


def backup(data: Path, target: Path, *, db_file: str = configuration.DB_FILE, require_config: bool = True,
           progress=None) -> dict:
    """Copy the live database with SQLite's online backup (a consistent snapshot, writers carry on) and pack it
    with the settings into `target`, written atomically."""
    db_path, config_path = data / db_file, data / configuration.CONFIG_FILE
    if not db_path.is_file() or (require_config and not config_path.is_file()):
        raise BackupError(f"{data} holds no Congregation (run `congregation init` first)")
    if target.exists():
        raise BackupError(f"{target} already exists; choose a new file name")
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        copy = Path(scratch) / configuration.DB_FILE
        source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        dest = sqlite3.connect(copy)
        try:
            source.backup(dest, pages=PAGES_PER_STEP, progress=progress or _Progress(), sleep=0.005)
            schema = dest.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
            if dest.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError("the copy of the database fails its integrity check; the backup was not written")
        finally:
            dest.close()
            source.close()
        manifest = {"software": "congregation", "version": __version__, "schema": schema,
                    "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "database_bytes": copy.stat().st_size}
        partial = target.with_name(target.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            body = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime = len(body), int(time.time())
            tar.addfile(info, io.BytesIO(body))
            if config_path.is_file():
                tar.add(config_path, arcname=configuration.CONFIG_FILE)
            else:  # a bare database (tests, or a data directory whose settings live in the environment only)
                info = tarfile.TarInfo(configuration.CONFIG_FILE)
                info.mtime = int(time.time())
                tar.addfile(info, io.BytesIO(b""))
            tar.add(copy, arcname=configuration.DB_FILE)
        os.replace(partial, target)
    return manifest


BACKUPS_DIR = "backups"


def before_migrating(db_path: Path, current: int, target: int) -> Path:
    """The automatic backup taken before an upgrade migrates the database: DATA/backups/, restorable with
    `congregation restore`. Raises BackupError if it cannot be written; then nothing is migrated."""
    folder = db_path.parent / BACKUPS_DIR
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target_file = folder / f"before-schema-{target}-from-{current}-{stamp}.tar.gz"
    try:
        folder.mkdir(exist_ok=True)
        backup(db_path.parent, target_file, db_file=db_path.name, require_config=False,
               progress=lambda *_: None)  # the log says when it starts and where it went
    except OSError as exc:
        raise BackupError(f"cannot write the backup taken before upgrading the database ({exc.strerror or exc});"
                          " nothing was changed") from None
    return target_file


def restore(source: Path, data: Path) -> dict:
    """Unpack a backup into an empty data directory; refuses to overwrite anything."""
    if not source.is_file():
        raise BackupError(f"{source} does not exist")
    if (data / configuration.DB_FILE).exists() or (data / configuration.CONFIG_FILE).exists():
        raise BackupError(f"{data} already holds a Congregation; restore into an empty directory")
    try:
        with tarfile.open(source, "r:gz") as tar:
            names = tar.getnames()
            if sorted(names) != sorted(MEMBERS) or any(not tar.getmember(n).isfile() for n in names):
                raise BackupError(f"{source} is not a Congregation backup (it holds {', '.join(names[:5])})")
            manifest = json.loads(tar.extractfile(MANIFEST).read())
            data.mkdir(parents=True, exist_ok=True)
            for name in (configuration.CONFIG_FILE, configuration.DB_FILE):
                with tar.extractfile(name) as member, open(data / name, "xb") as out:
                    while chunk := member.read(1 << 20):
                        out.write(chunk)
    except (tarfile.TarError, OSError, ValueError, KeyError) as exc:
        raise BackupError(f"{source} cannot be read as a backup: {exc}") from None
    with sqlite3.connect(data / configuration.DB_FILE) as db:
        if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError("the restored database fails its integrity check")
    return manifest
