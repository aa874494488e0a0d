"""/metrics in Prometheus' text format and /healthz: what an operator watches.

Counters move as requests pass (inbox outcomes by status); gauges are read from the database at scrape time,
so they are right after a restart. Each app has its own registry (tests run many nodes in one process)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest

from node.activitypub.inbox import REFUSAL
from node.appkeys import CONFIG, DB, KEYS, METRICS, WORKER_TASKS
from node.db import StorageUnavailable, now_iso, transaction
from node.store import growth


class Metrics:
    """The node's counters and gauges, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.inbox = Counter("congregation_inbox_requests",
                             "Inbox POSTs by HTTP status (202 accepted; 4xx/5xx why not)", ["status"], registry=r)
        self.refused = Counter("congregation_inbox_refused",
                               "Inbox POSTs refused, by reason (unsigned, signature, rate_limited, …)", ["reason"],
                               registry=r)
        self.deliveries = Gauge("congregation_deliveries", "Delivery rows by state", ["state"], registry=r)
        self.failing_hosts = Gauge("congregation_failing_hosts", "Hosts the delivery breaker holds back", registry=r)
        self.inbox_pending = Gauge("congregation_inbox_pending", "Accepted activities not processed yet", registry=r)
        self.members = Gauge("congregation_members", "Members by tier", ["tier"], registry=r)
        self.proposals = Gauge("congregation_proposals", "Proposals by state", ["state"], registry=r)
        # Growth is the rate of this gauge (Prometheus' deriv()): a stranger filling the disk shows here first.
        self.database_bytes = Gauge("congregation_database_bytes",
                                    "Size of the database: its pages plus its write-ahead log", registry=r)
        # What grows it, read from the rows themselves (so right after a restart too): who is filling the disk.
        self.rows_added = Gauge("congregation_rows_added", "Rows a table took in the last hour or day",
                                ["table", "window"], registry=r)
        self.object_bytes_added = Gauge("congregation_remote_object_bytes_added",
                                        "Bytes of the remote objects received in the last hour or day, still stored",
                                        ["window"], registry=r)
        # The key-fetch pools (issue 12, point 5): a strangers' pool that stays full is an attack in progress, or a
        # slot that leaked; the known peers' pool should stay near empty.
        self.key_fetches = Gauge("congregation_key_fetches", "Key fetches in flight, and the pool's size",
                                 ["pool", "what"], registry=r)
        self.stored_bytes = Gauge("congregation_stored_bytes",
                                  "Bytes of remote objects stored, and of activities waiting for the worker",
                                  ["what"], registry=r)

    async def refresh(self, db, wal: Path | None = None) -> None:
        """Read the gauges from the database (`wal`: its write-ahead log file, counted in its size)."""
        async with db.execute("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()") as cur:
            pages = (await cur.fetchone())[0]
        self.database_bytes.set(pages + (wal.stat().st_size if wal is not None and wal.is_file() else 0))
        for gauge, sql, states in (
            (self.deliveries, "SELECT state, COUNT(*) FROM deliveries GROUP BY state", ("queued", "done", "failed")),
            (self.members, "SELECT tier, COUNT(*) FROM members GROUP BY tier", ("friend", "partner")),
            (self.proposals, "SELECT state, COUNT(*) FROM proposals GROUP BY state",
             ("open", "passed", "failed", "no_quorum", "withdrawn", "enacted")),
        ):
            async with db.execute(sql) as cur:
                found = dict(await cur.fetchall())
            for state in states:
                gauge.labels(state).set(found.get(state, 0))
        async with db.execute("SELECT COUNT(*) FROM inbox WHERE processed_at IS NULL") as cur:
            self.inbox_pending.set((await cur.fetchone())[0])
        async with db.execute("SELECT COUNT(*) FROM hosts WHERE unavailable = 1") as cur:
            self.failing_hosts.set((await cur.fetchone())[0])
        for (table, window), count in (await growth.rows_added(db)).items():
            self.rows_added.labels(table, window).set(count)
        for window, size in (await growth.object_bytes_added(db)).items():
            self.object_bytes_added.labels(window).set(size)
        objects, pending = await growth.stored_bytes(db)
        self.stored_bytes.labels("remote_objects").set(objects)
        self.stored_bytes.labels("inbox_pending").set(pending)


@web.middleware
async def count_inbox(request: web.Request, handler) -> web.StreamResponse:
    """Count every inbox POST's answer, including the refusals (a 401 is raised as well as returned)."""
    if request.method != "POST" or not (request.path == "/inbox" or request.path.endswith("/inbox")):
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        request.app[METRICS].inbox.labels(str(exc.status)).inc()
        if exc.status >= 400:
            request.app[METRICS].refused.labels("http_error").inc()
        raise
    request.app[METRICS].inbox.labels(str(response.status)).inc()
    if (code := response.get(REFUSAL)) is not None:
        request.app[METRICS].refused.labels(code).inc()
    return response


async def metrics(request: web.Request) -> web.Response:
    path = request.app[CONFIG].db_path
    gauges = request.app[METRICS]
    await gauges.refresh(request.app[DB], path.with_name(path.name + "-wal"))
    if (keys := request.app.get(KEYS)) is not None:
        for pool, slots in (("strangers", keys.stranger_slots), ("known", keys.known_slots)):
            gauges.key_fetches.labels(pool, "in_flight").set(slots.used)
            gauges.key_fetches.labels(pool, "size").set(slots.size)
    return web.Response(body=generate_latest(request.app[METRICS].registry),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


async def healthz(request: web.Request) -> web.Response:
    """200 when the database takes a write and the background workers run; 503 saying which is not."""
    problems = {}
    try:
        async with transaction(request.app[DB]) as db:  # a real write: a read-only or failing disk shows here
            await db.execute("INSERT INTO node_health (id, checked_at) VALUES (1, ?)"
                             " ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at", (now_iso(),))
    except (StorageUnavailable, sqlite3.Error, ValueError) as exc:  # ValueError: the connection is closed
        problems["database"] = f"not writable: {exc}"
    for task in request.app.get(WORKER_TASKS, []):
        if task.done():
            problems[task.get_name()] = "stopped"
    body = {"ok": not problems, **problems}
    return web.json_response(body, status=200 if not problems else 503)
