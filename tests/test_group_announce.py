"""Inbound Notes: posts to the Group re-shared (FEP-1b12), origin rules, Announce fetches, likes, sanitising."""

from __future__ import annotations

from node.activitypub.as2.parse import PUBLIC
from node.activitypub.inbound import delete, update
from node.appkeys import INBOX_WORKER
from node.processing.posts import delete_post, edit_post, publish_post
from node.store import remote_objects
from tests.factories import add_member, deliver_all, follow, node_follows, received
from tests.fediverse import run_cli


def note(author, suffix="1", content="<p>hello Group</p>", to=(), public=True, **extra):
    return {"id": f"{author.origin}/notes/{suffix}", "type": "Note", "attributedTo": author.id,
            "content": content, "to": list(to), "cc": [PUBLIC] if public else [], **extra}


async def outcome(node, activity_id):
    async with node.db.execute("SELECT outcome FROM inbox WHERE activity_id = ?", (activity_id,)) as cur:
        return (await cur.fetchone())[0]


async def test_remote_post_to_group__from_approved_follower__stored_and_reshared_to_others(
        make_posting_node, make_remote, session):
    # Given two approved followers of the Group
    node = await make_posting_node()
    poster, other = await make_remote("poster"), await make_remote("other")
    await follow(node, poster, session, node.group_id)
    await follow(node, other, session, node.group_id)

    # When one posts a public Note addressed to the Group, with a script and an event handler in it
    body = note(poster, to=[node.group_id], content='<p onclick="steal()">hi<script>alert(1)</script></p>')
    create = poster.activity("Create", body)
    assert (await poster.post(session, node.base + "/inbox", create))[0] == 202
    await node.drain_inbox()
    await deliver_all(node)

    # Then it is stored, sanitised, and the Group re-shares it to its other follower only
    stored = await remote_objects.get(node.db, body["id"])
    assert stored.content == "<p>hi</p>" and stored.author == poster.id
    announces = received(other, "Announce")
    assert sorted(type(a["object"]).__name__ for a in announces) == ["dict", "str"]
    assert next(a["object"] for a in announces if isinstance(a["object"], dict))["id"] == create["id"]
    assert received(poster, "Announce") == []


async def test_remote_post_to_group__from_stranger__not_reshared(make_posting_node, make_remote, session):
    node = await make_posting_node()
    stranger, other = await make_remote("stranger"), await make_remote("other")
    await follow(node, other, session, node.group_id)

    tag = [{"type": "Mention", "href": node.group_id}]
    create = stranger.activity("Create", note(stranger, tag=tag))
    await stranger.post(session, node.base + "/inbox", create)
    await node.drain_inbox()
    await deliver_all(node)

    assert (await outcome(node, create["id"])).startswith("ignored")
    assert await remote_objects.get(node.db, create["object"]["id"]) is None
    assert received(other, "Announce") == []


async def test_remote_post_to_group__members_setting__not_reshared(make_posting_node, make_remote, session):
    node = await make_posting_node()
    object.__setattr__(node.config, "group_accepts_from", "members")
    poster, other = await make_remote("poster"), await make_remote("other")
    await follow(node, poster, session, node.group_id)
    await follow(node, other, session, node.group_id)

    await poster.post(session, node.base + "/inbox", poster.activity("Create", note(poster, to=[node.group_id])))
    await node.drain_inbox()
    await deliver_all(node)

    assert received(other, "Announce") == []


async def test_update_and_delete__only_by_the_author(make_posting_node, make_remote, session):
    # Given a Note stored from an actor the Group follows
    node = await make_posting_node()
    author, mallory = await make_remote("author"), await make_remote("mallory")
    await node_follows(node, node.group_id, author.id)
    body = note(author)
    await author.post(session, node.base + "/inbox", author.activity("Create", body))
    await node.drain_inbox()

    # When someone else sends an Update of it: refused at the inbox (another origin) ...
    forged = mallory.activity("Update", {**body, "content": "<p>forged</p>"})
    assert (await mallory.post(session, node.base + "/inbox", forged))[0] == 400
    # ... and ignored by the handler (as if from the same origin)
    ctx = node.app[INBOX_WORKER].ctx
    assert (await update.on_update_note(ctx, forged, mallory.id)).startswith("ignored")
    assert (await delete.on_delete_object(ctx, mallory.activity("Delete", body["id"]),
                                           mallory.id)).startswith("ignored")
    assert (await remote_objects.get(node.db, body["id"])).content == "<p>hello Group</p>"

    # When the author edits and then deletes it
    edit = author.activity("Update", {**body, "content": "<p>edited</p>", "updated": "2030-01-01T00:00:00Z"})
    await author.post(session, node.base + "/inbox", edit)
    await node.drain_inbox()
    assert (await remote_objects.get(node.db, body["id"])).content == "<p>edited</p>"
    await author.post(session, node.base + "/inbox", author.activity("Delete", {"id": body["id"], "type": "Tombstone"}))
    await node.drain_inbox()
    assert (await remote_objects.get(node.db, body["id"])).deleted_at is not None


