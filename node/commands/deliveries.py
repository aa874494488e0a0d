"""`congregation deliveries`: the delivery queue's depth and the hosts that are failing."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from node.clock import clock_from_env
from node.commands.opening import open_node
from node.store import deliveries, hosts


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


async def cmd_deliveries(args: argparse.Namespace) -> int:
    """Print queue depth, the oldest queued row's age and, per failing host, its state and last error."""
    now = clock_from_env().now()
    async with open_node(args.data) as node:
        counts = await deliveries.counts(node.db)
        oldest = await deliveries.oldest_queued(node.db)
        failing = await hosts.failing(node.db)
    line = f"Deliveries: {counts.get('queued', 0)} queued, {counts.get('done', 0)} done, " \
           f"{counts.get('failed', 0)} failed"
    print(line + (f"; oldest queued {_age(now - oldest)} old" if oldest is not None else ""))
    if not failing:
        print("No failing hosts.")
    for host in failing:
        state = "unavailable" if host.unavailable else "failing"
        since = _age(now - host.first_failure_at) if host.first_failure_at is not None else "?"
        probe = f", next probe in {_age(host.next_probe_at - now)}" if host.unavailable and host.next_probe_at else ""
        error = (host.last_error or "").strip().splitlines()[0][:200] if (host.last_error or "").strip() else "-"
        print(f"{host.host}\t{state} for {since}{probe}\tlast error: {error}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `congregation deliveries [--data DIR]`."""
    p = sub.add_parser("deliveries", help="the delivery queue: depth, failing hosts, last error per host")
    p.add_argument("--data", default=os.environ.get("CONGREGATION_DATA", str(Path("data"))),
                   help="data directory (default: $CONGREGATION_DATA or ./data)")
    p.set_defaults(run=cmd_deliveries)
