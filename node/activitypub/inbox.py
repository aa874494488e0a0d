"""POST /inbox and /actors/{name}/inbox: check in the order of FEDERATION-NOTES, commit, answer 202.

Nothing before the commit has a side effect (a key fetch caches the key, which is not an effect of the
activity). The worker in worker.py does the work later.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from typing import Any

import aiosqlite
from aiohttp import web

from node import uris
from node.activitypub import blocks, quotas
from node.activitypub.as2 import parse
from node.activitypub.jsonsafe import BadJSON, loads_object
from node.activitypub.keys import KEY_UNAVAILABLE, KeyUnavailable
from node.activitypub.ratelimit import client_block, retry_after_header
from node.activitypub.signatures import SignatureError
from node.activitypub.verify import check, pending_signature
from node.appkeys import CONFIG, DB, DELIVERY, INBOX_WRITER, KEYS, PEERS, RATE_LIMIT
from node.config import Config, proxy_networks
from node.db import StorageUnavailable, is_unavailable, now_iso
from node.store import inbox as inbox_store
from node.store import local_actors

log = logging.getLogger(__name__)
# Where a refused response carries its short reason code, for the metrics middleware.
REFUSAL = web.ResponseKey("refusal", str)

INBOX_TYPES = ("application/activity+json", "application/ld+json", "application/json")
# Activities whose object is authored by the actor: its id must share the actor's origin.
AUTHORED_OBJECT = {"Create", "Update", "Delete", "Undo"}
RETRY_AFTER_SECONDS = "30"
# Answers to our Follows that may come without an id: ActivityPub allows transient activities, and Epicyon sends
# its Accept and Reject that way.
TRANSIENT_ANSWERS = {"Accept", "Reject"}


class InboxWriter:
    """One task commits accepted activities in batches: durable before 202, thousands per second."""

    def __init__(self, db: aiosqlite.Connection, max_batch: int = 512):
        self.db = db
        self.max_batch = max_batch
        self.committed = asyncio.Event()
        self._queue: asyncio.Queue[tuple[tuple, asyncio.Future]] = asyncio.Queue()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="inbox-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(StorageUnavailable("the node is stopping"))

    async def put(self, activity_id: str, type_: str, actor: str, recipient: str | None, body: str) -> None:
        """Return once the row is committed; raise StorageUnavailable if it could not be."""
        future = asyncio.get_running_loop().create_future()
        await self._queue.put(((activity_id, type_, actor, recipient, body, inbox_store.host_key(actor)), future))
        await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            received_at = now_iso()
            errors = await self._commit([(*params, received_at) for params, _ in batch])
            for (_, future), error in zip(batch, errors, strict=True):
                if future.done():
                    continue
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)
            if any(error is None for error in errors):
                self.committed.set()

    async def _commit(self, rows: list[tuple]) -> list[BaseException | None]:
        """Commit rows in one transaction; if that fails for a reason other than storage, row by row,
        so one row the database refuses cannot fail its neighbours."""
        error = await self._transaction(rows)
        if error is None:
            return [None] * len(rows)
        if isinstance(error, StorageUnavailable) or len(rows) == 1:
            return [error] * len(rows)
        return [await self._transaction([row]) for row in rows]

    async def _transaction(self, rows: list[tuple]) -> BaseException | None:
        try:
            await self.db.execute("BEGIN IMMEDIATE")
            await self.db.executemany(inbox_store.INSERT_SQL, rows)
            await self.db.commit()
        except Exception as exc:  # noqa: BLE001 - every waiter must hear about it, whatever it was
            log.warning("inbox batch of %d not committed: %s", len(rows), exc)
            try:
                if self.db.in_transaction:
                    await self.db.rollback()
            except Exception:
                log.exception("rollback after a failed inbox batch failed")
            return StorageUnavailable(str(exc)) if is_unavailable(exc) else exc
        return None


def refuse(status: int, reason: str, code: str, **headers: str) -> web.Response:
    """The answer to a refused POST: the reason for the sender, `code` (a short fixed word) for /metrics."""
    # A flood of 429s (or of 503s for a full key pool) would drown the log: those only at DEBUG.
    quiet = status == 429 or code == "key_busy"
    log.log(logging.DEBUG if quiet else logging.INFO, "inbox refused (%d): %s", status, reason,
            extra={"status": status, "reason": reason, "code": code})
    response = web.json_response({"error": reason}, status=status, headers=headers or None)
    response[REFUSAL] = code
    return response


async def read_capped(request: web.Request, limit: int) -> bytes | None:
    """The body, or None when it is larger than `limit` (after any Content-Encoding is undone)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    try:
        # The app's client_max_size is the limit; aiohttp counts decompressed bytes as they arrive.
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        return None


