"""The shape of ``stats()``: plain dicts at run time, typed here so a
checker knows every key (a typo in a metric name is a type error)."""

from __future__ import annotations

from typing import Dict, Literal, TypedDict

from ._codes import CloseReason, ErrorCode

__all__ = ["AuthTotal", "FrameKind", "HubStats"]

FrameKind = Literal[
    "sync", "relay", "relay_all", "room", "host", "list", "ping", "join", "leave", "watch", "unwatch", "bye",
    "request", "reply",
]
"""The kinds of client frames ``HubStats.frames_received_total`` counts."""


class AuthTotal(TypedDict):
    """``HubStats.auth_total``: credentials checked, by result."""

    granted: int
    denied: int


class HubStats(TypedDict):
    """What ``Hub.stats()`` and ``Server.stats()`` return: the hub's counters
    since it started and its gauges now, under the names of the Prometheus
    metrics in docs/metrics.md (without ``tcphub_``). Labelled metrics are
    dicts holding every label, zeros included."""

    sessions_open: int
    aliases_held: int
    queued_bytes: int
    sessions_opened_total: int
    frames_received_total: Dict[FrameKind, int]
    received_bytes_total: int
    frames_sent_total: int
    sent_bytes_total: int
    errors_total: Dict[ErrorCode, int]
    closes_total: Dict[CloseReason, int]
    flow_pauses_total: int
    auth_total: AuthTotal
