"""`congregation doctor`: check a node's health, one line per check, exit 1 when any check failed.

Read-only: the database is opened with `mode=ro` and never migrated; the only write is a scratch file that
proves the data directory takes writes, removed at once."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import aiosqlite
from cryptography.exceptions import UnsupportedAlgorithm

from node import config as configuration
from node import db as database
from node.activitypub import signatures
from node.activitypub.as2.documents import actor_id
from node.activitypub.fetch import FetchError
from node.clock import clock_from_env
from node.commands.doctor_http import Answer, Target, Unreachable, fetch, json_object, public_key_pem
from node.config import Config, ConfigError
from node.store import follows, growth

OK, WARN, FAIL, SKIP = "ok", "warn", "FAIL", "skip"
MIB = 1 << 20
SCRATCH_BYTES = 64 * 1024
MAX_CLOCK_PEERS = 3
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)


@dataclass
class Findings:
    """What earlier checks learnt that later ones need."""

    data: Path
    config: Config | None = None
    db_readable: bool = False
    group_public_pem: str | None = None


Outcome = tuple[str, str]


# --- config, database, keys, disk ---------------------------------------------------------------------------

def check_config(found: Findings, args: argparse.Namespace) -> Outcome:
    try:
        found.config = configuration.load(found.data)
    except ConfigError as exc:
        return FAIL, str(exc)
    decided = _decided_count(found.data / configuration.DB_FILE)
    note = f"; {decided} decided by the Congregation, overriding it" if decided else ""
    return OK, f"{found.data / configuration.CONFIG_FILE} (base_url {found.config.base_url}{note})"


def _decided_count(path: Path) -> int:
    """Settings the Congregation decided (0 when the database cannot be read: the database check says why)."""
    if not path.is_file():
        return 0
    try:
        with contextlib.closing(_read_only(path)) as conn:
            return conn.execute("SELECT COUNT(*) FROM decided_settings").fetchone()[0]
    except sqlite3.Error:
        return 0


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def check_database(found: Findings, args: argparse.Namespace) -> Outcome:
    path = found.data / configuration.DB_FILE
    if not found.data.is_dir():
        return SKIP, f"no data directory {found.data}"
    if not path.is_file():
        return FAIL, (f"{path} is missing: it is the database, and it holds every key (the Group's and each "
                      "member's); restore it with `congregation restore BACKUP`")
    latest = max(version for version, _, _ in database.migrations())
    try:
        with contextlib.closing(_read_only(path)) as conn:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check(5)")]
            if problems != ["ok"]:
                return FAIL, f"{path} is corrupt: {'; '.join(problems)} (restore it from a backup)"
            has_table = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table'"
                                     " AND name = 'schema_migrations'").fetchone()
            if not has_table:
                return FAIL, f"{path} has no schema_migrations table: it is not a Congregation database"
            version = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
    except sqlite3.OperationalError as exc:
        # A read of a WAL database creates its -shm file beside it: a full or read-only directory stops that too.
        hint = " (reading it needs room for its -shm file beside it: see the disk check)" \
            if str(exc) in ("disk I/O error", "unable to open database file") else ""
        return FAIL, f"cannot read {path}: {exc}{hint}"
    except sqlite3.DatabaseError as exc:  # SQLITE_CORRUPT, SQLITE_NOTADB
        return FAIL, f"{path} is corrupt: {exc} (restore it from a backup)"
    found.db_readable = True
    size = _size(path.stat().st_size)
    if version > latest:
        return FAIL, (f"{path} has schema {version}, newer than this software knows ({latest}): upgrade "
                      "congregation, or restore a backup made by this version")
    if version < latest:
        return WARN, f"{path} has schema {version}, this software {latest}: will migrate at next start ({size})"
    return OK, f"{path} (schema {version}, integrity ok, {size})"


def _load_error(exc: Exception) -> str:
    return str(exc).split(". ")[0].rstrip(".")


def check_keys(found: Findings, args: argparse.Namespace) -> Outcome:
    if not found.db_readable:
        return SKIP, "the database cannot be read (see above)"
    with contextlib.closing(_read_only(found.data / configuration.DB_FILE)) as conn:
        rows = conn.execute("SELECT username, kind, private_key_pem, public_key_pem FROM local_actors"
                            " ORDER BY kind = 'Group' DESC, id").fetchall()
    problems: list[str] = []
    groups = [row for row in rows if row[1] == "Group"]
    if not groups:
        problems.append("there is no Group in local_actors (restore the database from a backup)")
    elif found.config is not None and groups[0][0] != found.config.group_handle:
        problems.append(f"the Group in the database is @{groups[0][0]}, but group_handle is "
                        f"{found.config.group_handle!r}")
    for username, kind, private_pem, public_pem in rows:
        who = f"the Group @{username}" if kind == "Group" else f"@{username}"
        if kind == "Group" and found.group_public_pem is None:
            found.group_public_pem = public_pem
        if not (private_pem or "").strip():
            problems.append(f"{who} has no private key (private_key_pem is empty)")
            continue
        try:
            key = signatures.load_private_key(private_pem)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            problems.append(f"{who}'s private key does not load ({_load_error(exc)})")
            continue
        if signatures.public_pem(key).strip() != (public_pem or "").strip():
            problems.append(f"{who}'s private key does not match its published public key")
    if problems:
        more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        return FAIL, "; ".join(problems[:5]) + more + " (keys live in the database, table local_actors)"
    people = len(rows) - len(groups)
    return OK, (f"the Group @{groups[0][0]} and {people} {'person' if people == 1 else 'people'}: every private "
                "key loads and matches its public key (keys live in the database)")


def _size(n: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor:
            value = n / factor
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{n} bytes"


def _scratch_write(directory: Path) -> None:
    """Create, fill, fsync and remove a small file: what SQLite's next write will need to do."""
    path = directory / f".doctor-{os.getpid()}.tmp"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        block = memoryview(b"\0" * SCRATCH_BYTES)
        while block:
            block = block[os.write(fd, block):]
        os.fsync(fd)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)


