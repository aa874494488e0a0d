"""The Assembly of Congregations: who is in, what a Congregation's collective stance is, and the tally. Pure
rules: no database, no network, no wire shapes. Times are whole Unix seconds (the wire's xsd:dateTime is read and
written in node/activitypub/); a stance reaches these functions only after its proof verified against the roster
key, and the tally is a function of the proposal and the stances alone, so two nodes holding the same stances
compute the same result, byte for byte (`Result.canonical`).

The trust model (FEDERATION.md, "The Assembly"):
- the **roster** is every Group reachable from the tabling Group through sibling links *both* ends attest, each
  attesting the other's key as that Group attests its own; it is frozen into the proposal with the keys;
- a stance **counts** when its Group is on the roster, it was created at or before the closing time, and it
  arrived by the end of the finality window; one that arrived later is shown as *late*;
- two different stances by one Group both count as missing (**equivocation**), the pair kept as proof.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import rfc8785

from node.governance.errors import Invalid

KINDS = ("consent", "poll")
CONSENT = ("agree", "abstain", "disagree", "block")
WEIGHTINGS = ("voice", "members")  # one Congregation one voice (the default), or weighted by stated member count
MAX_ROSTER = 1000  # 200 is the Assembly's shape; a bound keeps a crafted attestation graph from costing more
MAX_MEMBERS = 100_000  # a stance stating more members than this is refused (a Congregation is 20–200 people)
MAX_OPTIONS = 20
MAX_FINALITY = 7 * 24 * 3600
STATUSES = ("counted", "late", "missing", "equivocated")


@dataclass(frozen=True)
class Attestation:
    """A Group's signed siblings attestation, read back: its own key and its mutual siblings with their keys."""

    group: str
    key: str  # FEP-521a publicKeyMultibase (Ed25519)
    siblings: Mapping[str, str]


@dataclass(frozen=True, order=True)
class RosterEntry:
    group: str
    key: str


def roster(origin: str, attestations: Mapping[str, Attestation], limit: int = MAX_ROSTER) -> tuple[RosterEntry, ...]:
    """Every Group reachable from `origin` through links both ends attest with matching keys, sorted by id.
    Nobody can invent a Congregation: a Group counts only when one already in attests it *and* it attests back."""
    if origin not in attestations:
        raise Invalid("the tabling Congregation has no siblings attestation")
    reached, queue = {origin}, deque([origin])
    while queue:
        here = attestations[queue.popleft()]
        for sibling in sorted(here.siblings):
            there = attestations.get(sibling)
            if sibling in reached or there is None or there.group != sibling:
                continue
            if here.siblings[sibling] != there.key or there.siblings.get(here.group) != here.key:
                continue
            reached.add(sibling)
            if len(reached) > limit:
                raise Invalid(f"the Assembly reachable from here has more than {limit} Congregations")
            queue.append(sibling)
    return tuple(sorted(RosterEntry(group, attestations[group].key) for group in reached))


@dataclass(frozen=True)
class Rules:
    """Frozen at tabling. `quorum_percent` is a share of the roster's Congregations that must have a counted
    stance; `finality_seconds` is how long after closing stances may still arrive."""

    kind: str
    closes_at: int
    options: tuple[str, ...] = CONSENT
    weighting: str = "voice"
    quorum_percent: int = 0
    finality_seconds: int = 3600

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise Invalid(f"an Assembly proposal is a consent or a poll, not {self.kind!r}")
        if self.weighting not in WEIGHTINGS:
            raise Invalid(f"weighting is one of {', '.join(WEIGHTINGS)}, not {self.weighting!r}")
        if not 0 <= self.quorum_percent <= 100:
            raise Invalid("the quorum is a share of the roster between 0 and 100 %")
        if not 0 <= self.finality_seconds <= MAX_FINALITY:
            raise Invalid("the finality window is between 0 seconds and 7 days")
        if self.kind == "consent" and self.options != CONSENT:
            raise Invalid("a consent proposal's options are agree, abstain, disagree and block")
        if self.kind == "poll":
            if not 2 <= len(self.options) <= MAX_OPTIONS or len(set(self.options)) != len(self.options):
                raise Invalid(f"a poll has 2 to {MAX_OPTIONS} different options")
            if "abstain" in self.options:
                raise Invalid("'abstain' is not an option: every Congregation may abstain")

    @property
    def final_at(self) -> int:
        return self.closes_at + self.finality_seconds

    def choices(self) -> tuple[str, ...]:
        """What a stance may say: for a poll, one option or abstain."""
        return self.options if self.kind == "consent" else (*self.options, "abstain")


@dataclass(frozen=True)
class Stance:
    """A Congregation's collective stance as received, its proof already verified. `digest` names the signed
    object exactly (two copies of one stance have one digest)."""

    group: str
    choice: str
    members: int
    created: int
    received_at: int
    digest: str
    reasons: str = ""


