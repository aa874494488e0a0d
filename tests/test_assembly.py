"""The Assembly over real HTTP between in-process nodes on loopback: tabling is a decision, the proposal travels
along the sibling graph, each Congregation decides for itself, and every node computes the same final tally."""

from __future__ import annotations

import itertools
import json
import os
import re
from html import unescape

from node import uris
from node.activitypub import outbox
from node.activitypub.as2 import assembly as wire
from node.db import transaction
from node.governance import assembly as rules
from node.governance import decision_log, records
from node.processing import assembly, proposals
from node.store import assembly as store
from node.store import local_actors, remote
from tests.documented import FEDERATION_MD, _expand, differences
from tests.factories import advance_clocks as advance
from tests.factories import become_siblings, deliver_all, exchange, member
from tests.factories import table_to_assembly as table
from tests.fediverse import run_cli


async def line(make_node, n: int):
    nodes = [await make_node(name) for name in ("anna", "bert", "cora", "dora", "emil")[:n]]
    for left, right in itertools.pairwise(nodes):
        await become_siblings(left, right)
    return nodes


async def settle(nodes) -> None:
    """Deliver and process until nothing moves, along the whole line."""
    for _ in range(len(nodes) + 2):
        await exchange(*nodes)


async def test_assembly__a_proposal_tabled_at_one_end_of_a_line_is_decided_by_all_and_tallied_alike(make_node):
    a, b, c = nodes = await line(make_node, 3)
    tabling = await table(a)
    advance(nodes, 3601)
    await a.close_proposals()
    held_a = (await store.listed(a.db))[0]
    assert [entry[0] for entry in held_a.roster] == sorted(n.group_id for n in nodes)
    await settle(nodes)
    # it reached C through B, and every Congregation opened its own members-only decision on it
    for node in nodes:
        [held] = await store.listed(node.db)
        assert held.uri == held_a.uri and held.local_proposal_id is not None
    # each decides: A and B agree, C blocks with a reason
    for node, choice in ((a, "agree"), (b, "agree"), (c, "block")):
        voter = await member(node, "vic", "friend")
        [held] = await store.listed(node.db)
        local = await proposals.proposals.get(node.db, held.local_proposal_id)
        await proposals.take_stance(node.db, node.config, local, voter, [choice],
                                    reason="Our road is too narrow" if choice == "block" else "")
    advance(nodes, 3 * 86400 - 3600 - 600)  # past every local decision, before the Assembly closes
    for node in nodes:
        await node.close_proposals()
    await settle(nodes)
    for node in nodes:
        [held] = await store.listed(node.db)
        assert await store.stance_count(node.db, held.id) == 3
    advance(nodes, 600 + 3600 + 1)  # past the closing and the finality window
    results = set()
    for node in nodes:
        await node.close_proposals()
        [held] = await store.listed(node.db)
        assert held.result is not None and held.result["phase"] == "final"
        results.add(json.dumps(held.result, sort_keys=True))
        [row] = [r for r in held.result["rows"] if r["group"] == c.group_id]
        assert (row["status"], row["choice"], row["reasons"]) == ("counted", "block", "Our road is too narrow")
    assert len(results) == 1
    final = json.loads(results.pop())
    assert (final["outcome"], final["voices"], final["counts"]["block"]) == ("failed", 3, 1)
    assert tabling.action == "table_assembly"


# --- what must not count (acceptance 2): each arrives over real HTTP, relayed by a sibling Group (signed Add) ----


async def tabled_line(make_node):
    a, b, c = nodes = await line(make_node, 3)
    await table(a)
    advance(nodes, 3601)
    await a.close_proposals()
    await settle(nodes)
    [held] = await store.listed(b.db)
    return nodes, held


async def stance_by(node, held, choice="agree", *, key_pem=None, created=None, members=12, reasons=""):
    """A stance signed as `node`'s Group would sign it (or with `key_pem`), dated `created` (default: now)."""
    document = wire.stance_document(uris.assembly_stance(node.config, f"s-{choice}-{members}"), node.group_id,
                                    held.uri, choice, members, {}, reasons, None)
    when = int(node.clock.now()) if created is None else created
    return records.sign_object(document, key_pem or await decision_log.ensure_key(node.db),
                               uris.record_key(node.config, "group"), wire.stamp(when))


