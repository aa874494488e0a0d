"""A member's settings over HTTP: profile, password, avatar, leaving; and password-reset links."""

from __future__ import annotations

import aiohttp
import pytest

from node.store import local_actors
from tests.factories import shown_link, signed_in
from tests.webclient import PASSWORD, PNG, make_member, text_of, upload

JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 64
GIF = b"GIF89a" + b"\0" * 64
WEBP = b"RIFF\x24\0\0\0WEBPVP8 " + b"\0" * 64
AS_JSON = {"Accept": "application/activity+json"}


async def test_settings__profile_change_shows_in_the_person_actor(node, browsers):
    # Given a member signed in
    ada = await signed_in(node, browsers)
    # When she changes her display name and bio
    status, page = await ada.post("/settings/profile", {"display_name": "Ada L.", "bio": "Counts things."})
    # Then the settings page says so, and her Person actor shows them
    assert status == 200 and "Your profile is saved" in text_of(page)
    async with ada.session.get(ada.url("/actors/ada"), headers=AS_JSON) as r:
        person = await r.json(content_type=None)
    assert person["name"] == "Ada L." and person["summary"] == "Counts things."


async def test_settings__empty_display_name_falls_back_to_the_handle(node, browsers):
    ada = await signed_in(node, browsers)
    status, _ = await ada.post("/settings/profile", {"display_name": "  ", "bio": ""})
    assert status == 200 and (await local_actors.by_username(node.db, "ada")).display_name == "ada"


async def test_settings__password_change_keeps_this_session_and_ends_the_others(node, browsers):
    # Given a member signed in on two browsers
    ada = await signed_in(node, browsers)
    other = browsers(node)
    await other.sign_in("ada")
    # When she changes her password on the first
    status, page = await ada.post("/settings/password", {"current": PASSWORD, "new": "a brand new secret",
                                                         "new_again": "a brand new secret"})
    # Then she stays signed in there, the other browser is signed out, and the new password works
    assert status == 200 and "Your password is changed" in text_of(page)
    assert await node.count("sessions") == 1
    status, page = await other.get("/settings")
    assert "<h1>Sign in</h1>" in page
    status, page = await other.sign_in("ada", "a brand new secret")
    assert status == 200 and "Welcome" in text_of(page)


@pytest.mark.parametrize(("data", "media_type"), [(PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"),
                                                  (WEBP, "image/webp")])
async def test_settings__avatar_is_served_with_the_type_its_bytes_say(node, browsers, data, media_type):
    # Given a member who uploads an image under a misleading name and type
    ada = await signed_in(node, browsers)
    status, page = await upload(ada, data, filename="photo.txt", content_type="text/plain")
    assert status == 200 and "Your avatar is saved" in text_of(page)
    # When anyone fetches it
    async with aiohttp.ClientSession() as anyone, anyone.get(node.base + "/actors/ada/avatar") as r:
        body = await r.read()
        headers = r.headers
    # Then it is the same bytes, with the type its magic bytes say, cacheable and not to be sniffed
    assert r.status == 200 and body == data
    assert headers["Content-Type"] == media_type
    assert headers["Cache-Control"] == "public, max-age=3600" and headers["X-Content-Type-Options"] == "nosniff"


async def test_settings__avatar_becomes_the_person_actors_icon(node, browsers):
    ada = await signed_in(node, browsers)
    await upload(ada, PNG)
    async with ada.session.get(ada.url("/actors/ada"), headers=AS_JSON) as r:
        person = await r.json(content_type=None)
    icon = person["icon"]
    assert (icon["type"], icon["mediaType"]) == ("Image", "image/png")
    assert icon["url"].startswith(f"{node.base}/actors/ada/avatar?v=")
    async with ada.session.get(icon["url"]) as r:
        assert r.status == 200 and await r.read() == PNG


async def test_settings__a_new_avatar_gets_a_new_icon_url(node, browsers):
    # Mastodon downloads a remote avatar again only when its URL changes: each picture has its own
    ada = await signed_in(node, browsers)
    urls = []
    for picture in (PNG, PNG + b"\0second"):
        await upload(ada, picture)
        async with ada.session.get(ada.url("/actors/ada"), headers=AS_JSON) as r:
            urls.append((await r.json(content_type=None))["icon"]["url"])
    assert urls[0] != urls[1]


async def test_settings__no_avatar_no_icon_and_404(node, browsers):
    await signed_in(node, browsers)
    async with aiohttp.ClientSession() as anyone:
        async with anyone.get(node.base + "/actors/ada", headers=AS_JSON) as r:
            assert "icon" not in await r.json(content_type=None)
        async with anyone.get(node.base + "/actors/ada/avatar") as r:
            assert r.status == 404
        async with anyone.get(node.base + "/actors/nobody/avatar") as r:
            assert r.status == 404


async def test_settings__avatar_removed(node, browsers):
    # Given a member with an avatar
    ada = await signed_in(node, browsers)
    await upload(ada, PNG)
    # When she removes it
    status, page = await ada.post("/settings/avatar/delete", {}, page="/settings")
    # Then it is gone
    assert status == 200 and "Your avatar is removed" in text_of(page)
    assert await node.count("avatars") == 0
    assert (await ada.get("/actors/ada/avatar"))[0] == 404


async def test_settings__friend_leaves_and_is_signed_out(node, browsers):
    # Given a Partner and a Friend signed in
    await make_member(node, "pat", "partner")
    fern = await signed_in(node, browsers, "fern", "friend")
    # When the Friend leaves, saying why
    status, page = await fern.post("/settings/leave", {"confirm": "yes", "reason": "moving away"})
    # Then she is signed out and no longer a member, and the record says so
    assert status == 200 and "<h1>Sign in</h1>" not in page
    assert await node.count("sessions") == 0
    assert await node.count("members") == 1
    assert await node.count("membership_events", "kind = 'departed' AND reason = 'moving away'") == 1
    assert (await fern.get("/home"))[1].count("<h1>Sign in</h1>") == 1


async def test_reset__partner_issues_a_link_and_the_member_sets_a_new_password(node, browsers):
    # Given a Partner, and a Friend signed in elsewhere
    pat = await signed_in(node, browsers, "pat")
    fern = await signed_in(node, browsers, "fern", "friend")
    # When the Partner makes a reset link for the Friend
    status, page = await pat.post("/members/fern/reset-link", {}, page="/members")
    assert status == 200 and "Password-reset link for @fern" in text_of(page)
    path = shown_link(page).removeprefix(node.base)
    assert path.startswith("/reset/")
    # And someone opens it in another browser and sets a new password
    holder = browsers(node)
    status, page = await holder.get(path)
    assert status == 200 and "@fern" in text_of(page)
    status, page = await holder.post(path, {"new": "fern's new secret", "new_again": "fern's new secret"})
    # Then that browser is signed in as the Friend, and her other session has ended
    assert status == 200 and "@fern · Friend" in text_of(page)
    assert await node.count("sessions", "actor_id = (SELECT id FROM local_actors WHERE username = 'fern')") == 1
    assert "<h1>Sign in</h1>" in (await fern.get("/home"))[1]
    # And the link is spent
    status, page = await browsers(node).get(path)
    assert status == 410 and "already used" in text_of(page)