def asker(request: web.Request) -> str:
    """The client's address block (IPv6: its /64), behind a trusted proxy the one it forwarded for."""
    trusted = proxy_networks(request.app[CONFIG].trusted_proxies)
    return client_block(request.remote, request.headers.getall("X-Forwarded-For", ()), trusted)


def key_refusal(exc: KeyUnavailable) -> web.Response | None:
    """503 when the key could not be fetched because the pool its host belongs in is full (try again soon: our
    capacity, not the sender's doing); 429 when an allowance (the key host's, its domain's, the client's) is
    used up; None when the key was simply not to be had."""
    if exc.retry_after is None:
        return None
    headers = {"Retry-After": retry_after_header(exc.retry_after)}
    if exc.busy:
        return refuse(503, "too many keys are being fetched; try again later", "key_busy", **headers)
    return refuse(429, "too many unknown keys to fetch; try again later", "key_throttled", **headers)


def origin_problem(activity: dict[str, Any], actor: str) -> str | None:
    """Why the activity's ids cannot be trusted to come from `actor`, or None."""
    activity_id = activity.get("id")
    home = parse.origin(actor)
    if not parse.on_origin(activity_id, home):
        if not parse.is_http_url(activity_id):
            return "the activity has no http(s) id"
        return "the activity id is on another origin than its actor"
    kind = activity.get("type")
    if not isinstance(kind, str) or not kind:
        return "the activity has no type"
    if kind in AUTHORED_OBJECT:
        object_id = parse.ref(activity.get("object"))
        if object_id is None:
            return f"the {kind} has no object id"
        if not parse.on_origin(object_id, home):
            return "the object id is on another origin than its actor"
    return None


def transient_answer_key(config: Config, activity: dict[str, Any], actor: str, body: bytes) -> str | None:
    """A dedup key for an id-less Accept/Reject of a Follow by one of ours, sent by the Follow's object; else None.

    The key is the hash of the body, so the same transient activity replayed is still taken once."""
    kind = activity.get("type")
    if activity.get("id") is not None or not isinstance(kind, str) or kind not in TRANSIENT_ANSWERS:
        return None
    follow = activity.get("object")
    if isinstance(follow, dict):
        if follow.get("type") != "Follow" or parse.ref(follow.get("object")) != actor:
            return None
        if uris.local_username(config, parse.ref(follow.get("actor"))) is None:
            return None
    elif not parse.on_origin(parse.ref(follow), parse.origin(config.base_url)):
        return None  # a bare reference must at least name an activity of ours; the handler finds the Follow
    return f"urn:congregation:transient:sha256:{hashlib.sha256(body).hexdigest()}"


async def expect_handler(request: web.Request) -> None:
    """aiohttp's Expect handling without its echo of the header, whose non-UTF-8 bytes made a 500 (found by
    tests/test_inbox_fuzz.py): 100 Continue for `100-continue`, otherwise 417 with a fixed reason."""
    if request.headers.get("Expect", "").lower() != "100-continue":
        raise web.HTTPExpectationFailed(text="only Expect: 100-continue is understood")
    if request.version == (1, 1):
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # as aiohttp does: the body has not started


