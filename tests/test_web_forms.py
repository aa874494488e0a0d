"""Every form refuses what it should: a forged CSRF token, empty and oversized input, dead links, clashes.

Each refusal answers with its status and the reason next to the form, and changes nothing.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from node.governance import accounts, invitations
from node.governance.accounts import RESET_HOURS
from node.store import local_actors
from tests.factories import join, quick_member
from tests.webclient import PASSWORD, PNG, Visitor, make_member, text_of, upload

TABLES = ("local_actors", "members", "credentials", "sessions", "invitations", "invitation_endorsements",
          "password_resets", "avatars", "membership_events")


async def rows(node) -> dict[str, list[tuple]]:
    """Every row a members' form could change."""
    found = {}
    for table in TABLES:
        found[table] = [tuple(r) for r in await node.db.execute_fetchall(f"SELECT * FROM {table} ORDER BY 1")]
    return found


class World:
    """A Partner (pat) signed in with an avatar, a Friend (fern), an open invitation and a reset link for fern."""

    def __init__(self, node, pat: Visitor, stranger: Visitor, invite: str, reset: str) -> None:
        self.node, self.pat, self.stranger = node, pat, stranger
        self.invite, self.reset = invite, reset
        self.visitors = [pat, stranger]

    def visitor(self) -> Visitor:
        """Another browser, closed with the world."""
        self.visitors.append(Visitor(self.node))
        return self.visitors[-1]


@pytest.fixture
async def world(make_node):
    node = await make_node(invitation_endorsements=1)
    await quick_member(node, "pat", "partner")
    await quick_member(node, "fern")
    pat, stranger = Visitor(node), Visitor(node)
    await pat.sign_in("pat")
    await upload(pat, PNG)
    me = await local_actors.by_username(node.db, "pat")
    issued = await invitations.create(node.db, node.config, me, "friend")
    reset = await accounts.issue_reset(node.db, await local_actors.by_username(node.db, "fern"), me)
    made = World(node, pat, stranger, f"/invite/{issued.token}", f"/reset/{reset}")
    yield made
    for visitor in made.visitors:
        await visitor.close()


# --- CSRF: one test per form ------------------------------------------------------------------------------

PAT_FORMS = {
    "/invitations": {"tier": "friend", "note": ""},
    "/invitations/1/endorse": {},
    "/invitations/1/revoke": {},
    "/members/fern/reset-link": {},
    "/settings/profile": {"display_name": "Forged", "bio": "forged"},
    "/settings/password": {"current": PASSWORD, "new": "forged password", "new_again": "forged password"},
    "/settings/avatar/delete": {},
    "/settings/leave": {"confirm": "yes", "reason": "forged"},
}


@pytest.mark.parametrize("path", PAT_FORMS)
async def test_forms__wrong_csrf_token_is_refused(world, path):
    # Given a signed-in Partner
    before = await rows(world.node)
    # When a form arrives with a token that is not her session's
    status, page = await world.pat.post(path, PAT_FORMS[path], csrf="forged")
    # Then it is refused before anything happens
    assert status == 403 and "reload the page" in text_of(page)
    assert await rows(world.node) == before


async def test_forms__wrong_csrf_token_on_the_avatar_upload_is_refused(world):
    before = await rows(world.node)
    status, _ = await upload(world.pat, PNG + b"other", csrf="forged")
    assert status == 403 and await rows(world.node) == before


async def test_forms__wrong_csrf_token_on_joining_is_refused(world):
    before = await rows(world.node)
    await world.stranger.get(world.invite)
    status, _ = await world.stranger.post(world.invite, {"handle": "nia", "password": PASSWORD,
                                                         "password_again": PASSWORD}, csrf="forged")
    assert status == 403 and await rows(world.node) == before


async def test_forms__wrong_csrf_token_on_a_reset_link_is_refused(world):
    before = await rows(world.node)
    await world.stranger.get(world.reset)
    status, _ = await world.stranger.post(world.reset, {"new": "a new password", "new_again": "a new password"},
                                          csrf="forged")
    assert status == 403 and await rows(world.node) == before


