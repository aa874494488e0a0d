"""`congregation member …` and `congregation invite`: the operator manages members at the command line.

Every bad input is one line on stderr, a non-zero exit, and no change to the database.
"""

from __future__ import annotations

import io
import re
import sqlite3

import pytest

from node import db as database
from node.governance import accounts, invitations
from tests.fediverse import cli, free_port, init_node, run_cli, snapshot_file

PASSWORD = "correct horse battery"


@pytest.fixture
def data(tmp_path):
    return init_node(tmp_path / "a", free_port(), "Alpha").data_dir


@pytest.fixture
def congregation(data, capsys, monkeypatch):
    """`await congregation(*args, stdin=…)` runs the command against DATA in this process: (code, out, err)."""

    async def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        capsys.readouterr()
        try:
            code = await run_cli(*args, "--data", str(data))
        except SystemExit as exc:  # argparse's errors: one line, exit 2
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


def snapshot(data) -> dict[str, list[tuple]]:
    return snapshot_file(data / "congregation.sqlite3")


def tiers(data) -> dict[str, str]:
    with sqlite3.connect(data / "congregation.sqlite3") as db:
        return dict(db.execute("SELECT a.username, m.tier FROM members m JOIN local_actors a ON a.id = m.actor_id"))


def init_port(data) -> int:
    text = (data / "congregation.toml").read_text()
    return int(re.search(r'base_url = "http://127.0.0.1:(\d+)"', text).group(1))


def assert_refused(result: tuple[int, str, str], *needles: str) -> None:
    code, out, err = result
    assert code != 0
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]


async def refused_without_change(data, run, *needles: str) -> None:
    before = snapshot(data)
    assert_refused(await run, *needles)
    assert snapshot(data) == before


# --- member add -------------------------------------------------------------------------------------------