async def relay(sender, receiver, objects) -> str:
    """`sender`'s Group relays `objects` to `receiver` as the wire does; the outcome of the inbox row."""
    async with transaction(sender.db):
        group = await local_actors.group(sender.db)
        activity = wire.relay_activity(uris.new_activity(sender.config), sender.group_id, objects)
        target = await remote.actor(sender.db, receiver.group_id)
        await outbox.publish(sender.db, group, activity, [target.inbox], False, config=sender.config)
    await deliver_all(sender)
    await receiver.drain_inbox()
    rows = await receiver.db.execute_fetchall("SELECT outcome FROM inbox WHERE activity_id = ?", (activity["id"],))
    return rows[0][0]


async def stances_at(node, held):
    return [(r.group, r.choice, r.digest) for r in await store.stances(node.db, held.id)]


async def test_assembly__forged_altered_late_and_outside_stances_change_no_tally(make_node):
    (a, b, c), held = await tabled_line(make_node)
    outsider = await make_node("dora")
    await become_siblings(c, outsider)  # a sibling of C now, but not on the frozen roster
    before = await stances_at(b, held)
    real = await stance_by(c, held, "agree")
    forged_key = await stance_by(c, held, "block", key_pem=records.new_private_key(), reasons="forged")
    altered = {**real, "choice": "block"}
    after_close = await stance_by(c, held, "block", created=held.closes_at + 1, reasons="too late")
    not_on_roster = await stance_by(outsider, held, "block", reasons="who are we")
    for forged in (forged_key, altered, after_close, not_on_roster):
        outcome = await relay(c, b, [forged])
        assert outcome.startswith("0 new of 1"), outcome
    assert await stances_at(b, held) == before
    result = await assembly_result(b, held)
    assert [r.status for r in result.rows] == ["missing"] * 3

    # A forged copy that arrives first does not stand in for the real one: the real one is kept when it comes.
    forged_copy = await stance_by(c, held, "agree", key_pem=records.new_private_key())
    assert forged_copy["id"] == real["id"] and forged_copy != real
    assert (await relay(c, b, [forged_copy])).startswith("0 new of 1")
    assert (await relay(c, b, [real])).startswith("1 new of 1")
    assert await stances_at(b, held) == [(c.group_id, "agree", records.digest(real))]
    # and it travels on to A, relayed by B (not sent back to C)
    await settle([a, b, c])
    assert await stances_at(a, held) == [(c.group_id, "agree", records.digest(real))]


async def assembly_result(node, held):
    return await assembly.current_result(node.db, await store.by_id(node.db, held.id))


async def test_assembly__two_different_stances_by_one_congregation_count_as_missing_and_are_kept_as_proof(make_node):
    (a, b, c), held = await tabled_line(make_node)
    first = await stance_by(c, held, "agree")
    second = await stance_by(c, held, "block", reasons="changed our mind, twice")
    assert (await relay(c, b, [first])).startswith("1 new")
    assert (await relay(c, b, [second])).startswith("1 new")
    await settle([a, b, c])
    for node in (a, b):
        result = await assembly_result(node, await store.by_uri(node.db, held.uri))
        [row] = [r for r in result.rows if r.group == c.group_id]
        assert row.status == "equivocated"
        assert result.equivocations == ((c.group_id, *sorted([records.digest(first), records.digest(second)])),)
        kept = {r.digest: r.document for r in await store.stances(node.db, (await store.by_uri(node.db, held.uri)).id)}
        assert kept[records.digest(first)] == first and kept[records.digest(second)] == second


# --- the command line: tabling is a decision, and the tabling Congregation may withdraw ------------------------


