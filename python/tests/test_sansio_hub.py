"""The sans-IO ``tcphub.Hub``: its outputs step by step with explicit time,
and the asyncio driver of python/examples/own_loop.py (the one the docs
describe) serving real sockets."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import socket
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, List, Optional, Tuple

import pytest

import tcphub

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


own_loop = load_example("own_loop")


# ----- helpers for driving the hub by hand -----


def sync(hub: tcphub.Hub, handle: int, alias: str, now: float = 0.0) -> None:
    hub.receive(handle, json.dumps({"type": "sync", "clientName": alias}).encode(), now=now)


def written_at_once(hub: tcphub.Hub, actions: List[Any], now: float) -> None:
    """What a driver with room in every socket does: reports each Transmit."""
    for action in actions:
        if isinstance(action, tcphub.Transmit):
            hub.handle_written(action.handle, len(action.data), now=now)


def frames(actions: List[Any], handle: int) -> List[dict]:
    return [json.loads(a.data) for a in actions if isinstance(a, tcphub.Transmit) and a.handle == handle]


def of(actions: List[Any], kind: type, handle: int) -> List[Any]:
    return [a for a in actions if isinstance(a, kind) and a.handle == handle]


def relay(to: str, size: int) -> bytes:
    return json.dumps({"type": "info", "to": to, "message": "x" * size}).encode()


def paired(**options: Any) -> Tuple[tcphub.Hub, int, int]:
    """A hub with a sender and a reader, both synced, everything written."""
    hub = tcphub.Hub(**options)
    sender = hub.accept("10.0.0.1:1", now=0.0)
    reader = hub.accept("10.0.0.2:1", now=0.0)
    sync(hub, sender, "sender")
    sync(hub, reader, "reader")
    written_at_once(hub, hub.poll(), now=0.0)
    assert hub.queued_bytes(sender) == hub.queued_bytes(reader) == 0
    return hub, sender, reader


FLOW = {"high_watermark": 4096, "low_watermark": 1024}


# ----- flow control -----


def test_a_stalled_reader_pauses_the_sender_and_a_write_report_resumes_it():
    hub, sender, reader = paired(write_deadline=None, **FLOW)
    # Six messages of about 1 KiB for a reader whose socket takes nothing,
    # then a ping: the hub stops reading the sender once the reader's queue
    # passes the high watermark, and keeps the rest for later.
    hub.receive(sender, relay("reader", 1000) * 6 + b'{"type":"ping","id":"after"}', now=1.0)
    actions = hub.poll()
    relayed = of(actions, tcphub.Transmit, reader)
    queued = sum(len(t.data) for t in relayed)
    assert hub.queued_bytes(reader) == queued
    assert queued > 4096 >= queued - len(relayed[-1].data), "paused on the frame that crossed it"
    assert len(relayed) < 6
    assert of(actions, tcphub.PauseReading, sender) and of(actions, tcphub.PauseReading, reader)
    assert frames(actions, sender) == [], "the ping waits behind the messages"

    # More input while paused is kept, in order, and nothing is done with it.
    hub.receive(sender, b'{"type":"ping","id":"later"}', now=1.5)
    assert hub.poll() == []

    # A report that leaves the queue above the low watermark resumes nobody.
    hub.handle_written(reader, queued - 2000, now=2.0)
    assert hub.queued_bytes(reader) == 2000
    assert hub.poll() == []

    # Below it, the sender resumes: the rest is relayed, then both pings answered.
    hub.handle_written(reader, 2000, now=2.5)
    actions = hub.poll()
    assert of(actions, tcphub.ResumeReading, sender) and of(actions, tcphub.ResumeReading, reader)
    assert len(of(actions, tcphub.Transmit, reader)) == 6 - len(relayed)
    assert frames(actions, sender) == [{"type": "pong", "id": "after"}, {"type": "pong", "id": "later"}]
    assert repr(of(actions, tcphub.ResumeReading, sender)[0]) == f"ResumeReading(handle={sender})"


def test_a_write_deadline_closes_a_stalled_reader_and_frees_its_sender():
    hub, sender, reader = paired(write_deadline=1.0, **FLOW)
    hub.receive(sender, relay("reader", 1000) * 6 + b'{"type":"ping","id":"after"}', now=1.0)
    actions = hub.poll()
    written_at_once(hub, of(actions, tcphub.Transmit, sender), now=1.0)
    assert of(actions, tcphub.PauseReading, sender)

    # Time passes and the reader's socket takes nothing: the driver wakes the
    # hub whenever poll_timeout says, until the deadline closes the reader.
    now = 1.0
    while True:
        due = hub.poll_timeout()
        assert due is not None and due > now
        now = due
        hub.handle_timeout(now=now)
        actions = hub.poll()
        if actions:
            break
    assert 2.0 <= now <= 2.25 + 1e-9, "between 1 and 1.25 deadlines after the queue last moved"

    (close,) = of(actions, tcphub.Close, reader)
    # As `case tcphub.Close(handle, reason, farewell, unsent):` reads it
    # (examples/hub_by_hand.py matches so; this file runs on Python 3.9 too).
    handle, reason, farewell, unsent = (getattr(close, name) for name in tcphub.Close.__match_args__)
    assert (handle, reason, unsent) == (reader, "slow_consumer", "discard")
    bye = json.loads(farewell)
    assert (bye["type"], bye["reason"]) == ("bye", "slow_consumer")
    assert farewell.endswith(b"\n")
    assert "unsent='discard'" in repr(close) and "farewell=b'" in repr(close)
    (gone,) = of(actions, tcphub.Disconnected, reader)
    assert (gone.alias, gone.reason) == ("reader", "slow_consumer")

    # The sender resumes: what it sent meanwhile finds nobody, then its ping.
    assert of(actions, tcphub.ResumeReading, sender)
    replies = frames(actions, sender)
    assert {r.get("code") for r in replies[:-1]} == {"unknown_alias"}
    assert replies[-1] == {"type": "pong", "id": "after"}

    # The reader is gone: its queue is no more, late write reports are ignored.
    with pytest.raises(tcphub.UnknownSessionError):
        hub.queued_bytes(reader)
    hub.handle_written(reader, 100, now=now)
    assert [s.alias for s in hub.sessions()] == ["sender"]


def test_a_client_that_does_not_read_its_own_replies_is_paused():
    hub = tcphub.Hub(write_deadline=None, **FLOW)
    spammer = hub.accept("10.0.0.1:1", now=0.0)
    hub.receive(spammer, b'{"type":"ping"}' * 1000, now=0.0)
    actions = hub.poll()
    pongs = len(frames(actions, spammer))
    assert of(actions, tcphub.PauseReading, spammer)
    assert 4096 < hub.queued_bytes(spammer) < 4096 + 100 and pongs < 1000
    # Each report of what was written lets it do one more queue's worth of work.
    answered, rounds = pongs, 1
    while answered < 1000:
        hub.handle_written(spammer, hub.queued_bytes(spammer), now=1.0)
        actions = hub.poll()
        batch = len(frames(actions, spammer))
        assert 0 < batch <= pongs
        answered, rounds = answered + batch, rounds + 1
    assert answered == 1000 and rounds >= 1000 // pongs
    # Once its input is used up and its replies written, it is read again.
    hub.handle_written(spammer, hub.queued_bytes(spammer), now=1.0)
    assert of(actions + hub.poll(), tcphub.ResumeReading, spammer)


# ----- half-close -----


def test_half_close_answers_then_closes_with_peer_closed():
    hub = tcphub.Hub()
    handle = hub.accept("10.0.0.1:1", now=0.0)
    hub.poll()
    hub.receive(handle, b'{"type":"ping","id":1}', now=0.0)
    hub.handle_eof(handle, now=0.0)
    actions = hub.poll()
    assert [type(a).__name__ for a in actions] == ["Transmit", "Close", "Disconnected"]
    assert actions[0].data == b'{"type":"pong","id":1}\n'
    close = actions[1]
    assert (close.handle, close.reason, close.unsent) == (handle, "peer_closed", "send")
    assert json.loads(close.farewell)["reason"] == "peer_closed"
    assert actions[2].reason == "peer_closed"
    with pytest.raises(tcphub.UnknownSessionError):
        hub.handle_eof(handle, now=0.0)


def test_half_close_in_the_middle_of_a_frame_says_so_first():
    hub = tcphub.Hub()
    handle = hub.accept("10.0.0.1:1", now=0.0)
    hub.poll()
    hub.receive(handle, b'{"type":"ping"}{"type":"pi', now=0.0)
    hub.handle_eof(handle, now=0.0)
    actions = hub.poll()
    sent = frames(actions, handle)
    assert [f["type"] for f in sent] == ["pong", "error"] and sent[1]["code"] == "bad_json"
    assert of(actions, tcphub.Close, handle)[0].reason == "peer_closed"


def test_a_paused_client_that_half_closes_is_answered_once_it_resumes():
    hub, sender, reader = paired(write_deadline=None, **FLOW)
    hub.receive(sender, relay("reader", 1000) * 5 + b'{"type":"ping"}', now=1.0)
    hub.handle_eof(sender, now=1.0)
    actions = hub.poll()
    assert of(actions, tcphub.PauseReading, sender) and not of(actions, tcphub.Close, sender)
    hub.handle_written(reader, hub.queued_bytes(reader), now=2.0)
    actions = hub.poll()
    assert frames(actions, sender) == [{"type": "pong"}]
    assert of(actions, tcphub.Close, sender)[0].reason == "peer_closed"


# ----- the other outputs -----


def test_output_classes_match_positionally():
    assert tcphub.Transmit.__match_args__ == ("handle", "data")
    assert tcphub.Close.__match_args__ == ("handle", "reason", "farewell", "unsent")
    assert tcphub.PauseReading.__match_args__ == tcphub.ResumeReading.__match_args__ == ("handle",)


def test_a_refused_session_gets_a_close_with_its_error():
    hub = tcphub.Hub(max_sessions=1)
    hub.accept("10.0.0.1:1", now=0.0)
    extra = hub.accept("10.0.0.2:1", now=0.0)
    actions = hub.poll()
    (close,) = of(actions, tcphub.Close, extra)
    assert (close.reason, close.unsent) == ("too_many_sessions", "send")
    assert json.loads(close.farewell)["code"] == "too_many_sessions"
    assert not of(actions, tcphub.Transmit, extra), "the farewell is not a Transmit"


def test_poll_shares_one_bytes_object_per_broadcast():
    hub = tcphub.Hub()
    handles = [hub.accept(f"10.0.0.{i}:1", now=0.0) for i in range(3)]
    hub.poll()
    hub.broadcast({"n": 1})
    sends = hub.poll()
    assert [s.handle for s in sends] == handles
    assert sends[0].data is sends[1].data is sends[2].data
    assert sends[0].data == b'{"type":"info","from":"#hub","message":{"n":1}}\n'
    assert all(hub.queued_bytes(h) == len(sends[0].data) for h in handles)


def test_idle_timeout_with_explicit_time():
    hub = tcphub.Hub(idle_timeout=10)
    a = hub.accept("10.0.0.1:1", now=0.0)
    b = hub.accept("10.0.0.2:1", now=5.0)
    assert hub.poll_timeout() == pytest.approx(10.0)
    hub.handle_timeout(now=10.5)
    actions = hub.poll()
    closes = [x for x in actions if isinstance(x, tcphub.Close)]
    assert [(c.handle, c.reason) for c in closes] == [(a, "idle_timeout")]
    assert hub.poll_timeout() == pytest.approx(15.0)
    assert len(hub) == 1 and hub.sessions()[0].session_id == "10.0.0.2:1"
    with pytest.raises(tcphub.Error, match="time went backwards"):
        hub.receive(b, b"{}", now=1.0)


def test_frame_timeout_closes_a_trickled_frame():
    hub = tcphub.Hub(frame_timeout=2.0)
    handle = hub.accept("10.0.0.1:1", now=0.0)
    hub.receive(handle, b'{"type":"pi', now=0.0)
    hub.receive(handle, b"n", now=1.0)  # trickling does not extend it
    assert hub.poll_timeout() == pytest.approx(2.0)
    hub.handle_timeout(now=2.0)
    (close,) = of(hub.poll(), tcphub.Close, handle)
    assert close.reason == "frame_timeout" and json.loads(close.farewell)["code"] == "frame_timeout"


def test_hub_errors_are_the_python_exceptions():
    hub = tcphub.Hub()
    with pytest.raises(tcphub.UnknownSessionError):
        hub.receive(99, b"{}")
    with pytest.raises(tcphub.UnknownSessionError):
        hub.send_to_session("1.2.3.4:5", "x")
    with pytest.raises(tcphub.UnknownSessionError):
        hub.queued_bytes(99)
    with pytest.raises(tcphub.ConfigError, match="alias_policy"):
        tcphub.Hub(alias_policy="first-come")
    h = hub.accept("1.2.3.4:5")
    with pytest.raises(tcphub.ConfigError, match="unknown close reason"):
        hub.close_session(h, reason="because")
    hub.close_session("1.2.3.4:5", reason="slow_consumer")
    assert [type(x).__name__ for x in hub.poll()] == ["Connected", "Close", "Disconnected"]
    with pytest.raises(tcphub.UnknownSessionError):
        hub.send_to_session(h, "x")
    assert repr(hub) == "Hub(sessions=0)"


def test_a_takeover_names_the_old_session_both_ways():
    hub = tcphub.Hub()
    first = hub.accept("10.0.0.1:1", now=0.0)
    second = hub.accept(session_id="10.0.0.2:2", now=0.0)
    assert (hub.handle_of("10.0.0.1:1"), hub.handle_of("10.0.0.2:2")) == (first, second)
    sync(hub, first, "dup")
    sync(hub, second, "other")
    hub.poll()
    sync(hub, second, "dup")  # gives up "other", takes "dup" from first
    actions = hub.poll()
    events = [a for a in actions if isinstance(a, tcphub.Event)]
    assert [(type(e).__name__, e.handle) for e in events] == [
        ("Released", second),
        ("Released", first),
        ("Synced", second),
        ("Disconnected", first),
    ]
    synced = events[2]
    assert (synced.took_over_from, synced.took_over_from_handle) == ("10.0.0.1:1", first)
    (close,) = of(actions, tcphub.Close, synced.took_over_from_handle)
    assert close.reason == "taken_over"
    with pytest.raises(tcphub.UnknownSessionError):
        hub.handle_of(synced.took_over_from)  # closed in the same step
    # A sync that takes nothing over names nobody, and forgets earlier releases.
    sync(hub, second, "again")
    (resynced,) = [a for a in hub.poll() if isinstance(a, tcphub.Synced)]
    assert (resynced.took_over_from, resynced.took_over_from_handle) == (None, None)


def test_handle_of_an_unknown_session_id_raises():
    hub = tcphub.Hub()
    with pytest.raises(tcphub.UnknownSessionError, match="10.9.9.9:9"):
        hub.handle_of("10.9.9.9:9")
    hub.accept("10.9.9.9:9")
    with pytest.raises(tcphub.Error, match="already open"):
        hub.accept("10.9.9.9:9")


def test_the_three_sends_count_the_sessions_reached():
    hub = tcphub.Hub(alias_policy="share")
    a, b = hub.accept("10.0.0.1:1", now=0.0), hub.accept("10.0.0.2:2", now=0.0)
    sync(hub, a, "x")
    sync(hub, b, "x")
    hub.poll()
    assert hub.broadcast("all") == 2
    assert hub.send("x", "both") == 2
    assert hub.send_to_session(a, "by handle") == 1
    assert hub.send_to_session("10.0.0.2:2", "by session id") == 1
    sent = [(t.handle, json.loads(t.data)["message"]) for t in hub.poll() if isinstance(t, tcphub.Transmit)]
    assert sent == [(a, "all"), (b, "all"), (a, "both"), (b, "both"), (a, "by handle"), (b, "by session id")]


@pytest.mark.parametrize("reason", tcphub.CLOSE_REASONS)
def test_close_session_takes_every_reason_the_core_lists(reason):
    hub = tcphub.Hub()
    h = hub.accept("1.2.3.4:5")
    hub.close_session(h, reason=reason)
    (close,) = of(hub.poll(), tcphub.Close, h)
    assert close.reason == reason and json.loads(close.farewell)["reason"] == reason


def test_close_session_names_the_reasons_it_takes():
    hub = tcphub.Hub()
    h = hub.accept("1.2.3.4:5")
    with pytest.raises(tcphub.ConfigError, match="tcphub.CLOSE_REASONS") as caught:
        hub.close_session(h, reason="because")
    assert all(reason in str(caught.value) for reason in tcphub.CLOSE_REASONS)
    hub.close_session(h)  # the default: closed_by_host
    assert of(hub.poll(), tcphub.Close, h)[0].reason == "closed_by_host"


def test_hub_bad_input_is_an_event_not_an_exception():
    hub = tcphub.Hub()
    h = hub.accept("1.2.3.4:5")
    hub.receive(h, b"\xff\xfe garbage\n{\"type\":\"ping\"}")
    actions = hub.poll()
    errors = [a for a in actions if isinstance(a, tcphub.ProtocolError)]
    assert errors and errors[0].code == "bad_json"
    assert actions[-1].data == b'{"type":"pong"}\n'


def test_list_is_paged_by_max_list_rows():
    hub = tcphub.Hub(max_list_rows=2)
    handles = [hub.accept(f"10.0.0.{i}:1", now=0.0) for i in range(5)]
    hub.poll()
    hub.receive(handles[0], b'{"type":"list","id":"a"}', now=0.0)
    (page,) = frames(hub.poll(), handles[0])
    assert (len(page["sessions"]), page["total"], page["id"]) == (2, 5, "a") and "next" in page


def test_one_hub_per_thread_is_fine():
    """Hubs are plain objects: several threads can each own one."""
    results = []

    def work(i: int) -> None:
        hub = tcphub.Hub()
        h = hub.accept(f"10.0.0.{i}:1")
        hub.receive(h, b'{"type":"sync","clientName":"t"}')
        results.append(sum(isinstance(x, tcphub.Synced) for x in hub.poll()))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [1, 1, 1, 1]


# ----- extreme values for the new options -----

INF = float("inf")
NO_LIMIT = [INF, 1e300, 1e19, 2**70, 10**400, None]
NO_WAIT = [-INF, float("nan"), -1, 0, 1e-300]
HUGE_INTS = [2**62, 2**70, 10**400]
FLOATS = [INF, -INF, float("nan"), 1e300, 1e19, 1.5]
NOT_POSITIVE = [-1, 0, -(2**70)]


def ids(values: List[Any]) -> List[str]:
    def name(v: Any) -> str:
        if isinstance(v, int) and abs(v) > 2**60:
            return ("-" if v < 0 else "") + ("10**400" if abs(v) == 10**400 else f"2**{abs(v).bit_length() - 1}")
        return repr(v)

    return [name(v) for v in values]


@pytest.mark.parametrize("value", NO_LIMIT, ids=ids(NO_LIMIT))
def test_write_deadline_without_limit_never_closes(value):
    hub = tcphub.Hub(write_deadline=value)
    handle = hub.accept("10.0.0.1:1", now=0.0)
    hub.receive(handle, b'{"type":"ping"}', now=0.0)
    assert frames(hub.poll(), handle) == [{"type": "pong"}]  # never reported written
    assert hub.poll_timeout() is None
    hub.handle_timeout(now=1e19)
    assert len(hub) == 1 and hub.queued_bytes(handle) == len(b'{"type":"pong"}\n')


@pytest.mark.parametrize("value", NO_LIMIT, ids=ids(NO_LIMIT))
def test_frame_timeout_without_limit_never_closes(value):
    hub = tcphub.Hub(frame_timeout=value)
    handle = hub.accept("10.0.0.1:1", now=0.0)
    hub.receive(handle, b'{"type":"pi', now=0.0)
    assert hub.poll_timeout() is None
    hub.handle_timeout(now=1e19)
    assert len(hub) == 1


@pytest.mark.parametrize("option", ["write_deadline", "frame_timeout"])
@pytest.mark.parametrize("value", NO_WAIT, ids=ids(NO_WAIT))
def test_timeouts_that_do_not_wait_are_refused(option, value):
    with pytest.raises(tcphub.ConfigError, match=f"{option} must be a number of seconds above zero"):
        tcphub.Hub(**{option: value})


@pytest.mark.parametrize("option", ["write_deadline", "frame_timeout"])
def test_a_huge_deadline_past_the_clock_never_comes(option):
    hub = tcphub.Hub(**{option: 1e18})
    handle = hub.accept("10.0.0.1:1", now=1.84e19)
    hub.receive(handle, b'{"type":"ping"}{"type":"pi', now=1.84e19)
    hub.poll()
    due = hub.poll_timeout()
    assert due is None or due >= 1.84e19
    hub.handle_timeout(now=1.84e19)
    assert len(hub) == 1


@pytest.mark.parametrize("option", ["max_list_rows", "max_queued_bytes", "high_watermark"])
@pytest.mark.parametrize("value", NOT_POSITIVE + FLOATS + HUGE_INTS, ids=ids(NOT_POSITIVE + FLOATS + HUGE_INTS))
def test_size_options_out_of_range_are_refused(option, value):
    with pytest.raises(tcphub.ConfigError, match=option) as caught:
        tcphub.Hub(**{option: value})
    if value in HUGE_INTS:
        assert "must be at most" in str(caught.value)


@pytest.mark.parametrize("value", [-1, -(2**70)] + FLOATS + HUGE_INTS, ids=ids([-1, -(2**70)] + FLOATS + HUGE_INTS))
def test_low_watermark_out_of_range_is_refused(value):
    with pytest.raises(tcphub.ConfigError, match="low_watermark"):
        tcphub.Hub(low_watermark=value)


@pytest.mark.parametrize(
    "options, needle",
    [
        ({"low_watermark": 524288}, "low_watermark must be below high_watermark (524288), got 524288"),
        ({"high_watermark": 1000, "low_watermark": 2000}, "low_watermark must be below high_watermark (1000), got 2000"),
        ({"max_queued_bytes": 65536}, "max_queued_bytes must be at least high_watermark + max_frame_bytes (589824), got 65536"),
        ({"high_watermark": 2**40, "low_watermark": 0}, "max_queued_bytes must be at least high_watermark + max_frame_bytes"),
        ({"max_list_rows": 100001}, "max_list_rows must be at most 100000, got 100001"),
    ],
)
def test_options_that_contradict_each_other_are_refused_by_name(options, needle):
    with pytest.raises(tcphub.ConfigError) as caught:
        tcphub.Hub(**options)
    assert needle in str(caught.value)


def test_options_at_their_bounds_work():
    hub = tcphub.Hub(max_list_rows=1, high_watermark=1, low_watermark=0, max_frame_bytes=256, max_queued_bytes=257)
    handle = hub.accept("10.0.0.1:1", now=0.0)
    hub.receive(handle, b'{"type":"ping"}{"type":"list"}', now=0.0)
    actions = hub.poll()
    assert frames(actions, handle) == [{"type": "pong"}] and of(actions, tcphub.PauseReading, handle)
    hub.handle_written(handle, 2**70, now=0.0)  # more than queued: everything was written
    actions = hub.poll()
    (page,) = frames(actions, handle)
    assert page["type"] == "sessions" and len(page["sessions"]) == 1
    tcphub.Hub(max_list_rows=100000, max_queued_bytes=2**40, high_watermark=2**40 - 2**20, low_watermark=2**40 - 2**21)


@pytest.mark.parametrize("nbytes", [-1, -(2**70), 1.5, INF, float("nan")], ids=ids([-1, -(2**70), 1.5, INF, float("nan")]))
def test_handle_written_refuses_what_is_not_a_byte_count(nbytes):
    hub = tcphub.Hub()
    handle = hub.accept("10.0.0.1:1", now=0.0)
    with pytest.raises(tcphub.ConfigError, match="nbytes"):
        hub.handle_written(handle, nbytes)


# ----- the asyncio driver from python/examples/own_loop.py -----


class Served:
    """own_loop.Driver on a loopback port, recording the events."""

    def __init__(self, **options: Any) -> None:
        self.events: List[tcphub.Event] = []
        self.changed = asyncio.Event()
        self.driver = own_loop.Driver(self.record, **options)
        self.port = 0

    def record(self, event: tcphub.Event) -> None:
        self.events.append(event)
        self.changed.set()

    async def __aenter__(self) -> "Served":
        self.server = await asyncio.start_server(self.driver.serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def wait_for(self, kind: type, count: int = 1, where: Any = lambda e: True, timeout: float = 10) -> List[Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = [e for e in self.events if isinstance(e, kind) and where(e)]
            if len(found) >= count:
                return found
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), deadline - asyncio.get_running_loop().time())


async def read_frames(reader: asyncio.StreamReader, timeout: float = 10) -> List[dict]:
    """Every frame until the hub closes the connection."""
    out = []
    while line := await asyncio.wait_for(reader.readline(), timeout):
        assert line.endswith(b"\n"), f"the stream ended mid-frame: {line[:80]!r}"
        out.append(json.loads(line))
    return out


def test_the_example_driver_serves_the_tutorial():
    async def main() -> None:
        async with Served(alias_policy="takeover") as served:
            driver = served.driver
            loop = asyncio.get_running_loop()

            # A raw client writing two objects with no delimiter, as the tutorial does.
            reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
            writer.write('{"type":"sync","clientName":"Client-1"}{"type":"info","message":"1111"}'.encode())
            synced = await reader.readline()
            assert b'"synced"' in synced

            # tcphub.Client in a thread: it blocks, the loop must not.
            two = await loop.run_in_executor(None, lambda: tcphub.Client("127.0.0.1", served.port, "Client-2"))
            (message,) = await served.wait_for(tcphub.Message)
            assert (message.alias, message.message) == ("Client-1", "1111")

            assert driver.hub.broadcast("大家来领物资了") == 2
            assert driver.hub.send("Client-2", "一会儿上门做核酸") == 1
            driver.pump()
            line = await reader.readline()
            assert "大家来领物资了" in line.decode()
            got = await loop.run_in_executor(None, lambda: [two.receive(5).message for _ in range(2)])
            assert got == ["大家来领物资了", "一会儿上门做核酸"]

            # Client-to-client relay goes through the same hub.
            await loop.run_in_executor(None, two.send, "Client-1", {"from": "two"})
            relayed = await reader.readline()
            assert b'"from":"Client-2"' in relayed and b'{"from":"two"}' in relayed
            assert await loop.run_in_executor(None, two.ping, 5) < 5

            # Everything handed out was written and reported.
            assert [s.alias for s in driver.hub.sessions()] == ["Client-1", "Client-2"]
            handles = {e.alias: e.handle for e in await served.wait_for(tcphub.Synced, 2)}
            assert [driver.hub.queued_bytes(h) for h in handles.values()] == [0, 0]

            # Shutdown: every session is told and closed.
            driver.hub.shutdown()
            driver.pump()
            rest = await read_frames(reader)
            assert rest[-1]["type"] == "bye" and rest[-1]["reason"] == "shutdown"
            await served.wait_for(tcphub.Disconnected, 2)
            two.close()
            writer.close()

    asyncio.run(main())


def test_the_example_driver_answers_a_half_close_then_closes():
    async def main() -> None:
        async with Served() as served:
            reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
            writer.write(b'{"type":"ping","id":"last"}\n')
            writer.write_eof()
            got = await read_frames(reader)
            assert got[0] == {"type": "pong", "id": "last"}
            assert (got[1]["type"], got[1]["reason"]) == ("bye", "peer_closed")
            assert len(got) == 2
            (gone,) = await served.wait_for(tcphub.Disconnected)
            assert gone.reason == "peer_closed"
            writer.close()

    asyncio.run(main())


def test_the_example_driver_holds_a_sender_back_and_cuts_a_stalled_reader():
    """A reader that never reads: its sender is paused (its ping is not
    answered) until the write deadline cuts the reader; then the sender is
    read again. The reader's stream ends on whole frames and a bye."""

    async def main() -> None:
        async with Served(write_deadline=0.5) as served:
            loop = asyncio.get_running_loop()
            stuck = socket.create_connection(("127.0.0.1", served.port))
            stuck.sendall(b'{"type":"sync","clientName":"stuck"}')
            await served.wait_for(tcphub.Synced, where=lambda e: e.alias == "stuck")

            reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
            writer.write(b'{"type":"sync","clientName":"sender"}')
            assert b'"synced"' in await reader.readline()
            start = loop.time()
            # 10 MB for the stalled reader, far past the socket buffers (the
            # kernel alone may take 3 MB) and the high watermark, then a ping.
            frame = relay("stuck", 10_000)
            for _ in range(1000):
                writer.write(frame)
            writer.write(b'{"type":"ping","id":"after"}')
            draining = asyncio.ensure_future(writer.drain())

            # Held back: no answer while the reader stalls.
            first = asyncio.ensure_future(reader.readline())
            done, _ = await asyncio.wait({first}, timeout=0.2)
            assert not done
            assert "stuck" in [s.alias for s in served.driver.hub.sessions()]

            (gone,) = await served.wait_for(tcphub.Disconnected, where=lambda e: e.alias == "stuck")
            assert gone.reason == "slow_consumer" and loop.time() - start >= 0.5

            # Read again: what it sent after the cut finds nobody, then the pong.
            replies = [json.loads(await asyncio.wait_for(first, 10))]
            while replies[-1].get("type") != "pong":
                replies.append(json.loads(await asyncio.wait_for(reader.readline(), 10)))
            assert replies[-1] == {"type": "pong", "id": "after"}
            assert {r.get("code") for r in replies[:-1]} == {"unknown_alias"}
            await draining

            # The stalled reader's stream: whole frames, then the bye, then EOF.
            stuck.settimeout(10)
            data = b""
            while chunk := await loop.run_in_executor(None, stuck.recv, 1 << 20):
                data += chunk
            lines = data.split(b"\n")
            assert lines[-1] == b"", "ends on a whole frame"
            sent = [json.loads(line) for line in lines[:-1]]
            assert sent[0]["type"] == "synced"
            assert all(f["type"] == "info" for f in sent[1:-1])
            assert (sent[-1]["type"], sent[-1]["reason"]) == ("bye", "slow_consumer")
            stuck.close()
            writer.close()

    asyncio.run(main())


@pytest.mark.parametrize(
    "options",
    [
        {"idle_timeout": "30s"},
        {"max_sessions": "many"},
        {"relay": "no"},
        {"alias_policy": 3},
        {"rate_limit_messages": "10/s"},
        {"authentication": "yes"},
        {"auth_timeout": b"1"},
    ],
)
def test_wrong_typed_hub_options_raise_config_error_naming_option_and_value(options: Dict[str, Any]) -> None:
    ((name, value),) = options.items()
    with pytest.raises(tcphub.ConfigError) as caught:
        tcphub.Hub(**options)
    assert name in str(caught.value)
    assert repr(value) in str(caught.value)
