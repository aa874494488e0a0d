"""Acceptance: crew-only posts are read by the crew's members and nobody else, and never leave the node."""

from __future__ import annotations

import re

from node.activitypub import signatures
from node.activitypub.as2.documents import key_id
from node.governance import crews
from node.store import local_actors
from tests.factories import deliver_all, follow, get_as
from tests.fediverse import AS_JSON
from tests.webclient import make_member, text_of

SECRET = "Tea at the allotment shed, crew only"


async def _crew(node, name: str, *handles: str) -> int:
    """A working group of the named members (anyone may join one at once)."""
    founder, *others = [await local_actors.by_username(node.db, h) for h in handles]
    [started] = await crews.start(node.db, founder, name, "growing things", "Sundays", "working")
    for actor in others:
        await crews.join(node.db, actor, started.crew.id, "", node.config.crew_max)
    return started.crew.id


async def _uuid(node, text: str) -> str:
    async with node.db.execute("SELECT uuid FROM posts WHERE source = ?", (text,)) as cur:
        return (await cur.fetchone())[0]


async def test_crew_post__read_by_its_crew_only_and_never_federated(make_node, browsers, make_remote, session):
    # Given a node where Ada and Bo are a crew, Cy is a member outside it, and Ada and the Group have
    # remote followers
    node = await make_node("alpha", public_follows="auto")
    for handle in ("ada", "bo", "cy"):
        await make_member(node, handle)
    crew_id = await _crew(node, "Allotment", "ada", "bo")
    fan, watcher = await make_remote("fan"), await make_remote("watcher")
    await follow(node, fan, session, f"{node.base}/actors/ada")
    await follow(node, watcher, session, node.group_id)
    ada, bo, cy = browsers(node), browsers(node), browsers(node)
    for visitor, handle in ((ada, "ada"), (bo, "bo"), (cy, "cy")):
        assert (await visitor.sign_in(handle))[0] == 200
    deliveries, outbox = await node.count("deliveries"), await node.count("outbox")

    # When Ada posts to her crew from the compose form
    _, home = await ada.get("/home")
    assert f'value="crew:{crew_id}"' in home and "Crew: Allotment" in text_of(home)
    status, _ = await ada.post("/posts", {"text": SECRET, "visibility": f"crew:{crew_id}"}, page="/home")
    assert status == 200
    uuid = await _uuid(node, SECRET)

    # Then Bo, in the crew, reads it on his home timeline and on the post's page
    status, page = await bo.get("/home")
    assert status == 200 and SECRET in text_of(page) and "Crew: Allotment" in text_of(page)
    status, page = await bo.get(f"/posts/{uuid}")
    assert status == 200 and SECRET in text_of(page)

    # And Cy, a member outside the crew, finds it nowhere: not at home, not on Ada's profile, not at its URL
    for path in ("/home", "/actors/ada", "/actors/group", "/feed.atom"):
        status, page = await cy.get(path)
        assert status == 200 and SECRET not in page and uuid not in page, path
    status, page = await cy.get(f"/posts/{uuid}")
    assert status == 404 and SECRET not in page
    # Nor does a signed-out visitor
    stranger = browsers(node)
    for path in (f"/posts/{uuid}", "/actors/ada", "/feed.atom"):
        status, page = await stranger.get(path)
        assert SECRET not in page and (status == 404 or uuid not in page), path

    # And over ActivityPub it does not exist: unsigned, signed by a remote actor, or even by a crew member
    url = f"{node.base}/posts/{uuid}"
    for path in (url, url + "/activity"):
        assert (await get_as(session, path))[0] == 404
        status, body = await get_as(session, path, signer=fan)
        assert status == 404 and SECRET not in str(body)
    member = await local_actors.by_username(node.db, "bo")
    headers = signatures.sign("GET", url, key_id(node.config, "bo"),
                              signatures.load_private_key(member.private_key_pem))
    async with session.get(url, headers={"Accept": AS_JSON, **headers}) as r:
        assert r.status == 404 and SECRET not in await r.text()

    # And nothing was queued for any server, nor put in an outbox, even with followers of Ada and of the Group
    assert await node.count("deliveries") == deliveries
    assert await node.count("outbox") == outbox
    assert await deliver_all(node) == 0
    assert all(SECRET not in str(r["activity"]) for r in fan.received + watcher.received)


async def test_crew_post__edit_and_delete_are_not_federated_either(make_node, browsers, make_remote, session):

    node = await make_node("alpha", public_follows="auto")
    await make_member(node, "ada")
    await make_member(node, "bo")
    crew_id = await _crew(node, "Allotment", "ada", "bo")
    fan = await make_remote("fan")
    await follow(node, fan, session, f"{node.base}/actors/ada")
    ada = browsers(node)
    await ada.sign_in("ada")
    await ada.post("/posts", {"text": SECRET, "visibility": f"crew:{crew_id}"}, page="/home")
    uuid = await _uuid(node, SECRET)
    deliveries = await node.count("deliveries")

    # When Ada edits and then deletes her crew post
    status, _ = await ada.post(f"/posts/{uuid}/edit", {"text": SECRET + ", edited"})
    assert status == 200
    status, _ = await ada.post(f"/posts/{uuid}/delete", {}, page="/home")
    assert status == 200

    # Then no server hears of either
    assert await node.count("deliveries") == deliveries
    assert await node.count("posts", "deleted_at IS NOT NULL") == 1


async def test_crew_post__refused_for_a_crew_one_is_not_in(make_node, browsers):

    node = await make_node()
    for handle in ("ada", "bo", "cy"):
        await make_member(node, handle)
    crew_id = await _crew(node, "Allotment", "ada", "bo")
    cy = browsers(node)
    await cy.sign_in("cy")

    # The form offers Cy no crew, and a crafted choice is a form error that keeps the text
    _, home = await cy.get("/home")
    assert "crew:" not in home
    for choice in (f"crew:{crew_id}", "crew:999", "crew:x", "crew"):
        status, page = await cy.post("/posts", {"text": "let me in", "visibility": choice}, page="/home")
        assert status == 400 and 'role="alert"' in page and ">let me in</textarea>" in page, choice
        assert re.search(r'value="members"\s+aria-describedby="[^"]+" checked', page)
    assert await node.count("posts") == 0
