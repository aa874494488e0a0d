"""Inbound Notes: Create, Update, Delete, Announce, Like and Undo of them. Each returns an outcome for the log."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from node.activitypub import fanout, questions
from node.activitypub.convert import BadDocument, is_http_url, origin, ref, types_of
from node.activitypub.documents import actor_id, local_username
from node.activitypub.fetch import FetchError
from node.activitypub.notes import NOTE_TYPES, addressees, parse_note
from node.activitypub.remote_actors import ActorUnavailable, fetch_remote_actor
from node.db import transaction
from node.processing import proposals as processing_proposals
from node.store import follows, local_actors, remote, remote_objects
from node.store import posts as posts_store
from node.store.local_actors import LocalActor

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from node.activitypub.handlers import InboxContext

MAX_FETCHES = 2  # per activity; inReplyTo chains are never followed


class Dropped(Exception):
    """The activity is dropped quietly (its object is gone, or the fetch budget is spent)."""


class Budget:
    """At most MAX_FETCHES remote fetches for one activity."""

    def __init__(self, ctx: InboxContext, remaining: int = MAX_FETCHES):
        self.ctx = ctx
        self.remaining = remaining

    async def fetch(self, url: str) -> dict[str, Any]:
        if self.remaining <= 0:
            raise Dropped("the fetch budget for this activity is spent")
        self.remaining -= 1
        try:
            return await self.ctx.client.get_json(url)
        except FetchError as exc:
            if exc.status in (404, 410):
                raise Dropped(f"{url} is gone ({exc.status})") from None
            raise


def _is_note(document: Any) -> bool:
    return isinstance(document, dict) and any(k in NOTE_TYPES for k in types_of(document))


async def _group(ctx: InboxContext) -> tuple[LocalActor, str]:
    group = await local_actors.group(ctx.db)
    return group, actor_id(ctx.config, group.username)


async def _followed_by_us(ctx: InboxContext, actor: str) -> bool:
    rows = await follows.list_for(ctx.db, followee=actor, state="accepted", limit=100)
    return any(local_username(ctx.config, row.follower) for row in rows)


async def _may_post_to_group(ctx: InboxContext, actor: str, group_uri: str) -> bool:
    """Per the `group_accepts_from` setting: approved followers, or members only (all local, for now)."""
    if getattr(ctx.config, "group_accepts_from", "followers") == "members":
        return False
    row = await follows.get(ctx.db, actor, group_uri)
    return row is not None and row.state == "accepted"


async def on_create(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    obj = activity.get("object")
    try:
        if isinstance(obj, str):
            obj = await Budget(ctx).fetch(obj)
    except Dropped as exc:
        return f"dropped: {exc}"
    vote = questions.parse_vote(ctx.config, obj)
    if vote is not None:
        if vote.voter != actor:
            return "ignored: the vote's author is not the Create's actor"
        return await processing_proposals.stance_received(ctx.db, ctx.config, processing_proposals.RemoteVote(
            vote.proposal_uuid, vote.choice, vote.voter, activity.get("id")))
    if not _is_note(obj):
        return "stored: Create of an object we do not keep"
    try:
        note = parse_note(obj)
    except BadDocument as exc:
        return f"ignored: {exc}"
    if note.author != actor:
        return "ignored: the Create's actor is not the Note's author"
    group, group_uri = await _group(ctx)
    for_group = group_uri in addressees(obj) | addressees(activity)
    from_poster = for_group and await _may_post_to_group(ctx, actor, group_uri)
    if not from_poster and not await _followed_by_us(ctx, actor):
        return "ignored: not from an actor we follow, nor a post to the Group from an approved follower"
    async with transaction(ctx.db):
        new = await remote_objects.insert(ctx.db, note, json.dumps(obj))
        reshare = new and from_poster and note.public
        if reshare:
            await fanout.reshare(ctx.db, ctx.config, group, activity, note.uri, actor)
    return "stored and re-shared by the Group" if reshare else "stored" if new else "already stored"


async def _reshared_by_group(ctx: InboxContext, obj: remote_objects.RemoteObject) -> tuple[LocalActor, bool]:
    group, group_uri = await _group(ctx)
    return group, obj.public and obj.audience == group_uri and await _may_post_to_group(ctx, obj.author, group_uri)


async def on_update(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    obj = activity.get("object")
    if not _is_note(obj):
        return "stored: Update of an object we do not keep"
    try:
        note = parse_note(obj)
    except BadDocument as exc:
        return f"ignored: {exc}"
    held = await remote_objects.get(ctx.db, note.uri)
    if held is None or held.deleted_at is not None:
        return "ignored: Update of an object we do not hold"
    if held.author != actor or note.author != actor:
        return "ignored: only its author may update an object"
    # A poll's counts change without its `updated` changing (Mastodon's Update(Question)).
    if held.type != "Question" and (held.content, held.name, held.updated) == (note.content, note.name, note.updated):
        return "unchanged"
    group, reshare = await _reshared_by_group(ctx, held)
    async with transaction(ctx.db):
        await remote_objects.update(ctx.db, note, json.dumps(obj))
        if reshare:
            await fanout.reshare(ctx.db, ctx.config, group, activity, None, actor)
    return "updated"


async def on_delete_object(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    held = await remote_objects.get(ctx.db, ref(activity.get("object")) or "")
    if held is None or held.deleted_at is not None:
        return "stored: Delete of an object we do not hold"
    if held.author != actor:
        return "ignored: only its author may delete an object"
    group, reshare = await _reshared_by_group(ctx, held)
    async with transaction(ctx.db):
        await remote_objects.tombstone(ctx.db, held.uri)
        if reshare:
            await fanout.reshare(ctx.db, ctx.config, group, activity, None, actor)
    return "object deleted"


async def _known(ctx: InboxContext, uri: str) -> bool:
    """True for a live local post or a stored remote object."""
    prefix = f"{ctx.config.base_url}/posts/"
    if uri.startswith(prefix):
        post = await posts_store.by_uuid(ctx.db, uri[len(prefix):])
        return post is not None and post.deleted_at is None and post.visibility == "public"
    held = await remote_objects.get(ctx.db, uri)
    return held is not None and held.deleted_at is None


async def on_like(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    target = ref(activity.get("object"))
    if not target or not await _known(ctx, target):
        return "ignored: Like of an object we do not hold"
    async with transaction(ctx.db):
        await remote_objects.add_reaction(ctx.db, activity["id"], target, actor, "Like")
    return "like counted"


async def on_undo_reaction(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    async with transaction(ctx.db):
        removed = await remote_objects.remove_reaction(ctx.db, ref(activity.get("object")) or "", actor)
    return "reaction undone" if removed else "stored: Undo of something we do not act on"


INNER = {"Update": on_update, "Delete": on_delete_object, "Like": on_like}


async def on_announce(ctx: InboxContext, activity: dict[str, Any], actor: str) -> str:
    if not await _followed_by_us(ctx, actor):
        return "ignored: Announce from an actor we do not follow"
    obj = activity.get("object")
    kind = types_of(obj)[0] if isinstance(obj, dict) and types_of(obj) else None
    inner_actor = ref(obj.get("actor")) if isinstance(obj, dict) else None
    same_origin = inner_actor is not None and is_http_url(inner_actor) and origin(inner_actor) == origin(actor)
    if kind in INNER:
        # An embedded activity is vouched for by the announcer's signature only on the announcer's own origin.
        if not same_origin:
            return f"ignored: an embedded {kind} from another origin"
        return await INNER[kind](ctx, obj, inner_actor)
    if kind == "Create":
        obj = obj.get("object")
    try:
        document = await _announced_note(ctx, obj, actor, Budget(ctx))
    except Dropped as exc:
        return f"dropped: {exc}"
    target = ref(obj) if document is None else document["id"]
    if document is not None:
        try:
            note = parse_note(document)
        except BadDocument as exc:
            return f"ignored: {exc}"
        async with transaction(ctx.db):
            await remote_objects.insert(ctx.db, note, json.dumps(document))
        await _learn_author(ctx, note.author)
    if not target or not await _known(ctx, target):
        return "ignored: Announce of an object we cannot read"
    async with transaction(ctx.db):
        await remote_objects.add_reaction(ctx.db, activity["id"], target, actor, "Announce")
    return "stored announced object"


async def _learn_author(ctx: InboxContext, author: str) -> None:
    """A sibling's members reach us through their Group's Announces, signed by the Group, not by them: fetch
    an author we have not met once, so Home shows their name and avatar, not a guess from the URL."""
    if await remote.actor(ctx.db, author) is not None:
        return
    try:
        await fetch_remote_actor(ctx.db, ctx.client, author)
    except (ActorUnavailable, FetchError) as exc:
        log.info("could not fetch the author %s of an announced post: %s", author, exc)


async def _announced_note(ctx: InboxContext, obj: Any, announcer: str, budget: Budget) -> dict[str, Any] | None:
    """The Note to store: embedded when the announcer's origin vouches for it, else fetched from its origin;
    None when we hold it already."""
    uri = ref(obj)
    if not uri or not is_http_url(uri):
        raise Dropped("the Announce has no object id")
    if await _known(ctx, uri) or uri.startswith(ctx.config.base_url + "/"):
        return None
    if _is_note(obj) and origin(uri) == origin(announcer):
        return obj
    document = await budget.fetch(uri)
    if types_of(document)[:1] == ["Create"]:
        inner = document.get("object")
        if _is_note(inner) and origin(ref(inner) or "") == origin(uri):
            return inner
    if not _is_note(document):
        raise Dropped(f"{uri} is not a Note")
    return document
