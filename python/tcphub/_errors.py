"""The exceptions tcphub raises, all rooted at :class:`Error`.

Each also derives from the closest built-in exception, so code that already
catches ``LookupError``, ``ValueError`` or ``OSError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "Error",
    "ConfigError",
    "AddressInUseError",
    "UnknownAliasError",
    "UnknownSessionError",
    "UnknownRoomError",
    "InvalidRoomError",
    "TooManyRoomsError",
    "InvalidMessageError",
    "ServerStoppedError",
    "ConnectionClosedError",
    "TlsError",
    "RejectedError",
    "UnauthorizedError",
    "ForbiddenError",
    "RequestTimeoutError",
    "TooManyRequestsError",
    "UnknownRequestError",
]


class Error(Exception):
    """Base class of every exception raised by tcphub."""


class ConfigError(Error, ValueError):
    """An option or argument is out of range or of the wrong kind: a size
    past its bound, a duration that is zero, negative or NaN, a ``now``
    the sans-IO ``Hub`` cannot count."""


class AddressInUseError(Error, OSError):
    """The server could not listen: another program holds the address."""


class ClusterError(Error, ConnectionError):
    """The server could not join its cluster: the Redis given as
    ``cluster=`` is unreachable or refused it (the message names the URL,
    without its password). Also raised by ``send``, ``broadcast`` and
    ``send_to_room`` when the message must reach other nodes while the
    queue towards Redis is backed up: nothing was sent, retry later."""


class UnknownAliasError(Error, LookupError):
    """No connected client holds the alias a message was sent to."""


class UnknownRequestError(Error, LookupError):
    """A reply named a request that no longer waits for it: it was
    answered already, timed out, its requester left, or the ``reply_to``
    was never one the hub wrote (or, for the host, never the host's)."""


class UnknownSessionError(Error, LookupError):
    """No open session has the session id (or handle) a command named."""


class UnknownRoomError(Error, LookupError):
    """No session is in the room a message was sent to: a room exists only
    while it has members."""


class InvalidRoomError(Error, ValueError):
    """A room name breaks the room rules (those of aliases: 1 to 64 bytes of
    UTF-8, no control characters, not ``*``, no leading ``#``)."""


class TooManyRoomsError(Error):
    """Joining would put a session in more rooms than
    ``max_rooms_per_session`` allows; it must leave one first."""


class InvalidMessageError(Error, ValueError):
    """A message is neither a ``str`` nor a JSON-serialisable value."""


class ServerStoppedError(Error):
    """The server was stopped; it accepts no more commands."""


class ConnectionClosedError(Error, ConnectionError):
    """The hub closed the client's connection, or it failed.

    ``truncated`` is 0 when the stream ended between frames. When it ended
    in the middle of one (the hub or the network failed while writing), it
    is the number of bytes of that frame, which never arrived whole: the
    client says so rather than dropping them, and iterating a client raises
    this error instead of ending quietly.
    """

    truncated: int = 0


class TlsError(ConnectionClosedError):
    """A client's TLS handshake with the hub failed: the hub's certificate
    is not signed by ``ca=`` (or a public CA when no ``ca`` is given), does
    not carry the name connected to (``server_name=`` names another), the
    hub does not speak TLS on that port, or the handshake timed out."""


class RejectedError(Error):
    """The hub answered a client's request with an ``error`` frame.

    ``code`` is the machine-readable kind as the hub wrote it (one of
    ``tcphub.ERROR_CODES`` for a hub of this version: ``alias_taken``,
    ``invalid_alias`` ...), ``detail`` the hub's explanation.
    """

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class UnauthorizedError(RejectedError):
    """The hub needs a credential and did not accept this client's
    (``code`` ``unauthorized``): the ``token`` was missing, wrong, not
    checked within the hub's ``auth_timeout``, or the client asked for
    something before its ``sync`` was granted. The hub gives no hint
    whether the alias exists. The connection stays open: a ``sync`` with
    another credential may follow (a client that keeps failing is slowed
    down)."""


class ForbiddenError(RejectedError):
    """The client's identity may not do what it asked (``code``
    ``forbidden``): relay to that alias (in a message or its last will),
    send to everyone, or see who is connected. ``detail`` names what was
    refused."""


class RequestTimeoutError(RejectedError, TimeoutError):
    """A request got no reply in time (``code`` ``request_timeout``): the
    hub said so when the request's timeout ran out, or the client's own
    wait, which lasts a little longer than the timeout it sent, ran out
    first because the hub did not answer at all. Also a
    ``TimeoutError``."""


class TooManyRequestsError(RejectedError):
    """The client already has as many requests waiting for replies as the
    hub allows (``code`` ``too_many_requests``, ``max_pending_requests``,
    64 by default); wait for some to end before sending more."""
