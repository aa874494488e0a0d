"""Invitations: Partners make them and endorse them; the invited person opens the link and joins."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from node import uris
from node.activitypub import signatures
from node.appkeys import CONFIG, DB, HASHER
from node.governance import accounts, invitations
from node.governance.errors import GovernanceError
from node.governance.membership import (
    TIERS,
    MembershipError,
    Unusable,
    check_display_name,
    check_handle,
    refuse_if_full,
    size_status,
)
from node.store import invitations as store
from node.store import local_actors
from node.store.invitations import Invitation
from node.store.local_actors import LocalActor
from node.web.auth import member, redirect, require_member, require_partner, start_session
from node.web.forms import Names, field, form_status, now, read_form, sentence
from node.web.render import render

routes = web.RouteTableDef()
MAX_TOKEN = 100


def _keypair() -> tuple[str, str]:
    key = signatures.generate_private_key()
    return signatures.private_pem(key), signatures.public_pem(key)


def _may_revoke(me: LocalActor, invitation: Invitation) -> bool:
    return me.tier == "partner" or me.id == invitation.inviter_id


async def _listing(request: web.Request, me: LocalActor) -> list[dict[str, Any]]:
    names = Names(request.app[DB])
    rows = []
    for invitation in await store.recent(request.app[DB]):
        current = await invitations.standing(request.app[DB], invitation, now(request))
        used_by = await names.actor(invitation.used_by)
        label = {
            "open": "open",
            "awaiting_endorsement": f"awaiting endorsement: {len(invitation.endorsers)} of"
                                    f" {invitation.endorsements_needed}",
            "used": f"used by @{used_by.username}" if used_by else "used",
            "revoked": "revoked",
            "expired": "expired",
            "inviter_gone": "void: whoever made it can no longer make it",
        }[current]
        live = current in ("open", "awaiting_endorsement")
        rows.append({
            "invitation": invitation, "state": current, "label": label,
            "inviter": await names.actor(invitation.inviter_id),
            "can_endorse": live and me.tier == "partner" and me.id not in invitation.endorsers,
            "can_revoke": live and _may_revoke(me, invitation),
        })
    return rows


async def _page(request: web.Request, status: int = 200, **values: Any) -> web.Response:
    me = member(request)
    values = {"error": None, "issued": None, "tier": "friend", "note": "", **values}
    return await render(request, "invitations.html", status=status, invitations=await _listing(request, me),
                        may_invite_partners=invitations.may_invite(request.app[CONFIG], me, "partner"),
                        max_note=invitations.MAX_NOTE, **values)


def _refused(exc: MembershipError) -> web.HTTPException | None:
    """Not allowed and not found are pages of their own; other refusals are shown beside the list."""
    status = form_status(exc)
    if status == 403:
        return web.HTTPForbidden(text=sentence(exc))
    if status == 404:
        return web.HTTPNotFound(text=sentence(exc))
    return None


def _refuse_unless_inviter(request: web.Request) -> LocalActor:
    me = member(request)
    if not invitations.may_invite(request.app[CONFIG], me):
        raise web.HTTPForbidden(text="Only Partners can invite.")
    return me


@routes.get("/invitations")
@require_member
async def invitations_page(request: web.Request) -> web.Response:
    """Recent invitations and their state, and the form to make one."""
    _refuse_unless_inviter(request)
    return await _page(request)


@routes.post("/invitations")
@require_member
async def create_invitation(request: web.Request) -> web.Response:
    """Make an invitation; its link is shown on this one page and never again."""
    me = _refuse_unless_inviter(request)
    form = await read_form(request)
    tier, note = field(form, "tier", 20), field(form, "note")
    if tier not in TIERS:
        return await _page(request, 400, error="Choose Friend or Partner.", note=note)
    try:
        issued = await invitations.create(request.app[DB], request.app[CONFIG], me, tier, note, now(request))
    except GovernanceError as exc:
        if (page := _refused(exc)) is not None:
            raise page from None
        return await _page(request, form_status(exc), error=sentence(exc), tier=tier, note=note)
    link = uris.page(request.app[CONFIG], f"/invite/{issued.token}")
    return await _page(request, issued={"link": link, "invitation": issued.invitation})


def _invitation_id(request: web.Request) -> int:
    return int(request.match_info["id"])


@routes.post(r"/invitations/{id:\d{1,18}}/endorse")
@require_partner
async def endorse_invitation(request: web.Request) -> web.Response:
    """Another Partner vouches for an invitation, so that it works."""
    await read_form(request)
    try:
        await invitations.endorse(request.app[DB], member(request), _invitation_id(request), now(request))
    except GovernanceError as exc:
        if (page := _refused(exc)) is not None:
            raise page from None
        return await _page(request, form_status(exc), error=sentence(exc))
    return redirect("/invitations")


@routes.post(r"/invitations/{id:\d{1,18}}/revoke")
@require_member
async def revoke_invitation(request: web.Request) -> web.Response:
    """Partners, and whoever made it, withdraw an invitation that has not been used."""
    await read_form(request)
    me, db = member(request), request.app[DB]
    invitation = await store.by_id(db, _invitation_id(request))
    if invitation is None:
        raise web.HTTPNotFound(text="There is no such invitation.")
    if not _may_revoke(me, invitation):
        raise web.HTTPForbidden(text="Only Partners and the inviter can revoke an invitation.")
    try:
        await invitations.revoke(db, me, invitation.id, now(request))
    except GovernanceError as exc:
        if (page := _refused(exc)) is not None:
            raise page from None
        return await _page(request, form_status(exc), error=sentence(exc))
    return redirect("/invitations")


def _token(request: web.Request) -> str:
    token = request.match_info["token"]
    return token if len(token) <= MAX_TOKEN else ""


async def _accept_page(request: web.Request, invitation: Invitation, status: int = 200,
                       **values: Any) -> web.Response:
    inviter = await local_actors.by_id(request.app[DB], invitation.inviter_id) if invitation.inviter_id else None
    values = {"error": None, "handle": "", "display_name": "", "problem": None, **values}
    return await render(request, "invite_accept.html", status=status, invitation=invitation, inviter=inviter,
                        token=_token(request), **values)


async def _unusable_page(request: web.Request, exc: MembershipError, status: int) -> web.Response:
    return await render(request, "invite_accept.html", status=status, problem=sentence(exc), invitation=None,
                        inviter=None, error=None, handle="", display_name="", token="")


@routes.get("/invite/{token}")
async def invite_form(request: web.Request) -> web.Response:
    """Who invites you, to what, and the form to choose a handle and a password."""
    db, config = request.app[DB], request.app[CONFIG]
    try:
        invitation = await invitations.lookup(db, _token(request), now(request))
        refuse_if_full(await size_status(db, config))
    except GovernanceError as exc:
        return await _unusable_page(request, exc, form_status(exc))
    return await _accept_page(request, invitation)


@routes.post("/invite/{token}")
async def accept_invitation(request: web.Request) -> web.StreamResponse:
    """Join: the new member is signed in and lands on their home page."""
    db, config = request.app[DB], request.app[CONFIG]
    form = await read_form(request)
    try:
        invitation = await invitations.lookup(db, _token(request), now(request))
    except Unusable as exc:
        # Used while the form was open (or sent twice): a clash with what just happened, not a dead link.
        return await _unusable_page(request, exc, 409 if exc.state == "used" else form_status(exc))
    handle, display_name = field(form, "handle", 100).strip(), field(form, "display_name", 1000)
    password, again = field(form, "password", 1000), field(form, "password_again", 1000)

    async def error(message: str, status: int = 400) -> web.Response:
        return await _accept_page(request, invitation, status, error=message, handle=handle,
                                  display_name=display_name)

    try:
        check_handle(handle)
        check_display_name(display_name, handle)
        if password != again:
            return await error("The two passwords are not the same.")
        accounts.check_password(password)
        member_id = await invitations.accept(db, config, _token(request), handle, display_name, password,
                                             await asyncio.to_thread(_keypair), now(request),
                                             hasher=request.config_dict[HASHER])
    except Unusable as exc:
        return await _unusable_page(request, exc, 409 if exc.state == "used" else form_status(exc))
    except GovernanceError as exc:
        return await error(sentence(exc), form_status(exc))
    response = redirect("/home")
    await start_session(request, response, await local_actors.by_id(db, member_id))
    return response
