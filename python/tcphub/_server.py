"""The server: the native ``tcphub`` server running inside this process.

The native half (``_tcphub.Server``) binds, serves on its own threads and
hands events over in batches. This module adds what makes it pleasant from
Python: ``with``, a blocking iterator, callbacks and ``async for``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import os
import re
import threading
import warnings
from typing import (
    Any,
    AsyncIterator,
    Callable,
    Deque,
    Dict,
    Iterator,
    List,
    Optional,
    Tuple,
    Type,
    TypeVar,
    Union,
    overload,
)

from . import _tcphub
from ._auth import AuthCallback, HostAuth
from ._errors import ConfigError, Error, UnknownRequestError
from ._stats import HubStats

__all__ = ["Server"]

logger = logging.getLogger("tcphub")

E = TypeVar("E", bound=_tcphub.Event)
R = TypeVar("R")
A = TypeVar("A", bound=AuthCallback)
Callback = Callable[[Any], Any]
StrPath = Union[str, "os.PathLike[str]"]

#: Events fetched per crossing of the native boundary.
_BATCH = 4096
#: Longest wait of one asyncio poll, so a cancelled ``async for`` lets its
#: worker thread go quickly.
_ASYNC_POLL = 0.1


def _quiet_limit(timeout: Optional[float]) -> Optional[float]:
    """``timeout`` read as the native waits read it: ``None`` and ``inf`` (and
    ints too large for a float) wait forever; zero, negative and NaN do not
    wait, where NaN would otherwise compare false and never time out."""
    if timeout is None:
        return None
    try:
        seconds = float(timeout)
    except OverflowError:
        return None if timeout > 0 else 0.0
    if math.isinf(seconds) and seconds > 0:
        return None
    return seconds if seconds > 0 else 0.0


# How pyo3 names the keyword argument of the wrong type: in a note, "while
# processing 'NAME'" (pyo3 0.26 and later), or in the message, "argument
# 'NAME': WHY" (before). Only those become ConfigError; any other
# TypeError is a bug and stays one.
_PROCESSING_NOTE = re.compile(r"while processing '(\w+)'")
_ARGUMENT_ERROR = re.compile(r"argument '(\w+)': (.*)", re.S)


def _wrong_type(error: TypeError, given: Dict[str, Any]) -> Exception:
    """The ``ConfigError`` for an option of the wrong type, naming the option
    and the value as the range checks do; ``error`` itself if it is not one."""
    why = str(error)
    name = None
    for note in getattr(error, "__notes__", ()):
        found = _PROCESSING_NOTE.fullmatch(note)
        if found is not None:
            name = found.group(1)
    if name is None:
        argument = _ARGUMENT_ERROR.match(why)
        if argument is not None:
            name, why = argument.groups()
    if name is None or name not in given:
        return error
    return ConfigError(f"{name} has the wrong type ({why}), got {given[name]!r}")


class Server:
    """A tcphub server listening on ``host:port``, run by native threads.

    It starts listening as soon as it is created and serves until
    :meth:`stop` (or the end of a ``with`` block). ``port=0`` lets the OS
    pick a free port; read it back from :attr:`port` or :attr:`address`.
    Starting on an address in use raises :class:`AddressInUseError`.

    Options (the same as the ``tcphub serve`` flags):

    - ``alias_policy``: what a claim on a held alias does: ``"takeover"`` (the
      newcomer wins, the old holder is closed), ``"reject"`` or ``"share"``.
    - ``max_frame_bytes``: largest frame a client may send, in bytes.
    - ``max_sessions``: connections beyond this are refused.
    - ``idle_timeout``: seconds of silence before a session is closed
      (``None`` or ``inf``: never).
    - ``relay``: whether clients may message each other directly.
    - ``max_queued_bytes``: hard cap on unsent bytes for one client, however
      fast it reads; past it the client is closed as a slow consumer (at
      least ``high_watermark + max_frame_bytes``).
    - ``write_deadline``: seconds a client may go without any of what is
      queued for it being written before it is closed as a slow consumer
      (``None`` or ``inf``: never).
    - ``frame_timeout``: seconds one frame may take from its first byte to
      its last before the session is closed (``None`` or ``inf``: never).
    - ``max_list_rows``: most rows in one ``list`` reply; clients page
      through the rest.
    - ``high_watermark`` / ``low_watermark``: flow control. Once more than
      ``high_watermark`` bytes wait unsent for a client, the clients sending
      to it (and the client itself) are no longer read, so TCP holds them
      back, until its queue is below ``low_watermark``.
    - ``observe``: report every message clients relay to each other (to an
      alias, a room or everyone, last wills included) as a
      :class:`Relayed` event, in delivery order. Off by default: it costs a
      copy of each message.
    - ``max_rooms_per_session``: most rooms one session may be in at once.
    - ``max_watched_aliases``: most aliases one session may watch by name.
    - ``max_last_will_bytes``: largest last will message a client may leave
      at ``sync``, in bytes as sent; a bigger one is refused with
      ``last_will_too_large``. A will is held for its whole session.
    - ``rate_limit_messages``: frames each client may send per second
      (every frame but ``bye`` counts); one over the limit is not acted on
      and is answered ``rate_limited``, and a client refused more than 100
      times within 10 s is closed with ``rate_limited``. ``None``: off.
    - ``rate_limit_message_burst``: frames a client may send at once after
      a quiet spell (``None``: one second's worth).
    - ``rate_limit_bytes`` / ``rate_limit_bytes_burst``: the same in bytes
      of frames; the burst is at least ``max_frame_bytes`` (``None``: one
      second's worth, at least ``max_frame_bytes``).
    - ``max_connections_per_address``: most sessions open at once from one
      IP address; one more is told ``too_many_connections`` and closed.
      ``None``: off.
    - ``shutdown_grace``: seconds allowed to flush queues on :meth:`stop`
      (``inf``: as long as it takes).
    - ``event_queue_len``: events buffered for this program; when it falls
      further behind, newer events are dropped (clients are never stalled).
    - ``cluster``: a Redis URL (``"redis://127.0.0.1:6379"``) shared by
      several servers that then act as one hub: aliases, relays, ``*`` and
      rooms span them all. ``None`` (the default) serves alone and touches
      no network but the listener. Redis unreachable at start raises
      :class:`ClusterError` naming the URL. Events stay with the server
      whose client caused them.
    - ``node_id``: this server's name in the cluster (1 to 32 ASCII
      letters, digits, ``-``, ``_``); by default the host name, process id
      and a few random hex digits. Session ids start with it.
    - ``cluster_lease``: seconds a server that died without stopping keeps
      its aliases (0.3 to 3600).
    - ``cluster_name``: keys live under ``tcphub:{NAME}:`` in Redis, so
      several clusters can share one Redis.
    - ``tls_cert`` / ``tls_key``: PEM files of a certificate chain and its
      private key; with both, the listener speaks TLS (clients connect with
      ``Client(..., tls=True, ca=...)``). One without the other, or a file
      that cannot be read or used, raises :class:`ConfigError` naming it.
    - ``tls_handshake_timeout``: seconds a TLS client has to finish its
      handshake; until then it is no session and counts against no limit.
    - ``authenticate``: a callback deciding whether a client may have the
      alias it asks for: ``callback(session_id, alias, token)`` returns
      ``True``, ``False`` or a :class:`Grant` (an identity and what it may
      do). Every ``sync`` must then carry a ``token``
      (``Client(..., token=...)``); until one is granted, a client may
      only ``sync``, ``ping`` and say ``bye``. See :meth:`authenticate`.
    - ``authentication``: ``True`` turns authentication on with the
      callback registered later with ``@hub.authenticate`` (``authenticate=``
      implies it).
    - ``auth_timeout``: seconds one decision may take (0.001 to 3600);
      past it the client is told ``unauthorized`` and a late answer
      is ignored. A client granted no alias within this long of
      connecting is closed (``auth_timeout``).
    - ``auth_file``: instead of a callback, a TOML file of aliases, each
      with the argon2id hash of its secret (:func:`hash_secret`) and its
      permissions; the client's ``token`` is the secret.
    - ``auth_jwt_key`` with ``auth_jwt_algorithm`` (``"hs256"``,
      ``"eddsa"`` or ``"rs256"``, no default): instead of a callback, the
      token is a JWT whose ``sub`` is the alias, checked with this key file
      (the HS256 secret, or the PEM public key); ``auth_jwt_audience`` and
      ``auth_jwt_issuer`` must then match ``aud`` and ``iss``, and
      ``auth_jwt_leeway`` is how many seconds ``exp`` and ``nbf`` may be
      off (None: 5). A file or key that cannot be used raises
      :class:`ConfigError` naming the option and the file, before the
      server listens; so does giving more than one way to check.
    - ``metrics``: ``"HOST:PORT"`` (such as ``"127.0.0.1:9100"``; port 0
      picks one, see :attr:`metrics_address`) to serve Prometheus metrics
      on ``http://HOST:PORT/metrics``, as ``tcphub serve --metrics`` does
      (docs/metrics.md); :meth:`stats` reads the same counters.
    - ``request_timeout``: seconds a client's request waits for its reply
      when it names no timeout of its own (at least 0.001); then the
      client is told ``request_timeout``.
    - ``max_request_timeout``: the longest wait a request may ask for, in
      seconds; longer ones are cut to it. It bounds how long the hub
      remembers a request nobody answers.
    - ``max_pending_requests``: most requests one client may have waiting
      for replies; one more is refused with ``too_many_requests``.

    Events reach the program one way, chosen by the first use: the blocking
    iterator :meth:`events`, ``async for`` (:meth:`aevents`), or callbacks
    registered with :meth:`on`, which run on a thread of their own.

    A client's request to the host arrives as a :class:`Request` event,
    answered with :meth:`reply`, or by returning the answer from a
    callback registered for :class:`Request` (see :meth:`on`).

    A size or count out of range, or a duration that is zero, negative or
    NaN, raises :class:`ConfigError` naming the option and the value.

    Messages are a ``str`` or any JSON-serialisable value.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9000,
        *,
        alias_policy: str = "takeover",
        max_frame_bytes: int = 64 * 1024,
        max_sessions: int = 100_000,
        idle_timeout: Optional[float] = None,
        relay: bool = True,
        max_queued_bytes: int = 64 * 1024 * 1024,
        write_deadline: Optional[float] = 10.0,
        frame_timeout: Optional[float] = 30.0,
        max_list_rows: int = 1000,
        high_watermark: int = 512 * 1024,
        low_watermark: int = 128 * 1024,
        observe: bool = False,
        max_rooms_per_session: int = 64,
        max_watched_aliases: int = 1000,
        max_last_will_bytes: int = 4 * 1024,
        rate_limit_messages: Optional[int] = None,
        rate_limit_message_burst: Optional[int] = None,
        rate_limit_bytes: Optional[int] = None,
        rate_limit_bytes_burst: Optional[int] = None,
        max_connections_per_address: Optional[int] = None,
        shutdown_grace: float = 5.0,
        event_queue_len: int = 16 * 1024,
        cluster: Optional[str] = None,
        node_id: Optional[str] = None,
        cluster_lease: float = 10.0,
        cluster_name: str = "tcphub",
        tls_cert: Optional[StrPath] = None,
        tls_key: Optional[StrPath] = None,
        tls_handshake_timeout: float = 10.0,
        authentication: bool = False,
        authenticate: Optional[AuthCallback] = None,
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
    ) -> None:
        if authenticate is not None and not callable(authenticate):
            raise ConfigError(f"authenticate takes a callable, got {authenticate!r}")
        options: Dict[str, Any] = dict(
            alias_policy=alias_policy,
            max_frame_bytes=max_frame_bytes,
            max_sessions=max_sessions,
            idle_timeout=idle_timeout,
            relay=relay,
            max_queued_bytes=max_queued_bytes,
            write_deadline=write_deadline,
            frame_timeout=frame_timeout,
            max_list_rows=max_list_rows,
            high_watermark=high_watermark,
            low_watermark=low_watermark,
            observe=observe,
            max_rooms_per_session=max_rooms_per_session,
            max_watched_aliases=max_watched_aliases,
            max_last_will_bytes=max_last_will_bytes,
            rate_limit_messages=rate_limit_messages,
            rate_limit_message_burst=rate_limit_message_burst,
            rate_limit_bytes=rate_limit_bytes,
            rate_limit_bytes_burst=rate_limit_bytes_burst,
            max_connections_per_address=max_connections_per_address,
            shutdown_grace=shutdown_grace,
            event_queue_len=event_queue_len,
            cluster=cluster,
            node_id=node_id,
            cluster_lease=cluster_lease,
            cluster_name=cluster_name,
            tls_cert=tls_cert,
            tls_key=tls_key,
            tls_handshake_timeout=tls_handshake_timeout,
            authentication=authentication or authenticate is not None,
            auth_timeout=auth_timeout,
            auth_file=auth_file,
            auth_jwt_key=auth_jwt_key,
            auth_jwt_algorithm=auth_jwt_algorithm,
            auth_jwt_audience=auth_jwt_audience,
            auth_jwt_issuer=auth_jwt_issuer,
            auth_jwt_leeway=auth_jwt_leeway,
            metrics=metrics,
            request_timeout=request_timeout,
            max_request_timeout=max_request_timeout,
            max_pending_requests=max_pending_requests,
        )
        try:
            self._native = _tcphub.Server(host, port, **options)
        except TypeError as e:
            raise _wrong_type(e, {"host": host, "port": port, **options}) from None
        # Events fetched from the native side but not yet handed out. Batches
        # land here before anyone looks at them, so an interrupted wait (a
        # cancelled task, a broken loop) never loses events.
        self._pending: Deque[_tcphub.Event] = collections.deque()
        self._mode: Optional[str] = None
        # In registration order, whatever their kind: they run in that order.
        self._callbacks: List[Tuple[type, Callback]] = []
        self._lock = threading.Lock()
        self._dispatcher: Optional[threading.Thread] = None
        self._auth: Optional[HostAuth] = None
        # Which native checker runs instead of a callback, for the error
        # of a late @hub.authenticate.
        self._checked_by: Optional[str] = None
        if auth_file is not None:
            self._checked_by = "auth_file"
        elif auth_jwt_key is not None:
            self._checked_by = "auth_jwt_key"
        if authentication or authenticate is not None:
            self._auth = HostAuth(self._native)
            if authenticate is not None:
                self._auth.register(authenticate)

    # ----- address -----

    @property
    def address(self) -> Tuple[str, int]:
        """The address the server listens on, as ``(host, port)``."""
        return self._native.address

    @property
    def metrics_address(self) -> Optional[Tuple[str, int]]:
        """Where ``http://HOST:PORT/metrics`` is served, with ``metrics=``."""
        return self._native.metrics_address

    @property
    def host(self) -> str:
        """The host the server listens on."""
        return self._native.address[0]

    @property
    def port(self) -> int:
        """The port the server listens on (the real one when 0 was asked)."""
        return self._native.address[1]

    # ----- commands -----

    def stats(self) -> HubStats:
        """What the hub has counted since the server started (sessions,
        frames and bytes in and out, errors by code, closes by reason, ...)
        and what it holds now, as a dict under the names of the Prometheus
        metrics in docs/metrics.md (without ``tcphub_``): the numbers
        ``tcphub serve --metrics`` publishes. Taken in one step."""
        return self._native.stats()

    def broadcast(self, message: Any) -> int:
        """Sends ``message`` to every connected client; returns how many."""
        return self._native.broadcast(message)

    def send(self, alias: str, message: Any) -> int:
        """Sends ``message`` to the client(s) holding ``alias``; returns how
        many (more than one under the ``share`` policy). Raises
        :class:`UnknownAliasError` when nobody holds it."""
        return self._native.send(alias, message)

    def send_to_session(self, session_id: str, message: Any) -> int:
        """Sends ``message`` to one session, named by its session id (its
        peer address, as in events and :meth:`sessions`); returns how many
        sessions it was queued for, as :meth:`send` and :meth:`broadcast`
        do: always 1. Raises :class:`UnknownSessionError` when it is not
        open."""
        return self._native.send_to_session(session_id, message)

    def reply(self, reply_to: str, message: Any) -> None:
        """Answers a client's request to the host (a :class:`Request`
        event, by its ``reply_to``) with ``message``; the client's
        ``request_host`` returns it. Raises :class:`UnknownRequestError`
        when the request no longer waits: it was answered already, timed
        out, or its sender left."""
        self._native.reply(reply_to, message)

    def close_session(self, session_id: str) -> None:
        """Says ``bye`` (``closed_by_host``) to one session, named by its
        session id, and closes it. Raises :class:`UnknownSessionError` when
        it is not open."""
        self._native.close_session(session_id)

    def sessions(self) -> List[_tcphub.Session]:
        """Every open session, oldest first, with its session id and alias."""
        return self._native.sessions()

    # ----- rooms -----

    def join_room(self, session_id: str, room: str) -> bool:
        """Puts a session (by session id) in ``room``, as if it had sent
        ``join``: it is sent a ``joined`` frame, the room's watchers a
        ``presence`` frame, and a :class:`Joined` event follows. False when
        it was a member already. Raises :class:`UnknownSessionError`,
        :class:`InvalidRoomError` (a name that breaks the room rules) or
        :class:`TooManyRoomsError` (``max_rooms_per_session``)."""
        return self._native.join_room(session_id, room)

    def leave_room(self, session_id: str, room: str) -> bool:
        """Takes a session out of ``room`` (it is sent a ``left`` frame, a
        :class:`Left` event follows); False when it was not a member.
        Raises :class:`UnknownSessionError` or :class:`InvalidRoomError` (a
        name that breaks the room rules)."""
        return self._native.leave_room(session_id, room)

    def send_to_room(self, room: str, message: Any) -> int:
        """Sends ``message`` to every member of ``room``; returns how many.
        Raises :class:`UnknownRoomError` when nobody is in it and
        :class:`InvalidRoomError` for a name that breaks the room rules."""
        return self._native.send_to_room(room, message)

    def rooms(self) -> Dict[str, int]:
        """Every room with members, by name, with its member count. A room
        exists while someone is in it."""
        return self._native.rooms()

    def room_members(self, room: str) -> List[_tcphub.Session]:
        """The members of ``room``, oldest first (``[]`` for a room nobody
        is in)."""
        return self._native.room_members(room)

    # ----- events: blocking -----

    def next_event(self, timeout: Optional[float] = None) -> Optional[_tcphub.Event]:
        """The next event, or ``None`` if none came within ``timeout``
        seconds or the server has stopped. Releases the GIL while waiting."""
        self._claim("iterate")
        if not self._pending and not self._fill(timeout):
            return None
        return self._pending.popleft() if self._pending else None

    def events(self, timeout: Optional[float] = None) -> Iterator[_tcphub.Event]:
        """Yields events as they happen, until the server stops or no event
        came for ``timeout`` seconds (``None`` or ``inf``: no limit; zero,
        negative or NaN: only what is already there).

        Waiting releases the GIL, so other threads run meanwhile, and events
        cross from the native side in batches."""
        self._claim("iterate")  # now, not at the first next()
        return self._events(timeout)

    def _events(self, timeout: Optional[float]) -> Iterator[_tcphub.Event]:
        pending = self._pending
        while True:
            while pending:
                yield pending.popleft()
            if not self._fill(timeout):
                return

    def __iter__(self) -> Iterator[_tcphub.Event]:
        return self.events()

    def _fill(self, timeout: Optional[float]) -> Optional[bool]:
        """Moves the next batch into ``_pending``: True if it did, False on
        timeout, None once the server has stopped and every event was read."""
        batch = self._native.next_batch(timeout, _BATCH)
        if batch is None:
            return None
        if not batch:
            return False
        self._pending.extend(batch)
        return True

    # ----- events: asyncio -----

    def aevents(self, timeout: Optional[float] = None) -> AsyncIterator[_tcphub.Event]:
        """``async for`` over events, until the server stops or no event came
        for ``timeout`` seconds. Waits run in the loop's default executor,
        so the event loop keeps running."""
        self._claim("iterate")
        return self._aevents(timeout)

    async def _aevents(self, timeout: Optional[float]) -> AsyncIterator[_tcphub.Event]:
        timeout = _quiet_limit(timeout)
        loop = asyncio.get_running_loop()
        pending = self._pending
        quiet_since = loop.time()
        finished = False
        while True:
            while pending:
                yield pending.popleft()
                quiet_since = loop.time()
            if finished:
                return
            wait = _ASYNC_POLL
            if timeout is not None:
                left = quiet_since + timeout - loop.time()
                if left <= 0:
                    return
                wait = min(wait, left)
            finished = await loop.run_in_executor(None, self._fill, wait) is None

    def __aiter__(self) -> AsyncIterator[_tcphub.Event]:
        return self.aevents()

    # ----- events: callbacks -----

    # The callback's parameter must accept `kind`: a function taking
    # `Synced` registered for `Message` is a type error.
    @overload
    def on(self, kind: Type[E]) -> Callable[[Callable[[E], R]], Callable[[E], R]]: ...

    @overload
    def on(self, kind: Type[E], callback: Callable[[E], R]) -> Callable[[E], R]: ...

    def on(self, kind: Type[E], callback: Optional[Callable[[E], R]] = None) -> Any:
        """Calls ``callback(event)`` for every event of class ``kind``
        (``tcphub.Event`` for all of them). Usable as a decorator::

            @hub.on(tcphub.Message)
            def got(event): ...

        Callbacks run on one background thread, for each event in the order
        they were registered, whatever kind they were registered for. An
        exception in a callback is logged on the ``tcphub`` logger and the
        hub carries on.

        A callback registered for :class:`Request` answers the request by
        returning the answer::

            @hub.on(tcphub.Request)
            def answer(request):
                return {"time": time.time()}

        ``None`` sends nothing, so the request can be answered later, from
        anywhere, with :meth:`reply` (which also sends a JSON ``null``). The
        first answer wins; a later one is logged and dropped.
        """
        if not (isinstance(kind, type) and issubclass(kind, _tcphub.Event)):
            raise TypeError(f"kind must be tcphub.Event or one of its subclasses, got {kind!r}")
        if callback is None:

            def register(fn: Callable[[E], R]) -> Callable[[E], R]:
                self.on(kind, fn)
                return fn

            return register
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        self._claim("callbacks")
        with self._lock:
            self._callbacks.append((kind, callback))
            if self._dispatcher is None:
                self._dispatcher = threading.Thread(
                    target=self._dispatch, name="tcphub-callbacks", daemon=True
                )
                self._dispatcher.start()
        return callback

    def _dispatch(self) -> None:
        pending = self._pending
        while True:
            while pending:
                event = pending.popleft()
                for kind, callback in self._callbacks:
                    if not isinstance(event, kind):
                        continue
                    try:
                        answer = callback(event)
                    except Exception:
                        logger.exception("tcphub callback %r failed on %r", callback, event)
                        continue
                    if answer is not None and issubclass(kind, _tcphub.Request):
                        self._answer(callback, event, answer)
            if self._fill(0.25) is None and not pending:
                return

    def _answer(self, callback: Callback, request: Any, answer: Any) -> None:
        """Sends what a ``Request`` callback returned as the reply."""
        try:
            self._native.reply(request.reply_to, answer)
        except UnknownRequestError as e:
            logger.warning("tcphub callback %r answered %r too late: %s", callback, request, e)
        except Error:
            logger.exception("tcphub callback %r answered %r with what cannot be sent", callback, request)

    # ----- authentication -----

    def authenticate(self, callback: A) -> A:
        """Registers ``callback(session_id, alias, token)`` to decide whether
        a client may have the alias it asks for. Usable as a decorator on a
        server started with ``authentication=True``::

            hub = tcphub.Server(port=0, authentication=True)

            @hub.authenticate
            def check(session_id, alias, token):
                return tokens.get(alias) == token

        (``Server(..., authenticate=check)`` does both at once.) Questions
        asked before it is registered wait for it, within ``auth_timeout``.

        It answers ``True`` (the alias with every permission, as the
        identity the alias names), ``False`` (the client is told
        ``unauthorized``) or a :class:`Grant` naming an identity and what
        it may do. An exception, or anything else returned, denies and is
        logged on the ``tcphub`` logger; the server carries on.

        A plain function runs on a pool of threads, so a slow decision
        holds up only the client asking; an ``async def`` runs on the
        asyncio loop running where it was registered, else on a loop of the
        server's own. Either way a decision not made within
        ``auth_timeout`` denies.

        Authentication is chosen when the server starts: on a server
        started without ``authentication=True`` or ``authenticate=``, or
        with a callback already, this raises :class:`ConfigError`.
        """
        if self._auth is None and self._checked_by is not None:
            raise ConfigError(
                f"this server checks credentials with {self._checked_by}=; a server checks "
                "them one way, chosen when it starts"
            )
        if self._auth is None:
            raise ConfigError(
                "this server was started without authentication, and it cannot be turned on "
                "later: start it with Server(..., authenticate=callback), or with "
                "authentication=True and then register the callback with @hub.authenticate"
            )
        self._auth.register(callback)
        return callback

    def reload_auth_file(self) -> int:
        """Reads ``auth_file`` again (after secrets or permissions changed)
        and returns how many aliases it lists. The new file is used from
        the next ``sync`` on; clients signed in keep what they were granted.
        A file with a mistake raises :class:`ConfigError` naming it, and the
        one loaded before stays in use. ``python -m tcphub serve --auth``
        does this on SIGHUP. On a server started without ``auth_file``,
        :class:`ConfigError`."""
        return self._native.reload_auth_file()

    def _claim(self, mode: str) -> None:
        with self._lock:
            if self._mode is None:
                self._mode = mode
            elif self._mode != mode:
                raise Error(
                    "events already go to "
                    + ("callbacks (registered with on())" if self._mode == "callbacks" else "an iterator")
                    + "; a server delivers its events one way only"
                )

    # ----- lifetime -----

    @property
    def stopped(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._native.stopped

    def stop(self) -> None:
        """Stops accepting, tells every client ``bye``, flushes what is
        queued (within ``shutdown_grace``) and returns. Calling it again does
        nothing. Events that happened before the stop can still be read."""
        self._native.stop()
        dispatcher = self._dispatcher
        if dispatcher is not None and dispatcher is not threading.current_thread():
            dispatcher.join()
        if self._auth is not None:
            self._auth.close()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Blocks until the server is stopped (from another thread or a
        callback), at most ``timeout`` seconds (``None`` or ``inf``: no
        limit); True if it was. Ctrl-C interrupts the wait."""
        return self._native.wait_stopped(timeout)

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __del__(self) -> None:
        native = getattr(self, "_native", None)
        if native is not None and not native.stopped:
            # As with files and sockets: say so, then let the native side
            # drop the connections (no bye, no flush) as it is collected.
            warnings.warn(f"{self!r} was never stopped; use stop() or `with`", ResourceWarning, stacklevel=2)

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else "serving"
        host, port = self.address
        return f"<tcphub.Server {host}:{port} {state}>"
