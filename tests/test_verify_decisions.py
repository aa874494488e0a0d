"""`congregation verify-decisions` against a node serving its log: an untouched log passes; an edited, dropped,
reordered or foreign-signed entry is caught, each with a one-line reason and exit status 1."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta

import pytest

from node.activitypub import signatures
from node.governance import decision_log, proposals
from node.store import local_actors
from tests.factories import member

pytestmark = pytest.mark.slow


@pytest.fixture
async def logged(node):
    """A node whose log holds three closed proposals."""
    ada = await member(node, "ada", "partner")
    for title in ("Garden on Saturdays", "A shared tool shed", "Meet monthly"):
        await proposals.create(node.db, node.config, ada, kind="consent", title=title,
                               closes_at=datetime.now(UTC) + timedelta(hours=1))
    await node.pass_closing_time()
    await node.close_proposals()
    return node


async def verify(node) -> tuple[int, str]:
    """The command as a real process; this loop keeps serving the node while it runs."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "node", "verify-decisions", node.group_id,
                                                "--allow-private-addresses", stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert b"Traceback" not in err
    return proc.returncode, out.decode()


async def _rows(node):
    async with node.db.execute("SELECT seq, entry FROM decision_log ORDER BY seq") as cur:
        return await cur.fetchall()


async def test_verify_decisions__untouched_log_passes(logged):
    code, out = await verify(logged)
    assert code == 0 and out.startswith("OK: 3 decisions")


async def test_verify_decisions__edited_entry_is_caught(logged):
    seq, entry = (await _rows(logged))[1]
    edited = json.dumps({**json.loads(entry), "result": "failed"}, sort_keys=True, separators=(",", ":"))
    await logged.db.execute("UPDATE decision_log SET entry = ? WHERE seq = ?", (edited, seq))
    code, out = await verify(logged)
    assert code == 1 and "entry 2 was altered" in out


async def test_verify_decisions__dropped_entry_is_caught(logged):
    await logged.db.execute("DELETE FROM decision_log WHERE seq = 2")
    code, out = await verify(logged)
    assert code == 1 and "entry 2 has seq 3" in out


async def test_verify_decisions__reordered_entries_are_caught(logged):
    await logged.db.execute("UPDATE decision_log SET seq = -seq WHERE seq IN (1, 2)")
    await logged.db.execute("UPDATE decision_log SET seq = CASE seq WHEN -1 THEN 2 ELSE 1 END WHERE seq < 0")
    code, out = await verify(logged)
    assert code == 1 and "FAILED after 0 good entries" in out


async def test_verify_decisions__entry_signed_by_another_key_is_caught(logged):
    seq, entry = (await _rows(logged))[2]
    other = signatures.private_pem(signatures.generate_private_key())
    forged = json.loads(entry)
    await logged.db.execute("UPDATE decision_log SET signature = ? WHERE seq = ?",
                            (decision_log.sign(other, forged), seq))
    code, out = await verify(logged)
    assert code == 1 and "entry 3 is not signed by the Congregation's key" in out
    # the untouched key still verifies the untouched entries
    assert (await local_actors.group(logged.db)).public_key_pem
