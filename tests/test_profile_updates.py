"""Profile changes go out as Update(Person) to followers and sibling Congregations; an inbound Update of an actor
counts only from that actor; an avatar too large for the form."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from multidict import CIMultiDict

from node.activitypub import signatures
from node.activitypub.as2.parse import PUBLIC
from node.activitypub.remote_actors import fetch_remote_actor
from node.appkeys import HTTP, KEYS
from node.store import remote
from tests.documented import FEDERATION_MD, differences, examples
from tests.factories import become_siblings, deliver_all, follow, get_as, received, signed_in
from tests.fediverse import FakeActor, InProcessNode
from tests.webclient import PNG, Visitor, text_of, upload

MIB = 1024 * 1024
CHECKED_HERE_RE = re.compile(
    r"<!-- example: ([a-z0-9-]+) \(checked by tests/test_profile_updates\.py\) -->\s*```json\n(.*?)```", re.S)


@dataclass
class World:
    node: InProcessNode
    sibling: InProcessNode
    fan: FakeActor
    ada: Visitor

    @property
    def ada_id(self) -> str:
        return f"{self.node.base}/actors/ada"


@pytest.fixture
async def world(make_node, make_remote, browsers, session) -> World:
    """Ada, signed in on a node with a sibling Congregation; a remote fan follows her; the sibling has cached her
    actor and key (as it does once it has verified anything she signed)."""
    node, sibling = await make_node("alpha"), await make_node("beta")
    await become_siblings(node, sibling)
    ada = await signed_in(node, browsers)
    fan = await make_remote("fan")
    world = World(node, sibling, fan, ada)
    await follow(node, fan, session, world.ada_id)
    resolved = await sibling.app[KEYS].resolve(world.ada_id + "#main-key")
    await sibling.app[KEYS].vouched(resolved.owner)  # what a verified signature of hers does
    assert (await remote.actor(sibling.db, world.ada_id)).display_name == "Ada"
    return world


async def update_deliveries(node: InProcessNode) -> list[tuple[str, str, int]]:
    """(activity id, inbox, attempts) of every queued Update."""
    async with node.db.execute(
            "SELECT d.activity_id, d.inbox, d.attempts FROM deliveries d JOIN outbox o ON o.activity_id = d.activity_id"
            " WHERE o.type = 'Update' AND d.state = 'queued' ORDER BY d.id") as cur:
        return [tuple(row) for row in await cur.fetchall()]


async def cached_document(node: InProcessNode, uri: str) -> dict[str, Any]:
    async with node.db.execute("SELECT document FROM remote_actors WHERE uri = ?", (uri,)) as cur:
        return json.loads((await cur.fetchone())[0])


async def verify_signed_by(node: InProcessNode, fan: FakeActor, activity_id: str, handle: str) -> None:
    """The POST the fan received carries a valid signature by the member, over the body that was queued."""
    [delivery] = [r for r in fan.received if r["activity"]["id"] == activity_id]
    async with node.db.execute("SELECT body FROM deliveries WHERE activity_id = ?", (activity_id,)) as cur:
        body = (await cur.fetchone())[0].encode()
    pending = signatures.extract("POST", delivery["path"], CIMultiDict(delivery["headers"]), body,
                                 f"127.0.0.1:{fan.port}")
    async with node.db.execute("SELECT public_key_pem FROM local_actors WHERE username = ?", (handle,)) as cur:
        pem = (await cur.fetchone())[0]
    assert pending.key_id == f"{node.base}/actors/{handle}#main-key"
    assert pending.verify(signatures.load_public_key(pem))


async def test_profile_change__update_person_reaches_followers_and_siblings(world, session):
    # When Ada changes her display name and bio
    status, page = await world.ada.post("/settings/profile", {"display_name": "Ada Lovelace", "bio": "Counts things."})
    assert status == 200 and "Your profile is saved" in text_of(page)
    # Then, before anything is sent, one Update waits for the fan's and the sibling's shared inboxes
    queued = await update_deliveries(world.node)
    assert sorted(inbox for _, inbox, _ in queued) == sorted([world.fan.origin + "/inbox",
                                                              world.sibling.base + "/inbox"])
    assert len({activity_id for activity_id, _, _ in queued}) == 1 and all(n == 0 for _, _, n in queued)

    # When deliveries run
    await deliver_all(world.node)
    # Then the fan has a signed, public Update whose object is what a GET of her actor serves
    [update] = received(world.fan, "Update")
    _, served = await get_as(session, world.ada_id)
    assert update["object"] == served and served["name"] == "Ada Lovelace" and served["summary"] == "Counts things."
    assert update["actor"] == world.ada_id and update["id"].startswith(world.ada_id + "#updates/")
    assert update["to"] == [PUBLIC] and update["cc"] == [world.ada_id + "/followers"] and update["published"]
    await verify_signed_by(world.node, world.fan, update["id"], "ada")
    # And once the sibling has read its inbox, its copy of Ada has her new name and bio
    await world.sibling.drain_inbox()
    assert (await remote.actor(world.sibling.db, world.ada_id)).display_name == "Ada Lovelace"
    assert (await cached_document(world.sibling, world.ada_id))["summary"] == "Counts things."


async def test_profile_saved_unchanged__no_update(world):
    await world.ada.post("/settings/profile", {"display_name": "Ada", "bio": ""})
    assert await world.node.count("outbox", "type = 'Update'") == 0


async def test_avatar__upload_and_removal_each_send_the_new_icon(world, session):
    # When Ada uploads an avatar
    status, _ = await upload(world.ada, PNG)
    assert status == 200
    assert len(await update_deliveries(world.node)) == 2
    await deliver_all(world.node)
    # Then the fan's Update carries the icon her actor now shows
    [first] = received(world.fan, "Update")
    _, served = await get_as(session, world.ada_id)
    icon = served["icon"]
    assert first["object"] == served and icon["url"].startswith(world.ada_id + "/avatar?v=")
    # And the sibling's copy has it
    await world.sibling.drain_inbox()
    assert (await cached_document(world.sibling, world.ada_id))["icon"] == icon

    # When she removes it
    status, _ = await world.ada.post("/settings/avatar/delete", {}, page="/settings")
    assert status == 200
    await deliver_all(world.node)
    # Then a second Update, with an id of its own, has no icon, and neither has the sibling's copy
    [_, second] = received(world.fan, "Update")
    assert second["id"] != first["id"] and "icon" not in second["object"]
    await world.sibling.drain_inbox()
    assert "icon" not in await cached_document(world.sibling, world.ada_id)


async def test_avatar_removed_when_there_is_none__no_update(world):
    await world.ada.post("/settings/avatar/delete", {}, page="/settings")
    assert await world.node.count("outbox", "type = 'Update'") == 0


async def test_federation_md__profile_update_example_matches_what_is_sent(world):
    # Given FEDERATION.md's example (checked here: the node must change a profile to send one)
    found = {name: json.loads(body) for name, body in CHECKED_HERE_RE.findall(FEDERATION_MD.read_text())}
    assert set(found) == {"update-person"}
    assert "update-person" not in examples()
    # When Ada sends one with an avatar
    await upload(world.ada, PNG)
    await deliver_all(world.node)
    [update] = received(world.fan, "Update")
    # Then it has the documented shape
    assert differences(found["update-person"], update) == []


# Inbound


async def remote_actor(node: InProcessNode, uri: str) -> remote.RemoteActor:
    found = await remote.actor(node.db, uri)
    assert found is not None
    return found


async def remote_key(node: InProcessNode, key_id: str) -> tuple[str, str] | None:
    return await remote.key(node.db, key_id)


async def inbox_outcome(node: InProcessNode, activity_id: str) -> str:
    async with node.db.execute("SELECT outcome FROM inbox WHERE activity_id = ?", (activity_id,)) as cur:
        return (await cur.fetchone())[0]


async def test_inbound_update__an_actor_updates_its_own_cached_document_and_keys(node, remote, session):
    # Given a remote actor whose actor and key the node has cached
    await node.app[KEYS].vouched((await node.app[KEYS].resolve(remote.key_id)).owner)  # as a verified signature does
    new_key = signatures.generate_private_key()
    document = remote.document() | {"name": "Fan Renamed", "summary": "New here.", "publicKey": {
        "id": remote.key_id, "owner": remote.id, "publicKeyPem": signatures.public_pem(new_key)}}
    # When it sends an Update of itself
    status, _ = await remote.post(session, node.base + "/inbox", remote.activity("Update", document))
    assert status == 202
    await node.drain_inbox()
    # Then the node's copy has the new name, summary and key
    assert (await remote_actor(node, remote.id)).display_name == "Fan Renamed"
    assert (await cached_document(node, remote.id))["summary"] == "New here."
    assert await remote_key(node, remote.key_id) == (remote.id, signatures.public_pem(new_key))


async def test_inbound_update__of_another_actor_on_the_same_host_is_ignored(node, make_remote, session):
    # Given a remote host with two accounts, mallory and vera, and the node's copy of vera
    mallory = await make_remote("mallory")
    vera_id = f"{mallory.origin}/users/vera"
    vera = mallory.document() | {"id": vera_id, "preferredUsername": "vera", "name": "Vera",
                                 "inbox": vera_id + "/inbox", "publicKey": {
                                     "id": vera_id + "#main-key", "owner": vera_id,
                                     "publicKeyPem": signatures.public_pem(signatures.generate_private_key())}}
    mallory.documents[vera_id] = (200, vera)
    await fetch_remote_actor(node.db, node.app[HTTP], vera_id)
    await node.app[KEYS].vouched((await node.app[KEYS].resolve(vera_id + "#main-key")).owner)
    before = (await remote_actor(node, vera_id), await cached_document(node, vera_id),
              await remote_key(node, vera_id + "#main-key"))
    # When mallory sends an Update whose object is vera, with mallory's key in it
    forged = vera | {"name": "Vera (hacked)", "publicKey": {"id": vera_id + "#main-key", "owner": vera_id,
                                                            "publicKeyPem": signatures.public_pem(mallory.key)}}
    activity = mallory.activity("Update", forged)
    status, _ = await mallory.post(session, node.base + "/inbox", activity)
    # Then it is acknowledged but ignored: vera's copy and key are as they were
    assert status == 202
    await node.drain_inbox()
    assert await inbox_outcome(node, activity["id"]) == "ignored: an actor may update only itself"
    after = (await remote_actor(node, vera_id), await cached_document(node, vera_id),
             await remote_key(node, vera_id + "#main-key"))
    assert after == before


async def test_inbound_update__of_an_actor_on_another_host_is_refused(node, make_remote, session):
    mallory, vera = await make_remote("mallory"), await make_remote("vera")
    await node.app[KEYS].vouched((await node.app[KEYS].resolve(vera.key_id)).owner)  # as a verified signature does
    before = await cached_document(node, vera.id)
    status, _ = await mallory.post(session, node.base + "/inbox",
                                   mallory.activity("Update", vera.document() | {"name": "Vera (hacked)"}))
    assert status == 400
    await node.drain_inbox()
    assert await cached_document(node, vera.id) == before


# Body limits


async def test_inbox__a_body_over_1_mib_is_still_refused(node, remote, session):
    activity = remote.activity("Create", {"type": "Note", "content": "x" * (MIB + MIB // 10)})
    status, _ = await remote.post(session, node.base + "/inbox", activity)
    assert status == 413


async def test_avatar__too_large_picture_gets_the_form_error_and_changes_nothing(node, browsers):
    # Given a member with an avatar
    ada = await signed_in(node, browsers)
    assert (await upload(ada, PNG))[0] == 200
    updates = await node.count("outbox", "type = 'Update'")
    # When she uploads a picture of 1.3 MiB
    status, page = await upload(ada, PNG + b"\0" * (MIB * 13 // 10))
    # Then the settings page says why, beside the avatar form, and nothing changed
    assert status == 413 and 'id="avatar-error"' in page
    assert "The picture is larger than 1 MiB." in text_of(page) and "<h1>Settings</h1>" in page
    async with node.db.execute("SELECT data FROM avatars") as cur:
        assert [row[0] for row in await cur.fetchall()] == [PNG]
    assert await node.count("outbox", "type = 'Update'") == updates
