"""The real image: deploy/Dockerfile built with podman from a base image made here (no Docker Hub), two
containers that become sibling Congregations and exchange a post, /healthz and the image's HEALTHCHECK
healthy, SIGTERM ends a container within 10 s, and a restart keeps the same key.

Deselected from the main run (it needs root, podman and a few minutes); CI runs it as its own step:
    sh tests/container/install.sh && .venv/bin/python -m pytest -m container
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import aiohttp
import pytest

from tests.fediverse import eventually, free_port

pytestmark = pytest.mark.container

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "localhost/congregation:test"
BASE_IMAGE = "docker.io/library/python:3.11-slim-bookworm"
PODMAN = ["podman", "--storage-driver", "overlay"]
CONTAINER_UID = 10001  # the image's unprivileged user (deploy/Dockerfile)


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"podman {' '.join(args[:3])} … exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc


@pytest.fixture(scope="module")
def image() -> str:
    for tool in ("podman", "buildah", "runc", "debootstrap"):
        assert shutil.which(tool), f"{tool} is missing: run `sh tests/container/install.sh` first"
    assert os.geteuid() == 0, "the container test runs podman as root (rootless needs subuids this machine lacks)"
    made = subprocess.run(["sh", str(ROOT / "tests/container/make-base-image.sh"), BASE_IMAGE],
                          capture_output=True, text=True, timeout=900, check=False)
    assert made.returncode == 0, made.stdout + made.stderr
    podman("--runtime", "runc", "build", "--pull=never", "--network", "host", "--isolation", "chroot",
           "--format", "docker", "-f", str(ROOT / "deploy/Dockerfile"), "-t", IMAGE, str(ROOT), timeout=900)
    return IMAGE


class Container:
    """One Congregation in a container, its /data a folder of the test's, on the host's loopback."""

    def __init__(self, image: str, data: Path, name: str, public_port: int | None = None):
        self.image, self.data, self.port = image, data, free_port()
        self.name = f"congregation-test-{name}-{uuid.uuid4().hex[:8]}"
        self.title = name.title()
        # Behind a proxy the public address is the proxy's; the node listens on a port of its own.
        self.base_url = f"http://127.0.0.1:{public_port or self.port}"
        self.direct_url = f"http://127.0.0.1:{self.port}"
        self.group = f"{self.base_url}/actors/group"
        data.mkdir()
        os.chown(data, CONTAINER_UID, CONTAINER_UID)

    def run(self) -> Container:
        podman("run", "--runtime", "runc", "--detach", "--name", self.name, "--network", "host",
               "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
               "--env", f"CONGREGATION_BASE_URL={self.base_url}", "--env", f"CONGREGATION_NAME={self.title}",
               "--env", "CONGREGATION_LISTEN_HOST=127.0.0.1", "--env", f"CONGREGATION_LISTEN_PORT={self.port}",
               # Siblings on one machine's loopback: the SSRF guard is opened for this test only.
               "--env", "CONGREGATION_ALLOW_PRIVATE_ADDRESSES=true",
               "--volume", f"{self.data}:/data", self.image)
        return self

    def congregation(self, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
        proc = subprocess.run([*PODMAN, "exec", "-i", self.name, "congregation", *args], input=stdin,
                              capture_output=True, text=True, timeout=60, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def inspect(self, template: str) -> str:
        return podman("inspect", self.name, "--format", template).stdout.strip()

    def logs(self) -> str:
        return podman("logs", self.name, check=False).stdout + podman("logs", self.name, check=False).stderr

    def remove(self) -> None:
        podman("rm", "--force", "--time", "0", self.name, check=False)

    def stored(self, uri: str) -> str | None:
        """A remote object's content in this node's database, read from the host while the node runs."""
        with sqlite3.connect(f"file:{self.data / 'congregation.sqlite3'}?mode=ro", uri=True) as db:
            row = db.execute("SELECT content FROM remote_objects WHERE uri = ?", (uri,)).fetchone()
        return row[0] if row else None


async def _listening(node: Container, via_base_url: bool = False) -> bool:
    try:
        async with aiohttp.ClientSession() as session, \
                session.get(f"{node.base_url if via_base_url else node.direct_url}/healthz") as r:
            return r.status == 200 and (await r.json())["ok"] is True
    except aiohttp.ClientError:
        return False


async def _group_key(node: Container) -> str:
    async with aiohttp.ClientSession() as session, session.get(
            node.group, headers={"Accept": "application/activity+json"}) as r:
        return json.loads(await r.text())["publicKey"]["publicKeyPem"]


async def _approve(node: Container, follower: str) -> None:
    async def pending():
        _, out, _ = node.congregation("follows", "list", "--state", "pending")
        lines = [line for line in out.splitlines() if follower in line]
        return lines[0].split("\t", 1)[0] if lines else None

    request = await eventually(pending, timeout=30)
    code, _, err = node.congregation("follows", "approve", request)
    assert code == 0, err


@contextlib.contextmanager
def caddy_in_front(node: Container, public_port: int):
    """deploy/Caddyfile as shipped, serving plain HTTP on loopback (no certificate to get here) in front of
    the node: what the fediverse reaches goes through the proxy, Host header and all."""
    env = {**os.environ, "DOMAIN": f"http://127.0.0.1:{public_port}", "UPSTREAM": f"127.0.0.1:{node.port}",
           "XDG_DATA_HOME": str(node.data.parent / "caddy-data"), "XDG_CONFIG_HOME": str(node.data.parent / "caddy")}
    # The shipped file, imported under one global option: no admin endpoint (another Caddy may hold :2019).
    wrapper = node.data.parent / "Caddyfile.test"
    wrapper.write_text(f"{{\n\tadmin off\n}}\n\nimport {ROOT / 'deploy/Caddyfile'}\n")
    proc = subprocess.Popen(["caddy", "run", "--config", str(wrapper), "--adapter", "caddyfile"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


def test_caddyfiles__valid_and_formatted():
    env = {**os.environ, "DOMAIN": "congregation.example", "ALPHA_DOMAIN": "a.example", "BETA_DOMAIN": "b.example"}
    for name in ("Caddyfile", "Caddyfile.siblings"):
        path = str(ROOT / "deploy" / name)
        valid = subprocess.run(["caddy", "validate", "--config", path, "--adapter", "caddyfile"], env=env,
                               capture_output=True, text=True, check=False, timeout=60)
        assert valid.returncode == 0, valid.stderr[-2000:]
        formatted = subprocess.run(["caddy", "fmt", path], capture_output=True, text=True, check=False, timeout=60)
        assert formatted.stdout == Path(path).read_text(), f"{name} is not as `caddy fmt` writes it"


async def test_container__two_images_become_siblings_exchange_a_post_are_healthy_and_stop_on_sigterm(
        image, tmp_path):
    proxy_port = free_port()
    a = Container(image, tmp_path / "alpha", "alpha", public_port=proxy_port)
    b = Container(image, tmp_path / "beta", "beta")
    with caddy_in_front(a, proxy_port):
        await _two_siblings(a, b)


async def _two_siblings(a: Container, b: Container) -> None:
    try:
        # Given two containers from the image, each creating its Congregation on first start, A behind Caddy
        for node in (a.run(), b.run()):
            await eventually(lambda node=node: _listening(node), timeout=60)
            await eventually(lambda node=node: _listening(node, via_base_url=True), timeout=30)
            assert f"Created {node.title} at {node.group}" in node.logs()
            assert node.inspect("{{.Config.User}}") == f"{CONTAINER_UID}:{CONTAINER_UID}"
        first_key = a.congregation("siblings")  # the CLI works inside the container, on the volume's database
        assert first_key[0] == 0, first_key[2]

        # When they become siblings (each follows the other, each approves)
        assert a.congregation("follow", b.group)[0] == 0
        assert b.congregation("follow", a.group)[0] == 0
        await _approve(b, a.group)
        await _approve(a, b.group)

        async def siblings() -> bool:
            return (f"sibling\t{b.group}\t" in a.congregation("siblings")[1]
                    and f"sibling\t{a.group}\t" in b.congregation("siblings")[1])

        await eventually(siblings, timeout=60)

        # And a member of A posts publicly, and a member of B answers
        for node, handle in ((a, "ada"), (b, "bea")):
            code, _, err = node.congregation("member", "add", handle)
            assert code == 0, err
        code, out, err = a.congregation("post", "--as", "ada", "--visibility", "public", "Soup on Friday, from A")
        assert code == 0, err
        from_a = out.strip().rsplit(" ", 1)[-1]
        code, out, err = b.congregation("post", "--as", "bea", "--visibility", "public", "We bring bread, from B")
        assert code == 0, err
        from_b = out.strip().rsplit(" ", 1)[-1]

        # Then each Congregation holds the other's post
        async def exchanged():
            return a.stored(from_b) and b.stored(from_a)

        await eventually(exchanged, timeout=60)
        assert "Soup on Friday" in b.stored(from_a)
        assert "We bring bread" in a.stored(from_b)

        # And both are healthy, by /healthz and by the image's own HEALTHCHECK
        for node in (a, b):
            assert await _listening(node)
            assert podman("healthcheck", "run", node.name, check=False).returncode == 0
            assert node.inspect("{{.State.Health.Status}}") == "healthy"

        # And `congregation doctor` inside A finds nothing wrong: base URL through Caddy, keys, disk, clock vs. B
        code, out, err = a.congregation("doctor")
        assert code == 0, out + err
        checks = {line.split()[1].rstrip(":"): line.split()[0] for line in out.splitlines() if line.strip()}
        assert checks == dict.fromkeys(["config", "database", "keys", "disk", "growth", "base", "clock"], "ok"), out

        # And SIGTERM stops a container within 10 s, cleanly
        key_before = await _group_key(a)
        started = time.monotonic()
        podman("stop", "--time", "10", a.name, timeout=30)
        took = time.monotonic() - started
        assert took < 10, f"stopping took {took:.1f} s"
        print(f"\n  SIGTERM to exit: {took:.2f} s")
        assert a.inspect("{{.State.ExitCode}}") == "0", a.logs()[-2000:]

        # And a restart keeps the Congregation: same Group key, no second "Created"
        podman("start", a.name)
        await eventually(lambda: _listening(a), timeout=60)
        assert a.logs().count("Created Alpha") == 1
        assert await _group_key(a) == key_before
        assert a.stored(from_b)
    finally:
        for node in (a, b):
            node.remove()