def check_disk(found: Findings, args: argparse.Namespace) -> Outcome:
    if not found.data.is_dir():
        return SKIP, f"no data directory {found.data}"
    free = shutil.disk_usage(found.data).free
    problems = []
    if free < args.min_free:
        problems.append(f"{_size(free)} free in {found.data}, need at least {_size(args.min_free)}")
    try:
        _scratch_write(found.data)
    except OSError as exc:
        problems.append(f"cannot write to {found.data}: {exc.strerror or exc}")
    if problems:
        return FAIL, "; ".join(problems)
    return OK, (f"{_size(free)} free in {found.data} (need at least {_size(args.min_free)}); "
                f"the database takes {_size(database_bytes(found.data))}; "
                f"a {_size(SCRATCH_BYTES)} write and fsync succeeded")


def check_growth(found: Findings, args: argparse.Namespace) -> Outcome:
    """What the database took in the last hour and day, by table, and what stored objects hold: a stranger
    filling the disk shows here before the disk check fails."""
    if not found.db_readable:
        return SKIP, "the database cannot be read (see above)"
    with contextlib.closing(_read_only(found.data / configuration.DB_FILE)) as conn:
        periods = []
        for label, window in growth.WINDOWS:
            since = growth.cutoff(window)
            counts = [f"{table} +{conn.execute(growth.added_sql(table, column), (since,)).fetchone()[0]}"
                      for table, column in growth.TIMED]
            try:
                added = conn.execute(growth.OBJECTS_ADDED_SQL, (since,)).fetchone()[1]
            except sqlite3.OperationalError:  # a schema before 0016: no sizes yet
                added = None
            periods.append((label, counts, added))
        try:
            stored = conn.execute(growth.STORED_SQL).fetchone()
        except sqlite3.OperationalError:
            stored = None
    text = "; ".join(f"last {label}: {', '.join(counts)}" + (f" ({_size(added)} of objects)" if added else "")
                     for label, counts, added in periods)
    if stored is not None:
        text += f"; remote objects hold {_size(stored[0])}, the inbox's waiting activities {_size(stored[1])}"
    day = periods[-1][2] or 0
    free = shutil.disk_usage(found.data).free
    if day and 7 * day > free:
        return WARN, f"at the last day's rate the disk is full within a week: {text}"
    return OK, text


def database_bytes(data: Path) -> int:
    """The database file and its write-ahead log, as they take the disk (what /metrics shows as well)."""
    path = data / configuration.DB_FILE
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.is_file())


# --- HTTP: base URL, clock (the GETs themselves: doctor_http.py) ------------------------------------------------------

def _network_skip(found: Findings, args: argparse.Namespace) -> Outcome | None:
    """The network checks need the settings, and are skipped with --offline."""
    if args.offline:
        return SKIP, "not checked (--offline)"
    if found.config is None:
        return SKIP, "needs the config (see above)"
    return None


