"""`congregation propose` and `congregation proposals`: open a proposal from the command line, list them."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime, timedelta

from node import config as configuration
from node import uris
from node.commands.opening import open_node
from node.governance import proposals
from node.governance.tally import KINDS
from node.processing import proposals as processing_proposals
from node.store import local_actors
from node.store import proposals as proposals_store

# Six ASCII digits hold a year in minutes (governance refuses longer): more overflowed timedelta.
DURATION = re.compile(r"^([0-9]{1,6})([mhd])$")


def closing_time(text: str) -> datetime:
    """`3d`, `12h`, `30m` from now, or an ISO 8601 time with its zone."""
    match = DURATION.match(text.strip())
    if match:
        unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        return datetime.now(UTC) + timedelta(**{unit: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 3d, 12h, 30m or an ISO time like 2026-12-01T18:00Z, got {text!r}") \
            from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the time zone too, as in {text}Z or {text}+01:00")
    return moment


async def cmd_propose(args: argparse.Namespace) -> int:
    async with open_node(args.data) as node:
        return await _propose(node.config, node.db, args)


async def _propose(config, db, args: argparse.Namespace) -> int:
    try:
        author = await local_actors.by_username(db, args.handle.lstrip("@").lower())
        if author is None or author.tier is None:
            raise proposals.ProposalError(f"no member @{args.handle} (see `congregation member list`)")
        action_args = None
        if args.scope == "assembly":
            return await _table(config, db, author, args)
        if args.action in ("promote", "remove_member"):
            action_args = {"member": args.member or ""}
        elif args.action == "approve_sibling":
            action_args = {"actor": args.sibling or ""}
        elif args.action == "change_setting":
            action_args = {"setting": args.setting or "", "value": args.value or ""}
        elif args.action == "block_server":
            action_args = {"server": args.server or ""}
        elif args.action == "federation_mode":
            action_args = {"mode": args.mode or ""}
        events = await processing_proposals.open_proposal(
            db, config, author, kind=args.kind, title=args.title, details=args.details, closes_at=args.closes,
            scope=args.scope, options=args.option, multiple=args.multiple, quorum_percent=args.quorum,
            hide_results=args.hide_results, action=args.action, action_args=action_args)
        proposal = events[0].proposal
        print(f"Proposal {proposal.id} is open until {proposal.closes_at}: {uris.proposal(config, proposal.uuid)}")
        return 0
    except proposals.ProposalError as exc:
        print(f"congregation: {exc}", file=sys.stderr)
        return 1


async def _table(config, db, author, args: argparse.Namespace) -> int:
    """`--scope assembly`: tabling is itself a decision. This opens the Congregation's consent proposal to table
    the Assembly proposal described; when it passes, the node gathers the roster and tables it."""
    now = datetime.now(UTC)
    tabling_closes = args.tabling_closes or min(now + timedelta(days=1), now + (args.closes - now) / 4)
    if args.action:
        raise proposals.ProposalError("an Assembly proposal enacts nothing but a resolution: leave out --action")
    events = await processing_proposals.open_proposal(
        db, config, author, kind="consent", title=f"Table to the Assembly: {args.title}", details=args.details,
        closes_at=max(tabling_closes, now + timedelta(minutes=1, seconds=5)), scope="congregation",
        quorum_percent=0, action="table_assembly",
        action_args={"title": args.title, "details": args.details, "kind": args.kind, "options": args.option,
                     "closes_at": args.closes.isoformat(), "weighting": args.weighting,
                     "quorum_percent": args.quorum, "finality_seconds": args.finality})
    proposal = events[0].proposal
    print(f"Proposal {proposal.id} asks the Congregation to table this to the Assembly; it is open until"
          f" {proposal.closes_at}: {uris.proposal(config, proposal.uuid)}")
    return 0


def _seconds(text: str) -> int:
    match = DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected a duration like 30m, 12h or 2d, got {text!r}")
    return int(match.group(1)) * {"m": 60, "h": 3600, "d": 86400}[match.group(2)]


async def cmd_proposals(args: argparse.Namespace) -> int:
    async with open_node(args.data) as node:
        for p in await proposals_store.recent(node.db):
            shown = proposals.results_visible(p)
            result = await proposals.current_tally(node.db, node.config, p) if shown else None
            counts = ", ".join(f"{k} {v}" for k, v in result.counts.items()) if result else "results hidden until close"
            print(f"{p.id:>4}  {p.state:<9}  {p.kind:<7} {p.scope:<12} closes {p.closes_at[:16]}  {p.title}"
                  f"  ({counts})")
        return 0


def add_parsers(sub, data_arg=None) -> None:
    p = sub.add_parser("propose", help="open a proposal (consent, poll or advice) as a member")
    p.add_argument("--as", dest="handle", required=True, help="the proposing member")
    p.add_argument("--kind", choices=KINDS, default="consent")
    p.add_argument("--title", required=True)
    p.add_argument("--details", default="")
    p.add_argument("--closes", type=closing_time, required=True, help="3d, 12h, 30m, or an ISO time with zone")
    p.add_argument("--scope", choices=(*proposals.SCOPES, "assembly"), default="congregation",
                   help="assembly: ask the Congregation to table it to the Assembly of sibling Congregations")
    p.add_argument("--option", action="append", default=[], help="a poll option (repeat)")
    p.add_argument("--multiple", action="store_true", help="a poll where several options may be chosen")
    p.add_argument("--quorum", type=int, default=0, help="percent of those eligible who must take part")
    p.add_argument("--hide-results", action="store_true", help="keep counts hidden until the proposal closes")
    p.add_argument("--action", choices=proposals.ACTIONS, help="what passing it does")
    p.add_argument("--member", help="for promote / remove_member: the member's handle")
    p.add_argument("--sibling", help="for approve_sibling: the sibling Congregation's Group URL")
    p.add_argument("--setting", help=f"for change_setting: one of {', '.join(configuration.DECIDABLE)}")
    p.add_argument("--value", help="for change_setting: the setting's new value")
    p.add_argument("--server", help="for block_server: the server's name (a sibling's may be blocked only so)")
    p.add_argument("--mode", choices=("allowlist", "open"), help="for federation_mode: allowlist or open")
    p.add_argument("--weighting", choices=("voice", "members"), default="voice",
                   help="for --scope assembly: one Congregation one voice, or weighted by member count")
    p.add_argument("--finality", type=_seconds, default=3600,
                   help="for --scope assembly: how long after closing stances may still arrive (default 1h)")
    p.add_argument("--tabling-closes", type=closing_time,
                   help="for --scope assembly: when the Congregation's own decision to table it closes"
                        " (default: a quarter of the time, at most a day)")
    if data_arg is not None:
        data_arg(p)
    p.set_defaults(run=cmd_propose)
    q = sub.add_parser("proposals", help="list proposals, open ones first")
    if data_arg is not None:
        data_arg(q)
    q.set_defaults(run=cmd_proposals)
