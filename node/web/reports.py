"""Reports in the browser: a member reports a post; Partners see the queue (never a report about themselves),
close a report with a note, forward one about a remote account to its server, or remove a reported post of ours."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from node import uris
from node.appkeys import CONFIG, DB, HTTP
from node.governance import reports as rules
from node.governance.errors import GovernanceError
from node.governance.reports import MAX_COMMENT
from node.processing import reports as service
from node.store import posts as posts_store
from node.store import remote_objects, timeline
from node.store.reports import Report
from node.web.auth import member, redirect, require_member, require_partner
from node.web.forms import Names, field, form_status, read_form, sentence
from node.web.render import render
from node.web.timeline import excerpt

routes = web.RouteTableDef()
MAX_URI = 2048
DONE = {
    "resolved": "Resolved, with your note in the moderation log.",
    "dismissed": "Dismissed, with your note in the moderation log.",
    "forwarded": "Forwarded: the Congregation's Flag is on its way to their server.",
    "removed": "The post is removed, and servers that had it are told.",
}


@dataclass(frozen=True)
class PostView:
    uri: str
    text: str           # an excerpt, or why there is none
    ours: bool
    live: bool


@dataclass(frozen=True)
class ReportView:
    id: int
    by: str             # "@ada" or the reporting server's host
    remote: bool
    account: str
    account_name: str
    host: str           # the reported account's server, when it is not ours
    posts: tuple[PostView, ...]
    comment: str
    state: str
    note: str
    closed_by: str
    forwarded: bool
    created_at: str


async def _post_view(request: web.Request, uri: str) -> PostView:
    db, config = request.app[DB], request.app[CONFIG]
    if (post_uuid := uris.post_uuid(config, uri)) is not None:
        post = await posts_store.by_uuid(db, post_uuid)
        if post is None or post.deleted_at is not None:
            return PostView(uri, "(deleted)", True, False)
        if post.visibility == "crew":
            return PostView(uri, "(a crew post: only its crew can read it)", True, True)
        return PostView(uri, excerpt(post.content, 280), True, True)
    held = await remote_objects.get(db, uri)
    if held is None or held.deleted_at is not None:
        return PostView(uri, "(not held here)", False, False)
    return PostView(uri, excerpt(held.content, 280), False, True)


async def _view(request: web.Request, report: Report, names: Names) -> ReportView:
    reporter = await names.actor(report.reporter_id)
    by = f"@{reporter.username}" if reporter else (report.reporter_host or "another server")
    closer = await names.actor(report.closed_by)
    if report.account_id is not None:
        local = await names.actor(report.account_id)
        name, host = (f"@{local.username}" if local else report.account), ""
    else:
        known = (await timeline.remote_authors(request.app[DB], {report.account})).get(report.account)
        host = urlsplit(report.account).netloc
        name = f"@{known.username}@{known.host}" if known and known.username else report.account
    posts = tuple([await _post_view(request, uri) for uri in report.posts])
    return ReportView(report.id, by, report.remote, report.account, name, host, posts, report.comment, report.state,
                      report.note, f"@{closer.username}" if closer else "", report.forwarded_at is not None,
                      report.created_at)


async def _queue(request: web.Request, status: int = 200, error: str | None = None,
                 error_for: int | None = None) -> web.Response:
    db, me = request.app[DB], member(request)
    names = Names(db)
    open_reports = [await _view(request, r, names) for r in await rules.queue(db, me, "open")]
    closed = [await _view(request, r, names) for r in (await rules.queue(db, me, None))
              if r.state != "open"][:50]
    if error_for not in {r.id for r in open_reports}:
        error_for = None  # shown at the top: the report it is about is no longer open
    response = await render(request, "reports.html", status=status, reports=open_reports, closed=closed,
                            done=DONE.get(request.query.get("done", "")), error=error, error_for=error_for,
                            max_comment=MAX_COMMENT)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@routes.get("/reports")
@require_partner
async def queue(request: web.Request) -> web.Response:
    """The report queue, for Partners: open reports first, then the last ones closed."""
    return await _queue(request)


def _report_id(request: web.Request) -> int:
    return int(request.match_info["id"])


async def _act(request: web.Request, action) -> web.StreamResponse:
    report_id = _report_id(request)
    try:
        done = await action(await read_form(request), report_id)
    except GovernanceError as exc:
        if form_status(exc) == 404:
            raise web.HTTPNotFound(text=sentence(exc)) from None
        return await _queue(request, form_status(exc), sentence(exc), report_id)
    return redirect(f"/reports?done={done}")


@routes.post(r"/reports/{id:\d{1,18}}/close")
@require_partner
async def close(request: web.Request) -> web.StreamResponse:
    """Resolve or dismiss a report with a note."""
    async def act(form, report_id: int) -> str:
        state = field(form, "state", 20)
        await service.close_report(request.app[DB], request.app[CONFIG], member(request), report_id, state,
                                   field(form, "note", MAX_COMMENT + 1))
        return state
    return await _act(request, act)


@routes.post(r"/reports/{id:\d{1,18}}/forward")
@require_partner
async def forward(request: web.Request) -> web.StreamResponse:
    """Send a report about a remote account to its server as the Group's Flag."""
    async def act(form, report_id: int) -> str:
        await service.forward_report(request.app[DB], request.app[CONFIG], request.app[HTTP], member(request),
                                     report_id, field(form, "comment", MAX_COMMENT + 1))
        return "forwarded"
    return await _act(request, act)


@routes.post(r"/reports/{id:\d{1,18}}/remove")
@require_partner
async def remove(request: web.Request) -> web.StreamResponse:
    """Remove a reported post of ours."""
    async def act(form, report_id: int) -> str:
        await service.remove_post(request.app[DB], request.app[CONFIG], member(request), report_id,
                                  field(form, "post", MAX_URI), field(form, "note", MAX_COMMENT + 1))
        return "removed"
    return await _act(request, act)


async def _form(request: web.Request, post_uri: str, status: int = 200, comment: str = "", error: str | None = None,
                sent: bool = False) -> web.Response:
    """The report form for a post the member may report; for anything else, the reason, and neither the post nor
    a form (a members-only, crew or direct post's text is not shown by asking to report it)."""
    post = None
    try:
        await service.reported_account(request.app[DB], request.app[CONFIG], member(request), post_uri)
    except GovernanceError as exc:
        status, error = (status if status >= 400 else form_status(exc)), error or sentence(exc)
    else:
        post = await _post_view(request, post_uri.strip())
    response = await render(request, "report_new.html", status=status, post=post, comment=comment, error=error,
                            sent=sent, max_comment=MAX_COMMENT)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@routes.get("/reports/new")
@require_member
async def new(request: web.Request) -> web.Response:
    """The form to report a post to the Partners, with a comment."""
    return await _form(request, request.query.get("post", "")[:MAX_URI])


@routes.post("/reports")
@require_member
async def create(request: web.Request) -> web.Response:
    """File a member's report; the Partners get a notice."""
    form = await read_form(request)
    post_uri, comment = field(form, "post", MAX_URI), field(form, "comment", MAX_COMMENT + 1)
    try:
        await service.file_report(request.app[DB], request.app[CONFIG], member(request), post_uri, comment)
    except GovernanceError as exc:
        return await _form(request, post_uri, form_status(exc), comment, sentence(exc))
    return await _form(request, post_uri, sent=True)
