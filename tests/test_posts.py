"""Posts by members and by the Group: addressing, FEP-1b12 Announces, members-only, edit, delete, GET rules."""

from __future__ import annotations

from node.activitypub import signatures
from node.activitypub.as2.parse import PUBLIC
from node.processing.posts import delete_post, edit_post, publish_post
from tests.factories import add_member, deliver_all, follow, get_as, received
from tests.fediverse import AS_JSON


async def test_member_post_public__create_to_member_followers_and_group_announces_both_forms(
        make_posting_node, make_remote, session):
    # Given a member with a remote follower, and a Group with a remote follower
    node = await make_posting_node()
    ada = await add_member(node)
    fan, watcher = await make_remote("fan"), await make_remote("watcher")
    await follow(node, fan, session, f"{node.base}/actors/ada")
    await follow(node, watcher, session, node.group_id)

    # When the member posts publicly and deliveries run
    post = await publish_post(node.db, node.config, ada, "Hello <Group> https://example.org/x", "public")
    await deliver_all(node)

    # Then the member's follower got the Create, with the Note's FEP-1b12 audience and escaped HTML
    [create] = received(fan, "Create")
    note = create["object"]
    assert note["audience"] == node.group_id and note["to"] == [PUBLIC]
    assert "&lt;Group&gt;" in note["content"] and '<a href="https://example.org/x"' in note["content"]
    # And the Group's follower got Announce(Create(Note)) and Announce(Note id), public, from the Group
    announces = received(watcher, "Announce")
    assert {type(a["object"]).__name__ for a in announces} == {"dict", "str"}
    wrapped = next(a for a in announces if isinstance(a["object"], dict))
    assert wrapped["object"]["id"] == create["id"] and wrapped["object"]["object"]["audience"] == node.group_id
    assert next(a for a in announces if isinstance(a["object"], str))["object"] == note["id"]
    assert all(a["actor"] == node.group_id and a["to"] == [PUBLIC] for a in announces)
    assert all(f'keyId="{node.group_id}#main-key"' in r["headers"]["Signature"] for r in watcher.received
               if r["activity"]["type"] == "Announce")
    assert post.visibility == "public"


async def test_members_only_post__no_delivery_to_any_remote_inbox(make_posting_node, make_remote, session):
    node = await make_posting_node()
    ada = await add_member(node)
    fan, watcher = await make_remote("fan"), await make_remote("watcher")
    await follow(node, fan, session, f"{node.base}/actors/ada")
    await follow(node, watcher, session, node.group_id)
    before = await node.count("deliveries")

    post = await publish_post(node.db, node.config, ada, "members only", "members")

    assert await node.count("deliveries") == before
    assert await deliver_all(node) == 0
    status, note = await get_as(session, f"{node.base}/posts/{post.uuid}")
    assert status == 404 and "members only" not in str(note)


async def test_get_members_only_note__unsigned_and_non_member_signed_get_404(make_posting_node, remote, session):
    node = await make_posting_node()
    ada = await add_member(node)
    post = await publish_post(node.db, node.config, ada, "secret plans", "members")
    url = f"{node.base}/posts/{post.uuid}"

    assert (await get_as(session, url))[0] == 404
    status, body = await get_as(session, url, signer=remote)
    assert status == 404 and "secret" not in str(body)
    assert (await get_as(session, url + "/activity", signer=remote))[0] == 404
    assert (await get_as(session, node.group_id + "/members", signer=remote))[0] == 404


async def test_get_public_note__200_as2_with_audience(make_posting_node, session):
    node = await make_posting_node()
    ada = await add_member(node)
    post = await publish_post(node.db, node.config, ada, "open to all", "public")

    status, note = await get_as(session, f"{node.base}/posts/{post.uuid}")
    assert status == 200 and note["type"] == "Note" and note["audience"] == node.group_id
    assert note["attributedTo"] == f"{node.base}/actors/ada" and PUBLIC in note["to"]
    status, create = await get_as(session, f"{node.base}/posts/{post.uuid}/activity")
    assert status == 200 and create["type"] == "Create" and create["object"]["id"] == note["id"]


