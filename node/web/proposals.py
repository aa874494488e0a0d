"""Proposals in the browser: the list, the form to open one, a proposal's page with its stance form, tally,
withdrawal and recorded outcome. GET /proposals/{uuid} is routed by node/web/negotiate.py (it also answers AS2
for public proposals) to `proposal_page` here for people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiosqlite
from aiohttp import web

from node import uris
from node.appkeys import CONFIG, DB
from node.config import DECIDABLE, Config
from node.governance import proposals
from node.governance.proposals import ProposalError
from node.processing import proposals as processing_proposals
from node.store import crews as crews_store
from node.store import local_actors
from node.store import proposals as store
from node.store.local_actors import LocalActor
from node.store.proposals import Proposal
from node.web.auth import member, redirect, require_member
from node.web.forms import field, now, read_form, sentence
from node.web.render import render

routes = web.RouteTableDef()
STATES = {"open": "open", "passed": "passed", "failed": "failed", "no_quorum": "no quorum",
          "withdrawn": "withdrawn", "enacted": "enacted"}
QUICK_DAYS = ("1", "3", "7")
NEW_DEFAULTS = {"kind": "consent", "title": "", "details": "", "closes_in": "3", "closes_at": "",
                "scope": "congregation", "options": "", "multiple": False, "quorum": "0", "hide_results": False,
                "action": "", "member": "", "sibling": "", "setting": "", "value": ""}


def _moment(stored: str) -> datetime:
    return datetime.fromisoformat(stored.replace("Z", "+00:00"))


def closes_in(proposal: Proposal, now: datetime | None = None) -> str:
    """How long until the proposal closes, for people: "in 2 days", "in 5 hours", "closed"."""
    left = _moment(proposal.closes_at) - (now or datetime.now(UTC))
    if not proposal.is_open or left.total_seconds() <= 0:
        return "closed"
    for unit, seconds in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if left.total_seconds() >= seconds:
            count = int(left.total_seconds() // seconds)
            return f"in {count} {unit}{'s' if count != 1 else ''}"
    return "in less than a minute"


def scope_label(proposal: Proposal, crew_names: dict[int, str]) -> str:
    if proposal.scope == "crew":
        return f"crew {crew_names.get(proposal.crew_id, '')}".strip()
    return {"congregation": "the Congregation", "partners": "Partners", "public": "public"}[proposal.scope]


async def _may_see(db: aiosqlite.Connection, proposal: Proposal, me: LocalActor | None) -> bool:
    """A crew's proposals are its own, as its posts are; the others are every member's to read."""
    if me is None:
        return proposal.scope == "public"
    if proposal.scope == "crew":
        return await crews_store.is_member(db, proposal.crew_id, me.id)
    return True


async def _crew_names(db: aiosqlite.Connection) -> dict[int, str]:
    return {crew.id: crew.name for crew in await crews_store.all_open(db)}


async def _stance_of(db: aiosqlite.Connection, proposal: Proposal, voter: str) -> store.StanceRow | None:
    return next((s for s in await proposals.standing_stances(db, proposal) if s.voter == voter), None)


@routes.get("/proposals")
@require_member
async def proposals_page(request: web.Request) -> web.Response:
    """Proposals this member may read, open ones first, with when they close and the member's stance."""
    db, config, me = request.app[DB], request.app[CONFIG], member(request)
    voter, names = proposals.local_uri(config, me.username), await _crew_names(db)
    rows = []
    for proposal in await store.recent(db):
        if not await _may_see(db, proposal, me):
            continue
        stance = await _stance_of(db, proposal, voter)
        rows.append({"proposal": proposal, "scope": scope_label(proposal, names), "state": STATES[proposal.state],
                     "closes_in": closes_in(proposal, now(request)),
                     "stance": ", ".join(stance.choices) if stance else None})
    response = await render(request, "proposals.html", rows=rows)
    response.headers["Cache-Control"] = "private, no-store"
    return response


async def _new_page(request: web.Request, status: int = 200, error: str | None = None, **typed: Any) -> web.Response:
    me, config = member(request), request.app[CONFIG]
    crews = await crews_store.of_member(request.app[DB], me.id)
    settings = [(name, getattr(config, name)) for name in DECIDABLE]
    return await render(request, "proposal_new.html", status=status, error=error, crews=crews,
                        form={**NEW_DEFAULTS, **typed}, quick_days=QUICK_DAYS, actions=proposals.ACTIONS,
                        settings=settings,
                        max_title=proposals.MAX_TITLE, max_details=proposals.MAX_DETAILS)


