"""`congregation backup FILE` and `congregation restore FILE`: the whole Congregation — its database (with
every key) and its settings — in one file, taken consistently while the node serves."""

from __future__ import annotations

import argparse
from pathlib import Path

from node.backups import BackupError, backup, restore

__all__ = ["BackupError", "add_parsers"]


async def cmd_backup(args: argparse.Namespace) -> int:
    manifest = backup(Path(args.data), Path(args.file))
    print(f"Backed up to {args.file}: schema {manifest['schema']}, {manifest['database_bytes']:,} bytes of database,"
          " keys and settings included.")
    return 0


async def cmd_restore(args: argparse.Namespace) -> int:
    manifest = restore(Path(args.file), Path(args.data))
    print(f"Restored the backup of {manifest['created_at']} into {args.data}; `congregation serve --data {args.data}`"
          " brings it up (newer software migrates it first).")
    return 0


def add_parsers(sub, data_arg) -> None:
    p = sub.add_parser("backup", help="write the database (keys included) and settings to FILE, while the node runs")
    p.add_argument("file")
    data_arg(p)
    p.set_defaults(run=cmd_backup)
    p = sub.add_parser("restore", help="unpack a backup FILE into an empty data directory")
    p.add_argument("file")
    data_arg(p)
    p.set_defaults(run=cmd_restore)
