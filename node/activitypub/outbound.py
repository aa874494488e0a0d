"""The outbound registry: one line per domain event type, naming what goes on the wire for it. Processing calls
`federate` inside the transaction that made the events, so the outbox and delivery rows commit with the change
(or not at all). A new feature that federates adds an event type and a line here, not a call site."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

import aiosqlite

from node.activitypub import actor_updates, assembly, fanout, outbox, questions, reports, witness
from node.config import Config
from node.governance import events as ev

Sender = Callable[[aiosqlite.Connection, Config, ev.Event], Awaitable[None]]

REGISTRY: dict[type[ev.Event], Sender] = {
    ev.PostCreated: fanout.post_changed,  # Create(Note) + the Group's Announces (FEP-1b12)
    ev.PostEdited: fanout.post_changed,  # Update(Note) to whoever saw it
    ev.PostDeleted: fanout.post_changed,  # Delete(Tombstone)
    ev.ProposalOpened: questions.proposal_changed,  # Create(Question), public proposals only
    ev.StanceTaken: questions.proposal_changed,  # Update(Question) with the counts, unless hidden
    ev.ProposalClosed: questions.proposal_changed,  # Update(Question){closed}
    ev.ProposalWithdrawn: questions.proposal_changed,  # Update(Question){closed}
    ev.ProfileChanged: actor_updates.actor_changed,  # Update(Person|Group) with the whole document
    ev.FollowRequested: outbox.follow_requested,  # Follow
    ev.FollowAnswered: outbox.follow_answered,  # Accept(Follow) | Reject(Follow)
    ev.FollowUndone: outbox.follow_undone,  # Undo(Follow)
    ev.PollVoted: outbox.poll_voted,  # Create(Note{name, inReplyTo}) per choice, as Mastodon votes
    ev.ReportForwarded: reports.report_forwarded,  # Flag from the Group to the reported account's server
    ev.AssemblyTabled: assembly.tabled,  # Create(Question) with its FEP-8b32 proof, to the Group's followers
    ev.AssemblyRelay: assembly.relay,  # Add{signed objects} to each sibling but the one they came from
    ev.LogEquivocation: witness.gossip,  # Add{LogEquivocation} to each sibling but the one it came from
}


async def federate(db: aiosqlite.Connection, config: Config, events: Iterable[ev.Event]) -> None:
    """Queue what each event sends (call inside the transaction that made them); events with no line stay local."""
    for event in events:
        sender = REGISTRY.get(type(event))
        if sender is not None:
            await sender(db, config, event)
