"""The inbox worker: each actor's activities in the order they came, different actors side by side.

A stranger's slow server must not hold up anyone else (issue 12: three Creates whose object answered after 120 s
delayed a followed actor's post by 93 s). So rows of different actors run concurrently, at most `concurrency` at
once; one actor's rows run one after another, and a row waiting for its retry holds back only that actor's later
rows (an Update is never applied before the Create it edits). Every fetch a row makes ends by the row's deadline
(`fetch_seconds`); one that does not is retried later with backoff. `run_once()` is one step for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from typing import Any

from node.activitypub.fetch import FetchError, HttpClient
from node.activitypub.inbound.context import InboxContext, followed_by_us
from node.activitypub.inbound.registry import dispatch
from node.activitypub.remote_actors import ActorUnavailable
from node.clock import Clock, clock_from_env
from node.db import StorageUnavailable, transaction
from node.store import inbox as inbox_store

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
# Rows in flight at once (each of another actor); enough that a few slow origins leave most slots free.
CONCURRENCY = 12
# Of those, what rows of actors nobody here follows may hold: those of followed actors and siblings never wait
# behind strangers' (a Group's follower may post to it, and so make us fetch).
STRANGER_SLOTS = 4
# What all of one row's fetches may take together: a real server answers in well under a second, and a slow
# origin then costs one slot this long, not the queue.
FETCH_SECONDS = 8.0
# Rows of one actor taken in one turn before its slot may go to another actor.
ROWS_PER_TURN = 16


def retry_delay(attempts: int) -> float | None:
    """Seconds until the next try of a row that failed `attempts + 1` times, or None to give up."""
    return None if attempts + 1 >= MAX_ATTEMPTS else 30.0 * 2**attempts


class RowClient:
    """The HTTP client as one row's handlers see it: every fetch ends by the row's deadline."""

    def __init__(self, client: HttpClient, seconds: float):
        self._client = client
        self._seconds = seconds
        self._deadline = asyncio.get_running_loop().time() + seconds

    async def get_json(self, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with asyncio.timeout_at(self._deadline):
                return await self._client.get_json(url, **kwargs)
        except TimeoutError:
            raise FetchError(f"fetching {url} took longer than the {self._seconds:g} s an activity may") from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class InboxWorker:
    def __init__(self, ctx: InboxContext, batch: int = 64, clock: Clock | None = None, *,
                 concurrency: int = CONCURRENCY, stranger_slots: int = STRANGER_SLOTS,
                 fetch_seconds: float = FETCH_SECONDS):
        self.ctx = ctx
        self.clock = clock or clock_from_env()
        self.batch = batch
        self.concurrency = concurrency
        self.fetch_seconds = fetch_seconds
        self.wake = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)
        self._stranger_slots = asyncio.Semaphore(min(stranger_slots, concurrency))
        self._busy: set[str] = set()  # actors with a turn in flight: their next rows wait for it
        self._turns: set[asyncio.Task[int]] = set()
        self._outcomes: list[tuple[int, str]] = []  # rows done, their outcomes not committed yet
        self._flushing = asyncio.Lock()

    async def run_once(self) -> int:
        """Process the due rows (each actor's in order, actors concurrently); return how many were looked at."""
        turns = await self._start_turns(self.batch)
        results = await asyncio.gather(*turns, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return sum(results)

    async def drain(self) -> int:
        total = 0
        while n := await self.run_once():
            total += n
        return total

    async def _start_turns(self, max_turns: int) -> list[asyncio.Task[int]]:
        """A task per actor with due rows (none for an actor whose turn is still in flight)."""
        rows = await inbox_store.pending(self.ctx.db, self.clock.now(), self.batch, busy=self._busy)
        by_actor: dict[str, list[inbox_store.InboxRow]] = {}
        for row in rows:
            if row.actor in by_actor or len(by_actor) < max_turns:
                by_actor.setdefault(row.actor, []).append(row)
        turns = []
        for actor, actor_rows in by_actor.items():
            self._busy.add(actor)
            task = asyncio.create_task(self._turn(actor, actor_rows[:ROWS_PER_TURN]), name=f"inbox {actor}")
            self._turns.add(task)
            task.add_done_callback(self._turns.discard)
            turns.append(task)
        return turns

    async def _turn(self, actor: str, rows: list[inbox_store.InboxRow]) -> int:
        """One actor's rows in order, each in a slot; stop at a row that waits for a retry. Rows looked at."""
        looked_at = 0
        try:
            followed = await followed_by_us(self.ctx, actor)
            for row in rows:
                async with contextlib.AsyncExitStack() as slots:
                    if not followed:
                        await slots.enter_async_context(self._stranger_slots)
                    await slots.enter_async_context(self._slots)
                    looked_at += 1
                    if not await self._process(row):
                        break
            await self._flush()
        finally:
            self._busy.discard(actor)
        return looked_at

    async def _process(self, row: inbox_store.InboxRow) -> bool:
        """Run the row's handler and record its outcome; False when the row is to be tried again later."""
        ctx = dataclasses.replace(self.ctx, inbox_owner=row.recipient,
                                  client=RowClient(self.ctx.client, self.fetch_seconds))
        try:
            outcome = await dispatch(ctx, json.loads(row.body), row.actor)
        except (ActorUnavailable, FetchError) as exc:
            delay = retry_delay(row.attempts)
            retry_at = None if delay is None else self.clock.now() + delay
            log.info("inbox %s from %s: %s (attempt %d)", row.activity_id, row.actor, exc, row.attempts + 1)
            async with transaction(self.ctx.db):
                await inbox_store.mark_failed_attempt(self.ctx.db, row.id, f"error: {exc}"[:500], retry_at)
            return retry_at is None
        except StorageUnavailable:
            raise
        except Exception as exc:
            log.exception("inbox %s from %s failed", row.activity_id, row.actor)
            async with transaction(self.ctx.db):
                await inbox_store.mark_failed_attempt(self.ctx.db, row.id, f"bug: {exc!r}"[:500], None)
            return True
        self._outcomes.append((row.id, outcome))
        return True

    async def _flush(self) -> None:
        """Commit the outcomes of every row done so far, of every turn, at once (before a turn lets its actor
        go, so no row is taken twice). A crash before it replays those rows; handlers are idempotent."""
        async with self._flushing:  # turns ending together share one commit; the later ones find nothing left
            if not self._outcomes:
                return
            done, self._outcomes = self._outcomes, []
            async with transaction(self.ctx.db):
                await inbox_store.mark_processed(self.ctx.db, done)

    async def run_forever(self) -> None:
        try:
            while True:
                await self._step_forever()
        finally:
            await self.stop()

    async def _step_forever(self) -> None:
        """Start turns while slots are free; else wait for a turn to end, a commit, or a second."""
        self.wake.clear()  # before the query: a commit after it still wakes the wait below
        free = self.concurrency - len(self._turns)
        if free > 0:
            try:
                started = await self._start_turns(free)
            except StorageUnavailable:
                started = []
            for task in started:
                task.add_done_callback(_log_failure)
            if started:
                return
        woken = asyncio.ensure_future(self.wake.wait())
        try:
            await asyncio.wait([woken, *self._turns], timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()

    async def stop(self) -> None:
        """Cancel the turns in flight (their rows stay pending and are taken again at the next start)."""
        turns = list(self._turns)
        for task in turns:
            task.cancel()
        for task in turns:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _log_failure(task: asyncio.Task[int]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("an inbox turn stopped: %s (its rows stay pending)", exc)
