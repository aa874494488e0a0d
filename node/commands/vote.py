"""`congregation vote URL CHOICE… --as HANDLE`: a member takes part in a proposal — one of ours, or a poll
from a sibling Congregation or elsewhere in the fediverse (processing.polls: sent as Mastodon sends votes, once)."""

from __future__ import annotations

import argparse
import sys

from node import uris
from node.commands.opening import OpenNode, open_node
from node.governance.errors import GovernanceError, NotFound
from node.processing import polls, proposals
from node.store import local_actors
from node.store import proposals as proposals_store


async def cmd_vote(args: argparse.Namespace) -> int:
    async with open_node(args.data) as node:
        try:
            return await _vote(node, args)
        except GovernanceError as exc:
            print(f"congregation: {exc}", file=sys.stderr)
            return 1


async def _vote(node: OpenNode, args: argparse.Namespace) -> int:
    db, config = node.db, node.config
    member = await local_actors.by_username(db, args.handle.lstrip("@").lower())
    if member is None or member.tier is None:
        raise NotFound(f"no member @{args.handle} (see `congregation member list`)")
    local = uris.proposal_uuid(config, args.url)
    if local is not None:
        proposal = await proposals_store.by_uuid(db, local)
        if proposal is None:
            raise NotFound(f"there is no proposal {args.url}")
        await proposals.take_stance(db, config, proposal, member, args.choices, args.reason)
        print(f"@{member.username} stands at {', '.join(args.choices)} on “{proposal.title}”.")
        return 0
    # Signed by the Group, as the running node fetches: a server with authorized fetch answers it.
    sent = await polls.vote(db, config, node.client(), member, args.url, args.choices)
    print(f"Vote sent ({len(sent)} activit{'ies' if len(sent) != 1 else 'y'} queued for delivery).")
    return 0


def add_parser(sub, data_arg=None) -> None:
    p = sub.add_parser("vote", help="take part in a proposal here, or vote in a poll from elsewhere")
    p.add_argument("url", help="the proposal's or poll's URL")
    p.add_argument("choices", nargs="+", help="agree | abstain | disagree | block, or the poll's option names")
    p.add_argument("--as", dest="handle", required=True, help="the member who votes")
    p.add_argument("--reason", default="", help="why (shown with the stance; a block needs one)")
    if data_arg is not None:
        data_arg(p)
    p.set_defaults(run=cmd_vote)