async def test_group_post__create_to_group_followers(make_posting_node, remote, session):
    node = await make_posting_node()
    await follow(node, remote, session, node.group_id)
    group = await _group(node)

    await publish_post(node.db, node.config, group, "From the Congregation", "public")
    await deliver_all(node)

    [create] = received(remote, "Create")
    assert create["actor"] == node.group_id and create["object"]["audience"] == node.group_id
    assert received(remote, "Announce") == []


async def test_edit__update_delivered_with_updated(make_posting_node, make_remote, session):
    node = await make_posting_node()
    ada = await add_member(node)
    fan, watcher = await make_remote("fan"), await make_remote("watcher")
    await follow(node, fan, session, f"{node.base}/actors/ada")
    await follow(node, watcher, session, node.group_id)
    post = await publish_post(node.db, node.config, ada, "first", "public")
    await deliver_all(node)

    await edit_post(node.db, node.config, ada, post.id, "second")
    await deliver_all(node)

    [update] = received(fan, "Update")
    assert update["object"]["content"] == "<p>second</p>" and "updated" in update["object"]
    # Group followers saw it as a boost: they get the author's Update and the Group's Announce(Update)
    assert [u["object"]["id"] for u in received(watcher, "Update")] == [update["object"]["id"]]
    assert any(isinstance(a["object"], dict) and a["object"]["type"] == "Update" for a in received(watcher, "Announce"))


async def test_delete__delete_delivered_and_get_answers_410_tombstone(make_posting_node, remote, session):
    node = await make_posting_node()
    ada = await add_member(node)
    await follow(node, remote, session, f"{node.base}/actors/ada")
    post = await publish_post(node.db, node.config, ada, "soon gone", "public")
    await deliver_all(node)

    await delete_post(node.db, node.config, ada, post.id)
    await deliver_all(node)

    [delete] = received(remote, "Delete")
    assert delete["object"]["type"] == "Tombstone" and delete["object"]["id"].endswith(post.uuid)
    status, body = await get_as(session, f"{node.base}/posts/{post.uuid}")
    assert status == 410 and body["type"] == "Tombstone" and "soon gone" not in str(body)


async def _group(node):
    from node.store import local_actors

    return await local_actors.group(node.db)


async def test_post_page__browser_gets_html_for_public_only(make_posting_node, session):
    node = await make_posting_node()
    ada = await add_member(node)
    public = await publish_post(node.db, node.config, ada, "Soup <b>on</b> Friday", "public")
    secret = await publish_post(node.db, node.config, ada, "The key is under the mat", "members")
    browser = {"Accept": "text/html,application/xhtml+xml"}
    async with session.get(f"{node.base}/posts/{public.uuid}", headers=browser) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
        page = await r.text()
    assert "Soup &lt;b&gt;on&lt;/b&gt; Friday" in page and "<b>on</b>" not in page
    async with session.get(f"{node.base}/posts/{secret.uuid}", headers=browser) as r:
        assert r.status == 404 and "under the mat" not in await r.text()
    await delete_post(node.db, node.config, ada, public.id)
    async with session.get(f"{node.base}/posts/{public.uuid}", headers=browser) as r:
        assert r.status == 410 and "Soup" not in await r.text()


async def test_get_members_only_note__signed_by_a_member__private_to_every_cache(make_posting_node, session):
    # Given a members-only post, and a member's signed GET (a sibling server's cache could sit in between)
    node = await make_posting_node()
    ada = await add_member(node)
    post = await publish_post(node.db, node.config, ada, "secret plans", "members")
    key, key_id = signatures.load_private_key(ada.private_key_pem), f"{node.base}/actors/ada#main-key"
    note = f"{node.base}/posts/{post.uuid}"
    for url in (note, note + "/activity", node.group_id + "/members"):
        headers = {"Accept": AS_JSON, **signatures.sign("GET", url, key_id, key, None, None)}
        async with session.get(url, headers=headers) as response:
            # Then the member reads it, and no shared cache may keep it for the next, unsigned, request
            assert response.status == 200, url
            assert response.headers["Cache-Control"] == "private, no-store"
    # While a public post may be cached as before
    public = await publish_post(node.db, node.config, ada, "open to all", "public")
    async with session.get(f"{node.base}/posts/{public.uuid}", headers={"Accept": AS_JSON}) as response:
        assert response.status == 200 and "Cache-Control" not in response.headers