async def check_base_url(found: Findings, args: argparse.Namespace) -> Outcome:
    if (skipped := _network_skip(found, args)) is not None:
        return skipped
    config = found.config
    target = Target.of(config, args.url)
    handle = config.group_handle
    expected = actor_id(config, handle)
    finger_path = f"/.well-known/webfinger?resource=acct:{handle}@{config.host}"
    try:
        info = await target.get("/.well-known/nodeinfo", "application/json")
        actor = await target.get(f"/actors/{handle}", "application/activity+json")
        # authorized_fetch refuses this unsigned GET; WebFinger (never signed) names the id instead.
        finger = await target.get(finger_path, "application/jrd+json") if actor.status == 401 else None
    except FetchError as exc:
        return FAIL, (f"cannot reach {target.label}: {exc.reason} (allow_private_addresses is false; "
                      "`--url` reaches the node at a private address)")
    except Unreachable as exc:
        return FAIL, (f"cannot reach {target.label}: {exc} (is the node running, and does the proxy forward "
                      "to it?)")
    named = (("/.well-known/nodeinfo", info), (finger_path, finger) if finger else (f"/actors/{handle}", actor))
    for path, answer in named:
        where = f"{target.url}{path}"
        if 300 <= answer.status < 400:
            return FAIL, (f"{where} redirects to {answer.headers.get('Location', '(nowhere)')}: base_url must be "
                          "the address the node answers at")
        if answer.status != 200:
            return FAIL, (f"{where} answered {answer.status} (is this the node, and does the proxy forward "
                          f"{path.split('?')[0]} to it?)")
    document = json_object(finger or actor)
    if document is None or json_object(info) is None:
        kind = (finger or actor).headers.get("Content-Type", "no content type")
        return FAIL, f"the server at {target.label} does not answer JSON ({kind}): is the proxy forwarding to the node?"
    if finger:
        links = document.get("links") if isinstance(document.get("links"), list) else []
        answered = next((link.get("href") for link in links if isinstance(link, dict) and link.get("rel") == "self"),
                        None)
    else:
        answered = document.get("id")
    if answered != expected:
        return FAIL, (f"the server at {target.label} answers as {answered}, expected {expected} (is base_url right, "
                      "and does the proxy forward to this node?)")
    if finger:
        return OK, f"{target.label} answers as {answered} (key not compared: it refuses unsigned GETs)"
    if found.group_public_pem is not None and public_key_pem(document).strip() != found.group_public_pem.strip():
        return FAIL, (f"the server at {target.label} answers as {answered} with another public key than this "
                      "database's Group: it runs from another data directory")
    keyed = " with the Group's key" if found.group_public_pem is not None else ""
    return OK, f"{target.label} answers as {answered}{keyed}"


def _date_skew(answer: Answer, sent: float, received: float) -> float:
    """Local time minus the peer's Date (positive: we are ahead), taken at the middle of the exchange."""
    header = answer.headers.get("Date")
    if not header:
        raise Unreachable("it sent no Date header")
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        raise Unreachable(f"its Date header {header!r} cannot be read") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (sent + received) / 2 - (when.timestamp() + 0.5)  # Date truncates to the second


async def _peer_origins(found: Findings) -> list[str]:
    """Up to 3 other hosts the Group follows or is followed by (accepted), as scheme://host."""
    assert found.config is not None
    if not found.db_readable:
        return []
    me = actor_id(found.config, found.config.group_handle)
    uri = f"{(found.data / configuration.DB_FILE).resolve().as_uri()}?mode=ro"
    async with aiosqlite.connect(uri, uri=True) as db:
        rows = [r.followee for r in await follows.list_for(db, follower=me, state="accepted")]
        rows += [r.follower for r in await follows.list_for(db, followee=me, state="accepted")]
    origins: list[str] = []
    for actor in rows:
        parts = urlsplit(actor)
        origin = f"{parts.scheme}://{parts.netloc}"
        if parts.netloc and parts.netloc != found.config.host and origin not in origins:
            origins.append(origin)
    return origins[:MAX_CLOCK_PEERS]


async def _measure(label: str, get: Callable[[], Awaitable[Answer]]) -> tuple[str, float | None, str]:
    clock = clock_from_env()
    sent = clock.now()
    try:
        answer = await get()
        return label, _date_skew(answer, sent, clock.now()), ""
    except FetchError as exc:
        return label, None, f"refused: {exc.reason}"
    except Unreachable as exc:
        return label, None, str(exc)