def check_stance(rules: Rules, stance: Stance) -> None:
    """What a stance must be to be kept at all: a choice the proposal offers, a sensible member count, created by
    the closing time (a Congregation could backdate only its own stance: an accepted limit)."""
    if stance.choice not in rules.choices():
        raise Invalid(f"{stance.choice!r} is not a choice this proposal offers")
    if not 0 <= stance.members <= MAX_MEMBERS:
        raise Invalid(f"a stance states between 0 and {MAX_MEMBERS} members")
    if stance.created > rules.closes_at:
        raise Invalid("the stance was made after the proposal closed")


def collective_stance(kind: str, outcome: str, counts: Mapping[str, int], options: Iterable[str] = ()) -> str:
    """A Congregation's stance from its own local proposal's result: consent passed → agree; failed on a standing
    block → block; failed otherwise → disagree; no quorum → abstain. A poll: the local winner, ties → abstain."""
    if outcome == "no_quorum":
        return "abstain"
    if kind == "consent":
        if outcome == "passed":
            return "agree"
        return "block" if counts.get("block", 0) > 0 else "disagree"
    if kind != "poll":
        raise Invalid(f"an Assembly proposal is a consent or a poll, not {kind!r}")
    scored = sorted(((counts.get(option, 0), option) for option in options), reverse=True)
    if not scored or scored[0][0] == 0 or (len(scored) > 1 and scored[0][0] == scored[1][0]):
        return "abstain"
    return scored[0][1]


@dataclass(frozen=True)
class Row:
    group: str
    status: str  # counted | late | missing | equivocated
    choice: str = ""
    members: int = 0
    reasons: str = ""


@dataclass(frozen=True)
class Result:
    """The tally. `phase` is open (before closing), provisional (in the finality window) or final."""

    phase: str
    outcome: str  # passed | failed | no_quorum
    winner: str
    counts: tuple[tuple[str, int], ...]
    voices: int
    roster_size: int
    quorum_met: bool
    rows: tuple[Row, ...]
    equivocations: tuple[tuple[str, str, str], ...] = field(default=())  # (group, digest, other digest)

    def document(self) -> dict[str, Any]:
        return {"phase": self.phase, "outcome": self.outcome, "winner": self.winner,
                "counts": dict(self.counts), "voices": self.voices, "rosterSize": self.roster_size,
                "quorumMet": self.quorum_met,
                "rows": [{"group": r.group, "status": r.status, "choice": r.choice, "members": r.members,
                          "reasons": r.reasons} for r in self.rows],
                "equivocations": [list(e) for e in self.equivocations]}

    def canonical(self) -> bytes:
        """RFC 8785 bytes: what "the same result on every node" is compared by."""
        return rfc8785.dumps(self.document())


def tally(rules: Rules, roster: Iterable[RosterEntry], stances: Iterable[Stance], now: int) -> Result:
    """Count the stances that count. Order, duplicates and Groups outside the roster change nothing."""
    members = sorted({entry.group for entry in roster})
    on_roster = set(members)
    by_group: dict[str, dict[str, Stance]] = {}
    for stance in stances:
        if stance.group not in on_roster or stance.created > rules.closes_at or stance.choice not in rules.choices():
            continue
        held = by_group.setdefault(stance.group, {}).get(stance.digest)
        if held is None or _order(stance) < _order(held):
            by_group[stance.group][stance.digest] = stance
    rows, equivocations = [], []
    for group in members:
        copies = by_group.get(group, {})
        digests = sorted(copies)
        if len(digests) > 1:
            equivocations.append((group, digests[0], digests[1]))
        in_time = [copies[d] for d in digests if copies[d].received_at <= rules.final_at]
        if len(in_time) > 1:
            rows.append(Row(group, "equivocated"))
        elif in_time:
            s = in_time[0]
            rows.append(Row(group, "counted", s.choice, s.members, s.reasons))
        elif digests:
            s = copies[digests[0]]
            rows.append(Row(group, "late", s.choice, s.members, s.reasons))
        else:
            rows.append(Row(group, "missing"))
    counts = {choice: 0 for choice in rules.choices()}
    counted = [row for row in rows if row.status == "counted"]
    for row in counted:
        counts[row.choice] += row.members if rules.weighting == "members" else 1
    voices = len(counted)
    met = rules.quorum_percent == 0 or (bool(members) and voices * 100 >= rules.quorum_percent * len(members))
    winner = ""
    if not met:
        outcome = "no_quorum"
    elif rules.kind == "consent":
        outcome = "failed" if counts["block"] else "passed"
    else:
        scored = sorted(((counts[o], o) for o in rules.options), key=lambda pair: (-pair[0], pair[1]))
        if scored[0][0] > 0 and (len(scored) == 1 or scored[0][0] > scored[1][0]):
            outcome, winner = "passed", scored[0][1]
        else:
            outcome = "failed"
    phase = "open" if now < rules.closes_at else "provisional" if now < rules.final_at else "final"
    return Result(phase, outcome, winner, tuple(counts.items()), voices, len(members), met, tuple(rows),
                  tuple(equivocations))


def _order(stance: Stance) -> tuple[int, str, int, int, str]:
    # One digest is one signed object, so its copies differ only in when they arrived: the first copy is kept. The
    # rest of the key makes even a caller's inconsistent input give one answer whatever its order.
    return (stance.received_at, stance.choice, stance.members, stance.created, stance.reasons)
