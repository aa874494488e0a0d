"""The Assembly in the browser: the proposals this Congregation holds with each Congregation's stance and the tally,
the form that asks the Congregation to table one (tabling is itself a decision), and the withdrawal of one it
tabled. GET /assembly/{token} is routed by node/web/negotiate.py: servers get the signed Question, people this page.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from node import uris
from node.activitypub.as2.assembly import stamp
from node.activitypub.as2.documents import actor_id
from node.appkeys import CONFIG, DB
from node.governance import proposals
from node.governance.errors import GovernanceError
from node.governance.proposals import ProposalError
from node.processing import assembly
from node.processing import proposals as processing_proposals
from node.store import assembly as store
from node.store import local_actors
from node.store import proposals as proposals_store
from node.web.auth import member, redirect, require_member
from node.web.forms import field, now, read_form, sentence
from node.web.render import render

routes = web.RouteTableDef()
NEW_DEFAULTS = {"kind": "consent", "title": "", "details": "", "options": "", "closes_in": "7",
                "tabling_in": "1", "quorum": "50", "weighting": "voice", "finality": "1"}
DAYS = ("3", "7", "14", "30")
TABLING_DAYS = ("1", "2", "3")
FINALITY_HOURS = ("1", "6", "24")
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,100}")
STATUS_WORDS = {"counted": "counted", "late": "arrived late (not counted)", "missing": "no stance yet",
                "equivocated": "two different stances (neither counted)"}


def _host(uri: str) -> str:
    return urlsplit(uri).netloc


async def _rows(request: web.Request) -> list[dict[str, Any]]:
    db = request.app[DB]
    rows = []
    for held in await store.listed(db, limit=100):
        result = await assembly.current_result(db, held)
        rows.append({"held": held, "result": result, "token": held.uri.rstrip("/").rsplit("/", 1)[-1],
                     "local": held.uri.startswith(request.app[CONFIG].base_url + "/"),
                     "closes": stamp(held.closes_at), "tabled_by": _host(held.tabled_by)})
    return rows


@routes.get("/assembly")
@require_member
async def assembly_list(request: web.Request) -> web.Response:
    introduced = [{"group": group, "host": _host(group), "by": [_host(s) for s in by]}
                  for group, by in await assembly.introductions(request.app[DB], request.app[CONFIG])]
    response = await render(request, "assembly.html", rows=await _rows(request), introduced=introduced)
    response.headers["Cache-Control"] = "private, no-store"
    return response


async def _new_page(request: web.Request, status: int = 200, error: str | None = None, **typed: Any) -> web.Response:
    return await render(request, "assembly_new.html", status=status, error=error, form={**NEW_DEFAULTS, **typed},
                        days=DAYS, tabling_days=TABLING_DAYS, finality_hours=FINALITY_HOURS,
                        max_title=proposals.MAX_TITLE, max_details=proposals.MAX_DETAILS)


@routes.get("/assembly/new")
@require_member
async def new_form(request: web.Request) -> web.Response:
    return await _new_page(request)


def _choice(value: str, allowed: tuple[str, ...], what: str) -> int:
    if value not in allowed:
        raise ProposalError(f"choose {what}: {', '.join(allowed)}")
    return int(value)


@routes.post("/assembly/new")
@require_member
async def create(request: web.Request) -> web.StreamResponse:
    """Open the Congregation's decision to table this; a refused one comes back with everything typed."""
    db, config, me = request.app[DB], request.app[CONFIG], member(request)
    form = await read_form(request)
    typed = {name: field(form, name, 20_000) for name in NEW_DEFAULTS}
    try:
        moment = now(request)
        closes = moment + timedelta(days=_choice(typed["closes_in"], DAYS, "when the Assembly closes (days)"))
        tabling = moment + timedelta(days=_choice(typed["tabling_in"], TABLING_DAYS, "when our decision closes"))
        finality = _choice(typed["finality"], FINALITY_HOURS, "the finality window (hours)") * 3600
        if not (typed["quorum"].isascii() and typed["quorum"].isdigit() and len(typed["quorum"]) <= 3):
            raise ProposalError("the quorum is a percentage of the Congregations, from 0 to 100")
        events = await processing_proposals.open_proposal(
            db, config, me, kind="consent", title=f"Table to the Assembly: {typed['title'].strip()}"[:200],
            details=typed["details"], closes_at=tabling, now=moment, scope="congregation", action="table_assembly",
            action_args={"title": typed["title"], "details": typed["details"], "kind": typed["kind"],
                         "options": typed["options"].splitlines(), "closes_at": closes.isoformat(),
                         "weighting": typed["weighting"], "quorum_percent": int(typed["quorum"]),
                         "finality_seconds": finality})
    except ProposalError as exc:
        return await _new_page(request, 400, sentence(exc), **typed)
    return redirect(f"/proposals/{events[0].proposal.uuid}")


async def _held(request: web.Request) -> store.AssemblyProposal:
    token = request.match_info["token"]
    if not TOKEN_RE.fullmatch(token):
        raise web.HTTPNotFound(text="no such Assembly proposal here")
    held = await store.by_uri(request.app[DB], uris.assembly_proposal(request.app[CONFIG], token))
    if held is None:
        # one tabled elsewhere is shown here under the last segment of its id, when that names one alone
        held = await store.by_token(request.app[DB], token)
    if held is None:
        raise web.HTTPNotFound(text="no such Assembly proposal here")
    return held


async def _page(request: web.Request, held: store.AssemblyProposal, status: int = 200,
                error: str | None = None) -> web.Response:
    db, config, me = request.app[DB], request.app[CONFIG], member(request)
    result = await assembly.current_result(db, held)
    local = await proposals_store.by_id(db, held.local_proposal_id) if held.local_proposal_id else None
    ours = held.tabled_by == actor_id(config, (await local_actors.group(db)).username)
    rows = [{"row": row, "host": _host(row.group), "words": STATUS_WORDS[row.status]} for row in result.rows]
    response = await render(
        request, "assembly_proposal.html", status=status, error=error, held=held, result=result, rows=rows,
        rules=held.rules, local=local if me is not None else None, closes=stamp(held.closes_at),
        final_at=stamp(held.final_at), tabled_by=_host(held.tabled_by),
        details=(held.document.get("source") or {}).get("content", ""),
        may_withdraw=me is not None and me.tier == "partner" and ours and held.state == "open"
        and now(request).timestamp() < held.closes_at,
        equivocations=[(_host(g), a[:12], b[:12]) for g, a, b in result.equivocations])
    response.headers["Cache-Control"] = "private, no-store" if me is not None else "no-cache"
    response.headers["Vary"] = "Accept, Cookie"
    return response


async def assembly_page(request: web.Request) -> web.StreamResponse:
    """The HTML of /assembly/{token}: anyone reads it (the proposal and the stances are public on the wire);
    members also see the link to their own Congregation's decision on it."""
    return await _page(request, await _held(request))


@routes.post("/assembly/{token}/withdraw")
@require_member
async def withdraw(request: web.Request) -> web.StreamResponse:
    """A Partner withdraws a proposal this Congregation tabled, before it closes."""
    held = await _held(request)
    await read_form(request)
    if member(request).tier != "partner":
        return await _page(request, held, 403, "Only Partners withdraw a proposal the Congregation tabled.")
    try:
        await assembly.withdraw(request.app[DB], request.app[CONFIG], held.id)
    except GovernanceError as exc:
        return await _page(request, held, 400, sentence(exc))
    return redirect(f"/assembly/{request.match_info['token']}")

