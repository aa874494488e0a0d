"""A member's home: the timeline, writing a post, editing and deleting one's own."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from node.appkeys import CONFIG, DB
from node.governance.posts import MAX_SOURCE, VISIBILITIES
from node.processing.posts import PostError, delete_post, edit_post, publish_post
from node.store import crews as crews_store
from node.store import local_actors, timeline
from node.store import posts as posts_store
from node.store.posts import Post
from node.web.auth import member, redirect, require_member
from node.web.render import render
from node.web.timeline import before, items, page

routes = web.RouteTableDef()
# Members-only is the default: a slip of the thumb should not publish to the world.
DEFAULT_VISIBILITY = "members"


def _private(response: web.Response) -> web.Response:
    response.headers["Cache-Control"] = "private, no-store"
    return response


@dataclass(frozen=True)
class PollAlert:
    """Why a vote in a poll was refused: shown by that poll when it is on the page, else above the timeline."""

    uri: str
    message: str
    inline: bool = False


async def render_home(request: web.Request, status: int = 200, text: str = "", visibility: str = DEFAULT_VISIBILITY,
                      error: str | None = None, poll_alert: PollAlert | None = None) -> web.Response:
    """The home page; a refused post or vote comes back with `status`, its message and what was typed."""
    db, config = request.app[DB], request.app[CONFIG]
    me = member(request)
    crews = await crews_store.of_member(db, me.id)
    if visibility not in ("public", *(f"crew:{crew.id}" for crew in crews)):
        visibility = "members"  # a choice the form no longer offers falls back to the safest one
    cursor = before(request)
    shown, older = page(await timeline.home(db, me.id, config.page_size + 1, cursor), config.page_size)
    posts = await items(request, shown, me.id)
    if poll_alert is not None:
        poll_alert = PollAlert(poll_alert.uri, poll_alert.message,
                               any(item.poll is not None and item.poll.uri == poll_alert.uri for item in posts))
    response = await render(
        request, "home.html", status=status, text=text, visibility=visibility, error=error, max_source=MAX_SOURCE,
        crews=crews, poll_error=poll_alert,
        items=posts, older=older, newer=cursor is not None,
        timeline_path="/home", timeline_heading="Timeline",
        timeline_empty="Nothing here yet: write the first post, or follow a Congregation.")
    return _private(response)


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    """Members land on their home timeline; everyone else on the Congregation's public page."""
    if member(request) is not None:
        raise web.HTTPFound("/home")
    group = await local_actors.group(request.app[DB])
    raise web.HTTPFound(f"/actors/{group.username}")


@routes.get("/home")
@require_member
async def home(request: web.Request) -> web.Response:
    """Newest first: this node's posts, and public posts from siblings and from those the Group follows."""
    return await render_home(request)


def _field(form, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


@routes.post("/posts")
@require_member
async def compose(request: web.Request) -> web.StreamResponse:
    """Publish a post; a refused one comes back with what was typed."""
    form = await request.post()
    text, visibility = _field(form, "text"), _field(form, "visibility")
    kind, crew_id = _visibility(visibility)
    if kind not in VISIBILITIES:
        return await render_home(request, 400, text, DEFAULT_VISIBILITY, "Choose who can see the post.")
    try:
        await publish_post(request.app[DB], request.app[CONFIG], member(request), text, kind, crew_id=crew_id)
    except PostError as exc:
        return await render_home(request, 400, text, visibility, _sentence(str(exc)))
    return redirect("/home")


def _visibility(value: str) -> tuple[str, int | None]:
    """The form's choice: "public", "members", or "crew:<id>" for one of the member's crews."""
    if value.startswith("crew:"):
        number = value[len("crew:"):]
        return ("crew", int(number)) if number.isascii() and number.isdigit() and len(number) <= 18 else ("", None)
    return ("", None) if value == "crew" else (value, None)


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


async def _own_post(request: web.Request) -> Post:
    """The post in the URL if the signed-in member wrote it: 404 unknown, 410 deleted, 403 someone else's."""
    post = await posts_store.by_uuid(request.app[DB], request.match_info["uuid"])
    if post is None:
        raise web.HTTPNotFound(text="no such post")
    if post.deleted_at is not None:
        raise web.HTTPGone(text="this post was deleted")
    if post.author_id != member(request).id:
        raise web.HTTPForbidden(text="only its author can change a post")
    return post


async def _edit_form(request: web.Request, post: Post, status: int = 200, text: str | None = None,
                     error: str | None = None) -> web.Response:
    response = await render(request, "post_edit.html", status=status, post=post,
                            text=post.source if text is None else text, error=error, max_source=MAX_SOURCE)
    return _private(response)


@routes.get("/posts/{uuid}/edit")
@require_member
async def edit_form(request: web.Request) -> web.Response:
    return await _edit_form(request, await _own_post(request))


@routes.post("/posts/{uuid}/edit")
@require_member
async def edit(request: web.Request) -> web.StreamResponse:
    """Replace the text of one's own post; the edit federates as its author."""
    post = await _own_post(request)
    text = _field(await request.post(), "text")
    try:
        await edit_post(request.app[DB], request.app[CONFIG], member(request), post.id, text)
    except PostError as exc:
        return await _edit_form(request, post, 400, text, _sentence(str(exc)))
    return redirect(f"/posts/{post.uuid}")


@routes.post("/posts/{uuid}/delete")
@require_member
async def delete(request: web.Request) -> web.StreamResponse:
    """Delete one's own post; servers that had it are told."""
    post = await _own_post(request)
    try:
        await delete_post(request.app[DB], request.app[CONFIG], member(request), post.id)
    except PostError:
        raise web.HTTPGone(text="this post was deleted") from None
    return redirect("/home")
