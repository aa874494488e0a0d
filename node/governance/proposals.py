"""Proposals decided by consent (or poll, or gathered advice), the stances on them, and their closing.

Lifecycle as data: open → passed | failed | no_quorum, open → withdrawn, passed → enacted. The node closes
proposals itself when their time comes — also the ones whose time came while it was down — and a proposal
that acts (promote, remove_member, approve_sibling, change_setting, block_server, federation_mode,
table_assembly) is enacted
once, by an enactor the caller supplies.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import aiosqlite

from node import uris
from node.config import Config, ConfigError, with_decided
from node.db import transaction
from node.governance import assembly, decision_log, tally
from node.governance.errors import GovernanceError, Invalid
from node.governance.events import (
    Event,
    OutcomeRecorded,
    ProposalClosed,
    ProposalEnacted,
    ProposalOpened,
    ProposalWithdrawn,
    StanceTaken,
)
from node.governance.membership import iso
from node.store import crews as crews_store
from node.store import follows, local_actors
from node.store import proposals as store
from node.store.local_actors import LocalActor
from node.store.proposals import Proposal

TRANSITIONS = {"open": {"passed", "failed", "no_quorum", "withdrawn"}, "passed": {"enacted"}}
SCOPES = ("congregation", "crew", "partners", "public")
ACTIONS = ("promote", "remove_member", "approve_sibling", "change_setting", "block_server", "federation_mode",
           "table_assembly")
# A proposal's server (block_server) as processing normalised it: IDNA/lowercase, no port.
_HOST_RE = re.compile(r"[a-z0-9.\-_:]{1,253}")
MAX_TITLE, MAX_DETAILS, MAX_OPTION, MAX_OPTIONS, MAX_REASON, MAX_OUTCOME = 200, 10_000, 100, 20, 2_000, 5_000
MIN_OPEN, MAX_OPEN = timedelta(minutes=1), timedelta(days=366)

# Enactors may return events (a sibling's Follow, a changed setting) that federate with the enactment.
Enactor = Callable[[aiosqlite.Connection, Proposal], Awaitable[list[Event] | None]]


class ProposalError(Invalid):
    """A proposal or stance cannot be made; the message says why, for a person to read."""


def local_uri(config: Config, username: str) -> str:
    return uris.actor(config, username)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _transition(proposal: Proposal, to: str) -> None:
    if to not in TRANSITIONS.get(proposal.state, set()):
        raise ProposalError(f"a proposal that is {proposal.state.replace('_', ' ')} cannot become {to}")


async def local_electorate(db: aiosqlite.Connection, config: Config, proposal: Proposal) -> set[str]:
    """The actor URIs here that may take a stance: the crew, the Partners, or every member."""
    if proposal.scope == "crew":
        crew = await crews_store.by_id(db, proposal.crew_id)
        members = [await local_actors.by_id(db, i) for i in (crew.members if crew else ())]
        return {local_uri(config, m.username) for m in members if m is not None and m.tier is not None}
    everyone = await local_actors.members(db)
    if proposal.scope == "partners":
        return {local_uri(config, m.username) for m in everyone if m.tier == "partner"}
    return {local_uri(config, m.username) for m in everyone}


async def electorate_size(db: aiosqlite.Connection, config: Config, proposal: Proposal) -> int:
    """How many may take a stance: the local electorate, and for a public proposal the Group's followers
    elsewhere too (counted in the database, never listed: a Group may have many)."""
    size = len(await local_electorate(db, config, proposal))
    if proposal.scope == "public":
        group = await local_actors.group(db)
        size += await follows.count_followers_elsewhere(db, local_uri(config, group.username), _origin(config.base_url))
    return size


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}".lower()


async def may_take_part(db: aiosqlite.Connection, config: Config, proposal: Proposal, voter: str) -> bool:
    """In the local electorate; for a public proposal also any follower of the Group, and any member of a sibling
    Congregation (an actor on the server of a Group that follows ours and that ours follows: one server is one
    Congregation). A Group that only follows us is a reader, not a sibling: its server's accounts do not vote."""
    if voter in await local_electorate(db, config, proposal):
        return True
    if proposal.scope != "public" or _origin(voter) == _origin(config.base_url):
        return False
    group_uri = local_uri(config, (await local_actors.group(db)).username)
    followed = await follows.get(db, voter, group_uri)
    if followed is not None and followed.state == "accepted":
        return True
    return await follows.mutual_group_on(db, group_uri, _origin(voter))


