"""`congregation export`: a Congregation's members, posts, crews and decisions as one portable JSON document, with
people named by actor URI, nothing secret in it, a decision log that still verifies, and a consistent read while
the node serves."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import sys
from datetime import UTC, datetime, timedelta

import pytest

from node import __version__
from node.activitypub import signatures
from node.db import migrations
from node.governance import accounts, crews, decision_log, invitations, membership, proposals
from node.processing import membership as processing_membership
from node.processing.posts import delete_post, edit_post, publish_post
from node.store import crews as crews_store
from node.store import local_actors
from node.store import proposals as proposals_store
from tests.factories import become_siblings
from tests.fediverse import NodeProcess, free_port, init_node, run_cli
from tests.webclient import Visitor, make_member

pytestmark = pytest.mark.slow

CREW_SECRET = "Tea at the allotment shed, crew only"
DECLINE_REASON = "private: we are not ready for a fifth"


async def congregation(*args: str) -> tuple[int, str, str]:
    """The command as a real process, without blocking this loop (in-process nodes and fakes keep answering)."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "node", *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode, out.decode(), err.decode()


def _keypair() -> tuple[str, str]:
    key = signatures.generate_private_key()
    return signatures.private_pem(key), signatures.public_pem(key)


async def _rows(node, sql: str, *args) -> list[tuple]:
    async with node.db.execute(sql, args) as cur:
        return [tuple(r) for r in await cur.fetchall()]


async def _person(node, handle: str):
    return await local_actors.by_username(node.db, handle)


async def _populated(node, sister) -> dict:
    """A Congregation with a bit of everything; returns the secrets handed out along the way."""
    config, db = node.config, node.db
    await make_member(node, "ada", "partner", display_name="Ada Lovelace")
    for handle in ("bo", "cy", "dee", "eve"):
        await make_member(node, handle)
    ada = await _person(node, "ada")
    await membership.promote(db, "bo", ada, "holds the garden together")
    # Fay joins by Ada's invitation; a second invitation stays unused; Cy gets a reset link
    issued = await invitations.create(db, config, ada, "friend", "from the choir")
    await invitations.accept(db, config, issued.token, "fay", "Fay", "fay's long password", _keypair())
    unused = await invitations.create(db, config, ada, "friend")
    reset = await accounts.issue_reset(db, await _person(node, "cy"), ada)
    # Ada signs in: a session and a CSRF token exist
    visitor = Visitor(node)
    try:
        assert (await visitor.sign_in("ada"))[0] == 200
        cookies = [c.value for c in visitor.session.cookie_jar]
    finally:
        await visitor.close()

    # A home crew of Ada, Bo and Cy (joined by consent), a working group, and a private decline
    ada, bo, cy, dee = [await _person(node, h) for h in ("ada", "bo", "cy", "dee")]
    home = (await crews.start(db, ada, "Tuesday circle", "peer support", "weekly", "home"))[0].crew
    for newcomer in (bo, cy):
        await crews.join(db, newcomer, home.id, "", config.crew_max)
        request = await crews_store.pending_request(db, home.id, newcomer.id)
        for current in (await crews_store.by_id(db, home.id)).members:
            await crews.answer(db, await local_actors.by_id(db, current), request.id, True, "", config.crew_max)
    await crews.join(db, dee, home.id, "may I?", config.crew_max)
    request = await crews_store.pending_request(db, home.id, dee.id)
    await crews.answer(db, ada, request.id, False, DECLINE_REASON, config.crew_max)
    garden = (await crews.start(db, dee, "Garden working group", "compost", "", "working"))[0].crew
    await crews.join(db, await _person(node, "eve"), garden.id, "", config.crew_max)

    # Posts of every visibility, by members and the Group; one edited, one deleted; Eve posts, then is removed
    group = await local_actors.group(db)
    await publish_post(db, config, ada, "Hello, fediverse", "public")
    await publish_post(db, config, bo, "Members only: the key is under the mat", "members")
    await publish_post(db, config, ada, CREW_SECRET, "crew", crew_id=home.id)
    await publish_post(db, config, group, "The Congregation says hello", "public")
    edited = await publish_post(db, config, cy, "First draft", "members")
    await edit_post(db, config, cy, edited.id, "Second draft")
    gone = await publish_post(db, config, dee, "Oops", "public")
    await delete_post(db, config, dee, gone.id)
    await publish_post(db, config, await _person(node, "eve"), "Goodbye, all", "members")
    await processing_membership.remove(db, config, "eve", ada, "moved away")

    # Proposals: a consent that passes, a poll, both closed into the decision log; a crew proposal still open
    now = datetime.now(UTC)

    async def propose(author, **kwargs):
        return (await proposals.create(db, config, author, now=now, **kwargs))[0].proposal

    async def vote(proposal, actor, *choices, reason=""):
        await proposals.cast(db, config, await proposals_store.by_id(db, proposal.id),
                             proposals.local_uri(config, actor.username), list(choices), reason, now=now)

    consent = await propose(ada, kind="consent", title="Meet on Thursdays", details="At the hall.",
                            closes_at=now + timedelta(days=1), quorum_percent=50)
    await vote(consent, ada, "agree")
    await vote(consent, bo, "disagree")
    await vote(consent, bo, "agree", reason="changed my mind")
    await vote(consent, cy, "abstain", reason="away that month")
    poll = await propose(bo, kind="poll", title="Which colour?", options=["red", "green", "blue"],
                         closes_at=now + timedelta(days=1))
    await vote(poll, ada, "green")
    await vote(poll, dee, "blue")
    open_one = await propose(ada, kind="consent", title="Buy a kettle", scope="crew", crew_id=home.id,
                             closes_at=now + timedelta(days=3))
    await vote(open_one, cy, "agree")
    await proposals.close_due(db, config, {}, now=now + timedelta(days=2))

    # A sibling Congregation: each Group follows the other, each operator approved
    await become_siblings(node, sister)
    return {"tokens": [issued.token, unused.token, reset, *cookies], "crews": (home, garden),
            "proposals": (consent, poll, open_one)}


