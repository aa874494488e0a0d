"""A member's own settings: profile, password, avatar, leaving; and setting a password from a reset link."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from node.appkeys import CONFIG, DB, HASHER, SESSION
from node.governance import accounts, membership, profiles
from node.governance.errors import GovernanceError
from node.governance.membership import MembershipError
from node.processing import membership as processing_membership
from node.processing import profiles as processing_profiles
from node.store import accounts as accounts_store
from node.web.auth import allow_body, end_session, member, redirect, require_member, start_session
from node.web.forms import field, form_status, now, read_form, sentence
from node.web.render import render

routes = web.RouteTableDef()
MAX_TOKEN = 100
# A picture up to this size is read and refused beside the form; past it, the request is refused unread (413).
AVATAR_FORM_BYTES = 8 * profiles.MAX_AVATAR
SAVED = {"profile": "Your profile is saved.", "password": "Your password is changed; other sessions have ended.",
         "avatar": "Your avatar is saved.", "avatar-removed": "Your avatar is removed."}


async def _page(request: web.Request, status: int = 200, **values: Any) -> web.Response:
    me = member(request)
    values = {"errors": {}, "display_name": me.display_name, "bio": me.summary, "reason": "",
              "saved": SAVED.get(request.query.get("saved", "")), **values}
    has_avatar = await accounts_store.avatar_media_type(request.app[DB], me.id) is not None
    return await render(request, "settings.html", status=status, has_avatar=has_avatar,
                        max_avatar_mib=profiles.MAX_AVATAR // (1024 * 1024), **values)


@routes.get("/settings")
@require_member
async def settings_page(request: web.Request) -> web.Response:
    """Profile, password, avatar, and the way out."""
    return await _page(request)


@routes.post("/settings/profile")
@require_member
async def save_profile(request: web.Request) -> web.Response:
    """Display name and bio, as the member's Person actor shows them; followers and siblings are told."""
    form = await read_form(request)
    display_name, bio = field(form, "display_name"), field(form, "bio", 100_000)
    try:
        await processing_profiles.update_profile(request.app[DB], request.app[CONFIG], member(request),
                                                 display_name, bio)
    except GovernanceError as exc:
        return await _page(request, form_status(exc), errors={"profile": sentence(exc)}, display_name=display_name,
                           bio=bio)
    return redirect("/settings?saved=profile")


@routes.post("/settings/password")
@require_member
async def change_password(request: web.Request) -> web.Response:
    """A new password; this session stays, every other one ends."""
    form = await read_form(request)
    current, new, again = (field(form, name, 1000) for name in ("current", "new", "new_again"))
    try:
        if new != again:
            raise MembershipError("the two new passwords are not the same")
        await accounts.change_password(request.app[DB], member(request), current, new,
                                       keep_session=request[SESSION].token_hash, hasher=request.config_dict[HASHER])
    except GovernanceError as exc:
        return await _page(request, form_status(exc), errors={"password": sentence(exc)})
    return redirect("/settings?saved=password")


@routes.post("/settings/avatar")
@allow_body(AVATAR_FORM_BYTES)
@require_member
async def upload_avatar(request: web.Request) -> web.Response:
    """An avatar image; its bytes, not its name or declared type, decide whether it is one."""
    form = await read_form(request)
    upload = form.get("avatar")
    # One byte past the limit is enough to know it is too big.
    data = (await asyncio.to_thread(upload.file.read, profiles.MAX_AVATAR + 1)
            if isinstance(upload, web.FileField) else b"")
    try:
        await processing_profiles.set_avatar(request.app[DB], request.app[CONFIG], member(request), data)
    except profiles.TooLarge as exc:
        return await _page(request, 413, errors={"avatar": sentence(exc)})
    except GovernanceError as exc:
        return await _page(request, form_status(exc), errors={"avatar": sentence(exc)})
    return redirect("/settings?saved=avatar")


@routes.post("/settings/avatar/delete")
@require_member
async def delete_avatar(request: web.Request) -> web.Response:
    """Go back to no avatar."""
    await read_form(request)
    await processing_profiles.delete_avatar(request.app[DB], request.app[CONFIG], member(request))
    return redirect("/settings?saved=avatar-removed")


@routes.post("/settings/leave")
@require_member
async def leave(request: web.Request) -> web.StreamResponse:
    """Leave the Congregation: recorded with the reason given, sessions end, posts stay."""
    form = await read_form(request)
    reason = field(form, "reason")
    if form.get("confirm") != "yes":
        return await _page(request, 400, errors={"leave": "Tick the box to confirm that you are leaving."},
                           reason=reason)
    try:
        await processing_membership.leave(request.app[DB], request.app[CONFIG], member(request), reason)
    except GovernanceError as exc:
        return await _page(request, form_status(exc), errors={"leave": sentence(exc)}, reason=reason)
    response = redirect("/")
    await end_session(request, response)
    return response


def _token(request: web.Request) -> str:
    token = request.match_info["token"]
    return token if len(token) <= MAX_TOKEN else ""


async def _reset_page(request: web.Request, status: int = 200, **values: Any) -> web.Response:
    values = {"problem": None, "error": None, "target": None, **values}
    return await render(request, "reset_password.html", status=status, token=_token(request), **values)


@routes.get("/reset/{token}")
async def reset_form(request: web.Request) -> web.Response:
    """The form behind a Partner-issued reset link, or why the link no longer works."""
    try:
        target = await accounts.reset_target(request.app[DB], _token(request), now(request))
    except GovernanceError as exc:
        return await _reset_page(request, form_status(exc), problem=sentence(exc))
    return await _reset_page(request, target=target)


@routes.post("/reset/{token}")
async def reset_password(request: web.Request) -> web.StreamResponse:
    """Set the new password, end every other session of that member, and sign them in here."""
    db = request.app[DB]
    form = await read_form(request)
    try:
        target = await accounts.reset_target(db, _token(request), now(request))
    except GovernanceError as exc:
        return await _reset_page(request, form_status(exc), problem=sentence(exc))
    new, again = field(form, "new", 1000), field(form, "new_again", 1000)
    try:
        if new != again:
            raise MembershipError("the two passwords are not the same")
        target = await accounts.use_reset(db, _token(request), new, now(request), hasher=request.config_dict[HASHER])
    except membership.Unusable as exc:
        return await _reset_page(request, form_status(exc), problem=sentence(exc))
    except GovernanceError as exc:
        return await _reset_page(request, form_status(exc), error=sentence(exc), target=target)
    response = redirect("/home")
    await start_session(request, response, target)
    return response