async def test_forms__a_post_that_is_not_a_form_is_refused(world):
    # The CSRF check reads forms only: a text/plain POST must not act without one.
    before = await rows(world.node)
    async with world.pat.session.post(world.pat.url("/settings/avatar/delete"), data=b"x",
                                      headers={"Content-Type": "text/plain"}) as r:
        assert r.status == 403
    assert await rows(world.node) == before


# --- joining with an invitation ---------------------------------------------------------------------------

@pytest.mark.parametrize(("handle", "password", "again", "status", "says"), [
    ("", PASSWORD, PASSWORD, 400, "Choose a handle"),
    ("Not Valid!", PASSWORD, PASSWORD, 400, "use 1-30 lowercase letters"),
    ("x" * 31, PASSWORD, PASSWORD, 400, "use 1-30 lowercase letters"),
    ("admin", PASSWORD, PASSWORD, 400, "is reserved"),
    ("fern", PASSWORD, PASSWORD, 409, "is taken"),
    ("group", PASSWORD, PASSWORD, 409, "is taken"),
    ("nia", PASSWORD, "something else", 400, "not the same"),
    ("nia", "short", "short", 400, "at least 8 characters"),
    ("nia", "p" * 257, "p" * 257, 400, "at most 256 characters"),
    ("nia", "        ", "        ", 400, "only spaces"),
])
async def test_forms__joining_with_bad_input_keeps_the_form_and_changes_nothing(world, handle, password, again,
                                                                                  status, says):
    # Given an open invitation
    before = await rows(world.node)
    # When the newcomer sends the form with something wrong
    got, page = await join(world.stranger, world.invite, handle, password, again, display_name="Nia N")
    # Then the form comes back with the reason beside it, what she typed kept, and nothing changed
    assert got == status and says in text_of(page)
    assert 'role="alert"' in page and 'value="Nia N"' in page and f'value="{handle}"' in page
    assert await rows(world.node) == before


async def test_forms__joining_with_a_too_long_display_name_is_refused(world):
    before = await rows(world.node)
    status, page = await join(world.stranger, world.invite, "nia", display_name="N" * 101)
    assert status == 400 and "at most 100 characters" in text_of(page)
    assert await rows(world.node) == before


async def _dead_invitation(world, how: str) -> str:
    """Make the world's invitation expired, revoked, used, or waiting for an endorsement; its link."""
    db = world.node.db
    if how == "expired":
        world.node.advance(world.node.config.invitation_days * 86400 + 60)  # past its expiry, by the node's clock
    elif how == "revoked":
        await invitations.revoke(db, None, 1)
    elif how == "used":
        assert (await join(world.visitor(), world.invite, "early"))[0] == 200
    elif how == "awaiting":
        await db.execute("UPDATE invitations SET endorsements_needed = 2")
    elif how == "unknown":
        return "/invite/not-a-real-token"
    return world.invite


@pytest.mark.parametrize(("how", "get_status", "post_status", "says"), [
    ("expired", 410, 410, "has expired"),
    ("revoked", 410, 410, "was withdrawn"),
    ("used", 410, 409, "already been used"),
    ("awaiting", 409, 409, "waiting for another Partner"),
    ("unknown", 404, 404, "not valid"),
])
async def test_forms__a_dead_invitation_shows_why_and_no_form(world, how, get_status, post_status, says):
    # Given an invitation that cannot be used
    path = await _dead_invitation(world, how)
    before = await rows(world.node)
    # When the newcomer opens it
    status, page = await world.stranger.get(path)
    # Then the page says why, with no form to fill in
    assert status == get_status and says in text_of(page)
    assert 'name="handle"' not in page
    # And sending the form anyway changes nothing
    status, page = await world.stranger.post(path, {"handle": "nia", "password": PASSWORD,
                                                    "password_again": PASSWORD}, page="/login")
    assert status == post_status and says in text_of(page)
    assert await rows(world.node) == before


# --- creating invitations ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("form", "says"), [
    ({"tier": "", "note": ""}, "Choose Friend or Partner"),
    ({"tier": "boss", "note": ""}, "Choose Friend or Partner"),
    ({"tier": "friend", "note": "n" * 501}, "at most 500 characters"),
])
async def test_forms__invitation_with_bad_input_is_refused(world, form, says):
    before = await rows(world.node)
    status, page = await world.pat.post("/invitations", form)
    assert status == 400 and says in text_of(page) and 'role="alert"' in page
    assert form["note"] in page  # what was typed is kept
    assert await rows(world.node) == before