async def test_export__holds_every_member_post_crew_proposal_and_decision_with_the_right_values(
        make_node, tmp_path):
    # Given a Congregation with members, a former member, posts of every visibility, crews, proposals and a sibling
    node, sister = await make_node("alpha"), await make_node("beta")
    made = await _populated(node, sister)
    home, garden = made["crews"]
    consent, poll, open_one = made["proposals"]
    base = node.base

    # When it is exported to a file by the command, as a real process
    target = tmp_path / "export.json"
    code, out, err = await congregation("export", str(target), "--data", str(node.config.data_dir))

    # Then it succeeds, says what it wrote, and leaves no partial file
    assert code == 0, err
    assert f"to {target}: 5 members, 7 posts, 2 crews, 3 proposals, 2 logged decisions" in out
    assert not target.with_name("export.json.partial").exists()
    raw = target.read_text(encoding="utf-8")
    doc = json.loads(raw)

    # And the header names the format, the software and the schema
    assert (doc["format"], doc["formatVersion"], doc["schema"]) == ("congregation-export", 1, migrations()[-1][0])
    assert doc["software"] == {"name": "congregation", "version": __version__}
    assert doc["exportedAt"].endswith("Z") and datetime.fromisoformat(doc["exportedAt"].replace("Z", "+00:00"))
    group = await local_actors.group(node.db)
    assert doc["congregation"] == {"id": node.group_id, "handle": "group", "name": "Alpha", "summary": "",
                                   "baseUrl": base, "createdAt": group.created_at,
                                   "publicKeyPem": group.public_key_pem,
                                   "recordKeyMultibase": await decision_log.public_multikey(node.db, group.id)}

    # And every table's rows are there, counted
    counts = {"members": "members", "membershipLog": "membership_events", "posts": "posts", "crews": "crews",
              "proposals": "proposals", "decisionLog": "decision_log", "follows": "follows"}
    for key, table in counts.items():
        assert len(doc[key]) == await node.count(table), key
    assert len(doc["formerMembers"]) == await node.count(
        "local_actors", "kind = 'Person' AND id NOT IN (SELECT actor_id FROM members)") == 1
    assert sum(len(c["members"]) for c in doc["crews"]) == await node.count("crew_members") == 4
    assert sum(len(p["stances"]) for p in doc["proposals"]) == await node.count("stances") == 7

    # And members are named by actor URI, with tier, profile, key and who invited them
    members = {m["handle"]: m for m in doc["members"]}
    assert set(members) == {"ada", "bo", "cy", "dee", "fay"}
    ada = await _person(node, "ada")
    assert members["ada"] == {"id": f"{base}/actors/ada", "handle": "ada", "displayName": "Ada Lovelace",
                              "summary": "", "tier": "partner",
                              "joinedAt": (await _rows(node, "SELECT joined_at FROM members WHERE actor_id = ?",
                                                       ada.id))[0][0],
                              "invitedBy": None, "publicKeyPem": ada.public_key_pem}
    assert members["bo"]["tier"] == "partner" and members["cy"]["tier"] == "friend"
    assert members["fay"]["invitedBy"] == f"{base}/actors/ada"
    assert [f["id"] for f in doc["formerMembers"]] == [f"{base}/actors/eve"]
    log = [(e["kind"], e["member"].rsplit("/", 1)[1], e["by"], e["reason"]) for e in doc["membershipLog"]]
    assert ("promoted", "bo", f"{base}/actors/ada", "holds the garden together") in log
    assert ("joined", "fay", f"{base}/actors/ada", "from the choir") in log
    assert log[-1] == ("removed", "eve", f"{base}/actors/ada", "moved away")

    # And posts keep their visibility, crew, text and HTML; the edited one its new text, the deleted one a tombstone
    stored = {r[0]: r for r in await _rows(node, "SELECT uuid, visibility, content, source, published, updated,"
                                                 " deleted_at FROM posts")}
    posts = {p["id"].rsplit("/", 1)[1]: p for p in doc["posts"]}
    assert set(posts) == set(stored)
    for uuid, (_, visibility, content, source, published, updated, deleted_at) in stored.items():
        assert posts[uuid]["id"] == f"{base}/posts/{uuid}"
        assert (posts[uuid]["visibility"], posts[uuid]["contentHtml"], posts[uuid]["source"],
                posts[uuid]["published"], posts[uuid]["updated"], posts[uuid]["deletedAt"]) == \
            (visibility, content, source, published, updated, deleted_at)
    by_source = {p["source"]: p for p in doc["posts"]}
    crew_post = by_source[CREW_SECRET]
    assert (crew_post["visibility"], crew_post["crew"], crew_post["author"], crew_post["toGroup"]) == \
        ("crew", home.uuid, f"{base}/actors/ada", False)
    assert by_source["Members only: the key is under the mat"]["visibility"] == "members"
    assert by_source["Members only: the key is under the mat"]["crew"] is None
    assert by_source["The Congregation says hello"]["author"] == node.group_id
    assert by_source["Second draft"]["updated"] is not None and "First draft" not in raw
    assert by_source[""]["deletedAt"] is not None and "Oops" not in raw
    assert by_source["Goodbye, all"]["author"] == f"{base}/actors/eve"

    # And crews carry their members by URI; the private decline is not there at all
    exported_crews = {c["id"]: c for c in doc["crews"]}
    assert exported_crews[home.uuid]["name"] == "Tuesday circle" and exported_crews[home.uuid]["kind"] == "home"
    assert exported_crews[home.uuid]["purpose"] == "peer support" and exported_crews[home.uuid]["rhythm"] == "weekly"
    assert exported_crews[home.uuid]["createdBy"] == f"{base}/actors/ada"
    assert [m["actor"].rsplit("/", 1)[1] for m in exported_crews[home.uuid]["members"]] == ["ada", "bo", "cy"]
    # (Eve, removed from the Congregation, left her crews with it)
    assert [m["actor"].rsplit("/", 1)[1] for m in exported_crews[garden.uuid]["members"]] == ["dee"]
    assert DECLINE_REASON not in raw and "may I?" not in raw

    # And proposals carry their result and every stance cast, as history
    exported = {p["id"]: p for p in doc["proposals"]}
    passed = exported[f"{base}/proposals/{consent.uuid}"]
    assert (passed["kind"], passed["scope"], passed["state"], passed["title"], passed["details"],
            passed["quorumPercent"], passed["eligible"], passed["author"]) == \
        ("consent", "congregation", "passed", "Meet on Thursdays", "At the hall.", 50, 5, f"{base}/actors/ada")
    assert [(s["voter"].rsplit("/", 1)[1], s["choices"], s["reason"]) for s in passed["stances"]] == [
        ("ada", ["agree"], ""), ("bo", ["disagree"], ""), ("bo", ["agree"], "changed my mind"),
        ("cy", ["abstain"], "away that month")]
    assert exported[f"{base}/proposals/{poll.uuid}"]["options"] == ["red", "green", "blue"]
    still_open = exported[f"{base}/proposals/{open_one.uuid}"]
    assert (still_open["state"], still_open["crew"], still_open["closedAt"]) == ("open", home.uuid, None)

    # And the decision log is as stored, and verifies with the Group key from the export
    stored_log = await _rows(node, "SELECT entry, hash, signature FROM decision_log ORDER BY seq")
    assert [(json.dumps({k: i[k] for k in ("header", "body", "salt", "proof")}, sort_keys=True,
                        separators=(",", ":"), ensure_ascii=False), i["hash"], i["proof"]["proofValue"])
            for i in doc["decisionLog"]] == stored_log
    # (every body, members-only ones included: the export is the operator's, not the wire)
    assert [i["body"]["proposal"] for i in doc["decisionLog"]] == [passed["id"], f"{base}/proposals/{poll.uuid}"]
    check = decision_log.verify_chain(doc["decisionLog"], doc["congregation"]["publicKeyPem"],
                                      doc["congregation"]["recordKeyMultibase"])
    assert check.ok and check.entries == 2, check.problem
    assert all(i["proof"]["verificationMethod"] == node.group_id + "#records-key" for i in doc["decisionLog"])

    # And the sibling is there, both ways
    assert doc["siblings"] == [{"id": sister.group_id, "name": "Beta", "state": "sibling", "ours": "accepted",
                                "theirs": "accepted"}]
    assert {(f["follower"], f["followee"], f["state"]) for f in doc["follows"]} == {
        (sister.group_id, node.group_id, "accepted"), (node.group_id, sister.group_id, "accepted")}

    # And nothing secret is in it: no private key, password hash, session, CSRF, invitation or reset token
    assert "PRIVATE KEY" not in raw and "argon2" not in raw
    secrets = [r[0] for r in await _rows(node, "SELECT private_key_pem FROM local_actors")]
    secrets += [r[0] for r in await _rows(node, "SELECT password_hash FROM credentials")]
    secrets += [v for r in await _rows(node, "SELECT token_hash, csrf FROM sessions") for v in r]
    secrets += [r[0] for r in await _rows(node, "SELECT token_hash FROM invitations")]
    secrets += [r[0] for r in await _rows(node, "SELECT token_hash FROM password_resets")]
    assert len(secrets) == 7 + 6 + 2 + 2 + 1
    for secret in [*secrets, *made["tokens"]]:
        assert secret and secret not in raw