async def test_assembly__tabled_and_withdrawn_from_the_command_line(make_node, capsys):
    a, b = nodes = await line(make_node, 2)
    await member(a, "pia", "partner")
    data_a, data_b = str(a.config.data_dir), str(b.config.data_dir)
    # bad input: one line, non-zero, nothing opened
    assert await run_cli("propose", "--as", "pia", "--scope", "assembly", "--title", "Soup", "--kind", "poll",
                         "--option", "only one", "--closes", "3d", "--data", data_a) == 1
    assert "a poll needs 2 to 20 options" in capsys.readouterr().err
    assert await a.count("proposals") == 0
    assert await run_cli("propose", "--as", "pia", "--scope", "assembly", "--title", "Shared van",
                         "--details", "One van for both.", "--closes", "3d", "--quorum", "50",
                         "--data", data_a) == 0
    assert "asks the Congregation to table this to the Assembly" in capsys.readouterr().out
    [tabling] = await a.db.execute_fetchall("SELECT uuid FROM proposals")
    assert await run_cli("vote", uris.proposal(a.config, tabling[0]), "agree", "--as", "pia", "--data", data_a) == 0
    advance(nodes, 18 * 3600 + 5)  # the tabling decision closes after a quarter of the time
    await a.close_proposals()
    await settle(nodes)
    assert await run_cli("assembly", "list", "--data", data_b) == 0
    listed = capsys.readouterr().out
    assert "Shared van" in listed and "open" in listed
    [held] = await store.listed(a.db)
    # B cannot withdraw what A tabled; A can
    assert await run_cli("assembly", "withdraw", "1", "--data", data_b) == 1
    assert "only the Congregation that tabled" in capsys.readouterr().err
    assert await run_cli("assembly", "withdraw", str(held.id), "--data", data_a) == 0
    await settle(nodes)
    [at_b] = await store.listed(b.db)
    assert at_b.state == "withdrawn" and at_b.withdrawal["type"] == "AssemblyWithdrawal"
    local = await b.db.execute_fetchall("SELECT state FROM proposals WHERE id = ?", (at_b.local_proposal_id,))
    assert local[0][0] == "withdrawn"
    assert await run_cli("assembly", "show", str(at_b.id), "--data", data_b) == 0
    assert "Shared van" in capsys.readouterr().out


async def test_assembly__a_node_down_during_the_vote_catches_up_and_so_does_the_one_cut_off_behind_it(make_node):
    """A–B–C: B is stopped while A and C decide, so C is cut off from A. When B comes back it pulls what its
    siblings hold; what it lacked travels on, and every node shows the same final tally."""
    from tests.fediverse import InProcessNode

    (a, b, c), held = await tabled_line(make_node)
    clock = b.clock
    await b.close()
    for node, choice in ((a, "agree"), (c, "disagree")):
        voter = await member(node, "vic", "friend")
        local = await proposals.proposals.get(node.db, (await store.by_uri(node.db, held.uri)).local_proposal_id)
        await proposals.take_stance(node.db, node.config, local, voter, [choice])
    advance([a, c], 3 * 86400 - 3600 - 600)
    clock.advance(3 * 86400 - 3600 - 600)
    for node in (a, c):
        await node.close_proposals()
        await deliver_all(node)  # to B, which is down: each delivery fails and waits for its retry
    assert await store.stance_count(a.db, held.id) == 1 and await store.stance_count(c.db, held.id) == 1

    b = await InProcessNode(b.config, clock=clock).start()  # restarted, same database
    try:
        await b.close_proposals()  # its first step pulls what A and C hold
        at_b = await store.by_uri(b.db, held.uri)
        assert await store.stance_count(b.db, at_b.id) == 3  # A's, C's and its own (its decision closed too)
        await settle([a, b, c])
        for node in (a, c):
            assert await store.stance_count(node.db, (await store.by_uri(node.db, held.uri)).id) == 3
        advance([a, b, c], 600 + 3600 + 1)
        results = set()
        for node in (a, b, c):
            await node.close_proposals()
            final = (await store.by_uri(node.db, held.uri)).result
            results.add(json.dumps(final, sort_keys=True))
        assert len(results) == 1
        final = json.loads(results.pop())
        assert final["phase"] == "final" and final["voices"] == 3
        assert {r["status"] for r in final["rows"]} == {"counted"}
    finally:
        await b.close()


# --- FEDERATION.md's Assembly examples have the shape of what is really served and sent ------------------------

ASSEMBLY_EXAMPLE_RE = re.compile(r"<!-- example: (assembly-[a-z-]+) \(checked by tests/test_assembly.py\) -->\s*"
                                 r"```json\n(.*?)```", re.S)