async def check_clock(found: Findings, args: argparse.Namespace) -> Outcome:
    if (skipped := _network_skip(found, args)) is not None:
        return skipped
    config = found.config
    allow = config.allow_private_addresses
    peers = args.peer or await _peer_origins(found)
    if peers:
        probes = [_measure(urlsplit(p).netloc or p, lambda p=p: fetch(
            p if args.peer else p + "/.well-known/nodeinfo", {"Accept": "application/json"}, allow)) for p in peers]
    else:
        target = Target.of(config, args.url)
        probes = [_measure(config.host, lambda: target.get("/.well-known/nodeinfo", "application/json"))]
    results = await asyncio.gather(*probes)
    measured = [(label, skew) for label, skew, _ in results if skew is not None]
    missed = "; ".join(f"{label}: {reason}" for label, skew, reason in results if skew is None)
    if measured:
        label, skew = max(measured, key=lambda m: abs(m[1]))
        if abs(skew) > args.max_skew:
            side = "behind" if skew < 0 else "ahead of"
            return FAIL, f"{abs(skew):.0f} s {side} {label}'s Date (signed requests will be refused; run NTP)"
        others = f"; not compared with {missed}" if missed else ""
        return OK, (f"within {abs(skew):.0f} s of {', '.join(m[0] for m in measured)}'s Date "
                    f"(at most {args.max_skew} s){others}")
    refused = all(reason.startswith("refused") or "allow_private_addresses" in reason for *_, reason in results)
    return (SKIP if refused else WARN), f"no peer's Date to compare with: {missed}"


# --- command ----------------------------------------------------------------------------------------------

CHECKS: tuple[tuple[str, Callable[[Findings, argparse.Namespace], Outcome | Awaitable[Outcome]]], ...] = (
    ("config", check_config), ("database", check_database), ("keys", check_keys), ("disk", check_disk),
    ("growth", check_growth), ("base URL", check_base_url), ("clock", check_clock),
)


async def cmd_doctor(args: argparse.Namespace) -> int:
    found, failed = Findings(Path(args.data)), False
    for name, check in CHECKS:
        try:
            outcome = check(found, args)
            status, message = await outcome if asyncio.iscoroutine(outcome) else outcome
        except Exception as exc:  # noqa: BLE001 - one check's surprise is its FAIL line; the others still run
            status, message = FAIL, f"unexpected {exc.__class__.__name__}: {exc}"
        print(f"{status:<6}{name}: {message}", flush=True)
        failed = failed or status == FAIL
    return 1 if failed else 0


def parse_size(text: str) -> int:
    match = _SIZE_RE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected a size such as 100M, 1G or a number of bytes, got {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def _http_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"expected an http(s) URL such as https://peer.example, got {text!r}")
    return text.rstrip("/") if parts.path in ("", "/") else text


def _seconds(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of seconds, got {text!r}")
    return int(text)


def add_parser(sub, data_arg) -> None:
    p = sub.add_parser(
        "doctor", help="check the node's health: config, database, keys, disk, growth, base URL, clock",
        description="Check this node's health, one line per check (ok, warn, FAIL, skip); exit 1 when any "
                    "check failed. Keys live in the database (table local_actors), not in key files: the keys "
                    "check loads each actor's private key from its row and matches it with its public key. "
                    "Nothing is changed; the disk check writes a 64 KiB scratch file and removes it.")
    data_arg(p)
    p.add_argument("--min-free", type=parse_size, default=100 * MIB, metavar="SIZE",
                   help="least free space in the data directory: bytes, or 500M, 2G (default 100M)")
    p.add_argument("--url", type=_http_url, default=None,
                   help="reach the node here instead of its base_url (e.g. http://127.0.0.1:8080 inside its "
                        "container), sending the base_url's Host; as the operator's own address it is not held "
                        "to allow_private_addresses")
    p.add_argument("--peer", type=_http_url, action="append", default=None, metavar="URL",
                   help="compare the clock with this server's Date (repeatable; default: up to 3 hosts the "
                        "Group follows or is followed by, else the node itself)")
    p.add_argument("--max-skew", type=_seconds, default=60, metavar="SECONDS",
                   help="clock difference that fails the clock check (default 60)")
    p.add_argument("--offline", action="store_true", help="skip the base URL and clock checks (no network)")
    p.set_defaults(run=cmd_doctor)
