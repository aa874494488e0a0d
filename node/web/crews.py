"""Crews in the browser: the ones I am in and the ones open to me, starting one, a crew's page with its members,
posts and join requests, and consenting, declining, joining, leaving."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from node.appkeys import CONFIG, DB
from node.governance import crews
from node.governance.crews import CrewError
from node.store import crews as store
from node.store import local_actors, timeline
from node.store.crews import Crew
from node.web.auth import member, redirect, require_member
from node.web.forms import Names, field, read_form, sentence
from node.web.render import render
from node.web.timeline import before, items, page

routes = web.RouteTableDef()
NEW_DEFAULTS = {"name": "", "purpose": "", "rhythm": "", "kind": "home"}


def _private(response: web.Response) -> web.Response:
    response.headers["Cache-Control"] = "private, no-store"
    return response


async def _crews_page(request: web.Request, status: int = 200, error: str | None = None, message: str = "",
                      **typed: str) -> web.Response:
    db, config, me = request.app[DB], request.app[CONFIG], member(request)
    mine, open_to_me, awaiting = await crews.overview(db, me, config.crew_max)
    asked = {c.id for c in open_to_me if await store.pending_request(db, c.id, me.id) is not None}
    notes = {c.id: crews.size_note(c, config.crew_max) for c in [*mine, *open_to_me]}
    return _private(await render(
        request, "crews.html", status=status, error=error, mine=mine, open_to_me=open_to_me, awaiting=awaiting,
        asked=asked, notes=notes, form={**NEW_DEFAULTS, **typed}, message=message, crew_max=config.crew_max,
        crew_names={c.id: c.name for c in await store.all_open(db)}, names=await _names(request, awaiting),
        limits={"name": crews.MAX_NAME, "purpose": crews.MAX_PURPOSE, "rhythm": crews.MAX_RHYTHM,
                "message": crews.MAX_MESSAGE}))


async def _names(request: web.Request, requests: list[store.JoinRequest]) -> dict[int, str]:
    names = Names(request.app[DB])
    result = {}
    for join in requests:
        actor = await names.actor(join.actor_id)
        result[join.actor_id] = actor.display_name if actor else "a former member"
    return result


@routes.get("/crews")
@require_member
async def crews_page(request: web.Request) -> web.Response:
    """My crews, the crews open to me, requests awaiting my answer, and the form to start a crew."""
    return await _crews_page(request)


@routes.post("/crews")
@require_member
async def start_crew(request: web.Request) -> web.StreamResponse:
    """Start a crew, with oneself its first member."""
    form = await read_form(request)
    typed = {name: field(form, name) for name in NEW_DEFAULTS}
    try:
        [event] = await crews.start(request.app[DB], member(request), typed["name"], typed["purpose"],
                                    typed["rhythm"], typed["kind"])
    except CrewError as exc:
        return await _crews_page(request, 400, sentence(exc), **typed)
    return redirect(f"/crews/{event.crew.id}")


async def _crew(request: web.Request) -> Crew:
    crew = await store.by_id(request.app[DB], int(request.match_info["id"]))
    if crew is None or crew.closed_at is not None:
        raise web.HTTPNotFound(text="there is no such crew")
    return crew


async def _crew_page(request: web.Request, crew: Crew, status: int = 200, error: str | None = None,
                     message: str = "") -> web.Response:
    db, config, me = request.app[DB], request.app[CONFIG], member(request)
    inside = me.id in crew.members
    values: dict[str, Any] = {"items": [], "older": None, "newer": False, "requests": [], "answered": set()}
    if inside:
        # The crew's posts are for its members only: others see what the crew is and who is in it.
        cursor = before(request)
        shown, older = page(await timeline.by_crew(db, crew.id, config.page_size + 1, cursor), config.page_size)
        requests = await store.pending_requests(db, crew.id)
        values.update(items=await items(request, shown, me.id), older=older, newer=cursor is not None,
                      requests=requests, answered={r.id for r in requests if me.id in (*r.consents, *r.declines)})
    people = [await local_actors.by_id(db, i) for i in crew.members]
    return _private(await render(
        request, "crew.html", status=status, error=error, crew=crew, inside=inside, message=message,
        people=[p for p in people if p is not None], note=crews.size_note(crew, config.crew_max),
        my_request=await store.pending_request(db, crew.id, me.id), full=len(crew.members) >= config.crew_max,
        names=await _names(request, values["requests"]), max_message=crews.MAX_MESSAGE,
        timeline_path=f"/crews/{crew.id}", timeline_heading="Crew posts",
        timeline_empty="No crew posts yet: choose this crew when you write a post at home.", **values))


@routes.get(r"/crews/{id:\d{1,18}}")
@require_member
async def crew_page(request: web.Request) -> web.Response:
    """A crew: what it is for, who is in it, and for its members its posts and the requests to join."""
    return await _crew_page(request, await _crew(request))


@routes.post(r"/crews/{id:\d{1,18}}/join")
@require_member
async def join_crew(request: web.Request) -> web.StreamResponse:
    """Join a working group at once, or ask a home crew, whose members each answer."""
    crew = await _crew(request)
    message = field(await read_form(request), "message")
    try:
        await crews.join(request.app[DB], member(request), crew.id, message, request.app[CONFIG].crew_max)
    except CrewError as exc:
        return await _crew_page(request, crew, 400, sentence(exc), message)
    return redirect(f"/crews/{crew.id}")


@routes.post(r"/crews/{id:\d{1,18}}/leave")
@require_member
async def leave_crew(request: web.Request) -> web.StreamResponse:
    crew = await _crew(request)
    await read_form(request)
    try:
        await crews.leave(request.app[DB], member(request), crew.id)
    except CrewError as exc:
        return await _crew_page(request, crew, 400, sentence(exc))
    return redirect("/crews")


@routes.post(r"/crews/{id:\d{1,18}}/withdraw")
@require_member
async def withdraw_request(request: web.Request) -> web.StreamResponse:
    """Take back one's own request to join."""
    crew = await _crew(request)
    await read_form(request)
    try:
        await crews.withdraw(request.app[DB], member(request), crew.id)
    except CrewError as exc:
        return await _crew_page(request, crew, 400, sentence(exc))
    return redirect(f"/crews/{crew.id}")


@routes.post(r"/crews/{id:\d{1,18}}/requests/{request_id:\d{1,18}}")
@require_member
async def answer_request(request: web.Request) -> web.StreamResponse:
    """A crew member consents to or declines a request to join; a decline's reason stays private."""
    crew = await _crew(request)
    form = await read_form(request)
    answer, reason = field(form, "answer", 20), field(form, "reason")
    request_id = int(request.match_info["request_id"])
    join = await store.request_by_id(request.app[DB], request_id)
    if join is None or join.crew_id != crew.id:
        raise web.HTTPNotFound(text="there is no such request")
    if answer not in ("consent", "decline"):
        return await _crew_page(request, crew, 400, "Choose Consent or Decline.")
    try:
        await crews.answer(request.app[DB], member(request), request_id, answer == "consent", reason,
                           request.app[CONFIG].crew_max)
    except CrewError as exc:
        return await _crew_page(request, crew, 400, sentence(exc))
    return redirect(f"/crews/{crew.id}")
