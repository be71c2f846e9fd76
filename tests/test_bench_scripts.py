"""The benchmarks are not run in CI (they need minutes and a quiet machine), but they must
at least parse and show their options."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.parametrize(
    "script", ["ledger_throughput.py", "gift_throughput.py", "gift_floor.py", "websocket_gifts.py"]
)
def test_benchmark_shows_its_options(script):
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "--processes" in done.stdout and "--clients" in done.stdout


def test_dashboard_benchmark_shows_its_options():
    """bench/dashboard.py measures one signed-in client, so it has no --processes/--clients."""
    done = subprocess.run(
        [sys.executable, str(BENCH / "dashboard.py"), "--help"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "--gifts" in done.stdout and "--requests" in done.stdout
