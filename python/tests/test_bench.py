"""The benchmark script still runs (its figures are not checked: this
machine's speed is not a test result)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_events.py"


def test_bench_runs_and_reports_every_figure():
    done = subprocess.run(
        [sys.executable, str(BENCH), "--messages", "20000", "--connections", "2", "--sends", "2000"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for needle in (
        "events consumed, buffered:",
        "events consumed, live:",
        "messages sent from Python:",
        "sans-IO Hub from Python:",
    ):
        assert needle in done.stdout
    assert "0 missing" in done.stdout
    assert "(2,000 of 2,000;" in done.stdout


def test_auth_bench_runs_and_reports_every_figure():
    done = subprocess.run(
        [sys.executable, str(BENCH.with_name("bench_auth.py")), "--clients", "20", "--at-once", "8"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for needle in ("no authentication:", "plain-function callback:", "async def callback:", "8 clients at once"):
        assert needle in done.stdout