@routes.get("/proposals/new")
@require_member
async def new_proposal_form(request: web.Request) -> web.Response:
    """The form to open a proposal; `?action=approve_sibling&sibling=URL` fills it in (an introduction's link)."""
    prefill = {}
    if request.query.get("action") == "approve_sibling" and request.query.get("sibling", "").startswith("http"):
        sibling = request.query["sibling"][:2048]
        prefill = {"action": "approve_sibling", "sibling": sibling, "title": f"Become siblings with {sibling}"[:200]}
    return await _new_page(request, **prefill)


def _closing(typed: dict[str, Any], now: datetime) -> datetime:
    """A quick choice of days, or the date-time typed (read as UTC, as every time on these pages is)."""
    if typed["closes_in"] in QUICK_DAYS:
        return now + timedelta(days=int(typed["closes_in"]))
    try:
        moment = datetime.fromisoformat(typed["closes_at"])
    except ValueError:
        raise ProposalError("choose when the proposal closes: 1, 3 or 7 days, or a date and time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _scope(value: str) -> tuple[str, int | None]:
    if value.startswith("crew:"):
        number = value[len("crew:"):]
        if number.isascii() and number.isdigit() and len(number) <= 18:
            return "crew", int(number)
        raise ProposalError("choose one of your crews")
    if value == "crew":
        raise ProposalError("choose one of your crews")
    return value, None


def _quorum(value: str) -> int:
    if not (value.isascii() and value.isdigit() and len(value) <= 3):
        raise ProposalError("the quorum is a percentage from 0 to 100")
    return int(value)


def _action(typed: dict[str, Any]) -> tuple[str | None, dict | None]:
    action = typed["action"] or None
    if action in ("promote", "remove_member"):
        return action, {"member": typed["member"].strip()}
    if action == "approve_sibling":
        return action, {"actor": typed["sibling"].strip()}
    if action == "change_setting":
        return action, {"setting": typed["setting"].strip(), "value": typed["value"].strip()}
    return action, None


@routes.post("/proposals/new")
@require_member
async def create_proposal(request: web.Request) -> web.StreamResponse:
    """Open a proposal; a refused one comes back with everything typed."""
    db, config, me = request.app[DB], request.app[CONFIG], member(request)
    form = await read_form(request)
    typed = {name: field(form, name, 20_000) for name in NEW_DEFAULTS if not isinstance(NEW_DEFAULTS[name], bool)}
    typed.update(multiple=bool(form.get("multiple")), hide_results=bool(form.get("hide_results")))
    try:
        scope, crew_id = _scope(typed["scope"])
        action, action_args = _action(typed)
        moment = now(request)
        events = await processing_proposals.open_proposal(
            db, config, me, kind=typed["kind"], title=typed["title"], details=typed["details"],
            closes_at=_closing(typed, moment), now=moment, scope=scope, crew_id=crew_id,
            options=typed["options"].splitlines(), multiple=typed["multiple"], quorum_percent=_quorum(typed["quorum"]),
            hide_results=typed["hide_results"], action=action, action_args=action_args)
    except ProposalError as exc:
        return await _new_page(request, 400, sentence(exc), **typed)
    return redirect(f"/proposals/{events[0].proposal.uuid}")


async def _names(db: aiosqlite.Connection, config: Config, voters: list[str]) -> dict[str, str]:
    """Local voters by display name; remote ones stay their URI (we may know nothing else of them)."""
    names = {}
    for voter in voters:
        username = uris.local_username(config, voter)
        actor = await local_actors.by_username(db, username) if username is not None else None
        names[voter] = actor.display_name if actor is not None else voter
    return names


async def _proposal(request: web.Request) -> Proposal:
    """The proposal in the URL if this visitor may read it; 404 otherwise, so a private one is not revealed."""
    proposal = await store.by_uuid(request.app[DB], request.match_info["uuid"])
    if proposal is None or not await _may_see(request.app[DB], proposal, member(request)):
        raise web.HTTPNotFound(text="no such proposal")
    return proposal


async def _page(request: web.Request, proposal: Proposal, status: int = 200, error: str | None = None,
                choices: tuple[str, ...] | None = None, reason: str | None = None,
                outcome: str | None = None) -> web.Response:
    db, config, me = request.app[DB], request.app[CONFIG], member(request)
    visible = proposals.results_visible(proposal)
    result = await proposals.current_tally(db, config, proposal) if visible else None
    values: dict[str, Any] = {"may_vote": False, "mine": None, "standing": [], "names": {}, "may_manage": False,
                              "may_withdraw": False}
    if me is not None:
        voter = proposals.local_uri(config, me.username)
        standing = await proposals.standing_stances(db, proposal)
        mine = next((s for s in standing if s.voter == voter), None)
        values.update(
            mine=mine, may_manage=me.id == proposal.author_id or me.tier == "partner",
            may_withdraw=proposals.may_withdraw(me, proposal),
            may_vote=proposal.is_open and await proposals.may_take_part(db, config, proposal, voter),
            standing=standing if visible else [],
            names=await _names(db, config, [s.voter for s in standing]) if visible else {})
        if choices is None:
            choices = mine.choices if mine else ()
        if reason is None:
            reason = mine.reason if mine else ""
    author = await local_actors.by_id(db, proposal.author_id)
    response = await render(
        request, "proposal.html", status=status, proposal=proposal, error=error, result=result,
        state=STATES[proposal.state], closes_in=closes_in(proposal, now(request)), author=author,
        scope=scope_label(proposal, await _crew_names(db)), choices=choices or (), reason=reason or "",
        outcome_text=proposal.outcome if outcome is None else outcome,
        action_target=next((v for k, v in (proposal.action_args or {}).items()
                            if k in ("member", "actor", "server", "mode")), None),
        setting_change=proposals.setting_change(config, proposal),
        **values)
    response.headers["Cache-Control"] = "private, no-store" if me is not None else "no-cache"
    response.headers["Vary"] = "Accept, Cookie"
    return response


async def proposal_page(request: web.Request) -> web.StreamResponse:
    """The HTML of /proposals/{uuid}: members read it and take a stance; anyone reads a public one."""
    return await _page(request, await _proposal(request))


@routes.post("/proposals/{uuid}/stance")
@require_member
async def take_stance(request: web.Request) -> web.StreamResponse:
    """Take or change one's stance; the latest counts."""
    db, config, me = request.app[DB], request.app[CONFIG], member(request)
    proposal = await _proposal(request)
    form = await read_form(request)
    choices = tuple(c for c in form.getall("choice", []) if isinstance(c, str))[:proposals.MAX_OPTIONS]
    reason = field(form, "reason", proposals.MAX_REASON + 1)
    try:
        await processing_proposals.take_stance(db, config, proposal, me, list(choices), reason, now=now(request))
    except ProposalError as exc:
        return await _page(request, proposal, 400, sentence(exc), choices, reason)
    return redirect(f"/proposals/{proposal.uuid}")


@routes.post("/proposals/{uuid}/withdraw")
@require_member
async def withdraw(request: web.Request) -> web.StreamResponse:
    """The proposer withdraws an open proposal (never the member it acts on)."""
    db, config = request.app[DB], request.app[CONFIG]
    proposal = await _proposal(request)
    await read_form(request)
    try:
        await processing_proposals.withdraw(db, config, member(request), proposal.id)
    except ProposalError as exc:
        return await _page(request, proposal, 400, sentence(exc))
    return redirect(f"/proposals/{proposal.uuid}")


@routes.post("/proposals/{uuid}/outcome")
@require_member
async def record_outcome(request: web.Request) -> web.StreamResponse:
    """After close, the proposer or a Partner writes down what was decided."""
    proposal = await _proposal(request)
    text = field(await read_form(request), "outcome", proposals.MAX_OUTCOME + 1)
    try:
        await processing_proposals.record_outcome(request.app[DB], request.app[CONFIG], member(request), proposal.id,
                                                  text)
    except ProposalError as exc:
        return await _page(request, proposal, 400, sentence(exc), outcome=text)
    return redirect(f"/proposals/{proposal.uuid}")