def _clean_options(kind: str, options: list[str]) -> tuple[str, ...]:
    if kind != "poll":
        return tally.options_for(kind)
    cleaned = []
    for option in options:
        option = " ".join(option.split())
        if not option:
            continue
        if len(option) > MAX_OPTION:
            raise ProposalError(f"an option is at most {MAX_OPTION} characters")
        if option in cleaned:
            raise ProposalError(f"the option {option!r} is there twice")
        cleaned.append(option)
    if not 2 <= len(cleaned) <= MAX_OPTIONS:
        raise ProposalError(f"a poll needs 2 to {MAX_OPTIONS} options")
    return tuple(cleaned)


async def create(db: aiosqlite.Connection, config: Config, author: LocalActor, *, kind: str, title: str,
                 details: str = "", closes_at: datetime, scope: str = "congregation", crew_id: int | None = None,
                 options: list[str] | None = None, multiple: bool = False, quorum_percent: int = 0,
                 hide_results: bool = False, action: str | None = None, action_args: dict | None = None,
                 now: datetime | None = None) -> list[Event]:
    """Open a proposal; the closing time is required and between a minute and a year away."""
    if author.tier is None:
        raise ProposalError("only members can make proposals")
    if kind not in tally.KINDS:
        raise ProposalError(f"a proposal is one of {', '.join(tally.KINDS)}, not {kind!r}")
    if scope not in SCOPES:
        raise ProposalError(f"the scope is one of {', '.join(SCOPES)}, not {scope!r}")
    title, details = " ".join(title.split()), details.strip()
    if not title:
        raise ProposalError("a proposal needs a title")
    if len(title) > MAX_TITLE or len(details) > MAX_DETAILS:
        raise ProposalError(f"a title is at most {MAX_TITLE} characters and details at most {MAX_DETAILS}")
    moment = _now(now)
    if closes_at.tzinfo is None:
        raise ProposalError("the closing time needs a time zone")
    if not moment + MIN_OPEN <= closes_at <= moment + MAX_OPEN:
        raise ProposalError("the closing time must be between a minute and a year from now")
    if not 0 <= quorum_percent <= 100:
        raise ProposalError("the quorum is a percentage from 0 to 100")
    if scope == "partners" and author.tier != "partner":
        raise ProposalError("only Partners can make a proposal for Partners")
    if scope == "crew":
        if crew_id is None or not await crews_store.is_member(db, crew_id, author.id):
            raise ProposalError("a crew's proposals are made by its members")
    else:
        crew_id = None
    if action is not None:
        action_args = await _check_action(db, config, author, kind, scope, action, action_args or {})
    option_names = _clean_options(kind, options or [])
    async with transaction(db):
        proposal_id = await store.insert(
            db, uuid=str(uuid.uuid4()), kind=kind, scope=scope, crew_id=crew_id, author_id=author.id, title=title,
            details=details, options=option_names, multiple=multiple and kind == "poll", closes_at=iso(closes_at),
            quorum_percent=quorum_percent, hide_results=hide_results, action=action,
            action_args=action_args if action else None)
        return [ProposalOpened(await store.by_id(db, proposal_id))]


async def _check_action(db: aiosqlite.Connection, config: Config, author: LocalActor, kind: str, scope: str,
                        action: str, args: dict) -> dict:
    """Refuse an action that could not be carried out; return its arguments as they are stored."""
    if action not in ACTIONS:
        raise ProposalError(f"a proposal can act by {', '.join(ACTIONS)}, not {action!r}")
    if kind != "consent" or scope not in ("congregation", "partners"):
        raise ProposalError("only a consent proposal of the Congregation or its Partners can act")
    if action == "change_setting":
        return _check_setting(config, author, scope, args)
    if action == "block_server":
        if not _HOST_RE.fullmatch(str(args.get("server", ""))):
            raise ProposalError("blocking a server needs the server's name, like social.example")
        return {"server": args["server"]}
    if action == "federation_mode":
        if args.get("mode") not in ("allowlist", "open"):
            raise ProposalError("the federation mode is allowlist (siblings and listed servers only) or open")
        return {"mode": args["mode"]}
    if action == "table_assembly":
        return _check_tabling(args)
    if action in ("promote", "remove_member"):
        member = await local_actors.by_username(db, str(args.get("member", "")).lstrip("@").lower())
        if member is None or member.tier is None:
            raise ProposalError(f"there is no member {args.get('member')!r}")
        if action == "promote" and member.tier == "partner":
            raise ProposalError(f"@{member.username} is already a Partner")
    elif not str(args.get("actor", "")).startswith(("https://", "http://")):
        raise ProposalError("approving a sibling needs the URL of its Group")
    return args


