"""Type stubs of the native module ``tcphub._tcphub``.

Everything here is re-exported from ``tcphub``; import it from there.
"""

import os
from typing import Any, Awaitable, Dict, List, Literal, Optional, Sequence, Tuple, Union

from ._codes import CloseReason, ErrorCode, PresenceChange
from ._errors import RejectedError
from ._stats import HubStats

StrPath = Union[str, "os.PathLike[str]"]
"""A file name: ``str`` or ``pathlib.Path``."""

__version__: str
HUB_NAME: str
"""The ``sender`` of messages from the host program, as a client sees it."""
CLOSE_REASONS: Tuple[CloseReason, ...]
"""Every reason a session closes for, as the core lists them: the values of
``Disconnected.reason`` and ``Close.reason``, and what
``Hub.close_session`` accepts."""
ERROR_CODES: Tuple[ErrorCode, ...]
"""Every code of an ``error`` frame, as the core lists them: the values of
``ProtocolError.code``, ``ErrorReply.code`` and ``RejectedError.code``."""
PRESENCE_CHANGES: Tuple[PresenceChange, ...]
"""Every change a ``presence`` frame reports, as the core lists them: the
values of ``Presence.event``."""

def hash_secret(secret: Union[str, bytes]) -> str:
    """The argon2id hash of ``secret`` (default costs, a random salt) as a
    PHC string: what an ``auth_file`` stores as an alias's ``secret``, as
    ``tcphub hash-secret`` prints it. Text is hashed as UTF-8. An empty
    secret raises ``ConfigError``. Takes a moment and about 19 MiB by
    design; releases the GIL meanwhile."""

def init_logging(verbose: int = 0, format: str = "human") -> bool:
    """Sends the embedded server's log lines (connects, syncs, closes) to
    stderr, as the ``tcphub`` binary prints them. ``format`` is ``"human"``
    or ``"json"``; ``RUST_LOG``, when set, wins over ``verbose`` (0 info,
    1 debug, 2 trace). Returns False if logging was already set up."""

# ----- events -----

class Event:
    """Base class of every hub event. It names its session both ways:
    ``session_id`` (``str``) and ``handle`` (``int``)."""

    @property
    def session_id(self) -> str:
        """The session id: the peer address, such as ``"127.0.0.1:53412"``,
        as the wire (``synced``, ``list``) names the session. What
        ``Server.send_to_session`` and ``Server.close_session`` take (and
        ``Hub``'s, which take either)."""
    @property
    def handle(self) -> int:
        """The core's handle of the session: what the sans-IO ``tcphub.Hub``
        names sessions by (its ``Transmit``, ``Close`` ... and methods).
        Handles count up from 1 and are never reused."""

class Connected(Event):
    """A client connected."""

    __match_args__: Tuple[Literal["session_id"]]

class Synced(Event):
    """A session now holds ``alias``."""

    __match_args__: Tuple[
        Literal["alias"],
        Literal["took_over_from"],
        Literal["took_over_from_handle"],
        Literal["session_id"],
    ]
    @property
    def alias(self) -> str:
        """The alias the session holds now."""
    @property
    def took_over_from(self) -> Optional[str]:
        """The session id of the session that lost the alias to this one
        under the ``takeover`` policy, if any: a session id as events,
        ``sessions()``, ``send_to_session`` and ``close_session`` name
        sessions. The hub closed that session with ``taken_over`` in the
        same step (its ``Disconnected`` follows this event), so commands
        for it raise ``UnknownSessionError`` by now; use the id to find
        what your program keeps about it. None as well, on a ``Server``,
        when the program read events so late that those of that takeover
        were dropped (see ``event_queue_len``): ``took_over_from_handle``
        still says there was one."""
    @property
    def took_over_from_handle(self) -> Optional[int]:
        """The handle of that session: what the sans-IO ``Hub``'s ``Close``
        for it carries."""

class Released(Event):
    """A session no longer holds ``alias``: it re-synced, lost the alias to
    a takeover, or closed."""

    __match_args__: Tuple[Literal["alias"], Literal["session_id"]]
    @property
    def alias(self) -> str:
        """The alias released."""

class Message(Event):
    """A client sent a message to the host program."""

    __match_args__: Tuple[
        Literal["alias"],
        Literal["message"],
        Literal["json"],
        Literal["session_id"],
    ]
    @property
    def alias(self) -> Optional[str]:
        """The sender's alias, or None if it had not synced one."""
    @property
    def message(self) -> Any:
        """The message: str, int, float, bool, None, list or dict."""
    @property
    def json(self) -> str:
        """The message exactly as the client sent it, as JSON text."""

class Request(Event):
    """A client sent a request to the host program (``request_host``), which
    answers it with ``reply(event.reply_to, message)`` before it times
    out; on a ``Server``, a callback registered with
    ``@hub.on(tcphub.Request)`` answers by returning the answer."""

    __match_args__: Tuple[
        Literal["alias"],
        Literal["message"],
        Literal["reply_to"],
        Literal["session_id"],
    ]
    @property
    def alias(self) -> Optional[str]:
        """The sender's alias, or None if it had not synced one."""
    @property
    def message(self) -> Any:
        """The message: str, int, float, bool, None, list or dict."""
    @property
    def reply_to(self) -> str:
        """The hub's name for the request, which ``reply`` takes (opaque:
        ``"2.1"``, or ``"n1/2.1"`` on a cluster's node)."""
    @property
    def json(self) -> str:
        """The message exactly as the client sent it, as JSON text."""

class ProtocolError(Event):
    """A client sent something wrong; the hub told it so with an ``error``
    frame and kept serving it (unless the frame was over the size limit)."""

    __match_args__: Tuple[Literal["code"], Literal["detail"], Literal["session_id"]]
    @property
    def code(self) -> ErrorCode:
        """Machine-readable kind, one of ``tcphub.ERROR_CODES``
        (``bad_json``, ``unknown_alias`` ...)."""
    @property
    def detail(self) -> str:
        """What was wrong, for a person."""

