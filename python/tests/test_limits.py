"""Rate limits and the per-address cap: the sans-IO Hub with explicit
time, a real Server, and the options' bounds."""

from __future__ import annotations

import json
import socket
from typing import Any, List

import pytest

import tcphub


def transmitted(actions: List[Any], handle: int) -> List[dict]:
    return [json.loads(a.data) for a in actions if isinstance(a, tcphub.Transmit) and a.handle == handle]


def test_over_the_rate_limit_is_refused_then_recovers_with_time():
    hub = tcphub.Hub(rate_limit_messages=10, rate_limit_message_burst=2)
    fast = hub.accept("10.0.0.1:1", now=0.0)
    calm = hub.accept("10.0.0.2:1", now=0.0)
    hub.receive(fast, b'{"type":"ping","id":1}{"type":"ping","id":2}{"type":"ping","id":3}', now=0.0)
    hub.receive(calm, b'{"type":"ping","id":"c"}', now=0.0)
    actions = hub.poll()
    got = transmitted(actions, fast)
    assert [f["type"] for f in got] == ["pong", "pong", "error"]
    assert (got[2]["code"], got[2]["id"]) == ("rate_limited", 3)
    assert "10 per second, burst 2" in got[2]["message"]
    assert transmitted(actions, calm) == [{"type": "pong", "id": "c"}]
    # A tenth of a second earns one frame back.
    hub.receive(fast, b'{"type":"ping","id":4}', now=0.1)
    assert [f["type"] for f in transmitted(hub.poll(), fast)] == ["pong"]
    # bye is never refused.
    hub.receive(fast, b'{"type":"ping"}{"type":"bye"}', now=0.1)
    (close,) = [a for a in hub.poll() if isinstance(a, tcphub.Close) and a.handle == fast]
    assert close.reason == "client_bye"


def test_sustained_abuse_is_closed_with_rate_limited():
    hub = tcphub.Hub(rate_limit_messages=1)
    abuser = hub.accept("10.0.0.1:1", now=0.0)
    hub.receive(abuser, b'{"type":"ping"}' * 102, now=0.0)
    actions = hub.poll()
    (close,) = [a for a in actions if isinstance(a, tcphub.Close) and a.handle == abuser]
    assert close.reason == "rate_limited"
    assert json.loads(close.farewell)["reason"] == "rate_limited"
    assert "rate_limited" in tcphub.CLOSE_REASONS and "rate_limited" in tcphub.ERROR_CODES


def test_the_per_address_cap_refuses_one_more_from_the_same_ip():
    hub = tcphub.Hub(max_connections_per_address=1)
    hub.accept("10.0.0.1:1", now=0.0)
    extra = hub.accept("10.0.0.1:2", now=0.0)
    other = hub.accept("10.0.0.2:1", now=0.0)
    closes = [a for a in hub.poll() if isinstance(a, tcphub.Close)]
    assert [(c.handle, c.reason) for c in closes] == [(extra, "too_many_connections")]
    assert json.loads(closes[0].farewell)["code"] == "too_many_connections"
    assert other != extra


def test_a_server_refuses_a_client_over_its_rate_limit():
    with tcphub.Server("127.0.0.1", 0, rate_limit_messages=1, rate_limit_message_burst=1) as hub:
        with socket.create_connection(hub.address, timeout=10) as conn:
            conn.sendall(b'{"type":"ping","id":1}{"type":"ping","id":2}')
            reader = conn.makefile("rb")
            assert json.loads(reader.readline())["type"] == "pong"
            refused = json.loads(reader.readline())
            assert (refused["code"], refused["id"]) == ("rate_limited", 2)


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("rate_limit_messages", 0, r"rate_limit_messages must be a positive integer, got 0"),
        ("rate_limit_messages", 1.5, r"rate_limit_messages must be a whole number, got 1.5"),
        ("rate_limit_message_burst", 5, r"rate_limit_message_burst 5 needs rate_limit_messages"),
        ("rate_limit_bytes", 2**41, r"rate_limit_bytes must be at most 1099511627776"),
        ("max_connections_per_address", -1, r"max_connections_per_address must be a positive integer, got -1"),
    ],
)
def test_limit_options_are_checked_by_name_and_value(option: str, value: Any, message: str):
    for make in (tcphub.Hub, lambda **kw: tcphub.Server("127.0.0.1", 0, **kw)):
        with pytest.raises(tcphub.ConfigError, match=message):
            make(**{option: value})


def test_a_bytes_burst_below_the_frame_limit_is_refused():
    with pytest.raises(tcphub.ConfigError, match=r"rate_limit_bytes_burst 1000 is out of range: expected 65536"):
        tcphub.Hub(rate_limit_bytes=1000, rate_limit_bytes_burst=1000)