def _check_tabling(args: dict) -> dict:
    """What tabling a proposal to the Assembly needs, checked now so that the Congregation consents to something
    that can be tabled: the Assembly proposal's own title, kind, options, closing time and rules."""
    title, details = " ".join(str(args.get("title") or "").split()), str(args.get("details") or "").strip()
    if not title or len(title) > MAX_TITLE or len(details) > MAX_DETAILS:
        raise ProposalError(f"an Assembly proposal needs a title of at most {MAX_TITLE} characters"
                            f" (details at most {MAX_DETAILS})")
    try:
        closes = datetime.fromisoformat(str(args.get("closes_at", "")).replace("Z", "+00:00"))
    except ValueError:
        raise ProposalError("an Assembly proposal needs its closing time") from None
    if closes.tzinfo is None:
        raise ProposalError("the Assembly's closing time needs a time zone")
    kind = str(args.get("kind") or "consent")
    options = tuple(_clean_options(kind, [str(o) for o in args.get("options") or []])) if kind == "poll" \
        else assembly.CONSENT
    try:
        rules = assembly.Rules(kind, int(closes.timestamp()), options, str(args.get("weighting") or "voice"),
                               int(args.get("quorum_percent") or 0), int(args.get("finality_seconds", 3600)))
    except (TypeError, ValueError, Invalid) as exc:
        raise ProposalError(str(exc)) from None
    return {"title": title, "details": details, "kind": rules.kind, "options": list(rules.options),
            "closes_at": iso(closes), "weighting": rules.weighting, "quorum_percent": rules.quorum_percent,
            "finality_seconds": rules.finality_seconds}


async def open_for_assembly(db: aiosqlite.Connection, group: LocalActor, *, title: str, details: str, kind: str,
                            options: tuple[str, ...], closes_at: datetime) -> Proposal:
    """The local proposal through which this Congregation decides its stance on an Assembly proposal: opened by
    the node for its Group, members-only, closing before the Assembly does (call inside a transaction)."""
    proposal_id = await store.insert(
        db, uuid=str(uuid.uuid4()), kind=kind, scope="congregation", crew_id=None, author_id=group.id,
        title=title[:MAX_TITLE], details=details[:MAX_DETAILS], options=options, multiple=False,
        closes_at=iso(closes_at), quorum_percent=0, hide_results=False, action=None, action_args=None)
    return await store.by_id(db, proposal_id)


def _check_setting(config: Config, author: LocalActor, scope: str, args: dict) -> dict:
    """A change of the Congregation's rules: opened by a Partner, decided by everyone, and a value that fits."""
    if author.tier != "partner":
        raise ProposalError("only Partners can propose changing a setting")
    if scope != "congregation":
        raise ProposalError("a change of setting is decided by the whole Congregation")
    name, value = str(args.get("setting") or "").strip(), str(args.get("value") or "").strip()
    if not name:
        raise ProposalError("changing a setting needs the setting's name")
    if not value:
        raise ProposalError(f"setting {name}: give the new value")
    try:
        changed = with_decided(config, {name: value})
    except ConfigError as exc:
        raise ProposalError(str(exc)) from None
    return {"setting": name, "value": str(getattr(changed, name))}


def setting_change(config: Config, proposal: Proposal) -> tuple[str, str, str] | None:
    """(setting, current value, proposed value) of a change_setting proposal, for people to read."""
    if proposal.action != "change_setting" or not proposal.action_args:
        return None
    name = str(proposal.action_args.get("setting", ""))
    return name, str(getattr(config, name, "")), str(proposal.action_args.get("value", ""))


