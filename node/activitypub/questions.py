"""Proposals on the wire: a public proposal's Question as it stands, and what goes out when it changes. Other
scopes never leave the node: their voters are all members here, so nobody elsewhere needs them."""

from __future__ import annotations

from typing import Any

import aiosqlite

from node.activitypub import outbox
from node.activitypub.as2.context import AS_CONTEXT
from node.activitypub.as2.documents import actor_id
from node.activitypub.as2.questions import question_document
from node.activitypub.outbox import new_activity_id
from node.clock import clock_of
from node.config import Config
from node.governance import proposals
from node.governance.events import Event, ProposalClosed, ProposalOpened, ProposalWithdrawn, StanceTaken
from node.store import local_actors
from node.store import posts as posts_store
from node.store import proposals as proposals_store
from node.store.proposals import Proposal

# Votes are not broadcast one by one: each would re-send the Question to every follower. The counts go out at
# most once a minute (by the node's clock) per proposal; a vote inside the minute waits for the next vote after
# it, or for the close, which always goes out with the final counts.
UPDATE_EVERY = 60.0


async def current_document(db: aiosqlite.Connection, config: Config, proposal: Proposal) -> dict[str, Any]:
    result = await proposals.current_tally(db, config, proposal) if proposals.results_visible(proposal) else None
    author = await local_actors.by_id(db, proposal.author_id)
    return question_document(config, proposal, result, author.display_name if author else "a member")


async def proposal_changed(db: aiosqlite.Connection, config: Config, event: Event) -> None:
    """Create(Question) when a public proposal opens; Update(Question) as votes come in (at most once a minute)
    and always when it closes or is withdrawn."""
    assert isinstance(event, ProposalOpened | StanceTaken | ProposalClosed | ProposalWithdrawn)
    proposal = await proposals_store.by_id(db, event.proposal.id)
    if proposal.scope != "public":
        return
    if isinstance(event, StanceTaken):
        if not proposals.results_visible(proposal):
            return  # nothing visible changed
        moment, last = clock_of(db).now(), await proposals_store.question_updated_at(db, proposal.id)
        if last is not None and moment - last < UPDATE_EVERY:
            return  # the next vote after the minute, or the close, carries these counts
        await proposals_store.set_question_updated_at(db, proposal.id, moment)
    elif not isinstance(event, ProposalOpened):
        await proposals_store.set_question_updated_at(db, proposal.id, None)
    group = await local_actors.group(db)
    group_uri = actor_id(config, group.username)
    document = await current_document(db, config, proposal)
    if isinstance(event, ProposalOpened):
        activity_id, kind = document["id"] + "/activity", "Create"
    else:
        activity_id, kind = new_activity_id(config), "Update"
    activity = {"@context": AS_CONTEXT, "id": activity_id, "type": kind, "actor": group_uri,
                "to": document["to"], "cc": document["cc"], "object": document}
    inboxes = await posts_store.follower_inboxes(db, group_uri)
    await outbox.publish(db, group, activity, inboxes, True, config=config)