class Disconnected(Event):
    """A session is gone."""

    __match_args__: Tuple[Literal["alias"], Literal["reason"], Literal["session_id"]]
    @property
    def alias(self) -> Optional[str]:
        """The alias it held until then, if any."""
    @property
    def reason(self) -> CloseReason:
        """Why, one of ``tcphub.CLOSE_REASONS`` (``peer_closed``,
        ``closed_by_host``, ``taken_over``, ``slow_consumer`` ...)."""

class Joined(Event):
    """A session joined a room: by its own ``join``, or the host's
    ``join_room``."""

    __match_args__: Tuple[Literal["room"], Literal["alias"], Literal["session_id"]]
    @property
    def room(self) -> str:
        """The room."""
    @property
    def alias(self) -> Optional[str]:
        """The member's alias, or None if it had not synced one."""

class Left(Event):
    """A session left a room: by its own ``leave``, or the host's
    ``leave_room``. A session that closes leaves its rooms with no ``Left``:
    its ``Disconnected`` says so."""

    __match_args__: Tuple[Literal["room"], Literal["alias"], Literal["session_id"]]
    @property
    def room(self) -> str:
        """The room."""
    @property
    def alias(self) -> Optional[str]:
        """The former member's alias, or None if it had not synced one."""

class Alias:
    """Where a message went: every session holding the alias ``name``."""

    __match_args__: Tuple[Literal["name"]]
    def __init__(self, name: str) -> None: ...
    @property
    def name(self) -> str: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

class Room:
    """Where a message went: every member of the room ``name`` but the
    sender."""

    __match_args__: Tuple[Literal["name"]]
    def __init__(self, name: str) -> None: ...
    @property
    def name(self) -> str: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

class Everyone:
    """Where a message went: every session but the sender (``to: "*"``).
    All instances are equal."""

    __match_args__: Tuple[()] = ()
    def __init__(self) -> None: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

class Relayed(Event):
    """A client relayed a message to other clients. Reported only by a hub
    made with ``observe=True``, right after the message was queued for its
    recipients, so these events come in delivery order. A last will sent
    for a session that ended without ``bye`` is one too (``last_will``)."""

    __match_args__: Tuple[
        Literal["target"],
        Literal["message"],
        Literal["alias"],
        Literal["recipients"],
        Literal["last_will"],
        Literal["json"],
        Literal["session_id"],
    ]
    @property
    def target(self) -> Union[Alias, Room, Everyone]:
        """Where it went: ``Alias(name)``, ``Room(name)`` or ``Everyone()``."""
    @property
    def message(self) -> Any:
        """The message: str, int, float, bool, None, list or dict."""
    @property
    def json(self) -> str:
        """The message exactly as the client sent it, as JSON text."""
    @property
    def alias(self) -> Optional[str]:
        """The sender's alias, or None if it had not synced one."""
    @property
    def recipients(self) -> int:
        """How many sessions it was queued for (0 when an alias will found
        nobody holding the alias)."""
    @property
    def last_will(self) -> bool:
        """It is the sender's last will: its session ended without a clean
        ``bye``."""

class Session:
    """One open session: its session id, the alias it holds and, on a
    cluster's node, the node it is on."""

    __match_args__: Tuple[Literal["session_id"], Literal["alias"], Literal["node"]]
    def __init__(
        self, session_id: str, alias: Optional[str] = None, node: Optional[str] = None
    ) -> None: ...
    @property
    def session_id(self) -> str:
        """The session id: its peer address, such as ``"127.0.0.1:53412"``."""
    @property
    def alias(self) -> Optional[str]:
        """The alias it synced, or None."""
    @property
    def node(self) -> Optional[str]:
        """The node it is on (``"a"``), on a cluster's node; else None."""

# ----- the embedded server (wrapped by tcphub.Server) -----

