"""Voting in the browser in a poll from elsewhere (a sibling's public proposal, a Mastodon poll): the form under
the poll on /home posts here, and node.polls does what `congregation vote` does. This node's own proposals are
decided on their own pages (node.web.proposals)."""

from __future__ import annotations

import re

from aiohttp import web

from node import uris
from node.appkeys import CONFIG, DB, HTTP
from node.governance.errors import http_status
from node.processing import polls
from node.processing.polls import VoteError
from node.web.auth import member, redirect, require_member
from node.web.forms import field, read_form, sentence
from node.web.home import PollAlert, render_home

routes = web.RouteTableDef()
MAX_QUESTION = 2048
MAX_CHOICES = 50
# A refused vote: unknown poll 404; closed, or voted already, 409 (the poll's state, not the form, is why).
_ANCHOR = re.compile(r"remote-\d{1,18}", re.ASCII)


@routes.post("/polls/vote")
@require_member
async def vote(request: web.Request) -> web.StreamResponse:
    """Vote once in a poll from elsewhere; a refused vote comes back to /home with the reason by the poll."""
    db, config = request.app[DB], request.app[CONFIG]
    form = await read_form(request)
    question = field(form, "question", MAX_QUESTION + 1)
    choices = [choice for choice in form.getall("choice", []) if isinstance(choice, str)][:MAX_CHOICES]
    anchor = field(form, "anchor", 40)
    try:
        if uris.proposal_uuid(config, question) is not None:
            raise polls.UnknownPoll("this Congregation's own proposals are decided on their page, under Decisions")
        if not question or len(question) > MAX_QUESTION:
            raise polls.UnknownPoll("that poll is not known here")
        await polls.vote(db, config, request.app[HTTP], member(request), question, choices)
    except VoteError as exc:
        return await render_home(request, http_status(exc), poll_alert=PollAlert(question, sentence(exc)))
    return redirect("/home" + (f"#{anchor}" if _ANCHOR.fullmatch(anchor) else ""))
