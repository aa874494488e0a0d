"""Cross-witnessed decision logs (issue 13, acceptance 3), over real HTTP between three nodes under made-up names with
the SSRF guard on: Anna – Bert – Cora, each only the next one's sibling. Bert witnesses Anna's log; Anna's log is
then rewritten in her database (entry 2 re-signed with other content, entry 3 re-chained after it, every signature
valid); Bert's next poll catches it, keeps both signed entries 2 as proof, shows his members and gossips it to
Cora, who checks it herself; `verify-decisions` fails naming entry 2. A forged proof changes nothing."""

from __future__ import annotations

import html
import json
from urllib.parse import quote

import pytest

from node import uris
from node.activitypub import outbox
from node.activitypub.as2 import witness as wire
from node.appkeys import HTTP, WITNESS
from node.commands.verify_decisions import verify, verify_sibling
from node.db import transaction
from node.governance import decision_log, records, witness
from node.processing import witness as witnessing
from node.processing.follows import answer_request
from node.processing.follows import follow as group_follows
from node.store import local_actors, remote
from node.store import witness as store
from tests.documented import FEDERATION_MD, differences
from tests.factories import decide, deliver_all, exchange, quick_member, rewrite

# Verifying a signature caches the signer's key and document; an inbox row records what arrived and its outcome.
NOT_STATE = {"remote_keys", "remote_actors", "inbox", "node_state", "hosts"}


async def become_siblings(a, b) -> None:
    """Each Group follows the other and each side approves, as the Partners would on the Follows page."""
    for follower, followee in ((a, b), (b, a)):
        group = await local_actors.group(follower.db)
        await group_follows(follower.db, follower.config, group, follower.app[HTTP], followee.group_id)
        await exchange(a, b)
        [(request,)] = await followee.db.execute_fetchall(
            "SELECT id FROM follows WHERE follower = ? AND state = 'pending'", (follower.group_id,))
        await answer_request(followee.db, followee.config, await local_actors.group(followee.db),
                             followee.app[HTTP], request, True)
        await exchange(a, b)


async def gossip_as(sender, receiver, obj) -> str:
    """`sender`'s Group sends `obj` to `receiver` as the wire does (Add, signed); the outcome of the inbox row."""
    async with transaction(sender.db):
        group = await local_actors.group(sender.db)
        activity = wire.equivocation_activity(uris.new_activity(sender.config), sender.group_id, obj)
        target = await remote.actor(sender.db, receiver.group_id)
        await outbox.publish(sender.db, group, activity, [target.inbox], False, config=sender.config)
    await deliver_all(sender)
    await receiver.drain_inbox()
    [(outcome,)] = await receiver.db.execute_fetchall("SELECT outcome FROM inbox WHERE activity_id = ?",
                                                       (activity["id"],))
    return outcome


def state(snapshot: dict) -> dict:
    return {table: rows for table, rows in snapshot.items() if table not in NOT_STATE}


@pytest.fixture
async def line(make_guarded_node):
    anna, bert, cora = [await make_guarded_node(name) for name in ("anna", "bert", "cora")]
    await become_siblings(anna, bert)
    await become_siblings(bert, cora)
    await decide(anna, "Garden on Saturdays", "A shared tool shed", "Soup on Fridays")
    return anna, bert, cora


