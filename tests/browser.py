"""Headless Chromium for the web UI tests: Debian's build, driven by Playwright; screenshots kept as artifacts."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
# Without these Chromium keeps dialling Google's services, which a closed network refuses many times a second.
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def chromium_path() -> str:
    """Debian's Chromium; `tests/install-chromium.sh` (run by the README's test command) installs it."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("Chromium is not installed: run tests/install-chromium.sh (the README's test command does)")


def screenshot_path(name: str) -> str:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return str(ARTIFACTS / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png")


AXE = Path(__file__).resolve().parent / "interop" / "node_modules" / "axe-core" / "axe.min.js"


async def accessibility_violations(page) -> list[str]:
    """axe-core's WCAG 2 A/AA findings on the page, one line each (the context needs bypass_csp=True:
    the pages forbid every script, axe's included)."""
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',"
        " 'best-practice']})).violations"
        ".map(v => `${v.impact}: ${v.id}: ${v.help} (${v.nodes.map(n => n.target.join(' ')).join(', ')})`)")
    return list(result)


async def sign_in(page, node, handle: str) -> None:
    """Sign `handle` in on `node` through the login form, as a person would, and land on Home."""
    from playwright.async_api import expect

    from tests.webclient import PASSWORD

    await page.goto(node.base + "/login")
    await page.get_by_label("Handle").fill(handle)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/home$"))