class Server:
    """The native server. Use ``tcphub.Server``, which wraps this class."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        alias_policy: str = "takeover",
        max_frame_bytes: int = 65536,
        max_sessions: int = 100000,
        idle_timeout: Optional[float] = None,
        relay: bool = True,
        max_queued_bytes: int = 67108864,
        write_deadline: Optional[float] = 10.0,
        frame_timeout: Optional[float] = 30.0,
        max_list_rows: int = 1000,
        high_watermark: int = 524288,
        low_watermark: int = 131072,
        observe: bool = False,
        max_rooms_per_session: int = 64,
        max_watched_aliases: int = 1000,
        max_last_will_bytes: int = 4096,
        rate_limit_messages: Optional[int] = None,
        rate_limit_message_burst: Optional[int] = None,
        rate_limit_bytes: Optional[int] = None,
        rate_limit_bytes_burst: Optional[int] = None,
        max_connections_per_address: Optional[int] = None,
        shutdown_grace: float = 5.0,
        event_queue_len: int = 16384,
        cluster: Optional[str] = None,
        node_id: Optional[str] = None,
        cluster_lease: float = 10.0,
        cluster_name: str = "tcphub",
        tls_cert: Optional[StrPath] = None,
        tls_key: Optional[StrPath] = None,
        tls_handshake_timeout: float = 10.0,
        authentication: bool = False,
        auth_timeout: float = 10.0,
        auth_file: Optional[StrPath] = None,
        auth_jwt_key: Optional[StrPath] = None,
        auth_jwt_algorithm: Optional[str] = None,
        auth_jwt_audience: Optional[str] = None,
        auth_jwt_issuer: Optional[str] = None,
        auth_jwt_leeway: Optional[float] = None,
        metrics: Optional[str] = None,
        request_timeout: float = 5.0,
        max_request_timeout: float = 60.0,
        max_pending_requests: int = 64,
    ) -> None: ...
    @property
    def address(self) -> Tuple[str, int]: ...
    @property
    def metrics_address(self) -> Optional[Tuple[str, int]]: ...
    @property
    def stopped(self) -> bool: ...
    def stats(self) -> HubStats: ...
    def broadcast(self, message: Any) -> int: ...
    def send(self, alias: str, message: Any) -> int: ...
    def send_to_session(self, session_id: str, message: Any) -> int:
        """Returns 1, the sessions it was queued for."""
    def close_session(self, session_id: str) -> None: ...
    def reply(self, reply_to: str, message: Any) -> None: ...
    def sessions(self) -> List[Session]: ...
    def join_room(self, session_id: str, room: str) -> bool: ...
    def leave_room(self, session_id: str, room: str) -> bool: ...
    def send_to_room(self, room: str, message: Any) -> int: ...
    def rooms(self) -> Dict[str, int]: ...
    def room_members(self, room: str) -> List[Session]: ...
    def next_batch(self, timeout: Optional[float] = None, limit: int = 4096) -> Optional[List[Event]]:
        """Up to ``limit`` events, waiting at most ``timeout`` seconds for the
        first: ``[]`` on timeout, None once the server stopped and every
        event was read. Releases the GIL while waiting."""
    def next_auth_questions(self, timeout: Optional[float] = None, limit: int = 256) -> Optional[List[AuthQuestion]]:
        """Up to ``limit`` open authentication questions, waiting at most
        ``timeout`` seconds for the first: ``[]`` on timeout, None once the
        server stopped or when it was not started with
        ``authentication=True``. Questions whose deadline passed are left
        out. Releases the GIL while waiting."""
    def reload_auth_file(self) -> int:
        """Reads ``auth_file`` again; returns how many aliases it lists. On
        error (``ConfigError`` naming the file) the one loaded before stays."""
    def stop(self) -> None: ...
    def wait_stopped(self, timeout: Optional[float] = None) -> bool: ...

class AuthQuestion:
    """A session asks the host program for an alias with a credential
    (``tcphub.Server`` hands these to its ``authenticate`` callback).
    Answer it once; dropping it unanswered denies it."""

    @property
    def session_id(self) -> str:
        """The session asking: its session id (peer address)."""
    @property
    def alias(self) -> str:
        """The alias it asks for, already checked against the alias rules."""
    @property
    def token(self) -> str:
        """The credential, exactly as sent. Never shown in ``repr``."""
    @property
    def open(self) -> bool:
        """Whether an answer is still awaited: not answered yet, and the
        hub's ``auth_timeout`` not passed."""
    def answer(self, decision: Union[bool, Grant]) -> bool:
        """Answers ``True``, ``False`` or a ``Grant`` (``TypeError`` for
        anything else, and the question stays open). False when the answer
        came too late or a second time, and was ignored."""

# ----- authentication -----

class Grant:
    """What a granted credential proves: who it belongs to and what its
    sessions may do. The answer to a credential, from a ``Server``'s
    ``authenticate`` callback or to ``Hub.handle_auth_decision``
    (``True`` is ``Grant()``: every permission, as the identity the alias
    names).

    ``identity``: who the credential belongs to (1 to 256 bytes, no control
    characters); None, the alias itself. Under the ``takeover`` and
    ``share`` policies an alias passes only between sessions of the same
    identity. ``relay``: the aliases its sessions may relay to (messages
    and last wills), as patterns where ``*`` matches any run of characters
    and ``?`` one (one pattern or a list, at most 256; None: every alias;
    an empty list: none). ``broadcast``: whether they may send to everyone
    (``to: "*"``). ``list``: whether they may see who is connected
    (``list`` and ``watch``). A bad identity or pattern raises
    ``ConfigError`` naming it."""

    __match_args__: Tuple[
        Literal["identity"],
        Literal["relay"],
        Literal["broadcast"],
        Literal["list"],
    ]
    def __init__(
        self,
        identity: Optional[str] = None,
        *,
        relay: Union[str, Sequence[str], None] = None,
        broadcast: bool = True,
        list: bool = True,
    ) -> None: ...
    @property
    def identity(self) -> Optional[str]:
        """Who the credential belongs to; None: the alias itself."""
    @property
    def relay(self) -> Tuple[str, ...]:
        """The patterns of the aliases its sessions may relay to
        (``("*",)`` unless given)."""
    @property
    def broadcast(self) -> bool:
        """Whether its sessions may send to everyone."""
    @property
    def list(self) -> bool:
        """Whether its sessions may see who is connected."""
    def __eq__(self, other: object) -> bool: ...

class Authenticate:
    """From ``Hub.poll`` on a hub made with ``authentication=True``: a
    session asks for ``alias`` with the credential ``token``. Check it, then
    answer with ``Hub.handle_auth_decision(id, decision)``. The session
    waits meanwhile (its input kept), at most ``auth_timeout``; then it is
    told ``unauthorized`` and a late answer is ignored."""

    __match_args__: Tuple[Literal["id"], Literal["handle"], Literal["alias"], Literal["token"]]
    @property
    def id(self) -> int:
        """The question's number: quote it in the answer."""
    @property
    def handle(self) -> int:
        """The session asking."""
    @property
    def session_id(self) -> str:
        """Its session id (peer address)."""
    @property
    def alias(self) -> str:
        """The alias it asks for, already checked against the alias rules."""
    @property
    def token(self) -> str:
        """The credential, exactly as sent. Never shown in ``repr``."""

# ----- the sans-IO core -----

class Transmit:
    """Queue ``data`` on the session's connection, after what is queued
    there already, and report it with ``Hub.handle_written`` as it reaches
    the socket."""

    __match_args__: Tuple[Literal["handle"], Literal["data"]]
    @property
    def handle(self) -> int:
        """The session to write to."""
    @property
    def data(self) -> bytes:
        """One complete NDJSON line. A frame for many sessions is one
        shared ``bytes`` object."""