async def get(db: aiosqlite.Connection, proposal_id: int) -> Proposal:
    proposal = await store.by_id(db, proposal_id)
    if proposal is None:
        raise ProposalError(f"there is no proposal {proposal_id}")
    return proposal


async def cast(db: aiosqlite.Connection, config: Config, proposal: Proposal, voter: str, choices: list[str],
               reason: str = "", activity_id: str | None = None, now: datetime | None = None) -> list[Event]:
    """Take or change a stance; the latest counts. Refused after the closing time and from anyone ineligible."""
    moment = _now(now)
    if not proposal.is_open or proposal.closes_at <= iso(moment):
        raise ProposalError("this proposal is closed")
    if not await may_take_part(db, config, proposal, voter):
        raise ProposalError("you cannot take part in this proposal")
    picked = tuple(dict.fromkeys(c for c in choices if c))
    if not picked or any(c not in proposal.options for c in picked):
        raise ProposalError(f"choose one of: {', '.join(proposal.options)}")
    if len(picked) > 1 and not proposal.multiple:
        raise ProposalError("choose one option")
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise ProposalError(f"a reason is at most {MAX_REASON} characters")
    if "block" in picked and proposal.kind == "consent" and not reason:
        raise ProposalError("a block needs a reason: say what would have to change for you to consent")
    async with transaction(db):
        if await store.insert_stance(db, proposal.id, voter, picked, reason, iso(moment), activity_id) is None:
            return []
        return [StanceTaken(proposal)]


async def current_tally(db: aiosqlite.Connection, config: Config, proposal: Proposal) -> tally.Tally:
    rows = await store.stances(db, proposal.id)
    stances = [tally.Stance(r.voter, r.choices, r.cast_at, r.id, r.reason) for r in rows]
    eligible = proposal.eligible if proposal.eligible is not None else await electorate_size(db, config, proposal)
    return tally.tally(proposal.kind, proposal.options, stances, eligible, proposal.quorum_percent)


def results_visible(proposal: Proposal) -> bool:
    """Hidden results stay hidden from everyone, the author too, until the proposal closes; a withdrawn one never
    closed, so its results stay hidden for good (else withdrawing would be a way to peek)."""
    return not (proposal.hide_results and proposal.state in ("open", "withdrawn"))


async def standing_stances(db: aiosqlite.Connection, proposal: Proposal) -> list[store.StanceRow]:
    """Each voter's latest stance with its reason: who stands where, for people to read."""
    rows = await store.stances(db, proposal.id)
    latest: dict[str, store.StanceRow] = {}
    for row in rows:
        latest[row.voter] = row
    return sorted(latest.values(), key=lambda r: r.cast_at)


def action_target(proposal: Proposal) -> str | None:
    """The username of the member a promote or remove_member proposal is about."""
    if proposal.action not in ("promote", "remove_member") or not proposal.action_args:
        return None
    return str(proposal.action_args.get("member", "")).lstrip("@").lower() or None


def may_withdraw(actor: LocalActor, proposal: Proposal) -> bool:
    """Only the proposer, and never the member the proposal acts on (else a Partner could stop their own removal)."""
    return actor.id == proposal.author_id and actor.username != action_target(proposal)


async def withdraw(db: aiosqlite.Connection, actor: LocalActor, proposal_id: int) -> list[Event]:
    """The proposer takes back an open proposal; nobody else may, and the member it acts on never may."""
    async with transaction(db):
        proposal = await get(db, proposal_id)
        if actor.username == action_target(proposal):
            raise ProposalError("a proposal about you cannot be withdrawn by you: it is for the others to decide")
        if actor.id != proposal.author_id:
            raise ProposalError("only the proposer can withdraw a proposal")
        _transition(proposal, "withdrawn")
        await store.set_state(db, proposal.id, "withdrawn")
        return [ProposalWithdrawn(await store.by_id(db, proposal.id))]


