"""`congregation vote URL CHOICE… --as HANDLE`: a member takes part in a proposal — one of ours, or a poll
from a sibling Congregation or elsewhere in the fediverse (node.polls: sent as Mastodon sends votes, once)."""

from __future__ import annotations

import argparse
import sys

from node import config as configuration
from node import db as database
from node import polls
from node.activitypub import questions
from node.activitypub.documents import actor_id
from node.activitypub.fetch import HttpClient
from node.config import ConfigError
from node.governance import proposals
from node.store import local_actors
from node.store import proposals as proposals_store


async def cmd_vote(args: argparse.Namespace) -> int:
    config = configuration.load(args.data)
    if not config.db_path.exists():
        raise ConfigError(f"{config.db_path} does not exist (run `congregation init` first)")
    db = await database.connect(config.db_path)
    client = HttpClient(allow_private=config.allow_private_addresses, max_bytes=config.fetch_max_bytes,
                        connect_timeout=config.fetch_connect_timeout, total_timeout=config.fetch_total_timeout,
                        max_redirects=config.fetch_max_redirects)
    try:
        await database.migrate(db)
        member = await local_actors.by_username(db, args.handle.lstrip("@").lower())
        if member is None or member.tier is None:
            raise proposals.ProposalError(f"no member @{args.handle} (see `congregation member list`)")
        local = questions.proposal_uuid(config, args.url)
        if local is not None:
            proposal = await proposals_store.by_uuid(db, local)
            if proposal is None:
                raise proposals.ProposalError(f"there is no proposal {args.url}")
            await proposals.cast(db, config, proposal, actor_id(config, member.username), args.choices,
                                 args.reason, publish=questions.publisher(config))
            print(f"@{member.username} stands at {', '.join(args.choices)} on “{proposal.title}”.")
        else:
            sent = await polls.vote(db, config, client, member, args.url, args.choices)
            print(f"Vote sent ({len(sent)} activit{'ies' if len(sent) != 1 else 'y'} queued for delivery).")
        return 0
    except (proposals.ProposalError, questions.VoteError) as exc:
        print(f"congregation: {exc}", file=sys.stderr)
        return 1
    finally:
        await client.close()
        await db.close()


def add_parser(sub, data_arg=None) -> None:
    p = sub.add_parser("vote", help="take part in a proposal here, or vote in a poll from elsewhere")
    p.add_argument("url", help="the proposal's or poll's URL")
    p.add_argument("choices", nargs="+", help="agree | abstain | disagree | block, or the poll's option names")
    p.add_argument("--as", dest="handle", required=True, help="the member who votes")
    p.add_argument("--reason", default="", help="why (shown with the stance; a block needs one)")
    if data_arg is not None:
        data_arg(p)
    p.set_defaults(run=cmd_vote)
