"""Voting in the browser in a poll from elsewhere (a sibling's public proposal, a Mastodon poll): the form under
the poll on /home posts here, and node.polls does what `congregation vote` does. This node's own proposals are
decided on their own pages (node.web.proposals)."""

from __future__ import annotations

import re

from aiohttp import web

from node import polls
from node.activitypub.questions import VoteError, proposal_uuid
from node.appkeys import CONFIG, DB, HTTP
from node.web.auth import member, redirect, require_member
from node.web.home import PollAlert, render_home
from node.web.members import field, read_form, sentence

routes = web.RouteTableDef()
MAX_QUESTION = 2048
MAX_CHOICES = 50
# A refused vote: unknown poll 404; closed, or voted already, 409 (the poll's state, not the form, is why).
STATUS = {polls.UnknownPoll: 404, polls.PollClosed: 409, polls.AlreadyVoted: 409, polls.BadChoice: 400,
          polls.AuthorUnreachable: 502}
_ANCHOR = re.compile(r"remote-\d{1,18}", re.ASCII)


def _status(exc: VoteError) -> int:
    return next((status for kind, status in STATUS.items() if isinstance(exc, kind)), 400)


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
        if proposal_uuid(config, question) is not None:
            raise polls.UnknownPoll("this Congregation's own proposals are decided on their page, under Decisions")
        if not question or len(question) > MAX_QUESTION:
            raise polls.UnknownPoll("that poll is not known here")
        await polls.vote(db, config, request.app[HTTP], member(request), question, choices)
    except VoteError as exc:
        return await render_home(request, _status(exc), poll_alert=PollAlert(question, sentence(exc)))
    return redirect("/home" + (f"#{anchor}" if _ANCHOR.fullmatch(anchor) else ""))
