"""The Assembly's rules, pure: the roster from siblings attestations, a Congregation's collective stance, the tally
(identical on every node whatever the order stances arrive in), and FEP-8b32 object proofs (eddsa-jcs-2022)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.governance import assembly, records
from node.governance.assembly import Attestation, RosterEntry, Rules, Stance
from node.governance.errors import Invalid

CLOSES = 1_800_000_000
G = [f"https://c{i}.example/actors/group" for i in range(8)]
K = [f"zKey{i}" for i in range(8)]


def line(n: int) -> dict[str, Attestation]:
    """n Groups in a line, each the mutual sibling of the next only."""
    out = {}
    for i in range(n):
        siblings = {G[j]: K[j] for j in (i - 1, i + 1) if 0 <= j < n}
        out[G[i]] = Attestation(G[i], K[i], siblings)
    return out


def test_roster__is_everyone_reachable_through_links_both_ends_attest_sorted_with_their_keys():
    got = assembly.roster(G[2], line(5))
    assert got == tuple(RosterEntry(G[i], K[i]) for i in range(5))


def test_roster__a_one_sided_link_or_a_link_under_another_key_lets_nobody_in():
    graph = line(3)
    # G3 claims G2 as a sibling, but G2 does not attest G3: an invented Congregation
    graph[G[3]] = Attestation(G[3], K[3], {G[2]: K[2]})
    # G2 attests G4 but G4 attests back under a key G2 never named
    graph[G[2]] = Attestation(G[2], K[2], {G[1]: K[1], G[4]: "zWrong"})
    graph[G[4]] = Attestation(G[4], K[4], {G[2]: K[2]})
    assert [e.group for e in assembly.roster(G[0], graph)] == G[:3]


def test_roster__refuses_a_graph_past_its_bound_and_a_tabler_with_no_attestation():
    with pytest.raises(Invalid, match="more than 3"):
        assembly.roster(G[0], line(5), limit=3)
    with pytest.raises(Invalid, match="no siblings attestation"):
        assembly.roster(G[7], line(5))


@pytest.mark.parametrize("kind, outcome, counts, options, expected", [
    ("consent", "passed", {"agree": 3}, (), "agree"),
    ("consent", "failed", {"agree": 3, "block": 1}, (), "block"),
    ("consent", "failed", {"agree": 3}, (), "disagree"),
    ("consent", "no_quorum", {"block": 1}, (), "abstain"),
    ("poll", "passed", {"soup": 4, "bread": 2}, ("soup", "bread"), "soup"),
    ("poll", "passed", {"soup": 2, "bread": 2}, ("soup", "bread"), "abstain"),
    ("poll", "passed", {}, ("soup", "bread"), "abstain"),
    ("poll", "no_quorum", {"soup": 9}, ("soup", "bread"), "abstain"),
])
def test_collective_stance__maps_the_local_result(kind, outcome, counts, options, expected):
    assert assembly.collective_stance(kind, outcome, counts, options) == expected


def stance(i: int, choice: str = "agree", *, members: int = 30, created: int = CLOSES - 60,
           received: int = CLOSES - 30, digest: str | None = None, reasons: str = "") -> Stance:
    return Stance(G[i], choice, members, created, received, digest or f"d{i}-{choice}", reasons)


ROSTER = tuple(RosterEntry(G[i], K[i]) for i in range(5))


def test_tally__one_block_fails_a_consent_and_every_row_says_what_became_of_each_congregation():
    rules = Rules("consent", CLOSES, quorum_percent=60, finality_seconds=600)
    stances = [stance(0), stance(1), stance(2, "block", reasons="Not our money"), stance(3, "disagree"),
               stance(4, received=CLOSES + 601)]
    result = assembly.tally(rules, ROSTER, stances, now=CLOSES + 601)
    assert (result.phase, result.outcome, result.voices, result.quorum_met) == ("final", "failed", 4, True)
    assert dict(result.counts) == {"agree": 2, "abstain": 0, "disagree": 1, "block": 1}
    assert [(r.status, r.choice) for r in result.rows] == [
        ("counted", "agree"), ("counted", "agree"), ("counted", "block"), ("counted", "disagree"), ("late", "agree")]
    assert result.rows[2].reasons == "Not our money"


def test_tally__quorum_is_a_share_of_the_roster_and_phases_follow_the_clock():
    rules = Rules("consent", CLOSES, quorum_percent=60, finality_seconds=600)
    two = [stance(0), stance(1)]
    assert assembly.tally(rules, ROSTER, two, now=CLOSES - 1).phase == "open"
    provisional = assembly.tally(rules, ROSTER, two, now=CLOSES + 10)
    assert (provisional.phase, provisional.outcome) == ("provisional", "no_quorum")
    three = assembly.tally(rules, ROSTER, [*two, stance(2, "abstain")], now=CLOSES + 600)
    assert (three.phase, three.outcome) == ("final", "passed")


def test_tally__weighted_by_stated_members_is_integer_arithmetic_and_a_poll_tie_fails():
    rules = Rules("poll", CLOSES, options=("soup", "bread"), weighting="members")
    result = assembly.tally(rules, ROSTER, [stance(0, "soup", members=120), stance(1, "bread", members=40),
                                            stance(2, "bread", members=79)], now=CLOSES)
    assert (result.outcome, result.winner, dict(result.counts)) == ("passed", "soup",
                                                                     {"soup": 120, "bread": 119, "abstain": 0})
    tie = assembly.tally(Rules("poll", CLOSES, options=("soup", "bread")), ROSTER,
                         [stance(0, "soup"), stance(1, "bread")], now=CLOSES)
    assert (tie.outcome, tie.winner) == ("failed", "")


def test_tally__refuses_what_must_not_count_and_keeps_an_equivocation_as_proof():
    rules = Rules("consent", CLOSES, finality_seconds=600)
    outsider = Stance("https://invented.example/actors/group", "block", 30, CLOSES - 5, CLOSES - 5, "dx")
    after_close = stance(1, "block", created=CLOSES + 1, digest="d1-late")
    first, second = stance(2, "agree", digest="aaa"), stance(2, "block", digest="bbb")
    result = assembly.tally(rules, ROSTER, [stance(0), outsider, after_close, first, second, first], now=CLOSES)
    assert [r.status for r in result.rows] == ["counted", "missing", "equivocated", "missing", "missing"]
    assert result.equivocations == ((G[2], "aaa", "bbb"),)
    assert result.outcome == "passed" and dict(result.counts)["block"] == 0
    with pytest.raises(Invalid, match="after the proposal closed"):
        assembly.check_stance(rules, after_close)
    with pytest.raises(Invalid, match="not a choice"):
        assembly.check_stance(rules, stance(0, "maybe"))
    with pytest.raises(Invalid, match="members"):
        assembly.check_stance(rules, stance(0, members=assembly.MAX_MEMBERS + 1))


def test_rules__refuse_what_cannot_be_decided():
    for bad in (dict(kind="advice"), dict(weighting="money"), dict(quorum_percent=101),
                dict(finality_seconds=-1), dict(kind="poll", options=("one",)),
                dict(kind="poll", options=("a", "abstain")), dict(options=("yes", "no"))):
        with pytest.raises(Invalid):
            Rules(**{"kind": "consent", "closes_at": CLOSES, **bad})


# Four nodes receive the same stances — shuffled, duplicated, with conflicting pairs — and must agree byte for byte.
stance_strategy = st.builds(
    lambda group, choice, members, digest, late: Stance(
        G[group], choice, members, CLOSES - 100, CLOSES + (700 if late else -50),
        f"{group}:{choice}:{members}:{digest}"),  # a digest names one signed content; `digest` tells copies apart
    st.integers(0, 6), st.sampled_from(("agree", "abstain", "disagree", "block", "soup")),
    st.integers(0, 250), st.integers(0, 2), st.booleans())


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(stance_strategy, max_size=30), st.sampled_from(("voice", "members")), st.integers(0, 100),
       st.integers(0, 2**32))
def test_tally__whatever_the_order_and_duplicates_every_node_computes_the_same_bytes(stances, weighting, quorum, seed):
    rules = Rules("consent", CLOSES, weighting=weighting, quorum_percent=quorum, finality_seconds=600)
    rng = random.Random(seed)
    results = set()
    for _node in range(4):
        arrived = stances + rng.sample(stances, k=len(stances) // 2)  # some arrive twice
        rng.shuffle(arrived)
        results.add(assembly.tally(rules, ROSTER, arrived, now=CLOSES + 600).canonical())
    assert len(results) == 1
    result = assembly.tally(rules, ROSTER, stances, now=CLOSES + 600)
    # and what it says follows from the stances: a Congregation with two different in-time stances is not counted
    for row in result.rows:
        in_time = {s.digest for s in stances if s.group == row.group and s.choice != "soup"
                   and s.received_at <= rules.final_at}
        assert (row.status == "equivocated") == (len(in_time) > 1)
        assert (row.status == "counted") == (len(in_time) == 1)


KEY = records.new_private_key()
OTHER = records.new_private_key()
DOC = {"@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/data-integrity/v2"],
       "id": "https://c0.example/assembly/1/stance", "type": "Note", "content": "agree ünïcode ✓", "n": 1}


def test_object_proof__verifies_with_the_signers_key_and_nothing_else():
    signed = records.sign_object(DOC, KEY, "https://c0.example/actors/group#ed25519", "2026-12-01T10:00:00Z")
    assert signed["proof"]["@context"] == DOC["@context"]
    checked = records.verify_object(signed, records.public_key(records.multikey(KEY)))
    assert checked.verification_method.endswith("#ed25519") and checked.digest == records.digest(signed)
    with pytest.raises(records.RecordError, match="altered or signed by another key"):
        records.verify_object(signed, records.public_key(records.multikey(OTHER)))
    for change in ({"content": "block"}, {"n": 2}, {"extra": None}):
        with pytest.raises(records.RecordError, match="altered"):
            records.verify_object({**signed, **change}, records.public_key(records.multikey(KEY)))
    moved = {**signed, "proof": {**signed["proof"], "created": "2026-12-01T10:00:01Z"}}
    with pytest.raises(records.RecordError):
        records.verify_object(moved, records.public_key(records.multikey(KEY)))
    for broken in ("nope", {**DOC}, {**signed, "proof": [signed["proof"]]},
                   {**signed, "proof": {**signed["proof"], "cryptosuite": "eddsa-rdfc-2022"}}):
        with pytest.raises(records.RecordError):
            records.verify_object(broken, records.public_key(records.multikey(KEY)))
