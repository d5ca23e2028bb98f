"""tcphub: a TCP hub with named clients routing JSON messages.

Three ways in, one implementation underneath:

- :class:`Server` runs the same native server as the ``tcphub`` binary in a
  background thread of this process; your script sends messages and reads
  events (blocking iterator, callbacks or ``async for``).
- :class:`Client` is a blocking client for scripts and tests.
- :class:`AsyncServer` and :class:`AsyncClient` are the same for asyncio
  programs: every command awaitable, the event loop never blocked.
- :class:`Hub` is the sans-IO core itself, for programs that bring their own
  IO (feed it bytes and write reports, act on what it returns).

The tutorial's whole server::

    import tcphub
    with tcphub.Server("127.0.0.1", 9000) as hub:
        synced = set()
        for event in hub.events():
            print(event)
            if isinstance(event, tcphub.Synced) and event.alias not in synced:
                synced.add(event.alias)
                if len(synced) == 2:
                    hub.broadcast("大家来领物资了")
                    hub.send("Client-1", "赶紧来做核酸了")
                    hub.send("Client-2", "一会儿上门做核酸")
"""

from __future__ import annotations

from ._errors import (
    AddressInUseError,
    ClusterError,
    ConfigError,
    ConnectionClosedError,
    Error,
    ForbiddenError,
    InvalidMessageError,
    RejectedError,
    RequestTimeoutError,
    ServerStoppedError,
    TlsError,
    TooManyRequestsError,
    TooManyRoomsError,
    InvalidRoomError,
    UnauthorizedError,
    UnknownAliasError,
    UnknownRequestError,
    UnknownRoomError,
    UnknownSessionError,
)
from ._codes import CloseReason, ErrorCode, PresenceChange
from ._tcphub import (
    CLOSE_REASONS,
    ERROR_CODES,
    HUB_NAME,
    PRESENCE_CHANGES,
    Alias,
    Authenticate,
    Bye,
    Close,
    Connected,
    Disconnected,
    ErrorReply,
    Event,
    Everyone,
    Grant,
    Hub,
    Joined,
    LastWill,
    Left,
    Message,
    PauseReading,
    Presence,
    ProtocolError,
    Received,
    ReceivedRequest,
    Relayed,
    Released,
    Request,
    ResumeReading,
    Room,
    Session,
    Synced,
    Transmit,
    __version__,
    hash_secret,
)
from ._client import Client
from ._stats import AuthTotal, FrameKind, HubStats
from ._server import Server
from ._aio_client import AsyncClient
from ._aio_server import AsyncServer

# Shown as tcphub.Client and tcphub.Server in help() and reprs, where users meet them.
Client.__module__ = __name__
Server.__module__ = __name__
AsyncClient.__module__ = __name__
AsyncServer.__module__ = __name__

__all__ = [
    "__version__",
    "HUB_NAME",
    # the core's names, at run time and as types
    "CLOSE_REASONS",
    "ERROR_CODES",
    "PRESENCE_CHANGES",
    "CloseReason",
    "ErrorCode",
    "PresenceChange",
    # running a hub
    "Server",
    "AsyncServer",
    "Session",
    "Grant",
    "hash_secret",
    # events
    "Event",
    "Connected",
    "Synced",
    "Released",
    "Message",
    "Request",
    "ProtocolError",
    "Disconnected",
    "Joined",
    "Left",
    "Relayed",
    # where a relayed message went
    "Alias",
    "Room",
    "Everyone",
    # client side
    "Client",
    "AsyncClient",
    "Received",
    "ReceivedRequest",
    "ErrorReply",
    "Bye",
    "Presence",
    "LastWill",
    # sans-IO core
    "Hub",
    "HubStats",
    "FrameKind",
    "AuthTotal",
    "Transmit",
    "PauseReading",
    "ResumeReading",
    "Close",
    "Authenticate",
    # errors
    "Error",
    "ConfigError",
    "AddressInUseError",
    "ClusterError",
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