async def test_export__refuses_to_overwrite_refuses_an_empty_directory_and_writes_stdout(tmp_path):
    # Given a Congregation with one member and one post, not running
    config = init_node(tmp_path / "node", free_port(), "Quiet")
    data = str(config.data_dir)
    assert await run_cli("member", "add", "ada", "--data", data) == 0
    assert await run_cli("post", "--as", "ada", "--visibility", "members", "Grüße", "--data", data) == 0
    existing = tmp_path / "mine.json"
    existing.write_text("precious")
    (tmp_path / "empty").mkdir()
    database_before = hashlib.sha256(config.db_path.read_bytes()).hexdigest()

    # When it is exported to `-` and with no FILE at all, over a file that exists, and from a directory that holds
    # no Congregation (empty, or missing) — each a real process, all at once
    to_stdout, no_file, over_existing, *from_nowhere = await asyncio.gather(
        congregation("export", "-", "--data", data), congregation("export", "--data", data),
        congregation("export", str(existing), "--data", data),
        *(congregation("export", str(tmp_path / f"{where}.json"), "--data", str(tmp_path / where))
          for where in ("empty", "missing")))

    # Then standard output is the JSON document and nothing else
    for code, out, err in (to_stdout, no_file):
        assert code == 0, err
        doc = json.loads(out)
        assert [p["source"] for p in doc["posts"]] == ["Grüße"]
        assert [m["handle"] for m in doc["members"]] == ["ada"]

    # And the database itself was never written
    assert hashlib.sha256(config.db_path.read_bytes()).hexdigest() == database_before

    # And over an existing FILE it is refused in one line, the file unchanged
    code, out, err = over_existing
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [f"congregation: {existing} already exists; choose a new file name"]
    assert existing.read_text() == "precious" and not (tmp_path / "mine.json.partial").exists()

    # And from a directory without a Congregation it is refused in one line, and nothing is written
    for where, (code, out, err) in zip(("empty", "missing"), from_nowhere, strict=True):
        assert code == 1 and out == ""
        assert len(err.strip().splitlines()) == 1 and "holds no Congregation" in err
        assert not (tmp_path / f"{where}.json").exists()
    assert list((tmp_path / "empty").iterdir()) == []


