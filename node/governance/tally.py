"""Counting stances: pure functions, no database. A proposal's outcome is decided here and nowhere else.

Consent (Loomio's "consent process"): agree / abstain / disagree / block. It passes at close when no block
stands and the quorum is met; a block needs a reason. Poll: one or several of the proposal's options.
Advice: gathers input; it closes without a rule, but a quorum still says whether enough people answered.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

CONSENT_OPTIONS = ("agree", "abstain", "disagree", "block")
KINDS = ("consent", "poll", "advice")
ADVICE_OPTIONS = ("agree", "abstain", "disagree")


@dataclass(frozen=True)
class Stance:
    """One stance as cast; a voter's later stance replaces the earlier one (`seq` breaks ties in time)."""

    voter: str
    choices: tuple[str, ...]
    cast_at: str
    seq: int
    reason: str = ""


@dataclass(frozen=True)
class Tally:
    counts: dict[str, int]
    voters: int
    eligible: int
    quorum_met: bool
    blocks: int
    outcome: str  # passed | failed | no_quorum

    @property
    def turnout_percent(self) -> float:
        return 100.0 * self.voters / self.eligible if self.eligible else 0.0


def latest(stances: list[Stance]) -> dict[str, Stance]:
    """Each voter's standing stance: the last one cast (by time, then sequence)."""
    current: dict[str, Stance] = {}
    for stance in stances:
        held = current.get(stance.voter)
        if held is None or (stance.cast_at, stance.seq) > (held.cast_at, held.seq):
            current[stance.voter] = stance
    return current


def quorum_met(voters: int, eligible: int, quorum_percent: int) -> bool:
    """Integer arithmetic, so 1 of 3 at 33 % is met and at 34 % is not, exactly."""
    if quorum_percent <= 0:
        return True
    return eligible > 0 and voters * 100 >= quorum_percent * eligible


def tally(kind: str, options: tuple[str, ...], stances: list[Stance], eligible: int, quorum_percent: int) -> Tally:
    """Count the standing stances and say what the outcome would be if the proposal closed now."""
    standing = latest(stances).values()
    counts: Counter[str] = Counter({option: 0 for option in options})
    for stance in standing:
        counts.update(choice for choice in set(stance.choices) if choice in counts)
    voters = sum(1 for _ in standing)
    met = quorum_met(voters, eligible, quorum_percent)
    blocks = counts.get("block", 0) if kind == "consent" else 0
    if not met:
        outcome = "no_quorum"
    elif blocks:
        outcome = "failed"
    else:
        outcome = "passed"
    return Tally(dict(counts), voters, eligible, met, blocks, outcome)


def options_for(kind: str, poll_options: tuple[str, ...] = ()) -> tuple[str, ...]:
    if kind == "consent":
        return CONSENT_OPTIONS
    if kind == "advice":
        return ADVICE_OPTIONS
    return poll_options
