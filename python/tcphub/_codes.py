"""The names tcphub reports, as types: why a session closed
(:data:`CloseReason`), what a client did wrong (:data:`ErrorCode`) and what
a ``presence`` frame reports (:data:`PresenceChange`).

The lists themselves come from the core, at run time:
``tcphub.CLOSE_REASONS``, ``tcphub.ERROR_CODES`` and
``tcphub.PRESENCE_CHANGES``, tuples in the core's order. A type checker cannot read a tuple built at run time, so these
``Literal`` types spell the same names out; the test suite checks that they
are the same names in the same order, so a reason or code added to the core
fails the tests until it is added here.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["CloseReason", "ErrorCode", "PresenceChange"]

#: Why a session closed: ``Disconnected.reason``, ``Close.reason``, the
#: ``reason`` of a ``bye`` frame, and what ``Hub.close_session`` accepts.
CloseReason = Literal[
    "peer_closed",
    "closed_by_host",
    "taken_over",
    "frame_too_large",
    "idle_timeout",
    "too_many_sessions",
    "slow_consumer",
    "shutdown",
    "frame_timeout",
    "client_bye",
    "rate_limited",
    "too_many_connections",
    "auth_timeout",
]

#: What a client did wrong: ``ProtocolError.code``, and the ``code`` of an
#: ``error`` frame (``ErrorReply.code``, ``RejectedError.code``).
ErrorCode = Literal[
    "bad_json",
    "frame_too_large",
    "unknown_type",
    "missing_field",
    "invalid_field",
    "invalid_alias",
    "alias_taken",
    "unknown_alias",
    "relay_disabled",
    "too_many_sessions",
    "frame_timeout",
    "invalid_room",
    "too_many_rooms",
    "not_in_room",
    "unknown_room",
    "too_many_watches",
    "last_will_too_large",
    "rate_limited",
    "too_many_connections",
    "unauthorized",
    "forbidden",
    "request_timeout",
    "too_many_requests",
    "unknown_request",
]

#: What a watched alias or room member did: ``Presence.event``.
PresenceChange = Literal[
    "synced",
    "released",
    "taken_over",
    "joined",
    "left",
    "closed",
]