async def test_announce_of_third_party_object__fetched_from_its_origin(make_posting_node, make_remote, session):
    node = await make_posting_node()
    booster, author = await make_remote("booster"), await make_remote("author")
    await node_follows(node, node.group_id, booster.id)
    body = note(author, content="<p>worth sharing</p>")
    author.documents[body["id"]] = (200, body)

    announce = booster.activity("Announce", body["id"])
    await booster.post(session, node.base + "/inbox", announce)
    await node.drain_inbox()

    assert "/notes/1" in author.fetched
    assert (await remote_objects.get(node.db, body["id"])).content == "<p>worth sharing</p>"
    assert await remote_objects.count_reactions(node.db, body["id"], "Announce") == 1


async def test_announce_of_third_party_object__404_at_origin_dropped_quietly(make_posting_node, make_remote,
                                                                              session):
    node = await make_posting_node()
    booster, author = await make_remote("booster"), await make_remote("author")
    await node_follows(node, node.group_id, booster.id)

    announce = booster.activity("Announce", f"{author.origin}/notes/gone")
    await booster.post(session, node.base + "/inbox", announce)
    await node.drain_inbox()

    assert (await outcome(node, announce["id"])).startswith("dropped")
    assert await node.count("inbox", "processed_at IS NULL") == 0
    assert await node.count("remote_objects") == 0


async def test_announce_from_actor_we_do_not_follow__ignored_without_fetching(make_posting_node, make_remote,
                                                                               session):
    node = await make_posting_node()
    booster, author = await make_remote("booster"), await make_remote("author")
    announce = booster.activity("Announce", f"{author.origin}/notes/1")
    await booster.post(session, node.base + "/inbox", announce)
    await node.drain_inbox()
    assert author.fetched == []


async def test_like_and_undo_like__counted(make_posting_node, remote, session):
    node = await make_posting_node()
    ada = await add_member(node)
    post = await publish_post(node.db, node.config, ada, "like me", "public")
    uri = f"{node.base}/posts/{post.uuid}"

    like = remote.activity("Like", uri)
    await remote.post(session, node.base + "/inbox", like)
    await node.drain_inbox()
    assert await remote_objects.count_reactions(node.db, uri, "Like") == 1

    await remote.post(session, node.base + "/inbox", remote.activity("Undo", like))
    await node.drain_inbox()
    assert await remote_objects.count_reactions(node.db, uri, "Like") == 0


async def test_two_nodes__sibling_group_stores_public_posts_edits_deletes_but_never_members_only(
        make_posting_node, session):
    # Given B's Group follows A's Group, and A's host approves (a Group is never auto-accepted)
    a, b = await make_posting_node("alpha"), await make_posting_node("beta")
    assert await run_cli("follow", a.group_id, "--data", str(b.config.data_dir)) == 0
    await deliver_all(b)
    await a.drain_inbox()
    assert await a.count("follows", "follower = ? AND state = 'pending'", b.group_id) == 1
    assert await run_cli("follows", "approve", "1", "--data", str(a.config.data_dir)) == 0
    await deliver_all(a)
    await b.drain_inbox()
    ada = await add_member(a)

    # When a member of A posts publicly and members-only
    public = await publish_post(a.db, a.config, ada, "for everyone", "public")
    secret = await publish_post(a.db, a.config, ada, "for members", "members")
    await deliver_all(a)
    await b.drain_inbox()

    # Then B stores the public one only
    uri = f"{a.base}/posts/{public.uuid}"
    assert (await remote_objects.get(b.db, uri)).content == "<p>for everyone</p>"
    assert await remote_objects.get(b.db, f"{a.base}/posts/{secret.uuid}") is None
    assert await b.count("inbox", "body LIKE ?", "%for members%") == 0

    # And edits and deletes propagate
    await edit_post(a.db, a.config, ada, public.id, "for everyone, edited")
    await deliver_all(a)
    await b.drain_inbox()
    assert (await remote_objects.get(b.db, uri)).content == "<p>for everyone, edited</p>"
    await delete_post(a.db, a.config, ada, public.id)
    await deliver_all(a)
    await b.drain_inbox()
    assert (await remote_objects.get(b.db, uri)).deleted_at is not None