async def test_export__taken_while_the_node_serves_and_takes_writes_is_valid_and_consistent(
        tmp_path, remote, session):
    # Given a node running as a real process, with a member who posts
    config = init_node(tmp_path / "live", free_port(), "Live")
    data = str(config.data_dir)
    node = NodeProcess(config.data_dir).start()
    try:
        assert await run_cli("member", "add", "ada", "--data", data) == 0
        assert await run_cli("post", "--as", "ada", "--visibility", "public", "post 0", "--data", data) == 0
        under_way, done = asyncio.Event(), asyncio.Event()

        async def inbox_load() -> None:
            i = 0
            while not done.is_set() and i < 250:  # under the inbox's per-host burst of 300
                activity = remote.activity("Like", f"{config.base_url}/actors/ada", suffix=f"load-{i}")
                status, _ = await remote.post(session, f"{config.base_url}/inbox", activity)
                assert status == 202
                i += 1

        async def posting() -> int:
            n = 1
            while not done.is_set():
                code, _, err = await congregation("post", "--as", "ada", "--visibility", "members", f"post {n}",
                                                  "--data", data)
                assert code == 0, err
                n += 1
                under_way.set()
            return n

        # When the node takes inbox POSTs and new posts keep being written while the export is taken
        writers = [asyncio.create_task(inbox_load()), asyncio.create_task(posting())]
        await asyncio.wait_for(under_way.wait(), 60)
        code, out, err = await congregation("export", "-", "--data", data)
        done.set()
        written = (await asyncio.gather(*writers))[1]
    finally:
        node.stop()

    # Then the export is one valid document
    assert code == 0, err
    doc = json.loads(out)
    assert doc["congregation"]["id"] == f"{config.base_url}/actors/group"
    assert [m["handle"] for m in doc["members"]] == ["ada"]
    # And it was read from one snapshot: the posts are an unbroken run from the first, each whole
    sources = [p["source"] for p in doc["posts"]]
    assert 2 <= len(sources) <= written and sources == [f"post {i}" for i in range(len(sources))]
    assert all(p["contentHtml"] == f"<p>{p['source']}</p>" for p in doc["posts"])
    with sqlite3.connect(config.db_path) as db:
        assert db.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == written
