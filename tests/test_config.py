"""Settings: TOML, then CONGREGATION_* overrides, into a frozen object; a bad one is named."""

from __future__ import annotations

import dataclasses

import pytest

from node.config import ConfigError, load, render_toml


def write(tmp_path, **values):
    (tmp_path / "congregation.toml").write_text(render_toml({"base_url": "https://c.example", "name": "C",
                                                             **values}))
    return tmp_path


def test_config__toml_then_env_override(tmp_path):
    config = load(write(tmp_path, public_follows="manual"), env={"CONGREGATION_PUBLIC_FOLLOWS": "auto",
                                                                  "CONGREGATION_MAX_INBOX_BYTES": "2048"})
    assert config.public_follows == "auto" and config.max_inbox_bytes == 2048
    assert config.host == "c.example" and config.db_path == tmp_path / "congregation.sqlite3"


def test_config__is_frozen(tmp_path):
    config = load(write(tmp_path), env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.public_follows = "auto"


@pytest.mark.parametrize("env, setting", [
    ({"CONGREGATION_PUBLIC_FOLLOWS": "sometimes"}, "public_follows"),
    ({"CONGREGATION_ALLOW_PRIVATE_ADDRESSES": "maybe"}, "allow_private_addresses"),
    ({"CONGREGATION_MAX_INBOX_BYTES": "lots"}, "max_inbox_bytes"),
    ({"CONGREGATION_MAX_INBOX_BYTES": "-1"}, "max_inbox_bytes"),
    ({"CONGREGATION_BASE_URL": "example.org"}, "base_url"),
    ({"CONGREGATION_NO_SUCH_THING": "1"}, "CONGREGATION_NO_SUCH_THING"),
    ({"CONGREGATION_GROUP_HANDLE": "Has Spaces"}, "group_handle"),
])
def test_config__bad_value_names_the_setting(tmp_path, env, setting):
    with pytest.raises(ConfigError, match=setting):
        load(write(tmp_path), env=env)


def test_config__unknown_key_in_file(tmp_path):
    with pytest.raises(ConfigError, match="colour"):
        load(write(tmp_path, colour="blue"), env={})


def test_config__missing_required(tmp_path):
    (tmp_path / "congregation.toml").write_text('[congregation]\nname = "C"\n')
    with pytest.raises(ConfigError, match="base_url"):
        load(tmp_path, env={})


def test_config__base_url_normalised(tmp_path):
    assert load(write(tmp_path, base_url="HTTPS://C.Example/"), env={}).base_url == "https://c.example"