class Close:
    """Close the session's connection: deal with what is queued for it as
    ``unsent`` says, write ``farewell`` after it, then close the socket
    (FIN, not a reset). The hub has already forgotten the session: reports
    of what is written after this are ignored, and none are needed."""

    __match_args__: Tuple[
        Literal["handle"],
        Literal["reason"],
        Literal["farewell"],
        Literal["unsent"],
    ]
    @property
    def handle(self) -> int:
        """The session to close."""
    @property
    def reason(self) -> CloseReason:
        """Why, as also reported by the ``Disconnected`` event: one of
        ``tcphub.CLOSE_REASONS``."""
    @property
    def farewell(self) -> bytes:
        """The session's one last frame: an ``error`` when the peer caused
        the close (``frame_too_large``, ``frame_timeout``,
        ``too_many_sessions``), else a ``bye``."""
    @property
    def unsent(self) -> Literal["send", "discard"]:
        """``"send"``: write everything still queued, then the farewell.
        ``"discard"`` (a slow consumer): finish the frame being written, so
        the stream never ends mid-frame, and drop the frames not started."""

class PauseReading:
    """Stop reading from the session's connection until ``ResumeReading``:
    what it sends fills some session's queue faster than that queue drains
    (or it does not read its own replies). TCP then pushes back on the peer.
    Bytes already read may still be passed to ``Hub.receive``; the hub
    keeps them."""

    __match_args__: Tuple[Literal["handle"]]
    @property
    def handle(self) -> int:
        """The session not to read from."""

class ResumeReading:
    """Read from the session's connection again."""

    __match_args__: Tuple[Literal["handle"]]
    @property
    def handle(self) -> int:
        """The session to read from."""