async def test_member_add__password_from_stdin_lets_the_first_partner_sign_in(data, congregation):
    code, out, err = await congregation("member", "add", "ada", "--tier", "partner", "--name", "Ada L",
                                        "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 0, err
    assert "Added partner @ada@" in out and "/login" in out
    db = await database.connect(data / "congregation.sqlite3")
    try:
        member = await accounts.authenticate(db, "ada", PASSWORD)
        assert member is not None and member.tier == "partner" and member.display_name == "Ada L"
        assert await accounts.authenticate(db, "ada", PASSWORD + "x") is None
    finally:
        await db.close()


@pytest.mark.parametrize("stdin,needle", [("\n", "at least 8"), ("", "at least 8"), ("        \n", "only spaces")])
async def test_member_add__unusable_password_on_stdin(data, congregation, stdin, needle):
    await refused_without_change(data, congregation("member", "add", "ada", "--password-stdin", stdin=stdin),
                                 needle)


async def test_member_add__bad_tier_and_bad_handle(data, congregation):
    await refused_without_change(data, congregation("member", "add", "ada", "--tier", "boss"), "invalid choice")
    await refused_without_change(data, congregation("member", "add", "Not A Handle!"), "handle")
    await refused_without_change(data, congregation("member", "add", "login"), "reserved")


@pytest.mark.slow
async def test_member_add__refused_at_hard_size(tmp_path):
    init_node(tmp_path / "full", free_port(), "Full", soft_size=1, hard_size=1)
    full = tmp_path / "full"
    assert (await run_cli("member", "add", "ada", "--data", str(full))) == 0
    before = snapshot(full)
    assert_refused(cli("member", "add", "bob", "--data", str(full)), "hard size is 1")
    assert_refused(cli("invite", "--data", str(full)), "hard size is 1")
    assert snapshot(full) == before


# --- member list and log ----------------------------------------------------------------------------------

async def test_member_list__tier_display_name_and_date_joined(congregation):
    code, out, _ = await congregation("member", "list")
    assert code == 0 and "No members yet" in out and "invite --tier partner" in out
    await congregation("member", "add", "bob", "--name", "Bob B")
    await congregation("member", "add", "ada", "--tier", "partner")
    code, out, _ = await congregation("member", "list")
    rows = [line.split("\t") for line in out.splitlines()]
    assert [row[:3] for row in rows] == [["ada", "partner", "ada"], ["bob", "friend", "Bob B"]]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", row[3]) for row in rows)


async def test_member_promote_demote_remove__recorded_in_the_log(data, congregation):
    await congregation("member", "add", "ada", "--tier", "partner")
    await congregation("member", "add", "bob")

    assert (await congregation("member", "promote", "@bob", "--reason", "holds the keys"))[0] == 0
    assert tiers(data) == {"ada": "partner", "bob": "partner"}
    assert (await congregation("member", "demote", "ada"))[0] == 0
    assert tiers(data) == {"ada": "friend", "bob": "partner"}
    code, out, _ = await congregation("member", "remove", "ada", "--reason", "moved away")
    assert code == 0 and "@ada is no longer a member" in out
    assert tiers(data) == {"bob": "partner"}

    code, out, _ = await congregation("member", "log")
    events = [line.split("\t") for line in out.splitlines()]
    assert [(e[1], e[2], e[3], e[4], e[5]) for e in events] == [
        ("joined", "@ada", "partner", "by the operator", "added by the operator"),
        ("joined", "@bob", "friend", "by the operator", "added by the operator"),
        ("promoted", "@bob", "partner", "by the operator", "holds the keys"),
        ("demoted", "@ada", "friend", "by the operator", "-"),
        ("removed", "@ada", "friend", "by the operator", "moved away"),
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", e[0]) for e in events)


async def test_member_promote_demote_remove__refusals_change_nothing(data, congregation):
    await congregation("member", "add", "ada", "--tier", "partner")
    await congregation("member", "add", "bob")
    await refused_without_change(data, congregation("member", "promote", "nobody"), "no member nobody")
    await refused_without_change(data, congregation("member", "promote", "ada"), "already a Partner")
    await refused_without_change(data, congregation("member", "demote", "bob"), "already a Friend")
    await refused_without_change(data, congregation("member", "demote", "ada"), "at least one Partner")
    await refused_without_change(data, congregation("member", "remove", "bob"), "--reason")
    await refused_without_change(data, congregation("member", "remove", "bob", "--reason", "  "), "say why")
    await refused_without_change(data, congregation("member", "remove", "ada", "--reason", "x"), "last Partner")
    await refused_without_change(data, congregation("member", "remove", "nobody", "--reason", "x"), "no member")
    assert tiers(data) == {"ada": "partner", "bob": "friend"}


# --- invite and reset-link --------------------------------------------------------------------------------

async def test_invite__the_operator_prints_a_link_that_works_at_once(data, congregation):
    code, out, err = await congregation("invite", "--tier", "partner", "--note", "our first Partner")
    assert code == 0, err
    base = f"http://127.0.0.1:{init_port(data)}"
    match = re.search(re.escape(base) + r"/invite/([A-Za-z0-9_-]+)\s*$", out)
    assert match, out
    assert re.search(r"valid until \d{4}-\d\d-\d\d \d\d:\d\d UTC", out)
    db = await database.connect(data / "congregation.sqlite3")
    try:
        invitation = await invitations.lookup(db, match.group(1))  # open: the operator needs no endorsement
        assert (invitation.tier, invitation.inviter_id, invitation.note) == ("partner", None, "our first Partner")
    finally:
        await db.close()


async def test_invite__bad_tier_and_long_note(data, congregation):
    await refused_without_change(data, congregation("invite", "--tier", "owner"), "invalid choice")
    await refused_without_change(data, congregation("invite", "--note", "x" * 501), "at most 500")


async def test_member_reset_link__single_use_link_for_that_member(data, congregation):
    await congregation("member", "add", "ada")
    code, out, err = await congregation("member", "reset-link", "ada")
    assert code == 0, err
    match = re.search(rf"http://127.0.0.1:{init_port(data)}/reset/([A-Za-z0-9_-]+)\s*$", out)
    assert match, out
    db = await database.connect(data / "congregation.sqlite3")
    try:
        assert (await accounts.reset_target(db, match.group(1))).username == "ada"
    finally:
        await db.close()


async def test_member_reset_link__unknown_or_former_member(data, congregation):
    await refused_without_change(data, congregation("member", "reset-link", "nobody"), "no member nobody")
    await congregation("member", "add", "ada", "--tier", "partner")
    await congregation("member", "add", "bob")
    await congregation("member", "remove", "bob", "--reason", "left")
    await refused_without_change(data, congregation("member", "reset-link", "bob"), "no member bob")


@pytest.mark.slow
def test_member_commands__a_real_process_prints_one_line(data):
    assert_refused(cli("member", "promote", "nobody", "--data", str(data)), "no member nobody")
    assert_refused(cli("member", "log", "--data", str(data / "missing")), "does not exist")