async def record_outcome(db: aiosqlite.Connection, actor: LocalActor, proposal_id: int, text: str
                         ) -> list[Event]:
    """After close, the proposer or a Partner writes what was decided and what happens next."""
    text = text.strip()
    if not text or len(text) > MAX_OUTCOME:
        raise ProposalError(f"an outcome is 1 to {MAX_OUTCOME} characters")
    async with transaction(db):
        proposal = await get(db, proposal_id)
        if proposal.is_open or proposal.state == "withdrawn":
            raise ProposalError("an outcome is recorded once the proposal has closed")
        if actor.id != proposal.author_id and actor.tier != "partner":
            raise ProposalError("only the proposer or a Partner records the outcome")
        await store.set_outcome(db, proposal.id, text, actor.id)
        return [OutcomeRecorded(await store.by_id(db, proposal.id))]


async def due(db: aiosqlite.Connection, now: datetime | None = None) -> list[int]:
    """Ids of open proposals whose closing time has come."""
    return [proposal.id for proposal in await store.due(db, iso(_now(now)))]


async def close(db: aiosqlite.Connection, config: Config, proposal_id: int) -> list[Event]:
    """Close one proposal: tally it, append the signed result to the decision log (call inside a transaction)."""
    async with transaction(db):
        fresh = await store.by_id(db, proposal_id)
        if fresh is None or not fresh.is_open:
            return []
        result = await current_tally(db, config, fresh)
        await store.set_closed(db, fresh.id, result.outcome, result.eligible, fresh.closes_at)
        closed = await store.by_id(db, fresh.id)
        await decision_log.append(db, config, log_record(config, closed, result), record_visibility(closed))
        return [ProposalClosed(closed)]


async def to_enact(db: aiosqlite.Connection) -> list[Proposal]:
    """Passed proposals that act and are not enacted yet (also after a crash between closing and enacting)."""
    async with db.execute("SELECT id FROM proposals WHERE state = 'passed' AND action IS NOT NULL"
                          " ORDER BY closed_at, id") as cur:
        ids = [row[0] for row in await cur.fetchall()]
    return [await store.by_id(db, proposal_id) for proposal_id in ids]


async def mark_enacted(db: aiosqlite.Connection, proposal: Proposal, error: str | None = None) -> list[Event]:
    """Record that a passed proposal was carried out, or why it could not be ("passed, not enacted")."""
    async with transaction(db):
        await store.set_enacted(db, proposal.id, error)
        return [] if error else [ProposalEnacted(await store.by_id(db, proposal.id))]


async def close_due(db: aiosqlite.Connection, config: Config, enactors: dict[str, Enactor],
                    now: datetime | None = None) -> list[Event]:
    """Close every proposal whose time has come, then enact what passed with local enactors (each idempotent,
    run in the transaction that marks it enacted). The node's clock goes through processing.proposals, which
    also federates; this is the rules alone."""
    events: list[Event] = []
    for proposal_id in await due(db, now):
        async with transaction(db):
            events.extend(await close(db, config, proposal_id))
    for proposal in await to_enact(db):
        enactor = enactors.get(proposal.action)
        if enactor is None:
            continue
        try:
            async with transaction(db):
                events.extend(await enactor(db, proposal) or [])
                events.extend(await mark_enacted(db, proposal))
        except GovernanceError as exc:
            events.extend(await mark_enacted(db, proposal, str(exc)))
    return events


def record_visibility(proposal: Proposal) -> str:
    """Who may read a proposal's log entry in full: a congregation-wide proposal is the members' business."""
    return {"congregation": "members"}.get(proposal.scope, proposal.scope)


def log_record(config: Config, proposal: Proposal, result: tally.Tally) -> dict:
    """What the decision log keeps of a closed proposal: enough for a sibling to know what was decided."""
    return {
        "proposal": uris.proposal(config, proposal.uuid), "title": proposal.title, "kind": proposal.kind,
        "scope": proposal.scope, "action": proposal.action, "actionArgs": proposal.action_args,
        "result": result.outcome, "counts": result.counts, "voters": result.voters, "eligible": result.eligible,
        "quorumPercent": proposal.quorum_percent, "closesAt": proposal.closes_at, "openedAt": proposal.created_at,
    }


async def next_closing(db: aiosqlite.Connection) -> datetime | None:
    when = await store.next_closing(db)
    return datetime.fromisoformat(when.replace("Z", "+00:00")) if when else None