async def test_assembly__federation_md_documents_the_attestation_proposal_stance_relay_and_withdrawal(make_node):
    (a, b, c), held = await tabled_line(make_node)
    real = {}
    async with b.session.get(b.group_id + "/siblings", headers={"Accept": "application/activity+json"}) as r:
        real["assembly-attestation"] = await r.json(content_type=None)
    real["assembly-proposal"] = held.document
    voter = await member(c, "vic", "friend")
    local = await proposals.proposals.get(c.db, (await store.by_uri(c.db, held.uri)).local_proposal_id)
    await proposals.take_stance(c.db, c.config, local, voter, ["block"], reason="Our road is too narrow")
    advance([a, b, c], 3 * 86400 - 3600 - 600)
    await c.close_proposals()
    [stance] = await store.stances(c.db, (await store.by_uri(c.db, held.uri)).id)
    real["assembly-stance"] = stance.document
    sent = await c.db.execute_fetchall("SELECT body FROM outbox WHERE type = 'Add' ORDER BY rowid DESC LIMIT 1")
    real["assembly-relay"] = json.loads(sent[0][0])
    [at_a] = await store.listed(a.db)
    await assembly.withdraw(a.db, a.config, at_a.id)
    real["assembly-withdrawal"] = (await store.by_id(a.db, at_a.id)).withdrawal
    async with b.session.get(f"{b.group_id}/assembly?proposal={held.digest}&after=0",
                             headers={"Accept": "application/activity+json"}) as r:
        real["assembly-page"] = await r.json(content_type=None)
    real["assembly-context"] = real["assembly-attestation"]["@context"]
    found = {name: json.loads(body) for name, body in ASSEMBLY_EXAMPLE_RE.findall(FEDERATION_MD.read_text())}
    documented = {name: _expand(example, found) for name, example in found.items()}
    if os.environ.get("DUMP_ASSEMBLY_EXAMPLES"):
        print(json.dumps(real, indent=2, ensure_ascii=False))
    assert documented.keys() == real.keys()
    problems = {name: differences(documented[name], real[name]) for name in real}
    assert not any(problems.values()), problems


# --- the web: asking to table, the Assembly's pages, withdrawing ---------------------------------------------


async def test_assembly__from_the_web_a_member_asks_to_table_and_everyone_reads_the_stances(make_node):
    from tests.webclient import Visitor, make_member, text_of

    a, b = nodes = await line(make_node, 2)
    await make_member(a, "pat", "partner")
    await make_member(a, "fern", "friend")
    await make_member(b, "bo", "friend")
    pat, fern, bo = Visitor(a), Visitor(a), Visitor(b)
    try:
        for visitor, handle in ((pat, "pat"), (fern, "fern"), (bo, "bo")):
            await visitor.sign_in(handle)
        # a refused form comes back with what was typed, and nothing is opened
        before = await a.snapshot()
        status, page = await fern.post("/assembly/new", {"kind": "poll", "title": "Where to meet", "options": "Hall",
                                                         "closes_in": "7", "tabling_in": "1", "quorum": "50",
                                                         "weighting": "voice", "finality": "1"})
        assert status == 400 and "A poll needs 2 to 20 options" in text_of(page) and "Where to meet" in page
        assert await a.snapshot() == before
        status, page = await fern.post("/assembly/new", {"kind": "consent", "title": "Share a van", "details": "",
                                                         "options": "", "closes_in": "7", "tabling_in": "1",
                                                         "quorum": "50", "weighting": "members", "finality": "1"})
        assert status == 200 and "Table to the Assembly: Share a van" in page
        [tabling] = await a.db.execute_fetchall("SELECT uuid FROM proposals WHERE action = 'table_assembly'")
        status, _ = await pat.post(f"/proposals/{tabling[0]}/stance", {"choice": "agree", "reason": ""},
                                   page=f"/proposals/{tabling[0]}")
        assert status == 200
        advance(nodes, 86400 + 5)
        await a.close_proposals()
        await settle(nodes)
        [held] = await store.listed(b.db)
        token = held.uri.rsplit("/", 1)[1]
        assert held.rules["weighting"] == "members"
        # B's member sees it listed, with a link to B's own decision on it
        status, page = await bo.get("/assembly")
        assert status == 200 and "Share a van" in text_of(page) and f"/assembly/{token}" in page
        status, page = await bo.get(f"/assembly/{token}")
        assert status == 200 and "Assembly: Share a van" in text_of(page) and "no stance yet" in text_of(page)
        assert "Withdraw it" not in page  # B did not table it
        # a Friend of A may not withdraw; a Partner may
        status, page = await fern.post(f"/assembly/{token}/withdraw", {}, page=f"/assembly/{token}")
        assert status == 403 and "Only Partners withdraw" in text_of(page)
        status, page = await pat.post(f"/assembly/{token}/withdraw", {}, page=f"/assembly/{token}")
        assert status == 200 and "withdrawn" in text_of(page)
        # and a server gets the signed Question at the proposal's id
        async with b.session.get(held.uri, headers={"Accept": "application/activity+json"}) as r:
            assert r.status == 200 and (await r.json(content_type=None)) == held.document
    finally:
        for visitor in (pat, fern, bo):
            await visitor.close()


