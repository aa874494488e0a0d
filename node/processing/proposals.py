"""Proposals as members make them and the node closes them: each change and its Question on the wire (public
proposals only) commit together; passed proposals that act are carried out by the enactors here."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiosqlite

from node import uris
from node.activitypub.fetch import HttpClient
from node.activitypub.outbound import federate
from node.clock import clock_of
from node.config import Config
from node.db import StorageUnavailable, transaction
from node.governance import membership, proposals
from node.governance.errors import GovernanceError
from node.governance.events import Event
from node.governance.proposals import ProposalError
from node.processing import assembly, moderation, siblings
from node.processing import settings as settings_processing
from node.processing.common import apply
from node.processing.membership import ended
from node.store import local_actors
from node.store import proposals as store
from node.store.local_actors import LocalActor
from node.store.proposals import Proposal

log = logging.getLogger(__name__)
__all__ = ["ProposalError", "close_due", "open_proposal", "record_outcome", "stance_received", "take_stance",
           "withdraw"]


async def open_proposal(db: aiosqlite.Connection, config: Config, author: LocalActor, *, now: datetime | None = None,
                        **fields: Any) -> list[Event]:
    """Open a proposal (fields as governance.proposals.create takes them); a public one goes out as a Question."""
    moment = _moment(db, now)
    if "action_args" in fields:
        fields["action_args"] = moderation.proposal_args(fields.get("action"), fields["action_args"])
    return await apply(db, config, lambda: proposals.create(db, config, author, now=moment, **fields))


async def take_stance(db: aiosqlite.Connection, config: Config, proposal: Proposal, member: LocalActor,
                      choices: list[str], reason: str = "", now: datetime | None = None) -> list[Event]:
    """A member here takes (or changes) their stance."""
    voter, moment = uris.actor(config, member.username), _moment(db, now)
    return await apply(db, config, lambda: proposals.cast(db, config, proposal, voter, choices, reason, now=moment))


async def withdraw(db: aiosqlite.Connection, config: Config, actor: LocalActor, proposal_id: int) -> list[Event]:
    return await apply(db, config, lambda: proposals.withdraw(db, actor, proposal_id))


async def record_outcome(db: aiosqlite.Connection, config: Config, actor: LocalActor, proposal_id: int,
                         text: str) -> list[Event]:
    return await apply(db, config, lambda: proposals.record_outcome(db, actor, proposal_id, text))


def _moment(db: aiosqlite.Connection, now: datetime | None) -> datetime:
    """`now`, else the node's clock (the one bound to its database), never the wall clock behind a test's back."""
    return now if now is not None else datetime.fromtimestamp(clock_of(db).now(), UTC)


@dataclass(frozen=True)
class RemoteVote:
    """A vote on one of our proposals from elsewhere, as the wire gave it."""

    proposal_uuid: str
    choice: str
    voter: str
    activity_id: str | None


async def stance_received(db: aiosqlite.Connection, config: Config, vote: RemoteVote) -> str:
    """Count a remote vote once per voter, only from those who may take part; say what happened."""
    proposal = await store.by_uuid(db, vote.proposal_uuid)
    if proposal is None:
        return "ignored: vote on a proposal we do not have"
    choices = [vote.choice]
    if proposal.multiple:
        # Mastodon sends one Create per chosen option of an anyOf poll: together they are one stance.
        held = await proposals.standing_stances(db, proposal)
        earlier = next((s for s in held if s.voter == vote.voter), None)
        if earlier is not None:
            choices = [*earlier.choices, vote.choice]
    try:
        moment = _moment(db, None)
        events = await apply(db, config, lambda: proposals.cast(db, config, proposal, vote.voter, choices, "",
                                                                activity_id=vote.activity_id, now=moment))
    except GovernanceError as exc:
        return f"refused vote: {exc}"
    return "vote counted" if events else "vote already counted"


# An enactor carries out a passed proposal in two steps: `prepare` may take the network (outside any
# transaction, so no write waits on another server), `apply` changes the database inside the transaction that
# marks the proposal enacted and returns events to federate with it. Each is idempotent.
Prepare = Callable[[aiosqlite.Connection, Config, HttpClient | None, Proposal], Awaitable[Any]]
Apply = Callable[[aiosqlite.Connection, Config, Proposal, Any], Awaitable[list[Event]]]


async def _nothing(db: aiosqlite.Connection, config: Config, client: HttpClient | None, proposal: Proposal) -> None:
    return None


async def _member(db: aiosqlite.Connection, proposal: Proposal) -> LocalActor | None:
    target = await local_actors.by_username(db, str(proposal.action_args["member"]).lstrip("@").lower())
    return target if target is not None and target.tier is not None else None


async def _promote(db: aiosqlite.Connection, config: Config, proposal: Proposal, _: Any) -> list[Event]:
    target = await _member(db, proposal)
    if target is None:
        raise ProposalError(f"@{proposal.action_args['member']} is no longer a member")
    if target.tier != "partner":
        await membership.promote(db, target.id, None, f"decided by proposal “{proposal.title}”")
    return []


async def _remove_member(db: aiosqlite.Connection, config: Config, proposal: Proposal, _: Any) -> list[Event]:
    target = await _member(db, proposal)
    if target is None:
        return []
    return await ended(db, await membership.remove(db, target.id, None, f"decided by proposal “{proposal.title}”"))


async def _reach_sibling(db: aiosqlite.Connection, config: Config, client: HttpClient | None,
                         proposal: Proposal) -> Any:
    return await siblings.reach(db, client, proposal.action_args["actor"])


async def _approve_sibling(db: aiosqlite.Connection, config: Config, proposal: Proposal, other: Any) -> list[Event]:
    return await siblings.approve(db, config, other)


async def _change_setting(db: aiosqlite.Connection, config: Config, proposal: Proposal, _: Any) -> list[Event]:
    args = proposal.action_args
    return await settings_processing.change(db, config, args["setting"], args["value"], proposal.uuid)


ENACTORS: dict[str, tuple[Prepare, Apply]] = {
    "promote": (_nothing, _promote),
    "remove_member": (_nothing, _remove_member),
    "approve_sibling": (_reach_sibling, _approve_sibling),
    "change_setting": (_nothing, _change_setting),
    "block_server": (_nothing, moderation.enact_block),
    "federation_mode": (_nothing, moderation.enact_mode),
    "table_assembly": (assembly.prepare_tabling, assembly.enact_tabling),
}


async def enact(db: aiosqlite.Connection, config: Config, client: HttpClient | None, proposal: Proposal
                ) -> list[Event]:
    """Carry out one passed proposal, or record why it could not be ("passed, not enacted")."""
    prepare, change = ENACTORS[proposal.action]
    saved = settings_processing.snapshot(config)
    try:
        prepared = await prepare(db, config, client, proposal)
        async with transaction(db):
            events = await change(db, config, proposal, prepared)
            events += await proposals.mark_enacted(db, proposal)
            await federate(db, config, events)
        return events
    except GovernanceError as exc:
        settings_processing.restore(config, saved)
        await proposals.mark_enacted(db, proposal, str(exc))
        return []
    except BaseException:
        settings_processing.restore(config, saved)
        raise


async def close_due(db: aiosqlite.Connection, config: Config, client: HttpClient | None,
                    now: datetime | None = None) -> list[Event]:
    """Close every proposal whose time has come (each with its signed log entry and its Update(Question)), then
    carry out what passed — also what passed while the node was down or crashed before enacting."""
    events: list[Event] = []
    for proposal_id in await proposals.due(db, _moment(db, now)):
        events += await apply(db, config, lambda pid=proposal_id: proposals.close(db, config, pid))
    for proposal in await proposals.to_enact(db):
        if proposal.action not in ENACTORS:
            continue
        try:
            events += await enact(db, config, client, proposal)
        except StorageUnavailable:
            raise
        except Exception:
            # A bug in one enactment must not hold back the others; it is tried again on the next pass.
            log.exception("carrying out proposal %s failed; trying again on the next pass", proposal.uuid)
    return events
