"""The sans-IO Hub's clock: `hub.now()` reads the clock the hub uses when
`now` is left out, which `poll_timeout()` answers on; the driving loop
docs/python.md shows runs as written; and a driver that mixes its own
clock with the hub's is told so, naming both, before anything is closed."""

from __future__ import annotations

import contextlib
import io
import re
import time
from pathlib import Path

import pytest

import tcphub

DOC = Path(__file__).resolve().parents[2] / "docs" / "python.md"
SYNC = b'{"type":"sync","clientName":"Client-1"}\n'


def snippet(name: str) -> str:
    marker = f"<!-- run: python/tests/test_sansio_clock.py {name} -->\n```python\n"
    text = DOC.read_text(encoding="utf-8")
    start = text.index(marker) + len(marker)
    return text[start : text.index("```", start)]


def test_the_documented_own_clock_loop_runs():
    """The loop docs/python.md shows: `now` left out everywhere, waits of
    `max(0, hub.poll_timeout() - hub.now())`. It must wait for the idle
    timeout (not close at once, not hang) and then find nothing to wait for."""
    out = io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(out):
        exec(compile(snippet("own-clock-loop"), "own-clock-loop", "exec"), {"__name__": "snippet"})
    took = time.monotonic() - started
    printed = out.getvalue().splitlines()
    assert [line.split("(")[0] for line in printed] == ["Connected", "Synced", "Close", "Released", "Disconnected"], printed
    assert "reason='idle_timeout'" in printed[2], printed
    assert 0.5 <= took < 5, took


def test_now_is_the_clock_poll_timeout_answers_on_when_now_is_left_out():
    hub = tcphub.Hub(idle_timeout=30.0)
    assert 0 <= hub.now() < 5
    hub.accept("10.0.0.1:50001")
    hub.poll()
    due = hub.poll_timeout()
    assert due is not None
    assert 25 < due - hub.now() <= 30
    before = hub.now()
    time.sleep(0.01)
    assert hub.now() > before
    # Nothing is due yet on that clock: handle_timeout closes nothing.
    hub.handle_timeout()
    assert len(hub) == 1 and hub.poll() == []


def test_reading_now_settles_nothing():
    """A driver on its own clock may still read the hub's."""
    hub = tcphub.Hub()
    hub.now()
    hub.accept("10.0.0.1:50001", now=1000.0)
    hub.now()
    hub.handle_timeout(now=1001.0)


def test_the_issues_trap_is_an_error_naming_both_clocks_and_closes_nothing():
    """`now` left out of `accept` and `receive`, then `time.monotonic()`
    given to `handle_timeout`: this used to close the session as idle at
    once and then raise "time went backwards"."""
    hub = tcphub.Hub(idle_timeout=30.0)
    one = hub.accept("10.0.0.1:50001")
    hub.receive(one, SYNC)
    hub.poll()
    with pytest.raises(tcphub.Error, match=r"handle_timeout\(now=.*\) mixes two clocks") as raised:
        hub.handle_timeout(time.monotonic())
    message = str(raised.value)
    assert "its own clock" in message and "hub.now()" in message, message
    assert len(hub) == 1 and hub.poll() == []
    # Its own clock still drives it.
    hub.receive(one, b'{"type":"ping"}\n')
    assert any(isinstance(a, tcphub.Transmit) for a in hub.poll())


def test_leaving_now_out_after_passing_it_is_an_error_naming_both_clocks():
    hub = tcphub.Hub(idle_timeout=30.0)
    one = hub.accept("10.0.0.1:50001", now=5000.0)
    with pytest.raises(tcphub.Error, match=re.escape("receive() without now mixes two clocks")) as raised:
        hub.receive(one, SYNC)
    message = str(raised.value)
    assert "driver's clock (now=5000.000 s last)" in message and "hub.now()" in message, message
    assert hub.poll() != []  # the accept's Connected, and nothing from the refused receive
    hub.receive(one, SYNC, now=5000.5)
    assert any(isinstance(a, tcphub.Synced) for a in hub.poll())


@pytest.mark.parametrize(
    "call",
    [
        lambda hub, h, now: hub.receive(h, SYNC, now=now),
        lambda hub, h, now: hub.handle_eof(h, now=now),
        lambda hub, h, now: hub.handle_written(h, 1, now=now),
        lambda hub, h, now: hub.connection_lost(h, now=now),
        lambda hub, h, now: hub.handle_timeout(now=now),
        lambda hub, h, now: hub.handle_auth_decision(1, True, now=now),
    ],
)
def test_every_call_taking_now_keeps_to_one_clock(call):
    hub = tcphub.Hub(authentication=True)
    handle = hub.accept("10.0.0.1:50001")
    with pytest.raises(tcphub.Error, match="mixes two clocks"):
        call(hub, handle, 1.0)
    driven = tcphub.Hub(authentication=True)
    handle = driven.accept("10.0.0.1:50001", now=1.0)
    with pytest.raises(tcphub.Error, match="mixes two clocks"):
        call(driven, handle, None)


def test_a_bad_now_settles_nothing():
    hub = tcphub.Hub()
    with pytest.raises(tcphub.ConfigError):
        hub.accept("10.0.0.1:50001", now=float("nan"))
    hub.accept("10.0.0.1:50001")  # the hub's own clock: nothing was settled