async def test_assembly__members_are_introduced_to_their_siblings_siblings(make_node):
    from tests.webclient import Visitor, make_member, text_of

    a, b, c = await line(make_node, 3)
    await make_member(a, "ann", "friend")
    assert await a.close_proposals() is not None  # the clock's step fetches the siblings' attestations
    ann = Visitor(a)
    try:
        await ann.sign_in("ann")
        status, page = await ann.get("/assembly")
        host_c = c.base.split("//", 1)[1]
        shown = " ".join(text_of(page).replace(" ,", ",").split())
        assert status == 200 and f"{host_c}, a sibling of {b.base.split('//', 1)[1]}" in shown
        [link] = re.findall(r'href="(/proposals/new\?action=approve_sibling&amp;sibling=[^"]+)"', page)
        status, form = await ann.get(unescape(link))
        assert status == 200 and f'value="{c.group_id}"' in form
        # C is not introduced to itself, nor is B (a sibling already)
        assert text_of(page).count("a sibling of") == 1
    finally:
        await ann.close()


async def send(sender, receiver, activity) -> str:
    """`sender`'s Group POSTs `activity` (signed) to `receiver`'s shared inbox; the outcome of its inbox row."""
    async with transaction(sender.db):
        group = await local_actors.group(sender.db)
        await outbox.publish(sender.db, group, activity, [receiver.base + "/inbox"], False, config=sender.config)
    await deliver_all(sender)
    await receiver.drain_inbox()
    rows = await receiver.db.execute_fetchall("SELECT outcome FROM inbox WHERE activity_id = ?", (activity["id"],))
    return rows[0][0]


async def test_assembly__a_stranger_cannot_make_our_members_vote_nor_a_sibling_fill_our_disk(make_node):
    """Anyone can sign a roster that names us: a proposal is taken only from a sibling. And a Congregation that
    signs stance after stance gets two kept (the proof), not more."""
    (a, b, c), held = await tabled_line(make_node)
    stranger = await make_node("dora")  # no sibling of anyone
    b_key = records.multikey(await decision_log.ensure_key(b.db))
    s_key = records.multikey(await decision_log.ensure_key(stranger.db))
    rules_ = rules.Rules("consent", int(stranger.clock.now()) + 86400)
    roster = tuple(sorted([rules.RosterEntry(stranger.group_id, s_key), rules.RosterEntry(b.group_id, b_key)]))
    uri = uris.assembly_proposal(stranger.config, "spam")
    document = wire.proposal_document(uri, stranger.group_id, "Buy my course", "", rules_, roster,
                                      int(stranger.clock.now()), uri)
    signed = records.sign_object(document, await decision_log.ensure_key(stranger.db),
                                 uris.record_key(stranger.config, "group"), wire.stamp(int(stranger.clock.now())))
    before = await b.snapshot()
    create = {"@context": "https://www.w3.org/ns/activitystreams", "id": uri + "/activity", "type": "Create",
              "actor": stranger.group_id, "object": signed}
    assert "only from a sibling" in await send(stranger, b, create)
    add = wire.relay_activity(uris.new_activity(stranger.config), stranger.group_id, [signed])
    assert "only a sibling Congregation relays" in await send(stranger, b, add)
    after = await b.snapshot()
    assert after["assembly_proposals"] == before["assembly_proposals"]
    assert after["proposals"] == before["proposals"]

    # C signs a third, fourth … different stance: two are kept, as the proof
    stances = [await stance_by(c, held, "agree", members=n) for n in (10, 11, 12, 13)]
    for stance in stances:
        await relay(c, b, [stance])
    kept = {r.digest for r in await store.stances(b.db, held.id) if r.group == c.group_id}
    assert kept == {records.digest(stances[0]), records.digest(stances[1])}