class Hub:
    """The sans-IO hub: the core state machine, for programs that do their
    own IO. It never touches a socket or reads a clock of its own.

    The run loop:

    1. Feed it what happens: ``handle = hub.accept("127.0.0.1:53412")``
       when a connection arrives; ``hub.receive(handle, data)`` for every
       chunk read from it; ``hub.handle_eof(handle)`` when a read returns
       no bytes (the peer half-closed); ``hub.connection_lost(handle)`` when
       the connection fails; ``hub.handle_written(handle, nbytes)`` as
       bytes handed out reach the socket; ``hub.handle_timeout()`` when
       ``hub.poll_timeout()`` comes due. Host commands: ``broadcast``,
       ``send``, ``send_to_session``, ``join_room``, ``leave_room``,
       ``send_to_room``, ``close_session``, ``shutdown``.
    2. After each of them, ``for action in hub.poll():`` queue each
       ``Transmit``'s ``data`` on its connection; stop and resume reading on
       ``PauseReading`` / ``ResumeReading``; on ``Close``, write what is
       queued (or drop the frames not started when ``unsent`` is
       ``"discard"``), then ``farewell``, then close; check each
       ``Authenticate``'s credential (a hub made with
       ``authentication=True``) and answer it with
       ``handle_auth_decision``; handle the events.

    Every byte of a ``Transmit`` counts against its session's queue until
    the driver reports it written: that is how the hub paces senders to
    their readers and finds readers that stopped reading
    (``write_deadline``). A driver that writes with a blocking
    ``sock.sendall`` reports each frame right after sending it.

    Time: methods taking ``now`` read it as seconds on the driver's
    monotonic clock (``time.monotonic()``, ``loop.time()``); leave it out
    everywhere to use the hub's own clock instead, the seconds since the hub
    was made, which ``hub.now()`` reads. ``poll_timeout()`` answers on
    whichever clock drives the hub, so on the hub's own the wait for the
    next ``handle_timeout()`` is ``max(0, hub.poll_timeout() - hub.now())``.
    The first call that takes ``now`` settles the clock; a later call on the
    other one raises ``tcphub.Error`` naming both clocks, since mixing them
    closes sessions as idle at once or sends time backwards.
    A ``now`` that is negative, NaN, infinite or past what the hub's clock
    counts (about 1.8e19 seconds) raises ``ConfigError``; a deadline past
    that clock never comes.

    Sessions are named by their handle, the ``int`` ``accept`` returns,
    which every output and event carries. Events carry the session id
    (``str``, the peer address) too, and the host commands
    ``send_to_session`` and ``close_session`` take either; ``handle_of``
    turns a session id into the handle.
    """

    def __init__(
        self,
        *,
        alias_policy: str = "takeover",
        max_frame_bytes: int = 65536,
        max_sessions: int = 100000,
        idle_timeout: Optional[float] = None,
        relay: bool = True,
        max_queued_bytes: int = 67108864,
        write_deadline: Optional[float] = 10.0,
        frame_timeout: Optional[float] = 30.0,
        max_list_rows: int = 1000,
        high_watermark: int = 524288,
        low_watermark: int = 131072,
        observe: bool = False,
        max_rooms_per_session: int = 64,
        max_watched_aliases: int = 1000,
        max_last_will_bytes: int = 4096,
        rate_limit_messages: Optional[int] = None,
        rate_limit_message_burst: Optional[int] = None,
        rate_limit_bytes: Optional[int] = None,
        rate_limit_bytes_burst: Optional[int] = None,
        max_connections_per_address: Optional[int] = None,
        authentication: bool = False,
        auth_timeout: float = 10.0,
        request_timeout: float = 5.0,
        max_request_timeout: float = 60.0,
        max_pending_requests: int = 64,
    ) -> None:
        """Options as for ``tcphub.Server``; a bad one raises ``ConfigError``
        naming it and the value. ``idle_timeout``, ``write_deadline`` and
        ``frame_timeout`` are off when None or ``inf``; the rate limits and
        ``max_connections_per_address`` are off when None.

        ``authentication=True``: every ``sync`` must carry a ``token``,
        which ``poll`` hands out as an ``Authenticate`` for the driver to
        check and answer with ``handle_auth_decision``, within
        ``auth_timeout`` seconds (0.001 to 3600). Until a session
        is granted an alias it may only ``sync``, ``ping`` and say
        ``bye``."""
    def accept(self, session_id: str, now: Optional[float] = None) -> int:
        """A connection was accepted from the peer address ``session_id``
        (such as ``"127.0.0.1:53412"``), which becomes the session id;
        returns the session's handle. When the hub is full or shutting down
        the session is refused at once (``poll`` then holds a ``Close``
        whose farewell says why). A session id already open raises
        ``tcphub.Error``."""
    def handle_of(self, session_id: str) -> int:
        """The handle of the open session with this session id;
        ``UnknownSessionError`` when no open session has it."""
    def receive(self, handle: int, data: bytes, now: Optional[float] = None) -> None:
        """Bytes arrived from the session's peer, cut anywhere. Raises
        ``UnknownSessionError`` if the hub closed the session already
        (safe to ignore: the read raced the close)."""
    def handle_eof(self, handle: int, now: Optional[float] = None) -> None:
        """The peer half-closed (a read returned no bytes): it sends nothing
        more. Everything it sent before is still answered, and everything
        queued for it delivered; then a ``Close`` with reason
        ``peer_closed`` follows. Keep the connection open for writing until
        then. ``UnknownSessionError`` as for ``receive``."""
    def handle_written(self, handle: int, nbytes: int, now: Optional[float] = None) -> None:
        """``nbytes`` of the data ``poll`` handed out for the session reached
        its socket (any split: a frame may go out in pieces). A report for a
        session the hub has closed is ignored."""
    def connection_lost(self, handle: int, now: Optional[float] = None) -> None:
        """The connection failed, or the peer is gone altogether. No
        ``Close`` follows. (A peer that only half-closed is ``handle_eof``.)"""
    def handle_timeout(self, now: Optional[float] = None) -> None:
        """Time passed: fires the idle timeout, the frame timeout, the
        write deadline and requests' timeouts where they are due."""
    def now(self) -> float:
        """The hub's own clock: seconds since it was made, the time every
        call uses when ``now`` is left out, and so the clock
        ``poll_timeout()`` answers on for a driver that leaves it out.
        Reading it settles nothing."""
    def poll_timeout(self) -> Optional[float]:
        """When ``handle_timeout`` is due next, on the clock that drives
        the hub (the driver's ``now``, or ``hub.now()``'s); None when no
        timer runs."""
    def queued_bytes(self, handle: int) -> int:
        """Bytes handed out for the session and not yet reported written.
        ``UnknownSessionError`` once it is closed."""
    def stats(self) -> HubStats:
        """The hub's counters since it was made and its gauges now, under
        the metric names of docs/metrics.md; see ``HubStats``."""
    def broadcast(self, message: Any) -> int:
        """Queues ``message`` (str or JSON-serialisable) from the host to
        every session; returns how many. Host messages are not paced by
        flow control: they count towards ``max_queued_bytes``."""
    def send(self, alias: str, message: Any) -> int:
        """Queues ``message`` for every session holding ``alias``; returns
        how many. Raises ``UnknownAliasError`` if nobody holds it."""
    def send_to_session(self, session: Union[int, str], message: Any) -> int:
        """Queues ``message`` for one session, named by its handle (``int``)
        or its session id (``str``);
        returns how many sessions it was queued for, as ``send`` and
        ``broadcast`` do: always 1 (``UnknownSessionError`` when it is not
        open)."""
    def join_room(self, session: Union[int, str], room: str) -> bool:
        """Puts a session (by handle or session id) in ``room``, as if it
        had sent ``join``: it is sent a ``joined`` frame, the room's
        watchers a ``presence`` frame, and a ``Joined`` event follows.
        False when it was a member already. ``UnknownSessionError``,
        ``InvalidRoomError`` (a name breaking the room rules) or
        ``TooManyRoomsError`` (``max_rooms_per_session``)."""
    def leave_room(self, session: Union[int, str], room: str) -> bool:
        """Takes a session out of ``room``: it is sent a ``left`` frame and
        a ``Left`` event follows. False when it was not a member.
        ``UnknownSessionError`` or ``InvalidRoomError`` (a name breaking
        the room rules)."""
    def send_to_room(self, room: str, message: Any) -> int:
        """Queues ``message`` from the host for every member of ``room``;
        returns how many. ``UnknownRoomError`` when nobody is in it,
        ``InvalidRoomError`` for a name breaking the room rules."""
    def reply(self, reply_to: str, message: Any) -> None:
        """Answers a ``Request`` event (by its ``reply_to``) with
        ``message``; the requester is sent the reply. Raises
        ``UnknownRequestError`` when the request no longer waits: answered
        already, timed out (see ``handle_timeout``), or its sender left."""
    def rooms(self) -> Dict[str, int]:
        """Every room with members, by name, with its member count."""
    def room_members(self, room: str) -> List[Session]:
        """The members of ``room``, oldest first; ``[]`` for a room nobody
        is in."""
    def close_session(self, session: Union[int, str], reason: CloseReason = "closed_by_host") -> None:
        """Says ``bye`` to a session (by handle, ``int``, or session id,
        ``str``) and closes it,
        with ``reason`` as the bye's reason: one of ``tcphub.CLOSE_REASONS``
        (``ConfigError`` otherwise)."""
    def handle_auth_decision(self, id: int, decision: Union[bool, Grant], now: Optional[float] = None) -> bool:
        """Answers the ``Authenticate`` numbered ``id``: ``True`` (the alias
        with every permission, as the identity the alias names), a
        ``Grant``, or ``False`` (the client is told ``unauthorized``; after
        3 failures from one address its next attempts are spaced out).
        Returns False when the question is no longer open (its deadline
        passed, its session closed, or it was answered): the answer is
        ignored. ``TypeError`` for a decision of another type."""
    def shutdown(self) -> None:
        """Says ``bye`` to every session and closes it; later connections
        are refused."""
    def sessions(self) -> List[Session]:
        """Every open session, oldest first."""
    def poll(self) -> List[Union[Transmit, PauseReading, ResumeReading, Close, Authenticate, Event]]:
        """Everything the driver must do, in order. Call after every input."""
    def __len__(self) -> int:
        """How many sessions are open."""

# ----- the client (wrapped by tcphub.Client) -----

