"""Browser fixtures: a real registry process, users made with its CLI, Debian's Chromium.

Playwright never downloads a browser here: it drives ``/usr/bin/chromium`` (``apt-get
install -y chromium``). Screenshots go to the test's directory, and also to
``docs/screenshots/`` when ``PYLM_UPDATE_SCREENSHOTS=1``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, Procs, python_env

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "correct horse battery"
UI_TIMEOUT_MS = 30_000


@dataclass
class Registry:
    url: str
    db: str
    keys: dict[str, str]

    def add_user(self, name: str, admin: bool = False) -> str:
        argv = [sys.executable, "-m", "pylm.registry", "user", "add", name, "--db", self.db]
        done = subprocess.run(argv + (["--admin"] if admin else []), input=PASSWORD + "\n",
                              capture_output=True, text=True, timeout=60, env=python_env())
        assert done.returncode == 0, done.stderr
        self.keys[name] = done.stdout.strip().splitlines()[-1]
        return self.keys[name]

    def api(self, user: str) -> httpx.Client:
        return httpx.Client(base_url=self.url + "/api/v1", timeout=30,
                            headers={"Authorization": f"Bearer {self.keys[user]}"})


@pytest.fixture
def registry(procs: Procs, tmp_path: Path) -> Iterator[Registry]:
    db = f"sqlite:///{tmp_path / 'registry.db'}"
    server = procs.python("-m", "pylm.registry", "--db", db, "--port", "0",
                          "--heartbeat-interval", "1", "--lost-after", "4", name="registry")
    url = server.wait_for(r"listening on (http://\S+)", timeout=60).group(1)
    yield Registry(url, db, {})


@pytest.fixture
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield chromium
        finally:
            chromium.close()


class Shots:
    """Saves named full-page screenshots of a page."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.update = os.environ.get("PYLM_UPDATE_SCREENSHOTS") == "1"

    def take(self, page, name: str) -> Path:
        path = self.directory / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if self.update:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, SCREENSHOTS / path.name)
        return path


@pytest.fixture
def shots(tmp_path: Path) -> Shots:
    directory = tmp_path / "screenshots"
    directory.mkdir()
    return Shots(directory)


def new_page(browser, registry: Registry, dialogs: list[str], width: int = 1280,
             height: int = 900):
    """A page in a fresh context that records every JavaScript dialog (none may open)."""
    context = browser.new_context(base_url=registry.url,
                                  viewport={"width": width, "height": height})
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()

    def on_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return page


def log_in(page, name: str) -> None:
    page.goto("/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: not url.split("?")[0].endswith("/login"))
