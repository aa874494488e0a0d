"""`congregation assembly`: the Assembly proposals this node holds, one with its roster and tally, and withdrawing
one this Congregation tabled."""

from __future__ import annotations

import argparse
import sys

from node.activitypub.as2.assembly import stamp
from node.commands.opening import open_node
from node.governance.errors import GovernanceError
from node.processing import assembly
from node.store import assembly as store


async def cmd_list(args: argparse.Namespace) -> int:
    async with open_node(args.data) as node:
        held = await store.listed(node.db, limit=200)
        if not held:
            print("No Assembly proposals yet.")
        for proposal in held:
            result = await assembly.current_result(node.db, proposal)
            state = "withdrawn" if proposal.state == "withdrawn" else f"{result.phase} {result.outcome}"
            print(f"{proposal.id:>4}  {state:<22} {result.voices:>3}/{result.roster_size:<3} closes"
                  f" {stamp(proposal.closes_at)}  {proposal.title}")
        return 0


async def cmd_show(args: argparse.Namespace) -> int:
    async with open_node(args.data) as node:
        proposal = await store.by_id(node.db, args.id)
        if proposal is None:
            print(f"congregation: there is no Assembly proposal {args.id}", file=sys.stderr)
            return 1
        result = await assembly.current_result(node.db, proposal)
        print(f"{proposal.title}\n  {proposal.uri}\n  tabled by {proposal.tabled_by}; {proposal.kind},"
              f" closes {stamp(proposal.closes_at)}, final at {stamp(proposal.final_at)}")
        print(f"  {result.phase}: {result.outcome}{' — ' + result.winner if result.winner else ''};"
              f" {result.voices} of {result.roster_size} Congregations counted;"
              f" " + ", ".join(f"{k} {v}" for k, v in result.counts))
        for row in result.rows:
            detail = f"{row.choice} ({row.members} members)" if row.choice else ""
            print(f"  {row.status:<12} {row.group}  {detail}{'  — ' + row.reasons if row.reasons else ''}")
        for group, first, second in result.equivocations:
            print(f"  EQUIVOCATION {group}: two signed stances {first[:12]}… and {second[:12]}… (both kept)")
        return 0


async def cmd_withdraw(args: argparse.Namespace) -> int:
    async with open_node(args.data) as node:
        try:
            await assembly.withdraw(node.db, node.config, args.id)
        except GovernanceError as exc:
            print(f"congregation: {exc}", file=sys.stderr)
            return 1
        print(f"Assembly proposal {args.id} is withdrawn; the signed withdrawal is queued for the siblings.")
        return 0


def add_parser(sub, data_arg) -> None:
    p = sub.add_parser("assembly", help="the Assembly of sibling Congregations: proposals, stances, tallies")
    actions = p.add_subparsers(dest="assembly_action")
    listing = actions.add_parser("list", help="the Assembly proposals held here")
    data_arg(listing)
    listing.set_defaults(run=cmd_list)
    show = actions.add_parser("show", help="one proposal: each Congregation's stance and the tally")
    show.add_argument("id", type=int)
    data_arg(show)
    show.set_defaults(run=cmd_show)
    withdraw = actions.add_parser("withdraw", help="withdraw a proposal this Congregation tabled, before it closes")
    withdraw.add_argument("id", type=int)
    data_arg(withdraw)
    withdraw.set_defaults(run=cmd_withdraw)
    data_arg(p)
    p.set_defaults(run=cmd_list)
