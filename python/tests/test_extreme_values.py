"""Extreme durations, sizes and counts through every public entry point.

Each call either works or raises a ``tcphub.Error``: never ``PanicException``
(a ``BaseException``, so it escapes ``except Exception`` and fails these tests
as it would fail a user's program), never a bare ``OverflowError``, never a
native abort. For timeouts, ``inf`` and anything too long to matter mean "no
limit"; a timeout that is zero, negative or NaN does not wait.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable, List, Optional

import pytest

import tcphub

INF = float("inf")
NAN = float("nan")

#: Durations that mean "no limit": they must wait for what is awaited.
NO_LIMIT = [INF, 1e300, 1e19, 2**70, 10**400]
#: Durations that mean "do not wait" for a wait, and are refused as options.
NO_WAIT = [-INF, NAN, -1, 0]
DURATIONS = NO_LIMIT + NO_WAIT
#: Above zero, yet zero once counted in nanoseconds: refused as an option too.
TOO_SHORT = [1e-300]

#: Sizes and counts past anything a machine holds. Options refuse them by
#: name (as ``tcphub serve`` does); a limit on how many to take saturates.
HUGE_INTS = [2**62, 2**70, 10**400]
#: Not a positive whole number.
NOT_POSITIVE = [-1, 0, -(2**70)]
#: Not whole numbers at all.
FLOATS = [INF, -INF, NAN, 1e300, 1e19]
#: Every value a size or count option refuses, naming the option.
BAD_SIZES = NOT_POSITIVE + FLOATS + HUGE_INTS
#: Not a TCP port.
BAD_PORTS = [-1, 65536, 2**70, -(2**70)] + FLOATS


def ids(values: List[Any]) -> List[str]:
    """Test ids that show huge ints as powers rather than 400 digits."""

    def name(v: Any) -> str:
        if isinstance(v, int) and abs(v) > 2**60:
            sign = "-" if v < 0 else ""
            return f"{sign}10**400" if abs(v) == 10**400 else f"{sign}2**{abs(v).bit_length() - 1}"
        return repr(v)

    return [name(v) for v in values]


def no_limit(value: Any) -> bool:
    return value in NO_LIMIT


# ----- tcphub.Client -----


@pytest.mark.parametrize("timeout", DURATIONS, ids=ids(DURATIONS))
def test_client_connect_timeout(server, timeout):
    try:
        client = tcphub.Client(*server.address, timeout=timeout)
    except tcphub.ConnectionClosedError:
        # Connecting without waiting may fail; waiting without limit may not.
        assert not no_limit(timeout)
        return
    with client:
        assert client.ping(timeout=5) >= 0


@pytest.mark.parametrize("timeout", DURATIONS, ids=ids(DURATIONS))
def test_client_constructor_timeout_bounds_the_sync(server, timeout):
    try:
        client = tcphub.Client(*server.address, name="extreme", timeout=timeout)
    except tcphub.Error:
        # "no answer in time" is fair when the timeout did not wait at all.
        assert not no_limit(timeout)
        return
    with client:
        assert client.name == "extreme"
        assert client.ping() >= 0  # the constructor's timeout is the default wait


@pytest.mark.parametrize("method", ["sync", "sessions", "ping"])
@pytest.mark.parametrize("timeout", DURATIONS, ids=ids(DURATIONS))
def test_client_request_timeouts(server, method, timeout):
    with tcphub.Client(*server.address) as client:
        call: Callable[[], Any] = {
            "sync": lambda: client.sync("extreme", timeout=timeout),
            "sessions": lambda: client.sessions(timeout=timeout),
            "ping": lambda: client.ping(timeout=timeout),
        }[method]
        try:
            call()
        except tcphub.Error as e:
            assert not no_limit(timeout), e
            assert "in time" in str(e)
        # The client still works whatever the timeout did.
        assert client.ping(timeout=5) >= 0


@pytest.mark.parametrize("how", ["receive", "messages"])
@pytest.mark.parametrize("timeout", DURATIONS, ids=ids(DURATIONS))
def test_client_receive_timeouts(server, how, timeout):
    with tcphub.Client(*server.address, name="reader") as client:
        server.send("reader", "hello")
        if how == "receive":
            got = client.receive(timeout=timeout)
        else:
            got = next(iter(client.messages(timeout=timeout)), None)
        if no_limit(timeout):
            assert isinstance(got, tcphub.Received) and got.message == "hello"
        else:
            assert got is None or got.message == "hello"


@pytest.mark.parametrize("limit", HUGE_INTS + [0], ids=ids(HUGE_INTS + [0]))
def test_client_drain_limit_saturates(server, limit):
    with tcphub.Client(*server.address, name="reader") as client:
        server.send("reader", "hello")
        client.ping(timeout=5)  # the message is read and queued by then
        got = client.drain(limit=limit)
        assert [r.message for r in got] == ([] if limit == 0 else ["hello"])


@pytest.mark.parametrize("limit", [-1, -(2**70)] + FLOATS, ids=ids([-1, -(2**70)] + FLOATS))
def test_client_drain_limit_refused(server, limit):
    with tcphub.Client(*server.address) as client:
        with pytest.raises(tcphub.ConfigError, match="limit"):
            client.drain(limit=limit)


@pytest.mark.parametrize("port", BAD_PORTS, ids=ids(BAD_PORTS))
def test_client_port_out_of_range(port):
    with pytest.raises(tcphub.ConfigError, match="port"):
        tcphub.Client("127.0.0.1", port)


# ----- tcphub.Server options -----


def ping_through(hub: tcphub.Server) -> None:
    """A client connects, syncs and gets an answer: the hub task is alive."""
    with tcphub.Client(*hub.address, name="probe", timeout=5) as client:
        assert client.ping(timeout=5) >= 0
        assert [s.alias for s in client.sessions(timeout=5)] == ["probe"]


@pytest.mark.parametrize("idle_timeout", NO_LIMIT, ids=ids(NO_LIMIT))
def test_server_idle_timeout_without_limit(idle_timeout):
    with tcphub.Server("127.0.0.1", 0, idle_timeout=idle_timeout) as hub:
        ping_through(hub)


@pytest.mark.parametrize("shutdown_grace", NO_LIMIT, ids=ids(NO_LIMIT))
def test_server_shutdown_grace_without_limit(shutdown_grace):
    with tcphub.Server("127.0.0.1", 0, shutdown_grace=shutdown_grace) as hub:
        ping_through(hub)
        # A takeover closes the old holder within the grace period.
        with tcphub.Client(*hub.address, name="a", timeout=5) as first:
            with tcphub.Client(*hub.address, name="a", timeout=5):
                bye = first.receive(timeout=5)
                assert isinstance(bye, tcphub.Bye) and bye.reason == "taken_over"
        ping_through(hub)


@pytest.mark.parametrize("option", ["write_deadline", "frame_timeout"])
@pytest.mark.parametrize("value", NO_LIMIT + [None], ids=ids(NO_LIMIT + [None]))
def test_server_write_deadline_and_frame_timeout_without_limit(option, value):
    with tcphub.Server("127.0.0.1", 0, **{option: value}) as hub:
        ping_through(hub)


@pytest.mark.parametrize("option", ["idle_timeout", "shutdown_grace", "write_deadline", "frame_timeout"])
@pytest.mark.parametrize("value", NO_WAIT + TOO_SHORT, ids=ids(NO_WAIT + TOO_SHORT))
def test_server_duration_options_refused(option, value):
    with pytest.raises(tcphub.ConfigError, match=option):
        tcphub.Server("127.0.0.1", 0, **{option: value})


SIZE_OPTIONS = [
    "max_frame_bytes",
    "max_sessions",
    "max_queued_bytes",
    "max_list_rows",
    "high_watermark",
    "event_queue_len",
]


@pytest.mark.parametrize("option", SIZE_OPTIONS)
@pytest.mark.parametrize("value", BAD_SIZES, ids=ids(BAD_SIZES))
def test_server_size_options_out_of_range_are_refused(option, value):
    with pytest.raises(tcphub.ConfigError, match=option) as caught:
        tcphub.Server("127.0.0.1", 0, **{option: value})
    if value in HUGE_INTS:
        assert "must be at most" in str(caught.value)


#: What ``low_watermark`` refuses: it may be 0, not negative nor fractional
#: nor past any machine's memory.
BAD_LOW_WATERMARKS = [-1, -(2**70)] + FLOATS + HUGE_INTS


@pytest.mark.parametrize("value", BAD_LOW_WATERMARKS, ids=ids(BAD_LOW_WATERMARKS))
def test_server_low_watermark_out_of_range_is_refused(value):
    with pytest.raises(tcphub.ConfigError, match="low_watermark"):
        tcphub.Server("127.0.0.1", 0, low_watermark=value)


def test_server_flow_control_options_at_their_bounds():
    """The tightest settings the options allow still serve."""
    with tcphub.Server(
        "127.0.0.1",
        0,
        max_frame_bytes=256,
        high_watermark=1,
        low_watermark=0,
        max_queued_bytes=257,
        max_list_rows=1,
    ) as hub:
        ping_through(hub)


@pytest.mark.parametrize("port", BAD_PORTS, ids=ids(BAD_PORTS))
def test_server_port_out_of_range(port):
    with pytest.raises(tcphub.ConfigError, match="port"):
        tcphub.Server("127.0.0.1", port)


# ----- tcphub.Server waits -----


def connected(hub: tcphub.Server) -> tcphub.Client:
    """A client whose Connected event is on its way to ``hub``."""
    return tcphub.Client(*hub.address, timeout=5)


@pytest.mark.parametrize("how", ["next_event", "events"])
@pytest.mark.parametrize("timeout", DURATIONS, ids=ids(DURATIONS))
def test_server_event_timeouts(server, how, timeout):
    with connected(server):
        if how == "next_event":
            event = server.next_event(timeout=timeout)
        else:
            event = next(iter(server.events(timeout=timeout)), None)
        if no_limit(timeout):
            assert isinstance(event, tcphub.Connected)
        else:
            assert event is None or isinstance(event, tcphub.Connected)


@pytest.mark.parametrize("timeout", DURATIONS, ids=ids(DURATIONS))
def test_server_aevents_timeout(server, timeout):
    async def first() -> Optional[tcphub.Event]:
        async for event in server.aevents(timeout=timeout):
            return event
        return None

    with connected(server):
        event = asyncio.run(asyncio.wait_for(first(), 10))
    if no_limit(timeout):
        assert isinstance(event, tcphub.Connected)
    else:
        assert event is None or isinstance(event, tcphub.Connected)


@pytest.mark.parametrize("timeout", NO_WAIT, ids=ids(NO_WAIT))
def test_server_aevents_zero_wait_ends_when_nothing_comes(server, timeout):
    async def drain() -> List[tcphub.Event]:
        return [event async for event in server.aevents(timeout=timeout)]

    assert asyncio.run(asyncio.wait_for(drain(), 10)) == []


@pytest.mark.parametrize("timeout", DURATIONS, ids=ids(DURATIONS))
def test_server_wait_timeout(timeout):
    hub = tcphub.Server("127.0.0.1", 0)
    stopper = threading.Thread(target=hub.stop)
    stopper.start()
    try:
        stopped = hub.wait(timeout=timeout)
        assert stopped if no_limit(timeout) else stopped in (True, False)
    finally:
        stopper.join()
        hub.stop()
    assert hub.wait(timeout=timeout)


# ----- tcphub.Hub, the sans-IO core -----


@pytest.mark.parametrize("idle_timeout", NO_LIMIT, ids=ids(NO_LIMIT))
def test_hub_idle_timeout_without_limit(idle_timeout):
    hub = tcphub.Hub(idle_timeout=idle_timeout)
    handle = hub.accept("10.0.0.1:1", now=1e12)
    assert hub.poll_timeout() is None  # no idle timer runs
    hub.receive(handle, b'{"type":"ping"}\n', now=1e12)
    sent = b"".join(a.data for a in hub.poll() if isinstance(a, tcphub.Transmit))
    assert b'"pong"' in sent
    hub.handle_written(handle, len(sent), now=1e12)  # the driver wrote it
    hub.handle_timeout(now=1e15)
    assert len(hub) == 1


@pytest.mark.parametrize("value", NO_WAIT + TOO_SHORT, ids=ids(NO_WAIT + TOO_SHORT))
def test_hub_idle_timeout_refused(value):
    with pytest.raises(tcphub.ConfigError, match="idle_timeout"):
        tcphub.Hub(idle_timeout=value)


@pytest.mark.parametrize("option", ["max_frame_bytes", "max_sessions"])
@pytest.mark.parametrize("value", BAD_SIZES, ids=ids(BAD_SIZES))
def test_hub_size_options_out_of_range_are_refused(option, value):
    with pytest.raises(tcphub.ConfigError, match=option):
        tcphub.Hub(**{option: value})


#: Not a time a ``Duration`` can hold (0 to about 1.8e19 seconds).
BAD_NOW = [INF, -INF, NAN, 1e300, 1e20, -1, 2**70, 10**400]


@pytest.mark.parametrize(
    "method", ["accept", "receive", "handle_eof", "handle_written", "connection_lost", "handle_timeout"]
)
@pytest.mark.parametrize("now", BAD_NOW, ids=ids(BAD_NOW))
def test_hub_now_out_of_range_is_refused(method, now):
    hub = tcphub.Hub(idle_timeout=1e8)
    handle = hub.accept("10.0.0.1:1", now=0)
    call: Callable[[], Any] = {
        "accept": lambda: hub.accept("10.0.0.2:1", now=now),
        "receive": lambda: hub.receive(handle, b"{}", now=now),
        "handle_eof": lambda: hub.handle_eof(handle, now=now),
        "handle_written": lambda: hub.handle_written(handle, 1, now=now),
        "connection_lost": lambda: hub.connection_lost(handle, now=now),
        "handle_timeout": lambda: hub.handle_timeout(now=now),
    }[method]
    with pytest.raises(tcphub.ConfigError, match="now") as caught:
        call()
    assert isinstance(caught.value, ValueError)
    # Nothing happened: the session is still there and time did not move.
    assert len(hub) == 1 and hub.poll_timeout() == pytest.approx(1e8)


@pytest.mark.parametrize("now", [0, 1e12, 10**12, 1e19], ids=["0", "1e12", "10**12", "1e19"])
def test_hub_now_up_to_the_bound_works(now):
    hub = tcphub.Hub(idle_timeout=1e8)
    handle = hub.accept("10.0.0.1:1", now=now)
    assert hub.poll_timeout() == pytest.approx(now + 1e8)
    hub.handle_timeout(now=now)
    hub.connection_lost(handle, now=now)
    assert len(hub) == 0


@pytest.mark.parametrize("idle_timeout", [1e17, 1e18], ids=["1e17", "1e18"])
def test_hub_deadline_past_the_clock_never_comes(idle_timeout):
    """now + idle_timeout past what a Duration holds (about 1.8447e19 s):
    the timer never fires, and nothing overflows."""
    hub = tcphub.Hub(idle_timeout=idle_timeout)
    hub.accept("10.0.0.1:1", now=1.84e19)
    due = hub.poll_timeout()
    assert due is None or due >= 1.84e19
    hub.handle_timeout(now=1.84e19)
    assert len(hub) == 1


# ----- python -m tcphub serve -----


@pytest.mark.parametrize(
    "text, seconds",
    [("inf", INF), ("+Infinity", INF), ("1e400s", INF), ("1e19s", 1e19),
     ("10000000000000000000s", 1e19), ("1e3ms", 1.0), ("1_000s", 1000.0)],
)
def test_cli_durations_read_inf_and_huge_values_as_the_binary_does(text, seconds):
    from tcphub._units import parse_duration, parse_optional_duration

    assert parse_duration(text) == seconds
    assert parse_optional_duration(text) == seconds
    assert parse_optional_duration("never") is None


@pytest.mark.parametrize(
    "args",
    [
        ["--idle-timeout", "inf", "--shutdown-grace", "inf"],
        ["--idle-timeout", "1e400s", "--shutdown-grace", "10000000000000000000s"],
        ["--idle-timeout", "never", "--max-queued-bytes", "1TiB"],
    ],
)
def test_cli_serve_takes_inf_and_huge_durations(args):
    from test_cli import Serve

    hub = Serve(*args)
    try:
        ping_through_port(hub.port)
        assert hub.stop() == 0
    finally:
        hub.close()
    assert not any("panick" in line for line in hub.stderr), hub.stderr


def ping_through_port(port: int) -> None:
    with tcphub.Client("127.0.0.1", port, name="probe", timeout=5) as client:
        assert client.ping(timeout=5) >= 0
