"""`congregation verify-decisions` as a real process against nodes on loopback (issue 13, acceptance 3): a log whose
first entry is a version-1 (RSA) one, witnessed by a sibling and then rewritten in its database, fails with exit
status 1 naming the entry, both from anywhere (against what the sibling serves as witnessed) and from the
witness's own data directory (`--sibling`); the same pure rules, checked on their own."""

from __future__ import annotations

import asyncio
import sys

import pytest

from node.appkeys import WITNESS
from node.governance import decision_log, records, witness
from tests.factories import become_siblings, decide, legacy_log_entry, rewrite

pytestmark = pytest.mark.slow


async def command(*args: str) -> tuple[int, str]:
    """The command as a real process; this loop keeps serving the nodes while it runs."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "node", "verify-decisions", *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert b"Traceback" not in err, err.decode()
    return proc.returncode, out.decode().strip()


async def test_verify_decisions__names_the_rewritten_entry_against_what_a_sibling_witnessed(make_node):
    anna, bert = await make_node("anna"), await make_node("bert")
    await become_siblings(anna, bert)
    await legacy_log_entry(anna, "Garden on Saturdays")
    await decide(anna, "A shared tool shed", "Soup on Fridays")
    [polled] = await bert.app[WITNESS].run_once()
    assert polled.witnessed.kind == "extends" and polled.witnessed.head.seq == 3
    assert await command(anna.group_id, "--allow-private-addresses") == (
        0, "OK: 3 decisions; every hash, link and signature checks out")
    assert await command("--sibling", anna.group_id, "--data", str(bert.config.data_dir)) == (
        0, f"OK: 3 decisions of {anna.group_id}; it extends every signed entry this node witnessed")

    await rewrite(anna, 2, {"title": "We never agreed to a tool shed"})
    # Before Bert polls again: his witnessed head (entry 3, signed by Anna) is not in her log any more
    code, out = await command(anna.group_id, "--allow-private-addresses")
    assert code == 1
    assert out == f"FAILED after 2 good entries: entry 3 was rewritten: {bert.group_id} witnessed another signed" \
                  " entry 3"
    # From Bert's data directory: her whole log against every signed entry he holds names the first rewritten one
    code, out = await command("--sibling", anna.group_id, "--data", str(bert.config.data_dir))
    assert code == 1
    assert out.startswith(f"FAILED: {anna.group_id}: entry 2 was rewritten")
    # Bad use: one line, non-zero
    assert (await command("--sibling", anna.group_id, "--data", "/nonexistent/data"))[0] == 1
    assert (await command())[0] == 2


# --- the rules alone --------------------------------------------------------------------------------------------


def chain(pem: str, bodies: list, method: str = "https://a.example/actors/group#records-key"):
    items, prev = [], decision_log.GENESIS
    for seq, body in enumerate(bodies, start=1):
        entry = records.make_entry(seq, prev, "members", body, f"{seq:032x}", pem, method)
        items.append({"header": entry["header"], "proof": entry["proof"]})
        prev = records.header_hash(entry["header"])
    return items


def test_witness__extends_equivocates_or_breaks():
    pem = records.new_private_key()
    keys = {"https://a.example/actors/group#records-key": "multibase:" + records.multikey(pem)}
    log = [witness.signed_entry(item, keys) for item in chain(pem, ["a", "b", "c"])]
    first = witness.witness({}, None, log)
    assert first.kind == "extends" and [e.seq for e in first.new] == [1, 2, 3] and first.head.seq == 3
    held = witness.kept({}, first.new)
    assert witness.witness(held, (3, log[2].hash), log).new == ()
    # Rewritten from entry 2: named at the lowest seq held that differs
    other = [witness.signed_entry(item, keys) for item in chain(pem, ["a", "B", "c", "d"])]
    found = witness.witness(held, (3, log[2].hash), other)
    assert (found.kind, found.ours.seq, found.theirs.seq) == ("equivocation", 2, 2)
    proof = witness.check_proof("g", 2, [found.ours.item, found.theirs.item], keys)
    assert proof.digest == witness.Proof("g", 2, found.theirs, found.ours).digest  # either order, one proof
    # Shorter than witnessed, a gap, a link that does not follow: problems, not proofs
    assert witness.witness(held, (3, log[2].hash), log[:2]).kind == "broken"
    assert witness.witness({}, None, [log[0], log[2]]).problem == "entry 2 is missing from the copy"
    assert witness.witness({1: log[0]}, (1, log[0].hash), [log[0], other[2]]).kind == "broken"
    # What is held is bounded, newest kept
    assert list(witness.kept({}, tuple(log), limit=2)) == [2, 3]
    # A signature by another key, or an altered header, does not read as an entry
    with pytest.raises(witness.WitnessError):
        witness.signed_entry(chain(records.new_private_key(), ["a"])[0], keys)
    altered = chain(pem, ["a"])[0]
    altered["header"]["visibility"] = "public"
    with pytest.raises(witness.WitnessError):
        witness.signed_entry(altered, keys)
