"""Time moves only through the app's clock: create_app(clock=...) feeds the decision clock, delivery, the inbox
worker and the web; a test clock from the environment is refused outside test mode."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from node.app import create_app
from node.appkeys import CLOCK
from node.clock import CLOCK_FILE_ENV, TEST_MODE_ENV, ClockError, FileOffsetClock, ManualClock, clock_from_env
from node.governance.events import ProposalClosed
from node.store import proposals as proposals_store
from tests.delivery_fakes import ScriptedInbox, queue, row
from tests.fediverse import InProcessNode, free_port, init_node
from tests.webclient import Visitor, make_member

DAY = 24 * 3600.0


@pytest.fixture
async def clocked(tmp_path):
    """A node on a ManualClock: time stands still until the test moves it."""
    node = await InProcessNode(init_node(tmp_path / "alpha", free_port(), "Alpha"), clock=ManualClock()).start()
    yield node
    await node.close()


@pytest.fixture
async def peer():
    actor = await ScriptedInbox(name="peer", inbox_status=503).start()
    yield actor
    await actor.close()


async def test_clock__a_proposal_closes_when_the_app_clock_passes_its_time(clocked):
    # Given a member's proposal, opened on the web, closing in a day by the node's clock
    await make_member(clocked, "ada", "partner")
    ada = Visitor(clocked)
    try:
        assert (await ada.sign_in("ada"))[0] == 200
        form = {"kind": "consent", "title": "Paint the door", "details": "", "closes_in": "1", "closes_at": "",
                "scope": "congregation", "options": "", "quorum": "0", "action": "", "member": "", "sibling": "",
                "setting": "", "value": ""}
        status, _ = await ada.post("/proposals/new", form)
        assert status == 200
        (proposal,) = await proposals_store.recent(clocked.db)
        # When a second short of its closing time passes, the decision clock closes nothing
        clocked.advance(DAY - 1)
        assert await clocked.close_proposals() == []
        # And when the clock passes it, a stance is refused before the decision clock has even run
        clocked.advance(2)
        data = {"choice": "agree", "reason": ""}
        status, page = await ada.post(f"/proposals/{proposal.uuid}/stance", data, page=f"/proposals/{proposal.uuid}")
        assert status == 400 and "closed" in page
        # Then the decision clock's next step closes it, with no timestamp rewritten
        events = await clocked.close_proposals()
        assert [e.proposal.uuid for e in events if isinstance(e, ProposalClosed)] == [proposal.uuid]
        closed = await proposals_store.by_uuid(clocked.db, proposal.uuid)
        assert not closed.is_open and closed.closes_at == proposal.closes_at
    finally:
        await ada.close()


async def test_clock__a_failed_delivery_is_retried_only_after_its_backoff(clocked, peer):
    # Given an activity queued for a peer that answers 503, stamped due on the node's clock
    clock = clocked.app[CLOCK]
    await queue(clocked, clock, [peer.inbox])
    assert (await row(clocked))["next_attempt_at"] == clock.now()
    # When the node's delivery worker tries it, and fails
    assert await clocked.run_deliveries() == 1
    retry_at = (await row(clocked))["next_attempt_at"]
    assert 24 <= retry_at - clock.now() <= 36  # 30 s, ±20 % jitter
    # Then it is not tried again until the clock reaches its backoff
    clocked.advance(retry_at - clock.now() - 1)
    assert await clocked.run_deliveries() == 0
    peer.inbox_status = 202
    clocked.advance(1)
    assert await clocked.run_deliveries() == 1
    assert (await row(clocked))["state"] == "done" and len(peer.received) == 2


def test_clock_from_env__the_test_clock_needs_test_mode(tmp_path):
    path = tmp_path / "clock"
    FileOffsetClock(path).set_offset(3600)
    assert isinstance(clock_from_env({CLOCK_FILE_ENV: str(path), TEST_MODE_ENV: "1"}), FileOffsetClock)
    for mode in (None, "0", "yes"):
        env = {CLOCK_FILE_ENV: str(path)} | ({TEST_MODE_ENV: mode} if mode else {})
        with pytest.raises(ClockError, match=TEST_MODE_ENV):
            clock_from_env(env)
    assert clock_from_env({TEST_MODE_ENV: "1"}).now() == pytest.approx(ManualClock().now(), abs=5)


def test_create_app__a_stray_clock_file_is_refused_at_startup(tmp_path, monkeypatch):
    config = init_node(tmp_path / "alpha", free_port(), "Alpha")
    monkeypatch.setenv(CLOCK_FILE_ENV, str(tmp_path / "clock"))
    monkeypatch.delenv(TEST_MODE_ENV, raising=False)
    with pytest.raises(ClockError):
        create_app(config, run_workers=False)
    # A clock passed in is the app's, whatever the environment says
    clock = ManualClock()
    assert create_app(config, run_workers=False, clock=clock)[CLOCK] is clock


def test_cli__a_stray_clock_file_stops_every_command_with_one_line(tmp_path):
    config = init_node(tmp_path / "alpha", free_port(), "Alpha")
    env = {k: v for k, v in os.environ.items() if k != TEST_MODE_ENV} | {CLOCK_FILE_ENV: str(tmp_path / "clock")}
    for command in (["serve"], ["deliveries"], ["follows", "list"]):
        proc = subprocess.run([sys.executable, "-m", "node", *command, "--data", str(config.data_dir)],
                              capture_output=True, text=True, env=env, timeout=60, check=False)
        assert proc.returncode == 1, (command, proc.stderr)
        assert proc.stderr.count("\n") == 1 and TEST_MODE_ENV in proc.stderr, proc.stderr
