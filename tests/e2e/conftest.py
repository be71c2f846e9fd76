"""Browser journeys: Playwright driving Debian's Chromium against pytest-django's live server.

Outside CI a missing /usr/bin/chromium skips these tests with the reason shown; under
CI=true it fails the run, because .ci/run installs the browser.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "e2e"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


def pytest_collection_modifyitems(config, items):
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError(
            f"CI=true but no browser at {CHROMIUM}: .ci/run must install chromium"
        )
    skip = pytest.mark.skip(
        reason=f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    )
    for item in items:
        item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": FLAGS}


@pytest.fixture
def shot():
    """Save a full-page screenshot under test-results/e2e/ and return its path."""
    SHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
