"""The member directory, the membership record, Partner-issued reset links, and avatars."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from node import uris
from node.appkeys import CONFIG, DB
from node.governance import accounts
from node.governance.errors import GovernanceError
from node.store import accounts as accounts_store
from node.store import invitations as invitations_store
from node.store import local_actors
from node.web.auth import member, require_member, require_partner
from node.web.forms import Names, form_status, now, read_form, sentence
from node.web.render import render

routes = web.RouteTableDef()

EVENT_WORDS = {"joined": "joined", "promoted": "promoted to Partner", "demoted": "became a Friend",
               "departed": "left", "removed": "removed"}


async def _directory(request: web.Request, status: int = 200, **values: Any) -> web.Response:
    db = request.app[DB]
    people = await local_actors.members(db)
    avatars = await accounts_store.avatar_versions(db)
    partners = sum(1 for p in people if p.tier == "partner")
    # A member's actor is created with the membership and handles are never reused: created_at is the join.
    rows = [{"actor": p, "avatar": avatars.get(p.id), "joined": p.created_at} for p in people]
    values = {"reset_link": None, "reset_for": None, "error": None, **values}
    return await render(request, "members.html", status=status, members=rows, partners=partners,
                        friends=len(people) - partners, **values)


@routes.get("/members")
@require_member
async def directory(request: web.Request) -> web.Response:
    """Everyone who belongs, with their tier, and how big the Congregation is."""
    return await _directory(request)


@routes.get("/members/log")
@require_member
async def membership_log(request: web.Request) -> web.Response:
    """The membership record: every join, promotion, departure and removal, newest first."""
    db = request.app[DB]
    names = Names(db)
    events = []
    for event in await invitations_store.events(db):
        events.append({"member": await names.actor(event.member_id), "by": await names.actor(event.by_id),
                       "kind": event.kind, "what": EVENT_WORDS.get(event.kind, event.kind), "tier": event.tier,
                       "reason": event.reason, "when": event.created_at, "self": event.by_id == event.member_id})
    return await render(request, "membership_log.html", events=events)


@routes.post("/members/{username}/reset-link")
@require_partner
async def reset_link(request: web.Request) -> web.Response:
    """A Partner issues a single-use password-reset link, shown once, to pass on privately."""
    await read_form(request)
    db = request.app[DB]
    target = await local_actors.by_username(db, request.match_info["username"])
    if target is None or target.tier is None:
        raise web.HTTPNotFound(text="there is no such member")
    try:
        token = await accounts.issue_reset(db, target, member(request), now(request))
    except GovernanceError as exc:
        return await _directory(request, form_status(exc), error=sentence(exc))
    return await _directory(request, reset_link=uris.page(request.app[CONFIG], f"/reset/{token}"), reset_for=target)


@routes.get("/actors/{username}/avatar")
async def avatar(request: web.Request) -> web.Response:
    """A member's avatar, public like their actor document, served as the type its bytes were checked to be."""
    db = request.app[DB]
    actor = await local_actors.by_username(db, request.match_info["username"])
    found = await accounts_store.avatar(db, actor.id) if actor is not None else None
    if found is None:
        raise web.HTTPNotFound(text="no avatar")
    media_type, data, _ = found
    return web.Response(body=data, content_type=media_type, headers={
        "Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'", "Access-Control-Allow-Origin": "*"})
