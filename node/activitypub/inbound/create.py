"""Create: a Note (or Article, Page, Question) from an actor we follow or a poster to the Group, or a vote."""

from __future__ import annotations

import json
from typing import Any

from node.activitypub import fanout, quotas
from node.activitypub.as2 import questions
from node.activitypub.as2.assembly import is_assembly_proposal
from node.activitypub.as2.notes import addressees, parse_note
from node.activitypub.as2.parse import BadDocument
from node.activitypub.inbound import add
from node.activitypub.inbound.context import (
    Budget,
    Dropped,
    InboxContext,
    followed_by_us,
    group,
    is_note,
    may_post_to_group,
)
from node.activitypub.inbound.relevance import IRRELEVANT, concerns_us
from node.db import transaction
from node.processing import proposals
from node.store import remote_objects


async def on_create_note(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    """An embedded Note-like object: a vote on one of our proposals, or a post to store (and re-share)."""
    if is_assembly_proposal(activity.get("object")):
        return await add.on_create_proposal(ctx, activity, actor)
    followed = await followed_by_us(ctx, actor)
    if not await concerns_us(ctx, activity, actor, followed=followed):
        return IRRELEVANT
    return await _create_note(ctx, activity, activity["object"], actor, followed)


async def on_create(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    """A Create whose object is a bare id (fetched once, then treated as if embedded) or of a type we do not keep."""
    obj = activity.get("object")
    # Before any fetch: what nobody here asked for, or would keep, costs no request (issue 12, point 6).
    followed = await followed_by_us(ctx, actor)
    if not await concerns_us(ctx, activity, actor, followed=followed):
        return IRRELEVANT
    if isinstance(obj, str) and not followed and not await _may_post(ctx, activity, actor):
        return "dropped: only a post of an actor we follow, or to the Group by its follower, is fetched"
    try:
        if isinstance(obj, str):
            obj = await Budget(ctx).fetch(obj)
    except Dropped as exc:
        return f"dropped: {exc}"
    if not is_note(obj):
        return "stored: Create of an object we do not keep"
    return await _create_note(ctx, activity, obj, actor, followed)


async def _may_post(ctx: InboxContext, activity: dict[str, Any], actor: str) -> bool:
    """Whether a Create by reference of an actor we do not follow could be kept: a post to the Group by one of
    its approved followers, judged from the Create alone."""
    _, group_uri = await group(ctx)
    return group_uri in addressees(activity) and await may_post_to_group(ctx, actor, group_uri)


async def _create_note(ctx: InboxContext, activity: dict[str, Any], obj: dict[str, Any], actor: str,
                       followed: bool) -> str:
    vote = questions.parse_vote(ctx.config, obj)
    if vote is not None:
        if vote.voter != actor:
            return "ignored: the vote's author is not the Create's actor"
        return await proposals.stance_received(ctx.db, ctx.config, proposals.RemoteVote(
            vote.proposal_uuid, vote.choice, vote.voter, activity.get("id")))
    try:
        note = parse_note(obj)
    except BadDocument as exc:
        return f"ignored: {exc}"
    if note.author != actor:
        return "ignored: the Create's actor is not the Note's author"
    our_group, group_uri = await group(ctx)
    for_group = group_uri in addressees(obj) | addressees(activity)
    from_poster = for_group and await may_post_to_group(ctx, actor, group_uri)
    if not from_poster and not followed:
        return "ignored: not from an actor we follow, nor a post to the Group from an approved follower"
    document = json.dumps(obj)
    if (refused := await quotas.object_refusal(ctx, actor, document, followed)) is not None:
        return refused
    async with transaction(ctx.db):
        new = await remote_objects.insert(ctx.db, note, document)
        if new:
            await quotas.prune_author(ctx, actor, followed)
        reshare = new and from_poster and note.public
        if reshare:
            await fanout.reshare(ctx.db, ctx.config, our_group, activity, note.uri, actor)
    return "stored and re-shared by the Group" if reshare else "stored" if new else "already stored"