async def post_inbox(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    recipient = request.match_info.get("username")
    if recipient is not None and await local_actors.by_username(request.app[DB], recipient) is None:
        return refuse(404, "no such actor", "no_such_actor")
    try:
        body = await read_capped(request, config.max_inbox_bytes)
    except web.RequestPayloadError:  # found by tests/test_inbox_fuzz.py: a gzip header on a plain body was a 500
        return refuse(400, "the body does not decode as its Content-Encoding says", "bad_body")
    if body is None:
        return refuse(413, f"the body is larger than {config.max_inbox_bytes} bytes", "too_large")
    if request.content_type not in INBOX_TYPES:
        return refuse(415, "send application/activity+json", "media_type")
    try:
        pending = pending_signature(config, request.method, request.raw_path, request.headers, body)
        if (blocked := await blocks.inbox_refusal(request.app[DB], config, pending.key_id, body)) is not None:
            return refuse(403, blocked, "blocked")  # before any key is fetched from that server
        signer = await check(pending, request.app[KEYS], asker(request))
    except SignatureError as exc:
        return refuse(exc.status, exc.reason, "unsigned" if exc.status == 401 and "not signed" in exc.reason
                      else "signature")
    except KeyUnavailable as exc:
        refused = key_refusal(exc)
        if refused is not None:
            return refused
        if exc.gone and _is_delete(body):
            # A deleted actor's key is gone too (410); we hold nothing of theirs to remove.
            return web.Response(status=202)
        log.info("inbox: the key of %s cannot be had: %s", pending.key_id, exc.reason)
        return refuse(401, KEY_UNAVAILABLE, "key_unavailable")
    sender_host = parse.host_of(signer.key_owner)
    # A verified request proves the host is up: deliveries waiting for it need not wait out their backoff.
    delivery = request.app[DELIVERY]
    if delivery.may_be_failing(sender_host):
        await delivery.peer_seen_alive(sender_host)
    # Per sending host and, larger, per registrable domain (wildcard DNS hands out names, not domains); a sibling
    # Congregation has an allowance of its own, which no stranger under its domain draws down.
    sibling = await request.app[PEERS].sibling(parse.origin(signer.key_owner))
    wait = request.app[RATE_LIMIT].take(sender_host, own=sibling)
    if wait:
        return refuse(429, "too many requests from your host", "rate_limited",
                      **{"Retry-After": retry_after_header(wait)})
    try:
        activity = loads_object(body, config.max_json_depth)
    except BadJSON as exc:
        return refuse(400, str(exc), "bad_json")
    actor = parse.ref(activity.get("actor"))
    if actor != signer.key_owner:
        return refuse(401, "the activity's actor is not the owner of the signing key", "actor_not_signer")
    activity_id = transient_answer_key(config, activity, actor, body)
    if activity_id is None:
        problem = origin_problem(activity, actor)
        if problem:
            return refuse(400, problem, "origin")
        activity_id = activity["id"]
    if quota := await quotas.inbox_refusal(request.app[DB], actor, len(body)):  # issue 12, point 8
        return refuse(429, quota, "quota", **{"Retry-After": str(quotas.RETRY_AFTER_SECONDS)})
    try:
        await request.app[INBOX_WRITER].put(activity_id, activity["type"], actor, recipient, body.decode("utf-8"))
    except StorageUnavailable as exc:
        log.warning("inbox refused %s from %s: storage unavailable (%s)", activity_id, actor, exc)
        return refuse(503, "storage is unavailable, try again later", "storage", **{"Retry-After": RETRY_AFTER_SECONDS})
    return web.Response(status=202)


def _is_delete(body: bytes) -> bool:
    try:
        return loads_object(body).get("type") == "Delete"
    except BadJSON:
        return False
