"""One content-negotiation router for the URLs that are both a page and an AS2 document (actors, posts,
proposals): servers get the wire's document, browsers the page, at the same URL (its id is its `url`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from node.activitypub import actors, decisions, objects
from node.activitypub import assembly as assembly_wire
from node.web.assembly import assembly_page
from node.web.proposals import proposal_page
from node.web.public import actor_view, post_view

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
AS_MEDIA = ("application/activity+json", "application/ld+json")


def wants_activity_json(request: web.Request) -> bool:
    """AS2 when the client asks for it before (or instead of) HTML."""
    accept = request.headers.get("Accept", "").lower()
    best_as = min((accept.find(m) for m in AS_MEDIA if m in accept), default=-1)
    if best_as < 0:
        return accept.strip().startswith("application/json")
    html = accept.find("text/html")
    return html < 0 or best_as < html


def negotiated(as2: Handler, html: Handler) -> Handler:
    """One GET handler that answers with `as2` for servers and `html` for browsers."""
    async def handler(request: web.Request) -> web.StreamResponse:
        return await (as2 if wants_activity_json(request) else html)(request)
    return handler


routes = [
    web.get("/actors/{username}", negotiated(actors.actor_json, actor_view)),
    web.get("/posts/{uuid}", negotiated(objects.post_json, post_view)),
    web.get("/proposals/{uuid}", negotiated(decisions.question_json, proposal_page)),
    web.get("/assembly/{token}", negotiated(assembly_wire.proposal_json, assembly_page)),
]