async def test_forms__revoking_twice_is_a_conflict(world):
    await invitations.revoke(world.node.db, None, 1)
    before = await rows(world.node)
    status, page = await world.pat.post("/invitations/1/revoke", {}, page="/invitations")
    assert status == 409 and "already revoked" in text_of(page)
    assert await rows(world.node) == before


async def test_forms__endorsing_an_unknown_invitation_is_404(world):
    before = await rows(world.node)
    status, _ = await world.pat.post("/invitations/999/endorse", {}, page="/invitations")
    assert status == 404 and await rows(world.node) == before


# --- password reset links ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("new", "again", "says"), [
    ("a new password", "another password", "not the same"),
    ("short", "short", "at least 8 characters"),
    ("", "", "at least 8 characters"),
])
async def test_forms__reset_with_bad_passwords_is_refused(world, new, again, says):
    before = await rows(world.node)
    status, page = await world.stranger.post(world.reset, {"new": new, "new_again": again})
    assert status == 400 and says in text_of(page) and 'name="new"' in page
    assert await rows(world.node) == before


@pytest.mark.parametrize(("how", "status", "says"), [
    ("expired", 410, "has expired"),
    ("used", 410, "already used"),
    ("unknown", 404, "not valid"),
])
async def test_forms__a_dead_reset_link_shows_why_and_no_form(world, how, status, says):
    # Given a reset link that cannot be used
    path = world.reset
    if how == "expired":
        world.node.advance(RESET_HOURS * 3600 + 60)  # past its expiry, by the node's clock
        await world.pat.get("/home")  # two days on, her visit renews her session: before the snapshot
    elif how == "used":
        assert (await world.stranger.post(path, {"new": "first new one", "new_again": "first new one"}))[0] == 200
    else:
        path = "/reset/not-a-real-token"
    before = await rows(world.node)
    # When it is opened, and its form sent anyway
    got, page = await world.visitor().get(path)
    assert got == status and says in text_of(page) and 'name="new"' not in page
    got, page = await world.pat.post(path, {"new": "a new password", "new_again": "a new password"}, page="/login")
    # Then the page says why, and nothing changes
    assert got == status and says in text_of(page)
    assert await rows(world.node) == before


async def test_forms__reset_link_for_someone_who_is_not_a_member_is_404(world):
    before = await rows(world.node)
    status, _ = await world.pat.post("/members/nobody/reset-link", {}, page="/members")
    assert status == 404 and await rows(world.node) == before


# --- settings ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("form", "says"), [
    ({"display_name": "D" * 101, "bio": "kept bio"}, "at most 100 characters"),
    ({"display_name": "Kept Name", "bio": "b" * 2001}, "at most 2000 characters"),
])
async def test_forms__profile_too_long_is_refused(world, form, says):
    before = await rows(world.node)
    status, page = await world.pat.post("/settings/profile", form)
    assert status == 400 and says in text_of(page) and 'id="profile-error"' in page
    assert form["display_name"] in page and form["bio"] in page
    assert await rows(world.node) == before


@pytest.mark.parametrize(("form", "says"), [
    ({"current": "not my password", "new": "a new password", "new_again": "a new password"}, "not right"),
    ({"current": PASSWORD, "new": "a new password", "new_again": "a different one"}, "not the same"),
    ({"current": PASSWORD, "new": "short", "new_again": "short"}, "at least 8 characters"),
    ({"current": PASSWORD, "new": "", "new_again": ""}, "at least 8 characters"),
    ({"current": PASSWORD, "new": "n" * 300, "new_again": "n" * 300}, "at most 256 characters"),
    ({"current": PASSWORD, "new": PASSWORD, "new_again": PASSWORD}, "the same as the current one"),
])
async def test_forms__password_change_refused(world, form, says):
    before = await rows(world.node)
    status, page = await world.pat.post("/settings/password", form)
    assert status == 400 and says in text_of(page) and 'id="password-error"' in page
    assert await rows(world.node) == before


