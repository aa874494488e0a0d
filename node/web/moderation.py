"""Moderation pages: a member's own mutes and blocks (theirs alone), the servers the Congregation blocks and its
allowlist (Partners act; everyone sees), and the moderation log (every member reads the Congregation's blocks and
allowlist changes; entries about reports are for Partners, as the report queue is)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from node.appkeys import CONFIG, DB, HTTP
from node.governance import reports as report_rules
from node.governance.errors import GovernanceError
from node.processing import moderation
from node.processing import proposals as proposals_processing
from node.store import moderation as store
from node.store import proposals as proposals_store
from node.web.auth import member, redirect, require_member
from node.web.forms import Names, field, form_status, now, read_form, sentence
from node.web.render import render

routes = web.RouteTableDef()

NOTICES = {
    "mute": "Muted: you will not see them on your timeline.",
    "block": "Blocked: you will not see them, and no follow between you remains.",
    "lifted": "Lifted.",
    "blocked": "Blocked for the Congregation: nothing goes to that server and nothing from it is taken.",
    "unblocked": "Unblocked: new activities go to that server again.",
    "allowed": "Listed: that server may federate with us in allowlist mode.",
    "disallowed": "Taken off the list.",
}
LOG_WORDS = {
    "server_blocked": "blocked the server", "server_unblocked": "unblocked the server",
    "server_allowed": "listed the server", "server_disallowed": "took off the list the server",
    "allowlist_mode_on": "switched to allowlist mode", "allowlist_mode_off": "left allowlist mode",
    "report-resolved": "resolved report", "report-dismissed": "dismissed report",
    "report-forwarded": "forwarded a report about", "post-removed": "removed the reported post",
}
MODES = {"allowlist": "Allowlist mode: we federate only with sibling Congregations and the servers listed below.",
         "open": "Open: we federate with every server that is not blocked."}
CLOSES_IN_DAYS = 3


async def _page(request: web.Request, status: int = 200, **values: Any) -> web.Response:
    db, me = request.app[DB], member(request)
    names = Names(db)
    blocked = [{"block": b, "by": await names.actor(b.by_id)} for b in await store.server_blocks(db)]
    values = {"notice": NOTICES.get(request.query.get("done", "")), "mine_error": None, "server_error": None,
              "allow_error": None, "propose_error": None, "form": {}, **values}
    response = await render(
        request, "moderation.html", status=status, mine=await store.filters_of(db, me.id), blocked=blocked,
        mode=await store.mode(db), modes=MODES, allowed=await store.allowed_servers(db), **values)
    response.headers["Cache-Control"] = "private, no-store"  # a member's own list is theirs alone
    return response


@routes.get("/moderation")
@require_member
async def moderation_page(request: web.Request) -> web.Response:
    """Your mutes and blocks; the Congregation's blocked servers and allowlist. `?server=` (the reports queue's
    "block this server" link) fills in the block form; it is only a form value, escaped like any."""
    server = request.query.get("server", "")[:moderation.MAX_TARGET]
    return await _page(request, form={"server": server} if server else {})


@routes.post("/moderation/mine")
@require_member
async def add_mine(request: web.Request) -> web.StreamResponse:
    """Mute or block an account or a server, for yourself alone."""
    form = await read_form(request)
    text, kind = field(form, "target", moderation.MAX_TARGET + 1), field(form, "kind", 10)
    db, config = request.app[DB], request.app[CONFIG]
    try:
        found = await moderation.target(config, request.app.get(HTTP), text)
        await moderation.filter_target(db, config, member(request), found, kind)
    except GovernanceError as exc:
        return await _page(request, form_status(exc), mine_error=sentence(exc), form={"target": text})
    return redirect(f"/moderation?done={'block' if kind == 'block' else 'mute'}")


@routes.post("/moderation/mine/remove")
@require_member
async def remove_mine(request: web.Request) -> web.StreamResponse:
    """Lift one of your mutes or blocks."""
    form = await read_form(request)
    db, config = request.app[DB], request.app[CONFIG]
    try:
        await moderation.unfilter_target(db, config, member(request), field(form, "target_kind", 10),
                                         field(form, "target", moderation.MAX_TARGET))
    except GovernanceError as exc:
        return await _page(request, form_status(exc), mine_error=sentence(exc))
    return redirect("/moderation?done=lifted")


async def _server_action(request: web.Request, action, done: str, error_field: str) -> web.StreamResponse:
    form = await read_form(request)
    text, reason = field(form, "server", moderation.MAX_TARGET + 1), field(form, "reason", 1000)
    db, config = request.app[DB], request.app[CONFIG]
    try:
        await action(db, config, member(request), text, reason)
    except GovernanceError as exc:
        return await _page(request, form_status(exc), **{error_field: sentence(exc)},
                           form={"server": text, "reason": reason})
    return redirect(f"/moderation?done={done}")


@routes.post("/moderation/servers")
@require_member
async def block_server(request: web.Request) -> web.StreamResponse:
    """A Partner blocks a server for the whole Congregation, with a reason (a sibling's needs a proposal)."""
    return await _server_action(request, moderation.block_server, "blocked", "server_error")


@routes.post("/moderation/servers/unblock")
@require_member
async def unblock_server(request: web.Request) -> web.StreamResponse:
    return await _server_action(request, moderation.unblock_server, "unblocked", "server_error")


@routes.post("/moderation/allowlist")
@require_member
async def allow_server(request: web.Request) -> web.StreamResponse:
    return await _server_action(request, moderation.allow_server, "allowed", "allow_error")


@routes.post("/moderation/allowlist/remove")
@require_member
async def disallow_server(request: web.Request) -> web.StreamResponse:
    return await _server_action(request, moderation.disallow_server, "disallowed", "allow_error")


@routes.post("/moderation/propose")
@require_member
async def propose(request: web.Request) -> web.StreamResponse:
    """Open the consent proposal a sibling's block or a change of federation mode needs; decided by everyone."""
    form = await read_form(request)
    action, text = field(form, "action", 20), field(form, "server", moderation.MAX_TARGET + 1)
    db, config = request.app[DB], request.app[CONFIG]
    if action == "block_server":
        title, args = f"Block the server {text.strip()}", {"server": text}
    elif action == "federation_mode":
        mode = field(form, "mode", 10)
        title, args = ("Federate only with siblings and listed servers" if mode == "allowlist"
                       else "Federate with every server that is not blocked"), {"mode": mode}
    else:
        return await _page(request, 400, propose_error="Choose what to propose.")
    try:
        events = await proposals_processing.open_proposal(
            db, config, member(request), kind="consent", title=title[:200], details=field(form, "reason", 2000),
            closes_at=now(request) + timedelta(days=CLOSES_IN_DAYS), scope="congregation", action=action,
            action_args=args)
    except GovernanceError as exc:
        return await _page(request, form_status(exc), propose_error=sentence(exc), form={"server": text})
    return redirect(f"/proposals/{events[0].proposal.uuid}")


@routes.get("/moderation/log")
@require_member
async def moderation_log_page(request: web.Request) -> web.Response:
    """The moderation record: every block, unblock and allowlist change, with the reason; actions on reports for
    Partners only (never one about a report concerning the Partner reading)."""
    db = request.app[DB]
    names = Names(db)
    events = []
    for event in await report_rules.moderation_record(db, member(request)):
        proposal = await proposals_store.by_id(db, event.proposal_id) if event.proposal_id else None
        events.append({"kind": event.kind, "what": LOG_WORDS.get(event.kind, event.kind.replace("_", " ")),
                       "target": event.target, "by": await names.actor(event.by_id), "proposal": proposal,
                       "reason": event.reason, "when": event.created_at})
    return await render(request, "moderation_log.html", events=events)
