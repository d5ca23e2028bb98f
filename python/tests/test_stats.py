"""``stats()`` on the sans-IO ``Hub`` and on ``Server``: exact counts after
known traffic, under the names docs/metrics.md gives the Prometheus metrics."""

from __future__ import annotations

import json
import time
from typing import Any, Callable, List

import pytest

import tcphub

from conftest import RawClient


KINDS = ["sync", "relay", "relay_all", "room", "host", "list", "ping", "join", "leave", "watch", "unwatch", "bye", "request", "reply"]


def frame(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def test_a_fresh_hub_counts_nothing_and_names_every_kind_code_and_reason() -> None:
    stats = tcphub.Hub().stats()
    assert set(stats) == {
        "sessions_open",
        "aliases_held",
        "queued_bytes",
        "sessions_opened_total",
        "frames_received_total",
        "received_bytes_total",
        "frames_sent_total",
        "sent_bytes_total",
        "errors_total",
        "closes_total",
        "flow_pauses_total",
        "auth_total",
    }
    assert list(stats["frames_received_total"]) == KINDS
    assert set(stats["frames_received_total"].values()) == {0}
    assert "unknown_alias" in stats["errors_total"] and "bad_json" in stats["errors_total"]
    assert set(stats["errors_total"].values()) == {0}
    assert "closed_by_host" in stats["closes_total"] and "peer_closed" in stats["closes_total"]
    assert set(stats["closes_total"].values()) == {0}
    assert stats["auth_total"] == {"granted": 0, "denied": 0}
    assert stats["sessions_opened_total"] == 0 and stats["sessions_open"] == 0


def test_sansio_hub_counts_known_traffic_exactly() -> None:
    hub = tcphub.Hub()
    one = hub.accept("one", now=0.0)
    two = hub.accept("two", now=0.0)
    sent_in = [
        (one, frame({"type": "sync", "clientName": "Client-1"})),
        (two, frame({"type": "sync", "clientName": "Client-2"})),
        (one, frame({"type": "info", "to": "Client-2", "message": "hi"})),
        (one, frame({"type": "info", "to": "Nobody", "message": "hi"})),
        (two, frame({"type": "ping"})),
        (two, frame({"type": "ping"})),
    ]
    out: List[Any] = []
    for handle, data in sent_in:
        hub.receive(handle, data, now=0.0)
        out += hub.poll()
    # Nothing written yet: everything handed out is still queued.
    transmits = [a for a in out if isinstance(a, tcphub.Transmit)]
    queued = sum(len(a.data) for a in transmits)
    stats = hub.stats()
    assert stats["sessions_open"] == 2
    assert stats["aliases_held"] == 2
    assert stats["queued_bytes"] == queued
    assert stats["sessions_opened_total"] == 2
    assert stats["received_bytes_total"] == sum(len(d) for _, d in sent_in)
    received = stats["frames_received_total"]
    assert (received["sync"], received["relay"], received["ping"], received["host"]) == (2, 2, 2, 0)
    # synced x2, the relayed info, the unknown_alias error, pong x2.
    assert stats["frames_sent_total"] == len(transmits) == 6
    assert stats["sent_bytes_total"] == queued
    assert stats["errors_total"]["unknown_alias"] == 1
    assert sum(stats["errors_total"].values()) == 1

    for a in transmits:
        hub.handle_written(a.handle, len(a.data), now=0.0)
    hub.close_session(two)
    closes = [a for a in hub.poll() if isinstance(a, tcphub.Close)]
    stats = hub.stats()
    # Everything was reported written, and the closed session is forgotten:
    # its farewell is the driver's to write, no longer queued in the hub.
    assert stats["queued_bytes"] == 0
    assert stats["closes_total"]["closed_by_host"] == 1
    assert sum(stats["closes_total"].values()) == 1
    assert (stats["sessions_open"], stats["aliases_held"]) == (1, 1)
    # The farewell `bye` is a frame sent too.
    assert stats["frames_sent_total"] == 7
    assert stats["sent_bytes_total"] == queued + len(closes[0].farewell)


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_server_counts_known_traffic_exactly(
    server: tcphub.Server, raw_client: Callable[["tuple[str, int]"], RawClient]
) -> None:
    before = server.stats()
    assert before["sessions_opened_total"] == 0
    one = raw_client(server.address)
    one.write({"type": "sync", "clientName": "Client-1"})
    one.read_until("synced")
    two = raw_client(server.address)
    two.write({"type": "sync", "clientName": "Client-2"})
    two.read_until("synced")
    one.write({"type": "info", "to": "Client-2", "message": "hi"})
    assert two.read_until("info")["message"] == "hi"
    one.write({"type": "info", "to": "Nobody", "message": "hi"})
    assert one.read_until("error")["code"] == "unknown_alias"
    one.write({"type": "info", "to": "*", "message": "all"})
    two.read_until("info")
    # Client-1's own frames come back in order: once the pong is read,
    # the relay to everybody was counted.
    one.write({"type": "ping"})
    one.read_until("pong")

    stats = server.stats()
    assert stats["sessions_opened_total"] == 2
    assert (stats["sessions_open"], stats["aliases_held"]) == (2, 2)
    received = stats["frames_received_total"]
    assert {k: v for k, v in received.items() if v} == {"sync": 2, "relay": 2, "relay_all": 1, "ping": 1}
    assert {k: v for k, v in stats["errors_total"].items() if v} == {"unknown_alias": 1}
    # synced x2, relay x1, error x1, relay_all to the one other session, pong.
    assert stats["frames_sent_total"] == 6

    two.close()
    wait_until(lambda: server.stats()["closes_total"]["peer_closed"] == 1)
    assert server.stats()["sessions_open"] == 1


def test_metrics_are_served_as_tcphub_serve_serves_them():
    import urllib.request

    with tcphub.Server("127.0.0.1", 0, metrics="127.0.0.1:0") as hub:
        host, port = hub.metrics_address
        with tcphub.Client("127.0.0.1", hub.port, name="Client-1") as client:
            client.broadcast("hello")
            client.ping()
        text = urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10).read().decode()
        assert 'tcphub_frames_received_total{kind="relay_all"} 1' in text
        assert 'tcphub_frames_received_total{kind="sync"} 1' in text


def test_a_metrics_address_that_cannot_be_used_is_a_config_error():
    with pytest.raises(tcphub.ConfigError, match="metrics"):
        tcphub.Server("127.0.0.1", 0, metrics="not an address")