@pytest.mark.parametrize(("data", "says"), [
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "PNG, JPEG, GIF or WebP"),
    (b"GIF8", "PNG, JPEG, GIF or WebP"),
    (b"RIFF\0\0\0\0AVI LIST", "PNG, JPEG, GIF or WebP"),
    (b"", "choose an image file"),
])
async def test_forms__avatar_that_is_not_an_image_is_refused(world, data, says):
    # Given a file named and typed as a PNG whose bytes are not one
    before = await rows(world.node)
    status, page = await upload(world.pat, data, filename="me.png", content_type="image/png")
    # Then it is refused beside the form, and the avatar is unchanged
    assert status == 400 and says.lower() in text_of(page).lower() and 'id="avatar-error"' in page
    assert await rows(world.node) == before


async def test_forms__oversize_avatar_is_refused_before_it_is_read(world):
    # Given the avatar form's body allowance (8 MiB; other requests have the inbox's 1 MiB)
    before = await rows(world.node)
    # When a member uploads an image over it
    status, page = await upload(world.pat, PNG + b"\0" * (8 * 1024 * 1024))
    # Then the request is refused as too large, and nothing changes
    assert status == 413 and "Too large" in text_of(page)
    assert await rows(world.node) == before


async def test_forms__oversize_avatar_is_a_form_error_when_the_body_limit_allows_it(make_node):
    # Given a node that accepts bigger request bodies, and a member signed in
    node = await make_node(max_inbox_bytes=4 * 1024 * 1024)
    await make_member(node, "ada")
    ada = Visitor(node)
    try:
        await ada.sign_in("ada")
        before = await rows(node)
        # When she uploads an image one byte over 1 MiB
        status, page = await upload(ada, PNG + b"\0" * (1024 * 1024 - len(PNG) + 1))
        # Then the form says the limit, and nothing changes
        assert status == 413 and "larger than 1 MiB" in text_of(page)
        assert await rows(node) == before
    finally:
        await ada.close()


async def test_forms__leaving_without_confirming_is_refused(world):
    before = await rows(world.node)
    status, page = await world.pat.post("/settings/leave", {"reason": "kept reason"})
    assert status == 400 and "Tick the box" in text_of(page) and "kept reason" in page
    assert await rows(world.node) == before


async def test_forms__leaving_with_a_too_long_reason_is_refused(world):
    await make_member(world.node, "ren", "partner")
    before = await rows(world.node)
    status, page = await world.pat.post("/settings/leave", {"confirm": "yes", "reason": "r" * 1001})
    assert status == 400 and "at most 1000 characters" in text_of(page)
    assert await rows(world.node) == before


async def test_forms__the_last_partner_cannot_leave(world):
    # Given the only Partner
    before = await rows(world.node)
    # When she tries to leave
    status, page = await world.pat.post("/settings/leave", {"confirm": "yes", "reason": ""})
    # Then she is told to promote someone first, and stays
    assert status == 409 and "promote someone first" in text_of(page) and 'id="leave-error"' in page
    assert await rows(world.node) == before


class _Fields(HTMLParser):
    """Form controls that need a label, and the labels a page has."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[tuple[str | None, bool]] = []  # (id, inside a <label>)
        self.label_for: set[str] = set()
        self._open_labels = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "label":
            self._open_labels += 1
            if found.get("for"):
                self.label_for.add(found["for"])
        elif tag in ("input", "textarea", "select") and found.get("type") not in ("hidden", "submit"):
            self.controls.append((found.get("id"), self._open_labels > 0))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._open_labels -= 1


@pytest.mark.parametrize("path", ["/invitations", "invite", "/settings", "reset"])
async def test_forms__every_input_has_a_label(world, path):
    # Given one of the pages with forms
    path = {"invite": world.invite, "reset": world.reset}.get(path, path)
    visitor = world.stranger if path in (world.invite, world.reset) else world.pat
    status, page = await visitor.get(path)
    # Then every control on it is labelled, by wrapping or by for=
    fields = _Fields()
    fields.feed(page)
    assert status == 200 and fields.controls
    assert all(inside or (ident and ident in fields.label_for) for ident, inside in fields.controls), fields.controls
