"""What a signed-in member is asked for now: crew requests awaiting their consent, proposals closing soon that they
may take part in and have not; and what every member should know: a sibling Congregation caught rewriting its
decision log (an equivocation proof held here, for EQUIVOCATION_SHOWN after it was found)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import aiosqlite

from node.config import Config
from node.governance import proposals
from node.governance.membership import iso
from node.store import crews as crews_store
from node.store import proposals as proposals_store
from node.store import remote as remote_store
from node.store import reports as reports_store
from node.store import witness as witness_store
from node.store.local_actors import LocalActor

SOON = timedelta(hours=24)
EQUIVOCATION_SHOWN = timedelta(days=30)


def witnessed_link(config: Config, group: str) -> str:
    """Where the proof can be read: what our Group witnessed of that Group's log (FEDERATION.md)."""
    return f"/actors/{config.group_handle}/witnessed?group={quote(group, safe='')}"


@dataclass(frozen=True)
class Notice:
    text: str
    link: str


async def for_member(db: aiosqlite.Connection, config: Config, me: LocalActor,
                     now: datetime | None = None) -> list[Notice]:
    """Notices for the page header, most pressing first."""
    moment = now or datetime.now(UTC)
    notices = []
    since = int((moment - EQUIVOCATION_SHOWN).timestamp())
    for proof in await witness_store.equivocations(db, since=since, limit=5):
        actor = await remote_store.actor(db, proof.group)
        name = actor.display_name if actor is not None and actor.display_name else proof.group
        notices.append(Notice(f"Congregation {name} rewrote its decision log at entry {proof.seq}: two different"
                              " entries signed by it are kept as proof.", witnessed_link(config, proof.group)))
    if me.tier == "partner" and (waiting := await reports_store.count_open_for(db, me.id)):  # never one about them
        notices.append(Notice(f"{waiting} report{'s' if waiting != 1 else ''} wait{'' if waiting != 1 else 's'}"
                              " for the Partners.", "/reports"))
    for join in await crews_store.requests_awaiting(db, me.id):
        crew = await crews_store.by_id(db, join.crew_id)
        if crew is not None:
            notices.append(Notice(f"Your consent is asked: someone asks to join {crew.name}.", f"/crews/{crew.id}"))
    voter = proposals.local_uri(config, me.username)
    # `due` is every open proposal closing by then: the ones closing within a day, as long as the clock has not
    # closed them yet.
    for proposal in await proposals_store.due(db, iso(moment + SOON)):
        if proposal.closes_at <= iso(moment) or not await proposals.may_take_part(db, config, proposal, voter):
            continue
        if any(s.voter == voter for s in await proposals.standing_stances(db, proposal)):
            continue
        notices.append(Notice(f"“{proposal.title}” closes within a day and you have not taken a stance.",
                              f"/proposals/{proposal.uuid}"))
    return notices