class Received:
    """A message for this client: from another client (``sender`` is its
    alias, or its session id if it has none) or from the host program
    (``sender`` is ``"#hub"``)."""

    __match_args__: Tuple[Literal["sender"], Literal["message"], Literal["room"]]
    @property
    def sender(self) -> str: ...
    @property
    def message(self) -> Any:
        """str, int, float, bool, None, list or dict."""
    @property
    def room(self) -> Optional[str]:
        """The room it was sent to, when it was sent to a room; None for a
        message to this client's alias, to everyone, or from the host to
        this client alone."""
    @property
    def last_will(self) -> bool:
        """It is the sender's last will: the hub sent it because the
        sender's session ended without a clean ``bye``."""
    @property
    def from_host(self) -> bool:
        """Whether the host program, not another client, sent it."""

class ReceivedRequest:
    """A request for this client to answer: another client sent it with
    ``request``. Answer with ``client.reply(request, message)`` before it
    times out; the requester's ``request`` returns the message."""

    __match_args__: Tuple[Literal["sender"], Literal["message"], Literal["reply_to"]]
    @property
    def sender(self) -> str:
        """Who asks: its alias, or its session id if it has none."""
    @property
    def message(self) -> Any:
        """str, int, float, bool, None, list or dict."""
    @property
    def reply_to(self) -> str:
        """The hub's name for the request, which the reply names (opaque:
        ``"2.1"``, or ``"n1/2.1"`` on a cluster's node)."""

class ErrorReply:
    """The hub said something this client sent was wrong (an unknown
    alias, relaying turned off, bad JSON ...)."""

    __match_args__: Tuple[Literal["code"], Literal["detail"]]
    @property
    def code(self) -> str:
        """Machine-readable kind, as the hub wrote it: from a hub of this
        version, one of ``tcphub.ERROR_CODES``."""
    @property
    def detail(self) -> str: ...
    def exception(self) -> RejectedError:
        """The exception a request refused this way raises:
        ``RejectedError``, or its subclass for the code
        (``ForbiddenError``, ``UnauthorizedError``, ``RequestTimeoutError``,
        ``TooManyRequestsError``), for a program that would rather
        ``raise`` it."""
    @property
    def id(self) -> Union[str, int, float, None]:
        """The ``id`` of the request that caused it, when that request had
        one (a frame written with ``send_raw`` may carry its own). Errors
        answering this client's own requests go to that request, not here."""

class Bye:
    """The hub is closing this connection; ``reason`` says why
    (``shutdown``, ``taken_over``, ``idle_timeout``, ``closed_by_host`` ...)."""

    __match_args__: Tuple[Literal["reason"], Literal["detail"]]
    @property
    def reason(self) -> str:
        """Machine-readable reason, as the hub wrote it: from a hub of this
        version, one of ``tcphub.CLOSE_REASONS``."""
    @property
    def detail(self) -> str: ...

class Presence:
    """Something this client watches changed (see ``Client.watch``): an
    alias was claimed, given up, taken over or its session closed; or a
    member of a watched room joined, left or closed. A client is never told
    about itself."""

    __match_args__: Tuple[Literal["event"], Literal["alias"], Literal["room"], Literal["reason"]]
    @property
    def event(self) -> PresenceChange:
        """What happened: one of ``tcphub.PRESENCE_CHANGES`` (``synced``,
        ``released``, ``taken_over``, ``joined``, ``left``, ``closed``)."""
    @property
    def alias(self) -> Optional[str]:
        """The alias concerned; None for a room member that has none."""
    @property
    def session_id(self) -> str:
        """The session concerned."""
    @property
    def room(self) -> Optional[str]:
        """The room, for ``joined`` and ``left``."""
    @property
    def reason(self) -> Optional[CloseReason]:
        """Why the session closed, for ``closed``."""

class LastWill:
    """A last will: ``message`` (a str or JSON-serialisable value), which
    the hub sends for a client whose session ends without a clean ``bye``
    (dropped, killed, timed out, closed by the host; not on ``bye``, a
    takeover or the hub's shutdown), to the members of ``room`` or the
    holders of the aliases ``to`` (one or a list). Give exactly one of the
    two (``ConfigError`` otherwise). Left with the hub by ``sync`` (or
    ``Client(..., name, last_will=...)``); each sync replaces it."""

    __match_args__: Tuple[Literal["message"], Literal["room"], Literal["to"]]
    def __init__(
        self,
        message: Any,
        *,
        room: Optional[str] = None,
        to: Union[str, Sequence[str], None] = None,
    ) -> None: ...
    @property
    def message(self) -> Any: ...
    @property
    def room(self) -> Optional[str]: ...
    @property
    def to(self) -> Optional[Tuple[str, ...]]: ...

