"""Decisions that act: the clock that closes proposals when their time comes, and the enactors that carry out
what passed. Governance decides; this module supplies the parts that need the network (a sibling's Follow)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import aiosqlite

from node import config as configuration
from node.activitypub import actor_updates, questions
from node.activitypub.documents import actor_id
from node.activitypub.fetch import FetchError, HttpClient
from node.activitypub.outbox import answer_follow, send_follow
from node.activitypub.remote_actors import ActorUnavailable, get_remote_actor
from node.clock import Clock, clock_from_env
from node.config import Config, ConfigError, LiveConfig
from node.db import now_iso, transaction
from node.governance import membership, proposals
from node.governance.membership import MembershipError
from node.governance.proposals import Enactor, ProposalEvent
from node.store import follows, local_actors
from node.store import settings as settings_store
from node.store.proposals import Proposal

log = logging.getLogger(__name__)
MAX_SLEEP = 60.0  # look again at least this often, so a clock jump or a new proposal is noticed


def enactors(config: Config, client: HttpClient | None) -> dict[str, Enactor]:
    """Each enactor is idempotent: run twice (a crash between enacting and recording it), it changes nothing more."""

    async def promote(db: aiosqlite.Connection, proposal: Proposal) -> None:
        target = await local_actors.by_username(db, proposal.action_args["member"].lstrip("@").lower())
        if target is None or target.tier is None:
            raise MembershipError(f"@{proposal.action_args['member']} is no longer a member")
        if target.tier != "partner":
            await membership.promote(db, target.id, None, f"decided by proposal “{proposal.title}”")

    async def remove_member(db: aiosqlite.Connection, proposal: Proposal) -> None:
        target = await local_actors.by_username(db, proposal.action_args["member"].lstrip("@").lower())
        if target is not None and target.tier is not None:
            await membership.remove(db, target.id, None, f"decided by proposal “{proposal.title}”")

    async def approve_sibling(db: aiosqlite.Connection, proposal: Proposal) -> None:
        group = await local_actors.group(db)
        ours, theirs = actor_id(config, group.username), proposal.action_args["actor"]
        if client is None:
            raise MembershipError("the node cannot reach other servers from here")
        try:
            remote = await get_remote_actor(db, client, theirs)
        except (ActorUnavailable, FetchError) as exc:
            raise MembershipError(f"{theirs} cannot be reached: {exc}") from None
        inbox = remote.shared_inbox or remote.inbox
        asked = await follows.get(db, theirs, ours)
        if asked is not None and asked.state == "pending":
            await answer_follow(db, config, group, asked, remote.inbox, accept=True)
        mine = await follows.get(db, ours, theirs)
        if mine is None or mine.state == "rejected":
            await send_follow(db, config, group, theirs, inbox)

    async def change_setting(db: aiosqlite.Connection, proposal: Proposal) -> None:
        name, value = proposal.action_args["setting"], proposal.action_args["value"]
        try:  # checked again: another decision (hard_size, say) may have passed since this one opened
            configuration.with_decided(config, {name: value})
        except ConfigError as exc:
            raise MembershipError(str(exc)) from None
        async with transaction(db):
            await settings_store.put(db, name, value, proposal.uuid, now_iso())
        if isinstance(config, LiveConfig):
            config.apply({name: value})
            # public_follows is in the Group's document (manuallyApprovesFollowers): its followers hear of it.
            await actor_updates.announce_group_if_changed(db, config)

    return {"promote": promote, "remove_member": remove_member, "approve_sibling": approve_sibling,
            "change_setting": change_setting}


class DecisionClock:
    """Closes proposals at their closing time, and on start those whose time passed while the node was down."""

    def __init__(self, db: aiosqlite.Connection, config: Config, client: HttpClient | None,
                 clock: Clock | None = None):
        self.db, self.config, self.client = db, config, client
        self.clock = clock or clock_from_env()
        self.wake = asyncio.Event()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    async def run_once(self) -> list[ProposalEvent]:
        return await proposals.close_due(self.db, self.config, enactors(self.config, self.client), now=self.now(),
                                         publish=questions.publisher(self.config))

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("closing proposals failed; trying again shortly")
            upcoming = await proposals.next_closing(self.db)
            delay = MAX_SLEEP if upcoming is None else (upcoming - self.now()).total_seconds()
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(max(delay, 0.05), MAX_SLEEP)):
                    await self.wake.wait()
