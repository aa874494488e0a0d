"""`congregation` given bad input prints one clear line and exits non-zero, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.fediverse import cli, free_port, init_node

pytestmark = pytest.mark.slow


@pytest.fixture
def data(tmp_path):
    return init_node(tmp_path / "a", free_port(), "Alpha").data_dir


def assert_one_line_error(result, *needles: str) -> None:
    code, out, err = result
    assert code != 0
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_cli__init_refuses_to_overwrite(data):
    before = (data / "congregation.toml").read_text()
    assert_one_line_error(cli("init", "--base-url", "http://127.0.0.1:9", "--name", "X", "--data", str(data)),
                          "refusing to overwrite")
    assert (data / "congregation.toml").read_text() == before


def test_cli__init_exist_ok_leaves_it_alone(data):
    before = (data / "congregation.sqlite3").read_bytes()
    code, out, _ = cli("init", "--exist-ok", "--base-url", "http://127.0.0.1:9", "--name", "X", "--data", str(data))
    assert code == 0 and "leaving it" in out
    assert (data / "congregation.sqlite3").read_bytes() == before


@pytest.mark.parametrize("url", ["notaurl", "ftp://example.org", "https://example.org/path", "http://:80"])
def test_cli__init_malformed_base_url(tmp_path, url):
    assert_one_line_error(cli("init", "--base-url", url, "--name", "X", "--data", str(tmp_path / "d")), "base_url")
    assert not (tmp_path / "d").exists()


def test_cli__missing_data_dir(tmp_path):
    assert_one_line_error(cli("follows", "list", "--data", str(tmp_path / "nope")), "does not exist")
    assert_one_line_error(cli("serve", "--data", str(tmp_path / "nope")), "does not exist")


def test_cli__approve_unknown_request(data):
    assert_one_line_error(cli("follows", "approve", "42", "--data", str(data)), "no follow request 42")


def test_cli__approve_not_a_number(data):
    assert_one_line_error(cli("follows", "approve", "abc", "--data", str(data)), "expected a number")


@pytest.mark.parametrize("target", ["ht!tp://x", "nobody", "@a@b@c@d", "https://"])
def test_cli__follow_malformed_target(data, target):
    assert_one_line_error(cli("follow", target, "--data", str(data)))


def test_cli__follow_unknown_handle(data, tmp_path):
    other = init_node(tmp_path / "b", free_port(), "Beta")
    # Nothing listens on Beta's port: the lookup fails cleanly.
    assert_one_line_error(cli("follow", f"@nobody@{other.host}", "--data", str(data)), "cannot follow")


def test_cli__member_add_duplicate_and_bad_handle(data):
    assert cli("member", "add", "alice", "--data", str(data))[0] == 0
    assert_one_line_error(cli("member", "add", "alice", "--data", str(data)), "taken")
    assert_one_line_error(cli("member", "add", "Not A Handle!", "--data", str(data)), "handle")
    assert_one_line_error(cli("member", "add", "group", "--data", str(data)), "taken")
    code, out, _ = cli("member", "list", "--data", str(data))
    assert [line.split("\t")[:3] for line in out.splitlines()] == [["alice", "friend", "alice"]]


def test_cli__bad_setting_names_it(data):
    env = {**os.environ, "CONGREGATION_PUBLIC_FOLLOWS": "sometimes"}
    proc = subprocess.run([sys.executable, "-m", "node", "serve", "--data", str(data)], capture_output=True,
                          text=True, env=env, timeout=30, check=False)
    assert_one_line_error((proc.returncode, proc.stdout, proc.stderr), "public_follows")


def test_cli__bad_toml_names_the_file(data):
    (data / "congregation.toml").write_text("[congregation]\nbase_url = \n")
    assert_one_line_error(cli("follows", "list", "--data", str(data)), "congregation.toml")


def test_cli__unknown_command():
    assert_one_line_error(cli("frobnicate"), "invalid choice")


HUGE = "9" * 25  # past SQLite's integers: int() takes it, binding it raised OverflowError


@pytest.mark.parametrize("args", [
    ("follows", "approve", HUGE), ("follows", "reject", "٣"), ("member", "log", "--limit", HUGE),
    ("post", "--as", "ada", "--edit", HUGE, "text"), ("post", "--as", "ada", "--delete", "²"),
    ("propose", "--as", "ada", "--title", "T", "--closes", f"{HUGE}d"),
    ("propose", "--as", "ada", "--title", "T", "--closes", "99999999999m"),
], ids=["approve-huge", "reject-arabic-digit", "log-limit-huge", "edit-huge", "delete-superscript", "closes-huge",
        "closes-minutes"])
def test_cli__a_number_out_of_range_is_a_one_line_error(data, args):
    assert cli("member", "add", "ada", "--data", str(data))[0] == 0
    code, out, err = cli(*args, "--data", str(data))
    assert_one_line_error((code, out, err))
    assert "unexpected error" not in err
