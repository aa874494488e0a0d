"""Follows & siblings, for Partners: requests to follow the Congregation, its followers, siblings, following others."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from node.activitypub.as2.documents import actor_id
from node.appkeys import CONFIG, DB, HTTP
from node.governance.siblings import SiblingState, sibling_states
from node.processing import follows as follows_service
from node.processing.follows import FollowError
from node.store import follows, local_actors, timeline
from node.store.follows import Follow
from node.web.auth import redirect, require_partner
from node.web.render import render

routes = web.RouteTableDef()
NOTICES = {
    "approved": "Approved: they now follow the Congregation, and their server is being told.",
    "rejected": "Declined: their server is being told.",
    "requested": "Follow request sent; it stays pending until they approve it.",
    "already": "The Congregation already follows them.",
}
SIBLING_STATES = {
    "sibling": "Siblings: each follows the other",
    "they asked": "They asked to follow us: approve their request above",
    "we asked": "We asked to follow them: waiting for them",
    "declined": "Declined",
}


@dataclass(frozen=True)
class Row:
    """A follow as the page lists it: who, and what we know of them."""

    id: int
    uri: str
    name: str
    handle: str | None
    state: str
    since: str


@dataclass(frozen=True)
class Sibling:
    uri: str
    name: str
    state: str
    is_sibling: bool


def _sibling(entry: SiblingState) -> Sibling:
    key = entry.state.split(":", 1)[0]
    text = SIBLING_STATES.get(key)
    if text is None:
        text = "We follow them; they do not follow us" if entry.ours == "accepted" else \
            "They follow us; we do not follow them"
    return Sibling(entry.uri, entry.name or entry.uri, text, key == "sibling")


async def _page(request: web.Request, status: int = 200, target: str = "", follow_error: str | None = None,
                answer_error: str | None = None) -> web.Response:
    db, config = request.app[DB], request.app[CONFIG]
    group = await local_actors.group(db)
    me = actor_id(config, group.username)
    incoming = await follows.list_for(db, followee=me)
    outgoing = await follows.list_for(db, follower=me)
    known = await timeline.remote_authors(db, {f.follower for f in incoming} | {f.followee for f in outgoing})

    def row(follow: Follow, uri: str) -> Row:
        actor = known.get(uri)
        handle = f"@{actor.username}@{actor.host}" if actor and actor.username else None
        return Row(follow.id, uri, (actor.display_name if actor else None) or uri, handle, follow.state,
                   follow.updated_at)

    response = await render(
        request, "follows.html", status=status, handle=f"@{group.username}@{config.host}",
        pending=[row(f, f.follower) for f in incoming if f.state == "pending"],
        followers=[row(f, f.follower) for f in incoming if f.state == "accepted"],
        following=[row(f, f.followee) for f in outgoing],
        siblings=[_sibling(s) for s in await sibling_states(db, me)],
        notice=NOTICES.get(request.query.get("done", "")), target=target, follow_error=follow_error,
        answer_error=answer_error)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@routes.get("/follows")
@require_partner
async def follows_page(request: web.Request) -> web.Response:
    """Pending requests, followers, siblings, and the form to follow another Congregation."""
    return await _page(request)


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


async def _answer(request: web.Request, accept: bool) -> web.StreamResponse:
    db, config = request.app[DB], request.app[CONFIG]
    group = await local_actors.group(db)
    try:
        await follows_service.answer_request(db, config, group, request.app[HTTP], int(request.match_info["id"]),
                                             accept)
    except FollowError as exc:
        return await _page(request, 400, answer_error=_sentence(str(exc)))
    return redirect("/follows?done=" + ("approved" if accept else "rejected"))


@routes.post(r"/follows/{id:\d{1,18}}/approve")
@require_partner
async def approve(request: web.Request) -> web.StreamResponse:
    """Approve a request to follow the Congregation, as `congregation follows approve` does."""
    return await _answer(request, True)


@routes.post(r"/follows/{id:\d{1,18}}/reject")
@require_partner
async def reject(request: web.Request) -> web.StreamResponse:
    """Decline a request to follow the Congregation, as `congregation follows reject` does."""
    return await _answer(request, False)


@routes.post("/follows")
@require_partner
async def follow(request: web.Request) -> web.StreamResponse:
    """The Congregation asks to follow another (URL or @name@host), as `congregation follow` does."""
    form = await request.post()
    target = form.get("target", "")
    target = target.strip()[:follows_service.MAX_TARGET + 1] if isinstance(target, str) else ""
    if not target:
        return await _page(request, 400, target, follow_error="Enter a Congregation's address.")
    db, config = request.app[DB], request.app[CONFIG]
    try:
        result = await follows_service.follow(db, config, await local_actors.group(db), request.app[HTTP], target)
    except FollowError as exc:
        return await _page(request, 400, target, follow_error=_sentence(str(exc)))
    return redirect("/follows?done=" + ("already" if result.already else "requested"))
