"""The tally: table-driven rules, and a property test against a brute-force recount."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.governance.tally import CONSENT_OPTIONS, Stance, quorum_met, tally


def stances(*cast: tuple[str, str]) -> list[Stance]:
    """(voter, choice) in the order cast, a second apart."""
    return [Stance(voter, (choice,), f"2026-11-26T10:00:{i:02d}.000000Z", i) for i, (voter, choice) in enumerate(cast)]


@pytest.mark.parametrize(("cast", "eligible", "quorum", "outcome"), [
    ([("a", "agree"), ("b", "agree"), ("c", "block")], 3, 50, "failed"),          # a block stands
    ([("a", "agree"), ("c", "block"), ("c", "agree")], 3, 50, "passed"),          # block withdrawn before close
    ([("a", "agree")], 3, 50, "no_quorum"),                                       # 1 of 3 is under half
    ([("a", "agree"), ("b", "disagree")], 3, 50, "passed"),                       # disagreeing is not blocking
    ([("a", "abstain"), ("b", "abstain")], 4, 50, "passed"),                      # 2 of 4 meets 50 % exactly
    ([("a", "block")], 10, 50, "no_quorum"),                                      # no quorum outranks a block
    ([], 5, 0, "passed"),                                                         # no quorum asked, nobody objects
])
def test_tally__consent_rules(cast, eligible, quorum, outcome):
    assert tally("consent", CONSENT_OPTIONS, stances(*cast), eligible, quorum).outcome == outcome


def test_tally__changed_stance_counts_once():
    result = tally("consent", CONSENT_OPTIONS, stances(("a", "disagree"), ("a", "agree"), ("a", "agree")), 2, 50)
    assert result.voters == 1 and result.counts == {"agree": 1, "abstain": 0, "disagree": 0, "block": 0}


def test_tally__poll_counts_every_choice_of_a_multiple_choice_stance_once():
    cast = [Stance("a", ("tue", "wed", "wed"), "2026-11-26T10:00:00Z", 1),
            Stance("b", ("wed",), "2026-11-26T10:00:01Z", 2)]
    result = tally("poll", ("mon", "tue", "wed"), cast, 2, 100)
    assert result.counts == {"mon": 0, "tue": 1, "wed": 2} and result.outcome == "passed"


def test_tally__choices_that_are_not_options_are_not_counted():
    result = tally("poll", ("mon", "tue"), [Stance("a", ("sun",), "2026-11-26T10:00:00Z", 1)], 1, 0)
    assert result.counts == {"mon": 0, "tue": 0}


@pytest.mark.parametrize(("voters", "eligible", "percent", "met"), [
    (1, 3, 33, True), (1, 3, 34, False), (2, 4, 50, True), (0, 0, 50, False), (0, 0, 0, True), (3, 3, 100, True),
])
def test_quorum__exact_at_the_boundary(voters, eligible, percent, met):
    assert quorum_met(voters, eligible, percent) is met


def brute_force(options, cast, eligible, quorum):
    """Recount from scratch: for each voter the stance with the greatest (time, seq); then the rules."""
    final = {}
    for voter in {s.voter for s in cast}:
        final[voter] = max((s for s in cast if s.voter == voter), key=lambda s: (s.cast_at, s.seq))
    counts = {o: sum(1 for s in final.values() if o in s.choices) for o in options}
    met = quorum == 0 or (eligible > 0 and Fraction(len(final), eligible) >= Fraction(quorum, 100))
    outcome = "no_quorum" if not met else "failed" if counts["block"] else "passed"
    return counts, len(final), outcome


stance_lists = st.lists(
    st.tuples(st.sampled_from("abcdefgh"), st.sampled_from(CONSENT_OPTIONS), st.integers(0, 50)),
    max_size=40,
).map(lambda raw: [Stance(v, (c,), f"2026-11-26T10:{t // 60:02d}:{t % 60:02d}.000000Z", i)
                   for i, (v, c, t) in enumerate(raw)])


@settings(max_examples=300, deadline=None)
@given(cast=stance_lists, extra=st.integers(0, 5), quorum=st.integers(0, 100), seed=st.integers())
def test_tally__order_independent_and_equal_to_a_recount(cast, extra, quorum, seed):
    eligible = len({s.voter for s in cast}) + extra
    result = tally("consent", CONSENT_OPTIONS, cast, eligible, quorum)
    shuffled = list(cast)
    random.Random(seed).shuffle(shuffled)
    assert tally("consent", CONSENT_OPTIONS, shuffled, eligible, quorum) == result
    counts, voters, outcome = brute_force(CONSENT_OPTIONS, cast, eligible, quorum)
    assert (result.counts, result.voters, result.outcome) == (counts, voters, outcome)