class Client:
    """A blocking client. Use ``tcphub.Client``, which adds iteration and ``with``.

    ``sync``, ``sessions`` and ``ping`` send a request id of their own
    (``"py-1"``, ``"py-2"``, ...) and take only the reply or error echoing
    it; errors caused by anything else go to ``receive``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9000,
        name: Optional[str] = None,
        *,
        timeout: Optional[float] = 10.0,
        last_will: Optional[LastWill] = None,
        tls: bool = False,
        ca: Optional[StrPath] = None,
        server_name: Optional[str] = None,
        token: Optional[str] = None,
    ) -> None:
        """Connects (``ConnectionClosedError`` if it cannot) and, when
        ``name`` is given, syncs it (``RejectedError`` if the hub refuses),
        leaving ``last_will`` with the hub (which needs a ``name``).
        ``timeout`` bounds connect, the TLS handshake, ``sync``,
        ``sessions`` and ``ping``: None or ``inf`` waits forever; zero,
        negative or NaN does not wait. A ``port`` outside 0 to 65535 raises
        ``ConfigError``.

        ``tls=True`` speaks TLS to a hub serving with ``tls_cert``: its
        certificate must be signed by a CA in the PEM file ``ca`` (the
        hub's own certificate will do), or by a public CA when ``ca`` is
        None, and carry ``server_name`` (default: ``host``, an IP address
        included). ``ca`` or ``server_name`` imply ``tls``. A ``ca`` that
        cannot be read raises ``ConfigError`` naming it; a failed handshake
        raises ``TlsError``.

        ``token`` is the credential every ``sync`` carries, for a hub with
        authentication: a missing or wrong one raises ``UnauthorizedError``,
        and what the credential does not allow raises ``ForbiddenError``
        (or comes back from ``receive`` as an ``ErrorReply`` with that
        code, for a ``send``)."""
    @property
    def name(self) -> Optional[str]:
        """The alias this client synced, or None."""
    @property
    def session_id(self) -> Optional[str]:
        """This client's session id (its address as the hub sees it), once synced."""
    @property
    def address(self) -> Tuple[str, int]:
        """The hub's address."""
    def sync(
        self,
        name: str,
        timeout: Optional[float] = None,
        *,
        last_will: Optional[LastWill] = None,
        token: Optional[str] = None,
    ) -> str:
        """Claims ``name`` as this client's alias; returns the session id.
        ``RejectedError`` when the hub refuses this very request
        (``UnauthorizedError`` for a credential it does not accept,
        ``ForbiddenError`` for a last will to an alias the identity may not
        relay to). Each sync replaces the last will left with the hub:
        ``last_will=None`` clears it. ``token``: the credential it carries,
        instead of the client's."""
    def send_to_host(self, message: Any) -> None:
        """Sends ``message`` (str or JSON-serialisable) to the host program."""
    def send(self, alias: str, message: Any) -> None:
        """Sends ``message`` to every client holding ``alias``. An unknown
        alias comes back as an ``ErrorReply`` from ``receive`` (never as the
        answer to a later ``sync``, ``sessions`` or ``ping``)."""
    def request(self, alias: str, message: Any, timeout: Optional[float] = None) -> Any:
        """Sends ``message`` to ``alias`` as a request and returns the
        reply's message (str, int, float, bool, None, list or dict).

        ``timeout`` (seconds) is how long the hub waits for the reply (cut
        to its ``max_request_timeout``; ``inf``: as long as it allows); the
        client waits a little longer for the hub's answer. None leaves it
        to the hub's ``request_timeout`` (5 s by default), waited for at
        most the client's own ``timeout``. Zero, negative or NaN raises
        ``ConfigError``.

        Raises ``UnknownAliasError`` (nobody holds ``alias``),
        ``RequestTimeoutError`` (no reply in time, or no answer from the
        hub at all), ``TooManyRequestsError``, ``ForbiddenError`` or
        another ``RejectedError`` (``relay_disabled`` ...), and
        ``ConnectionClosedError`` if the hub closes the connection
        meanwhile. Safe to call from several threads at once: each call
        gets its own reply, and what else arrives meanwhile stays for
        ``receive``."""
    def request_host(self, message: Any, timeout: Optional[float] = None) -> Any:
        """Sends ``message`` to the host program as a request and returns
        the reply's message; as ``request`` otherwise."""
    def reply(self, request: Union[ReceivedRequest, str], message: Any) -> None:
        """Answers a ``ReceivedRequest`` (or its ``reply_to``) with
        ``message``. A reply the hub no longer waits for (answered, timed
        out, its requester left) comes back from ``receive`` as an
        ``ErrorReply`` with code ``unknown_request``; a ``reply_to`` the hub
        cannot have written raises ``UnknownRequestError`` at once."""
    def broadcast(self, message: Any) -> None:
        """Sends ``message`` to every other client."""
    def send_to_room(self, room: str, message: Any) -> None:
        """Sends ``message`` to every other member of ``room`` (this client
        need not be one). A room nobody is in comes back as an
        ``ErrorReply`` (``unknown_room``) from ``receive``."""
    def join(self, room: str, timeout: Optional[float] = None) -> int:
        """Joins ``room``; returns how many members it has now, this client
        included (joining again is no error). ``RejectedError``
        (``invalid_room``, ``too_many_rooms``) if refused."""
    def leave(self, room: str, timeout: Optional[float] = None) -> None:
        """Leaves ``room``; ``RejectedError`` (``not_in_room``) if this
        client is not a member, (``invalid_room``) for a name breaking the
        room rules."""
    @property
    def rooms(self) -> List[str]:
        """The rooms this client is in, by name, as the hub's ``joined``
        and ``left`` frames said: its own ``join`` and ``leave``, and the
        host's ``join_room`` and ``leave_room`` once a frame after them was
        read (by any call that waits)."""
    def room_members(self, room: str, timeout: Optional[float] = None) -> List[Session]:
        """The members of ``room``, oldest first, every page of them.
        ``RejectedError`` (``not_in_room``) unless this client is one
        (``invalid_room`` for a name breaking the room rules)."""
    def watch(
        self,
        aliases: Union[str, Sequence[str], None] = None,
        *,
        room: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> None:
        """Asks for ``Presence`` items from ``receive``: about every alias
        (no arguments), the aliases named (one or a list, held or not), or
        the members of ``room`` (this client must be one). Watches add up.
        ``RejectedError`` (``not_in_room``, ``invalid_room``,
        ``too_many_watches``, ``invalid_alias``, ``invalid_field`` for an
        empty list) if refused; ``ConfigError`` for both ``aliases`` and
        ``room``."""
    def unwatch(
        self,
        aliases: Union[str, Sequence[str], None] = None,
        *,
        room: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> None:
        """Stops ``Presence`` items: all of them (no arguments), about the
        aliases named, or about ``room``'s members."""
    def bye(self, timeout: Optional[float] = None) -> Bye:
        """Closes cleanly, so the hub does not send the last will: says
        ``bye`` and returns the hub's ``Bye`` (reason ``client_bye``), which
        comes after the answers to everything sent before (those stay
        readable with ``receive`` and ``drain``), then closes the
        connection."""
    def send_raw(self, data: bytes) -> None:
        """Writes bytes as they are, for speaking the protocol by hand."""
    def sessions(self, timeout: Optional[float] = None) -> List[Session]:
        """Who is connected, as the hub sees it: every page of its paged
        ``list``, oldest first. ``RejectedError`` if the hub refuses
        (``ForbiddenError`` when this client's identity may not list)."""
    def ping(self, timeout: Optional[float] = None) -> float:
        """Round trip to the hub and back, in seconds."""
    def receive(self, timeout: Optional[float] = None) -> Optional[Union[Received, ReceivedRequest, ErrorReply, Bye, Presence]]:
        """The next message, request to answer, error reply, bye or presence change; None if nothing arrived in
        ``timeout`` seconds (None or ``inf`` waits forever; zero, negative
        or NaN only looks). Releases the GIL while
        waiting. Raises ``ConnectionClosedError`` once the connection is
        closed and everything received was read."""
    def drain(self, limit: Optional[int] = None) -> List[Union[Received, ReceivedRequest, ErrorReply, Bye, Presence]]:
        """Everything already received, without waiting: at most ``limit``
        items (None: all; a negative one raises ``ConfigError``)."""
    def close(self) -> None:
        """Closes the connection; safe to call more than once."""

class AsyncHub:
    """The commands of a native ``Server`` as awaitables. Use
    ``tcphub.AsyncServer``, which wraps this class. Each method must be
    called with an asyncio event loop running (else ``RuntimeError``); its
    awaitable is completed when the hub has answered."""

    def __init__(self, server: Server) -> None: ...
    def stats(self) -> Awaitable[HubStats]: ...
    def broadcast(self, message: Any) -> Awaitable[int]: ...
    def send(self, alias: str, message: Any) -> Awaitable[int]: ...
    def send_to_session(self, session_id: str, message: Any) -> Awaitable[int]: ...
    def reply(self, reply_to: str, message: Any) -> Awaitable[None]: ...
    def close_session(self, session_id: str) -> Awaitable[None]: ...
    def sessions(self) -> Awaitable[List[Session]]: ...
    def join_room(self, session_id: str, room: str) -> Awaitable[bool]: ...
    def leave_room(self, session_id: str, room: str) -> Awaitable[bool]: ...
    def send_to_room(self, room: str, message: Any) -> Awaitable[int]: ...
    def rooms(self) -> Awaitable[Dict[str, int]]: ...
    def room_members(self, room: str) -> Awaitable[List[Session]]: ...
    def events_ready(self, timeout: Optional[float] = None) -> Awaitable[bool]:
        """True once events may be there for ``Server.next_batch`` or
        ``timeout`` seconds passed (None: no limit); False once the server
        stopped and every event was read. It takes no event itself, so
        cancelling it loses none."""
    def stop(self) -> Awaitable[None]:
        """Stops the server as ``Server.stop`` does, awaiting the flush."""

class AsyncConnection:
    """The native half of ``tcphub.AsyncClient``, which wraps this class:
    the connection is read by a native task, each request is an awaitable,
    and requests are matched with their answers by id as ``Client`` does."""

    @staticmethod
    def open(
        host: str,
        port: int,
        *,
        timeout: Optional[float] = 10.0,
        tls: bool = False,
        ca: Optional[StrPath] = None,
        server_name: Optional[str] = None,
        token: Optional[str] = None,
    ) -> Awaitable[AsyncConnection]:
        """Connects, as ``Client`` does. A ``ca`` that cannot be read
        raises ``ConfigError`` at once; ``ConnectionClosedError`` and
        ``TlsError`` come from the awaitable."""
    @property
    def name(self) -> Optional[str]: ...
    @property
    def session_id(self) -> Optional[str]: ...
    @property
    def address(self) -> Tuple[str, int]: ...
    @property
    def rooms(self) -> List[str]: ...
    def sync(
        self,
        name: str,
        timeout: Optional[float] = None,
        *,
        last_will: Optional[LastWill] = None,
        token: Optional[str] = None,
    ) -> Awaitable[str]: ...
    def send_to_host(self, message: Any) -> Awaitable[None]: ...
    def send(self, alias: str, message: Any) -> Awaitable[None]: ...
    def broadcast(self, message: Any) -> Awaitable[None]: ...
    def send_to_room(self, room: str, message: Any) -> Awaitable[None]: ...
    def send_raw(self, data: bytes) -> Awaitable[None]: ...
    def request(self, alias: str, message: Any, timeout: Optional[float] = None) -> Awaitable[Any]: ...
    def request_host(self, message: Any, timeout: Optional[float] = None) -> Awaitable[Any]: ...
    def reply(self, request: Union[ReceivedRequest, str], message: Any) -> Awaitable[None]: ...
    def join(self, room: str, timeout: Optional[float] = None) -> Awaitable[int]: ...
    def leave(self, room: str, timeout: Optional[float] = None) -> Awaitable[None]: ...
    def watch(
        self,
        aliases: Union[str, Sequence[str], None] = None,
        *,
        room: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> Awaitable[None]: ...
    def unwatch(
        self,
        aliases: Union[str, Sequence[str], None] = None,
        *,
        room: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> Awaitable[None]: ...
    def sessions(self, timeout: Optional[float] = None) -> Awaitable[List[Session]]: ...
    def room_members(self, room: str, timeout: Optional[float] = None) -> Awaitable[List[Session]]: ...
    def ping(self, timeout: Optional[float] = None) -> Awaitable[float]: ...
    def bye(self, timeout: Optional[float] = None) -> Awaitable[Bye]: ...
    def readable(self, timeout: Optional[float] = None) -> Awaitable[bool]:
        """True once ``try_receive`` has something to give (an item, or the
        end of the connection), False if ``timeout`` seconds passed first.
        It takes nothing itself, so cancelling it loses nothing."""
    def try_receive(self) -> Optional[Union[Received, ErrorReply, Bye, Presence]]:
        """The next item received, without waiting: None if there is none
        yet. ``ConnectionClosedError`` once the connection ended and all
        was received (``truncated`` when it ended inside a frame)."""
    def close(self) -> Awaitable[None]:
        """Closes the connection (after close_notify, with TLS)."""

class Completions:
    """The native executor of one asyncio event loop (``tcphub._aio_loop``
    makes one per loop): futures behind awaited commands wait here when
    woken; ``drain`` polls them and sets the results of those done, and is
    registered with ``loop.add_reader(fileno(), drain)``."""

    def __init__(self) -> None: ...
    def fileno(self) -> int: ...
    def drain(self) -> None: ...
