"""create_app(config, *, clock, resolver): routes, and every resource in a cleanup_ctx."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web, web_urldispatcher
from aiohttp.abc import AbstractResolver
from argon2 import PasswordHasher

from node import db as database
from node import logs, uris
from node import web as web_ui
from node.activitypub import actor_updates, actors, assembly, decisions, discovery, objects, witness
from node.activitypub.clients import Pools
from node.activitypub.delivery import DeliveryWorker
from node.activitypub.inbound.context import InboxContext
from node.activitypub.inbox import InboxWriter, expect_handler, post_inbox
from node.activitypub.keys import KeyResolver
from node.activitypub.peers import Peers
from node.activitypub.ratelimit import Allowance
from node.activitypub.worker import InboxWorker
from node.appkeys import (
    CLOCK,
    CONFIG,
    DB,
    DECISIONS,
    DELIVERY,
    HASHER,
    HTTP,
    INBOX_WORKER,
    INBOX_WRITER,
    KEYS,
    METRICS,
    PEERS,
    RATE_LIMIT,
    RESOLVER,
    WITNESS,
    WORKER_TASKS,
)
from node.clock import Clock, bind, clock_from_env
from node.config import Config, ConfigError, LiveConfig
from node.decisions import DecisionClock
from node.governance import accounts, decision_log
from node.metrics import Metrics, count_inbox, healthz, metrics
from node.store import local_actors
from node.store import settings as settings_store
from node.witnessing import LogWitness

log = logging.getLogger(__name__)

# Every route answers an Expect header without echoing it, matched or not (a 404 or 405 is answered by a route
# aiohttp makes itself): aiohttp's default handler put the header's bytes in its 417 and failed on any that are not
# UTF-8, a 500 (found by tests/test_inbox_fuzz.py). Routes take their default from this module attribute.
web_urldispatcher._default_expect_handler = expect_handler


class NotInitialised(Exception):
    """The database holds no Congregation yet."""


async def _database(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    writer = await database.connect(config.db_path)
    writer_db = await database.connect(config.db_path)
    db: database.Database | None = None
    try:
        # Migrations run on the writer alone, before any reader opens.
        await database.migrate(writer)
        db = await database.Database.open(writer, config.db_path)
        # Code that writes a time and holds only the database (publish() stamping a delivery due) reads this clock.
        bind(db, app[CLOCK])
        bind(writer_db, app[CLOCK])
        if await local_actors.group(db) is None:
            raise NotInitialised(f"{config.db_path} holds no Congregation; run `congregation init`")
        # A node made before signed records gets its Group's record key now, before its document is compared.
        await decision_log.ensure_key(db)
        # Before the Group document is compared: a decided public_follows is part of it.
        decided = await settings_store.decided(db)
        try:
            config.apply(decided)
        except ConfigError as exc:
            raise ConfigError(f"a setting the Congregation decided no longer fits ({exc});"
                              " change congregation.toml so it does") from None
        if decided:
            log.info("Settings decided by the Congregation: %s",
                     ", ".join(f"{name} = {value}" for name, value in decided.items()))
        if await actor_updates.announce_group_if_changed(db, config):
            log.info("The Congregation's name, summary or follow policy changed: Update(Group) is queued")
        app[DB] = db
        app[INBOX_WRITER] = InboxWriter(writer_db)
        app[INBOX_WRITER].start()
        yield
    finally:
        if INBOX_WRITER in app:
            await app[INBOX_WRITER].stop()
        await writer_db.close()
        await (db.close() if db is not None else writer.close())


async def _http(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    group = await local_actors.group(app[DB])
    # A connection pool per kind of work (clients.Pools): strangers' key fetches cannot starve deliveries, known
    # peers' keys or the workers.
    pools = Pools.open(config, group, app[RESOLVER])
    client = pools.general
    app[HTTP] = client
    app[PEERS] = Peers(app[DB], uris.actor(config, group.username))
    app[KEYS] = KeyResolver(app[DB], pools.known_keys, config.key_refetch_seconds, local_base=config.base_url,
                            fetch_rate=config.inbox_rate_per_host, fetch_burst=config.inbox_burst_per_host,
                            domain_rate=config.inbox_rate_per_domain, domain_burst=config.inbox_burst_per_domain,
                            strangers=pools.strangers, peers=app[PEERS])
    app[INBOX_WORKER] = InboxWorker(InboxContext(app[DB], config, client, app[KEYS]), clock=app[CLOCK])
    app[DELIVERY] = DeliveryWorker(app[DB], config, pools.deliveries, clock=app[CLOCK])
    app[DECISIONS] = DecisionClock(app[DB], config, client, clock=app[CLOCK])
    app[WITNESS] = LogWitness(app[DB], config, client)
    yield
    await pools.close()


def _workers(run: bool):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        tasks = []
        if run:
            inbox_worker = app[INBOX_WORKER]
            if app[CONFIG].process_inbox:
                tasks.append(asyncio.create_task(inbox_worker.run_forever(), name="inbox-worker"))
            tasks.append(asyncio.create_task(app[DELIVERY].run_forever(), name="delivery-worker"))
            tasks.append(asyncio.create_task(app[DECISIONS].run_forever(), name="decision-clock"))
            tasks.append(asyncio.create_task(app[WITNESS].run_forever(), name="log-witness"))

            async def wake_on_commit() -> None:
                committed = app[INBOX_WRITER].committed
                while True:
                    await committed.wait()
                    committed.clear()
                    inbox_worker.wake.set()

            tasks.append(asyncio.create_task(wake_on_commit(), name="inbox-wake"))
        app[WORKER_TASKS] = tasks
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return ctx


@web.middleware
async def errors_middleware(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except database.StorageUnavailable:
        return web.json_response({"error": "storage is unavailable, try again later"}, status=503,
                                 headers={"Retry-After": "30"})


def create_app(config: Config | LiveConfig, *, run_workers: bool = True, clock: Clock | None = None,
               resolver: AbstractResolver | None = None, hasher: PasswordHasher | None = None) -> web.Application:
    """The node as an aiohttp application; tests pass run_workers=False and step the workers themselves.

    `clock` is the time the workers and requests read (default: the system's, or the test clock of the
    environment in test mode); `resolver` is what outbound connections resolve names through, behind the SSRF
    guard (default: the system's DNS); `hasher` hashes members' passwords (default: argon2id at the cost
    RFC 9106 recommends; tests pass a cheap argon2).
    """
    # Every component gets the live holder, so a setting the Congregation decides applies without a restart.
    config = config if isinstance(config, LiveConfig) else LiveConfig(config)
    # request_ids first: the outermost, so every log line of a request, and every answer, carries its id.
    app = web.Application(middlewares=[logs.request_ids(config.log_requests), count_inbox, errors_middleware],
                          client_max_size=config.max_inbox_bytes)
    app[METRICS] = Metrics()
    app[CONFIG] = config
    app[CLOCK] = clock if clock is not None else clock_from_env()
    app[RESOLVER] = resolver
    app[HASHER] = hasher or accounts.DEFAULT_HASHER
    app[RATE_LIMIT] = Allowance(config.inbox_rate_per_host, config.inbox_burst_per_host,
                                config.inbox_rate_per_domain, config.inbox_burst_per_domain)
    app.cleanup_ctx.extend([_database, _http, _workers(run_workers)])
    web_ui.setup(app)
    app.add_routes(discovery.routes)
    app.add_routes(actors.routes)
    app.add_routes(objects.routes)
    app.add_routes(decisions.routes)
    app.add_routes(assembly.routes)
    app.add_routes(witness.routes)
    app.router.add_post("/inbox", post_inbox)
    app.router.add_post("/actors/{username}/inbox", post_inbox)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app