async def test_log_witness__a_rewritten_log_is_caught_shown_gossiped_and_named_by_verify_decisions(
        line, test_dns, browsers):
    anna, bert, cora = line
    # Bert's witness clock polls his siblings: Anna's log is witnessed up to its head, every signature checked
    polled = {p.group: p for p in await bert.app[WITNESS].run_once()}
    assert polled[anna.group_id].witnessed.kind == "extends"
    [(head_hash,)] = await anna.db.execute_fetchall("SELECT hash FROM decision_log WHERE seq = 3")
    head = await store.head(bert.db, anna.group_id)
    assert (head.seq, head.hash, head.problem) == (3, head_hash, None)
    assert [e.seq for e in await store.held(bert.db, anna.group_id)] == [1, 2, 3]
    # Not due again before its time: the node's clock drives the polls
    assert await bert.app[WITNESS].run_once() == []
    # An honest new entry extends what was witnessed
    await decide(anna, "Bread on Sundays")
    bert.advance(witnessing.POLL_EVERY + 1)
    polled = {p.group: p for p in await bert.app[WITNESS].run_once()}
    assert [e.seq for e in polled[anna.group_id].witnessed.new] == [4]
    assert (await store.head(bert.db, anna.group_id)).seq == 4
    assert await verify(anna.group_id, resolver=test_dns) == decision_log.Verification(True, 4)

    # Anna's log is rewritten from entry 2: each entry re-signed with her own key, the chain whole again
    [(old_entry_2,)] = await anna.db.execute_fetchall("SELECT entry FROM decision_log WHERE seq = 2")
    await rewrite(anna, 2, {"proposal": "rewritten", "title": "We never agreed to a tool shed", "result": "failed"})
    bert.advance(witnessing.POLL_EVERY + 1)
    polled = {p.group: p for p in await bert.app[WITNESS].run_once()}
    caught = polled[anna.group_id]
    assert caught.witnessed.kind == "equivocation" and caught.witnessed.ours.seq == 2
    # Both signed entries 2 are kept as proof: the one witnessed before and the rewritten one
    [proof] = await store.equivocations(bert.db)
    assert (proof.group, proof.seq, proof.received_from) == (anna.group_id, 2, None)
    old_header = json.loads(old_entry_2)["header"]
    [(new_entry_2,)] = await anna.db.execute_fetchall("SELECT entry FROM decision_log WHERE seq = 2")
    assert {json.dumps(proof.first["header"], sort_keys=True), json.dumps(proof.second["header"], sort_keys=True)} \
        == {json.dumps(old_header, sort_keys=True), json.dumps(json.loads(new_entry_2)["header"], sort_keys=True)}
    assert witness.check_proof(anna.group_id, 2, [proof.first, proof.second],
                               {uris.record_key(anna.config, "group"):
                                "multibase:" + records.multikey(await decision_log.ensure_key(anna.db))})
    # The head stays what was witnessed; a later poll finds the same proof and keeps (and sends) nothing new
    assert (await store.head(bert.db, anna.group_id)).hash != (await anna.db.execute_fetchall(
        "SELECT hash FROM decision_log WHERE seq = 4"))[0][0]

    # Bert's members see it on every page
    visitor = browsers(bert)
    await quick_member(bert, "fern", "friend")
    assert (await visitor.sign_in("fern"))[0] == 200
    status, page = await visitor.get("/")
    assert status == 200
    assert "Congregation Anna rewrote its decision log at entry 2" in html.unescape(page)

    # It is gossiped to Cora (Add{LogEquivocation}), who verifies both entries with Anna's keys herself
    sent = await deliver_all(bert)
    assert sent >= 1
    await cora.drain_inbox()
    [at_cora] = await store.equivocations(cora.db)
    assert (at_cora.group, at_cora.seq, at_cora.received_from, at_cora.digest) == \
        (anna.group_id, 2, bert.group_id, proof.digest)
    outcomes = await cora.db.execute_fetchall("SELECT outcome FROM inbox WHERE type = 'Add' AND actor = ?",
                                              (bert.group_id,))
    [(outcome,)] = [tuple(r) for r in outcomes]
    assert outcome == "kept and gossiped"
    # Cora relays it to her other siblings only (none): it does not go back to Bert
    assert await cora.count("deliveries", "body LIKE '%LogEquivocation%'") == 0
    # The same proof again is held already, and sent nowhere
    bert.advance(witnessing.POLL_EVERY + 1)
    again = {p.group: p for p in await bert.app[WITNESS].run_once()}
    assert again[anna.group_id].witnessed.kind == "equivocation" and again[anna.group_id].proof is None
    assert await deliver_all(bert) == 0

    # verify-decisions: Anna's log, whole and well signed on its own, fails against what her sibling witnessed
    result = await verify(anna.group_id, resolver=test_dns)
    assert not result.ok and result.entries == 1
    assert result.problem.startswith("entry 2 was rewritten:") and bert.group_id in result.problem
    # and from Bert's data directory, her log against what Bert witnessed
    result = await verify_sibling(str(bert.config.data_dir), anna.group_id, resolver=test_dns)
    assert not result.ok and result.problem.startswith("entry 2 was rewritten")
    # Cora's log, never rewritten, still passes
    assert (await verify(cora.group_id, resolver=test_dns)).ok

    # What Bert witnessed is served, with the proof, in the shape FEDERATION.md documents
    status, text = await visitor.get(f"/actors/group/witnessed?group={quote(anna.group_id, safe='')}",
                                     headers={"Accept": "application/activity+json"})
    assert status == 200
    served = json.loads(text)
    assert served["equivocations"][0]["seq"] == 2
    assert differences(documented("witnessed-log"), served) == []
    [(body,)] = await bert.db.execute_fetchall("SELECT body FROM outbox WHERE body LIKE '%LogEquivocation%'")
    assert differences(documented("log-equivocation"), json.loads(body)) == []


async def test_log_witness__a_forged_proof_changes_nothing(line):
    anna, bert, cora = line
    await bert.app[WITNESS].run_once()
    real = [e.item for e in await store.held(bert.db, anna.group_id)]
    stranger_key = records.new_private_key()
    made = records.make_entry(2, real[1]["header"]["prev"], "public", {"title": "forged"}, records.new_salt(),
                              stranger_key, uris.record_key(anna.config, "group"))
    forged_entry = {"header": made["header"], "proof": made["proof"]}
    altered = {"header": {**real[1]["header"], "visibility": "members"}, "proof": real[1]["proof"]}
    forgeries = {
        "an entry signed by a key that is not Anna's": [real[1], forged_entry],
        "an entry altered after signing": [real[1], altered],
        "the same entry twice": [real[1], real[1]],
        "two entries at different seqs": [real[0], real[1]],
        "one entry": [real[1]],
    }
    before = state(await cora.snapshot())
    for why, entries in forgeries.items():
        obj = {"type": "LogEquivocation", "accused": anna.group_id, "seq": 2, "entries": entries}
        outcome = await gossip_as(bert, cora, obj)
        assert outcome.startswith("refused"), (why, outcome)
    # Nothing kept, nothing shown, nothing gossiped on
    assert state(await cora.snapshot()) == before
    assert await store.equivocations(cora.db) == []
    # Bert, whose log nobody rewrote, passes every check
    assert all(p.witnessed.kind == "extends" for p in await cora.app[WITNESS].run_once())


def documented(name: str):
    """An example of FEDERATION.md that this module checks (marked `checked by tests/test_log_witness.py`)."""
    import re
    found = re.search(rf"<!-- example: {name} \(checked by tests/test_log_witness.py\) -->\s*```json\n(.*?)```",
                      FEDERATION_MD.read_text(), re.S)
    assert found, f"FEDERATION.md has no example {name}"
    return json.loads(found.group(1))
