"""The asyncio server: :class:`Server`'s hub, with every command awaitable.

An :class:`AsyncServer` is a :class:`Server` (same options, same native
server, same authentication) whose commands are awaited rather than
called: each is a native future that completes an asyncio future when the
hub has answered, so the event loop runs on while the hub works and no
thread waits for it. Events come through ``async for`` or
through callbacks run on the loop itself.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import inspect
import logging
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Callable,
    Deque,
    Dict,
    List,
    Optional,
    Tuple,
    Type,
    TypeVar,
    overload,
)

from . import _tcphub
from ._auth import AuthCallback
from ._errors import Error, UnknownRequestError
from ._server import Server, _quiet_limit
from ._stats import HubStats

if TYPE_CHECKING:
    from typing_extensions import Concatenate, ParamSpec

    P = ParamSpec("P")

__all__ = ["AsyncServer"]

logger = logging.getLogger("tcphub")

E = TypeVar("E", bound=_tcphub.Event)
R = TypeVar("R")
A = TypeVar("A", bound=AuthCallback)
Callback = Callable[[Any], Any]

#: Events taken from the native side at once.
_BATCH = 4096


def _options_of(
    source: "Callable[Concatenate[Any, P], None]",
) -> "Callable[[Callable[..., None]], Callable[Concatenate[Any, P], None]]":
    """Gives the decorated ``__init__`` the parameters of ``source``, for type
    checkers and ``help()``: the options are :class:`Server`'s, handled by
    :class:`Server` itself, and listed once."""

    def same(init: Callable[..., None]) -> Any:
        @functools.wraps(init)
        def wrapper(*args: Any, **kwargs: Any) -> None:
            init(*args, **kwargs)

        wrapper.__signature__ = inspect.signature(source)  # type: ignore[attr-defined]
        return wrapper

    return same


class AsyncServer:
    """A tcphub server for asyncio programs: :class:`Server` with awaitable
    commands.

    It takes exactly :class:`Server`'s arguments (see its documentation for
    every option) and starts listening when created::

        async with tcphub.AsyncServer("127.0.0.1", 9000) as hub:
            async for event in hub:
                if isinstance(event, tcphub.Synced):
                    await hub.send(event.alias, "welcome")

    Every command is a coroutine returning what :class:`Server`'s returns
    (``await hub.broadcast(...)`` is the number of clients reached) and
    raising the same exceptions. While it waits for the hub the event loop
    runs on: the native side completes the awaited future, no thread is
    blocked. Cancelling an awaited command stops waiting for the answer;
    whether the hub already acted on it is not undone.

    Events reach the program one way, chosen by the first use: ``async
    for`` (:meth:`events`, :meth:`next_event`) or callbacks registered with
    :meth:`on`, which run on the event loop.

    ``@hub.authenticate`` and ``authenticate=`` work as for :class:`Server`:
    an ``async def`` runs on the event loop running where it was
    registered, a plain function on a pool of threads.
    """

    @_options_of(Server.__init__)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The options are Server's, checked and turned into a native server
        # by Server itself: there is one list of them.
        self._server = Server(*args, **kwargs)
        self._native = self._server._native
        self._hub = _tcphub.AsyncHub(self._native)
        # Events taken from the native side but not yet handed out.
        self._pending: Deque[_tcphub.Event] = collections.deque()
        self._mode: Optional[str] = None
        # In registration order, whatever their kind: they run in that order.
        self._callbacks: List[Tuple[type, Callback]] = []
        self._dispatcher: Optional["asyncio.Task[None]"] = None
        # Made on the loop, when first needed (an asyncio.Event made outside
        # a running loop binds to the wrong one on Python 3.9).
        self._stopped: Optional[asyncio.Event] = None

    # ----- address -----

    @property
    def address(self) -> Tuple[str, int]:
        """The address the server listens on, as ``(host, port)``."""
        return self._server.address

    @property
    def metrics_address(self) -> Optional[Tuple[str, int]]:
        """Where ``http://HOST:PORT/metrics`` is served, with ``metrics=``."""
        return self._server.metrics_address

    @property
    def host(self) -> str:
        """The host the server listens on."""
        return self._server.host

    @property
    def port(self) -> int:
        """The port the server listens on (the real one when 0 was asked)."""
        return self._server.port

    # ----- commands -----

    async def stats(self) -> HubStats:
        """What the hub has counted, as :meth:`Server.stats`."""
        return await self._hub.stats()

    async def broadcast(self, message: Any) -> int:
        """Sends ``message`` to every connected client; returns how many."""
        return await self._hub.broadcast(message)

    async def send(self, alias: str, message: Any) -> int:
        """Sends ``message`` to the client(s) holding ``alias``; returns how
        many. Raises :class:`UnknownAliasError` when nobody holds it."""
        return await self._hub.send(alias, message)

    async def send_to_session(self, session_id: str, message: Any) -> int:
        """Sends ``message`` to one session, by session id; returns 1.
        Raises :class:`UnknownSessionError` when it is not open."""
        return await self._hub.send_to_session(session_id, message)

    async def reply(self, reply_to: str, message: Any) -> None:
        """Answers a client's request to the host (a :class:`Request`
        event, by its ``reply_to``), as :meth:`Server.reply` does; raises
        :class:`UnknownRequestError` when it no longer waits."""
        await self._hub.reply(reply_to, message)

    async def close_session(self, session_id: str) -> None:
        """Says ``bye`` (``closed_by_host``) to one session and closes it.
        Raises :class:`UnknownSessionError` when it is not open."""
        await self._hub.close_session(session_id)

    async def sessions(self) -> List[_tcphub.Session]:
        """Every open session, oldest first."""
        return await self._hub.sessions()

    async def join_room(self, session_id: str, room: str) -> bool:
        """Puts a session in ``room``, as :meth:`Server.join_room`."""
        return await self._hub.join_room(session_id, room)

    async def leave_room(self, session_id: str, room: str) -> bool:
        """Takes a session out of ``room``, as :meth:`Server.leave_room`."""
        return await self._hub.leave_room(session_id, room)

    async def send_to_room(self, room: str, message: Any) -> int:
        """Sends ``message`` to every member of ``room``; returns how many.
        Raises :class:`UnknownRoomError` when nobody is in it."""
        return await self._hub.send_to_room(room, message)

    async def rooms(self) -> Dict[str, int]:
        """Every room with members, by name, with its member count."""
        return await self._hub.rooms()

    async def room_members(self, room: str) -> List[_tcphub.Session]:
        """The members of ``room``, oldest first."""
        return await self._hub.room_members(room)

    # ----- events: async for -----

    def events(self, timeout: Optional[float] = None) -> AsyncIterator[_tcphub.Event]:
        """``async for`` over events, until the server stops or no event came
        for ``timeout`` seconds (``None`` or ``inf``: no limit; zero,
        negative or NaN: only what is already there)."""
        self._claim("iterate")
        return self._events(timeout)

    def __aiter__(self) -> AsyncIterator[_tcphub.Event]:
        return self.events()

    async def next_event(self, timeout: Optional[float] = None) -> Optional[_tcphub.Event]:
        """The next event, or ``None`` if none came within ``timeout``
        seconds or the server has stopped."""
        self._claim("iterate")
        async for event in self._events(timeout):
            return event
        return None

    async def _events(self, timeout: Optional[float]) -> AsyncIterator[_tcphub.Event]:
        limit = _quiet_limit(timeout)
        loop = asyncio.get_running_loop()
        pending = self._pending
        quiet_since = loop.time()
        while True:
            while pending:
                yield pending.popleft()
                quiet_since = loop.time()
            batch = self._native.next_batch(0, _BATCH)
            if batch:
                pending.extend(batch)
                continue
            wait = None
            if limit is not None:
                wait = quiet_since + limit - loop.time()
                if wait <= 0:
                    return
            # Only says events are there: a cancelled wait loses none.
            if not await self._hub.events_ready(wait):
                return  # stopped, and every event was read

    # ----- events: callbacks -----

    # The callback's parameter must accept `kind`; it may return anything,
    # an awaitable included (an `async def`), which is awaited.
    @overload
    def on(self, kind: Type[E]) -> Callable[[Callable[[E], R]], Callable[[E], R]]: ...

    @overload
    def on(self, kind: Type[E], callback: Callable[[E], R]) -> Callable[[E], R]: ...

    def on(self, kind: Type[E], callback: Optional[Callable[[E], Any]] = None) -> Any:
        """Calls ``callback(event)`` for every event of class ``kind``
        (``tcphub.Event`` for all of them); a plain function or an ``async
        def``. Usable as a decorator::

            @hub.on(tcphub.Message)
            async def got(event):
                await hub.send(event.alias, "thanks")

        Callbacks run on the event loop, one event at a time, in the order
        they were registered, whatever kind they were registered for; an
        ``async def`` is awaited before the next callback runs. An exception
        in a callback is logged on the ``tcphub`` logger and the hub carries
        on. They start with ``async with`` (or at once, when registered
        inside a running loop).
        """
        if not (isinstance(kind, type) and issubclass(kind, _tcphub.Event)):
            raise TypeError(f"kind must be tcphub.Event or one of its subclasses, got {kind!r}")
        if callback is None:

            def register(fn: Callable[[E], Any]) -> Callable[[E], Any]:
                self.on(kind, fn)
                return fn

            return register
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        self._claim("callbacks")
        self._callbacks.append((kind, callback))
        self._start_dispatcher()
        return callback

    def _start_dispatcher(self) -> None:
        if self._dispatcher is not None or not self._callbacks or self.stopped:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # started by `async with`
        self._dispatcher = loop.create_task(self._dispatch(), name="tcphub-callbacks")

    async def _dispatch(self) -> None:
        async for event in self._events(None):
            for kind, callback in self._callbacks:
                if not isinstance(event, kind):
                    continue
                try:
                    result = callback(event)
                    if inspect.isawaitable(result):
                        result = await result
                except Exception:
                    logger.exception("tcphub callback %r failed on %r", callback, event)
                    continue
                # As Server's: what a Request callback returns is its reply.
                if result is not None and issubclass(kind, _tcphub.Request):
                    await self._answer(callback, event, result)

    async def _answer(self, callback: Callable[..., Any], request: Any, answer: Any) -> None:
        """Sends what a ``Request`` callback returned as the reply."""
        try:
            await self.reply(request.reply_to, answer)
        except UnknownRequestError as e:
            logger.warning("tcphub callback %r answered %r too late: %s", callback, request, e)
        except Error:
            logger.exception("tcphub callback %r answered %r with what cannot be sent", callback, request)

    def _claim(self, mode: str) -> None:
        if self._mode is None:
            self._mode = mode
        elif self._mode != mode:
            raise Error(
                "events already go to "
                + ("callbacks (registered with on())" if self._mode == "callbacks" else "an iterator")
                + "; a server delivers its events one way only"
            )

    # ----- authentication -----

    def authenticate(self, callback: A) -> A:
        """Registers the callback deciding who may have which alias, as
        :meth:`Server.authenticate` does (same rules, same errors)."""
        return self._server.authenticate(callback)

    async def reload_auth_file(self) -> int:
        """Reads ``auth_file`` again, as :meth:`Server.reload_auth_file`
        (reading and parsing the file runs on the loop's default executor)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._server.reload_auth_file)

    # ----- lifetime -----

    @property
    def stopped(self) -> bool:
        """Whether :meth:`stop` was called and finished."""
        return self._server.stopped

    def _stopped_event(self) -> asyncio.Event:
        if self._stopped is None:
            self._stopped = asyncio.Event()
        return self._stopped

    async def stop(self) -> None:
        """Stops accepting, tells every client ``bye``, flushes what is
        queued (within ``shutdown_grace``) and returns once done; callbacks
        have then seen every event. Calling it again does nothing.
        Cancelling the wait does not cancel the stop."""
        # Shielded: a stop half done would leave clients without their bye.
        await asyncio.shield(self._hub.stop())
        dispatcher = self._dispatcher
        if dispatcher is not None and dispatcher is not asyncio.current_task():
            await dispatcher
        auth = self._server._auth
        if auth is not None:
            # Joins the thread fetching questions, which notices the stop
            # within a fraction of a second: on the executor, not the loop.
            await asyncio.get_running_loop().run_in_executor(None, auth.close)
        self._stopped_event().set()

    async def wait(self, timeout: Optional[float] = None) -> bool:
        """Waits until :meth:`stop` has finished (called by another task or
        a callback), at most ``timeout`` seconds (``None`` or ``inf``: no
        limit); True if it has."""
        if self.stopped:
            return True
        try:
            await asyncio.wait_for(self._stopped_event().wait(), _quiet_limit(timeout))
        except asyncio.TimeoutError:
            return self.stopped
        return True

    async def __aenter__(self) -> "AsyncServer":
        self._start_dispatcher()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else "serving"
        host, port = self.address
        return f"<tcphub.AsyncServer {host}:{port} {state}>"
