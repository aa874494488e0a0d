"""Decisions across real processes: A and B are sibling Congregations (`congregation serve` each).

A's public poll reaches B and a Fedify peer that follows A, and both a member of B and the peer take part in it.
A member of B cannot take part in A's members-only consent proposal. A is stopped before that proposal's
closing time and started after it: it closes, its promotion is enacted once, and A's decision log verifies.
"""

from __future__ import annotations

import json
import re
import sqlite3

import aiohttp
import pytest

from node.activitypub import signatures
from node.clock import FileOffsetClock, clock_env
from tests.factories import approve_pending, control
from tests.fediverse import AS_JSON, NodeProcess, cli, eventually, free_port, init_node

pytestmark = pytest.mark.slow

DAY = 86400


def _query(node: NodeProcess, sql: str, *args):
    with sqlite3.connect(node.config.db_path) as db:
        return db.execute(sql, args).fetchall()


def _propose(node: NodeProcess, *args: str) -> str:
    code, out, err = cli("propose", *args, "--data", str(node.data))
    assert code == 0, err
    return re.search(r"(http\S+/proposals/\S+)", out).group(1)


@pytest.fixture
async def siblings(tmp_path):
    clock = FileOffsetClock(tmp_path / "clock")
    clock.set_offset(0)
    a_config = init_node(tmp_path / "alpha", free_port(), "Alpha")
    b_config = init_node(tmp_path / "beta", free_port(), "Beta")
    a = NodeProcess(a_config.data_dir, env=clock_env(clock.path)).start()
    b = NodeProcess(b_config.data_dir).start()
    try:
        group_a, group_b = f"{a_config.base_url}/actors/group", f"{b_config.base_url}/actors/group"
        assert cli("follow", group_b, "--data", str(a.data))[0] == 0
        assert cli("follow", group_a, "--data", str(b.data))[0] == 0
        await approve_pending(b, group_a)
        await approve_pending(a, group_b)

        async def related():
            return f"sibling\t{group_b}\t" in cli("siblings", "--data", str(a.data))[1]
        await eventually(related, timeout=40)
        for node, handle, tier in ((a, "ada", "partner"), (a, "bo", "friend"), (b, "bea", "friend")):
            assert cli("member", "add", handle, "--tier", tier, "--data", str(node.data))[0] == 0
        yield a, b, clock
    finally:
        a.stop()
        b.stop()


@pytest.mark.interop
async def test_decisions__siblings_vote_where_allowed_and_a_closing_missed_while_down_is_enacted_once(
        siblings, fedify):
    a, b, clock = siblings
    group_a = f"{a.config.base_url}/actors/group"
    # Given a Fedify peer follows A (A's host approves)
    async with aiohttp.ClientSession() as session:
        status, sent = await control(session, "POST", f"{fedify}/_control/follow", json={"target": group_a})
        assert status == 200, sent
        await approve_pending(a, sent["followId"].split("/activities/")[0])

        async def fedify_follows():
            _, following = await control(session, "GET", f"{fedify}/_control/following")
            return "accepted" in str(following)
        await eventually(fedify_follows)
    # Given A's public poll, which reaches B and the Fedify peer as a Question
    poll = _propose(a, "--as", "ada", "--kind", "poll", "--title", "Where shall the Assembly meet?",
                    "--option", "Library", "--option", "Park", "--scope", "public", "--closes", "2d")

    async def b_holds_it():
        return _query(b, "SELECT type FROM remote_objects WHERE uri = ?", poll) == [("Question",)]
    await eventually(b_holds_it)

    async with aiohttp.ClientSession() as session:
        async def fedify_holds_it():
            _, creates = await control(session, "GET", f"{fedify}/_control/events", params={"type": "Create"})
            return [e for e in creates if e["object"] == poll and e["verified"] is True]
        await eventually(fedify_holds_it)

        # When a member of B votes in it from B, and the Fedify peer votes as Mastodon does
        code, _, err = cli("vote", poll, "Park", "--as", "bea", "--data", str(b.data))
        assert code == 0, err
        status, sent = await control(session, "POST", f"{fedify}/_control/vote",
                                      json={"target": group_a, "question": poll, "choice": "Library"})
        assert status == 200, sent

    # Then A counts both votes
    bea = f"{b.config.base_url}/actors/bea"
    peer = sent["noteId"].split("/notes/")[0]

    async def counted():
        rows = _query(a, "SELECT voter, choices FROM stances ORDER BY voter")
        return len(rows) == 2 and (bea, '["Park"]') in rows and any(v.startswith(peer) for v, _ in rows)
    await eventually(counted)

    # Given A's members-only consent proposal to make Bo a Partner, with a full quorum
    promotion = _propose(a, "--as", "ada", "--title", "Bo becomes a Partner", "--closes", "2d", "--quorum", "100",
                         "--action", "promote", "--member", "bo")
    # When a member of B tries to take part: from B the proposal cannot even be seen (it is not on the wire) ...
    code, _, err = cli("vote", promotion, "agree", "--as", "bea", "--data", str(b.data))
    assert code == 1 and "not known here" in err and "Traceback" not in err
    # ... and a vote signed with her key and sent straight to A's inbox is refused
    key_pem = _query(b, "SELECT private_key_pem FROM local_actors WHERE username = 'bea'")[0][0]
    note = {"id": f"{bea}/votes/1/note", "type": "Note", "attributedTo": bea, "name": "agree",
            "inReplyTo": promotion, "to": [f"{a.config.base_url}/actors/group"]}
    vote = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{bea}/votes/1", "type": "Create",
            "actor": bea, "object": note}
    body = json.dumps(vote).encode()
    headers = signatures.sign("POST", f"{a.config.base_url}/inbox", f"{bea}#main-key",
                              signatures.load_private_key(key_pem), body, AS_JSON)
    async with aiohttp.ClientSession() as session, \
            session.post(f"{a.config.base_url}/inbox", data=body, headers={**headers, "Content-Type": AS_JSON}) as r:
        assert r.status == 202

    async def refused():
        rows = _query(a, "SELECT outcome FROM inbox WHERE activity_id = ?", f"{bea}/votes/1")
        return rows and rows[0][0] and "refused vote: you cannot take part" in rows[0][0]
    await eventually(refused)
    # And A's members can
    for member in ("ada", "bo"):
        code, _, err = cli("vote", promotion, "agree", "--as", member, "--data", str(a.data))
        assert code == 0, err

    # When A is stopped before the closing time and started again three days later
    a.stop()
    clock.set_offset(3 * DAY)
    a.start()

    # Then both proposals close, the promotion is enacted once, and the poll counts Bea's vote
    async def enacted():
        return _query(a, "SELECT state FROM proposals ORDER BY id") == [("passed",), ("enacted",)]
    await eventually(enacted)
    assert _query(a, "SELECT tier FROM members JOIN local_actors ON id = actor_id WHERE username = 'bo'") == \
        [("partner",)]
    a.stop()
    a.start()  # a second start finds nothing more to do
    code, out, _ = cli("proposals", "--data", str(a.data))
    assert _query(a, "SELECT COUNT(*) FROM membership_events WHERE kind = 'promoted'") == [(1,)]
    assert "Library 1, Park 1" in out

    # And anyone can verify A's decision log: two entries, chained and signed
    code, out, err = cli("verify-decisions", f"{a.config.base_url}/actors/group", "--allow-private-addresses")
    assert code == 0 and out.startswith("OK: 2 decisions"), (out, err)
