"""The asyncio client: :class:`Client`'s methods, each awaitable.

The native half (``_tcphub.AsyncConnection``) reads the connection on a
tokio task with the same frame reader, request ids and error types as the
blocking client; this module adds connecting, ``async with`` and ``async
for``.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, AsyncIterator, Awaitable, Callable, List, Optional, Sequence, Tuple, Type, Union

from . import _tcphub
from ._client import Incoming
from ._errors import ConfigError, ConnectionClosedError, Error
from ._server import StrPath, _quiet_limit

__all__ = ["AsyncClient"]


class AsyncClient:
    """A tcphub client for asyncio programs: :class:`Client`'s methods, each
    a coroutine, and the same errors and incoming types.

    Connect with ``await AsyncClient.connect(...)`` or ``async with``::

        async with tcphub.AsyncClient("127.0.0.1", 9000, "Client-1") as c:
            await c.send_to_host("1111")
            await c.join("lobby")
            async for incoming in c:        # Received, ReceivedRequest, ErrorReply, Bye or Presence
                print(incoming)

    The arguments are :class:`Client`'s: ``name`` is synced once connected
    (:class:`RejectedError` if refused, :class:`UnauthorizedError` for a
    ``token`` the hub does not accept), ``last_will``, ``tls``/``ca``/
    ``server_name`` (:class:`TlsError` for a failed handshake), and
    ``timeout``, which bounds connecting and each request's wait for its
    answer.

    What the hub sends is read as it arrives, by the native side; up to
    4096 items wait for :meth:`receive`, after which the client stops
    reading and the hub holds back whoever sends to it (while a request
    awaits its answer it reads on, so the answer is never stuck behind
    them). A request awaited
    and then cancelled leaves the client usable: its answer, if it comes,
    is dropped (an error answer goes to :meth:`receive`).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9000,
        name: Optional[str] = None,
        *,
        timeout: Optional[float] = 10.0,
        last_will: Optional[_tcphub.LastWill] = None,
        tls: bool = False,
        ca: Optional[StrPath] = None,
        server_name: Optional[str] = None,
        token: Optional[str] = None,
    ) -> None:
        if last_will is not None and name is None:
            raise ConfigError("a last_will is left with the hub by sync: give a name too")
        self._target = (host, port)
        self._name = name
        self._last_will = last_will
        self._open_native: Callable[[], Awaitable[_tcphub.AsyncConnection]] = functools.partial(
            _tcphub.AsyncConnection.open,
            host,
            port,
            timeout=timeout,
            tls=tls,
            ca=ca,
            server_name=server_name,
            token=token,
        )
        self._connection: Optional[_tcphub.AsyncConnection] = None

    @classmethod
    async def connect(
        cls: Type["AsyncClient"],
        host: str = "127.0.0.1",
        port: int = 9000,
        name: Optional[str] = None,
        *,
        timeout: Optional[float] = 10.0,
        last_will: Optional[_tcphub.LastWill] = None,
        tls: bool = False,
        ca: Optional[StrPath] = None,
        server_name: Optional[str] = None,
        token: Optional[str] = None,
    ) -> "AsyncClient":
        """Connects (``ConnectionClosedError`` if it cannot) and, when
        ``name`` is given, syncs it; returns the client."""
        client = cls(
            host,
            port,
            name,
            timeout=timeout,
            last_will=last_will,
            tls=tls,
            ca=ca,
            server_name=server_name,
            token=token,
        )
        await client._open()
        return client

    async def _open(self) -> None:
        if self._connection is not None:
            raise Error(f"{self!r} is connected already")
        connection = await self._open_native()
        if self._name is not None:
            try:
                await connection.sync(self._name, last_will=self._last_will)
            except BaseException:
                await connection.close()
                raise
        self._connection = connection

    @property
    def _native(self) -> _tcphub.AsyncConnection:
        if self._connection is None:
            raise Error("this AsyncClient is not connected: use `await AsyncClient.connect(...)` or `async with`")
        return self._connection

    # ----- who and where -----

    @property
    def name(self) -> Optional[str]:
        """The alias this client synced, or None."""
        return None if self._connection is None else self._connection.name

    @property
    def session_id(self) -> Optional[str]:
        """This client's session id, once synced."""
        return None if self._connection is None else self._connection.session_id

    @property
    def address(self) -> Tuple[str, int]:
        """The hub's address."""
        return self._native.address

    @property
    def rooms(self) -> List[str]:
        """The rooms this client is in, as the hub's ``joined`` and ``left``
        frames said (read as they arrive)."""
        return self._native.rooms

    # ----- requests -----

    async def sync(
        self,
        name: str,
        timeout: Optional[float] = None,
        *,
        last_will: Optional[_tcphub.LastWill] = None,
        token: Optional[str] = None,
    ) -> str:
        """Claims ``name``; returns the session id, as :meth:`Client.sync`."""
        return await self._native.sync(name, timeout, last_will=last_will, token=token)

    async def join(self, room: str, timeout: Optional[float] = None) -> int:
        """Joins ``room``; returns how many members it has now."""
        return await self._native.join(room, timeout)

    async def leave(self, room: str, timeout: Optional[float] = None) -> None:
        """Leaves ``room``."""
        await self._native.leave(room, timeout)

    async def room_members(self, room: str, timeout: Optional[float] = None) -> List[_tcphub.Session]:
        """The members of ``room``, oldest first, every page of them."""
        return await self._native.room_members(room, timeout)

    async def watch(
        self,
        aliases: Union[str, Sequence[str], None] = None,
        *,
        room: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> None:
        """Asks for :class:`Presence` items, as :meth:`Client.watch`."""
        await self._native.watch(aliases, room=room, timeout=timeout)

    async def unwatch(
        self,
        aliases: Union[str, Sequence[str], None] = None,
        *,
        room: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> None:
        """Stops :class:`Presence` items, as :meth:`Client.unwatch`."""
        await self._native.unwatch(aliases, room=room, timeout=timeout)

    async def sessions(self, timeout: Optional[float] = None) -> List[_tcphub.Session]:
        """Who is connected, as the hub sees it."""
        return await self._native.sessions(timeout)

    async def ping(self, timeout: Optional[float] = None) -> float:
        """Round trip to the hub and back, in seconds."""
        return await self._native.ping(timeout)

    async def bye(self, timeout: Optional[float] = None) -> _tcphub.Bye:
        """Closes cleanly (no last will): says ``bye`` and returns the hub's
        :class:`Bye`; what arrived before it stays receivable."""
        return await self._native.bye(timeout)

    # ----- messages -----

    async def send_to_host(self, message: Any) -> None:
        """Sends ``message`` to the host program."""
        await self._native.send_to_host(message)

    async def send(self, alias: str, message: Any) -> None:
        """Sends ``message`` to every client holding ``alias`` (an unknown
        alias comes back as an :class:`ErrorReply` from :meth:`receive`)."""
        await self._native.send(alias, message)

    async def broadcast(self, message: Any) -> None:
        """Sends ``message`` to every other client."""
        await self._native.broadcast(message)

    async def send_to_room(self, room: str, message: Any) -> None:
        """Sends ``message`` to every other member of ``room``."""
        await self._native.send_to_room(room, message)

    async def send_raw(self, data: bytes) -> None:
        """Writes bytes as they are, for speaking the protocol by hand."""
        await self._native.send_raw(data)

    # ----- request and reply -----

    async def request(self, alias: str, message: Any, timeout: Optional[float] = None) -> Any:
        """Asks the client holding ``alias`` and returns its reply's message,
        as :meth:`Client.request` does (same ``timeout`` and errors:
        :class:`UnknownAliasError`, :class:`RequestTimeoutError`, ...)."""
        return await self._native.request(alias, message, timeout)

    async def request_host(self, message: Any, timeout: Optional[float] = None) -> Any:
        """Asks the host program; as :meth:`request` otherwise."""
        return await self._native.request_host(message, timeout)

    async def reply(self, request: Union[_tcphub.ReceivedRequest, str], message: Any) -> None:
        """Answers a :class:`ReceivedRequest` (or its ``reply_to``) that
        :meth:`receive` returned."""
        await self._native.reply(request, message)

    # ----- receiving -----

    async def receive(self, timeout: Optional[float] = None) -> Optional[Incoming]:
        """The next message, error reply, bye or presence change; None if
        nothing arrived in ``timeout`` seconds (None or ``inf`` waits
        forever; zero, negative or NaN only looks). Raises
        :class:`ConnectionClosedError` once the connection is closed and
        everything received was read (``truncated`` when it ended in the
        middle of a frame)."""
        native = self._native
        limit = _quiet_limit(timeout)
        loop = asyncio.get_running_loop()
        deadline = None if limit is None else loop.time() + limit
        while True:
            incoming = native.try_receive()
            if incoming is not None:
                return incoming
            left = None
            if deadline is not None:
                left = deadline - loop.time()
                if left <= 0:
                    return None
            # Only says something is there: a cancelled wait loses nothing.
            await native.readable(left)

    def drain(self, limit: Optional[int] = None) -> List[Incoming]:
        """Everything already received, without waiting (at most ``limit``)."""
        if limit is not None and limit < 0:
            raise ConfigError(f"limit must be 0 or more, got {limit}")
        out: List[Incoming] = []
        native = self._native
        while limit is None or len(out) < limit:
            try:
                incoming = native.try_receive()
            except ConnectionClosedError:
                if out:
                    break
                raise
            if incoming is None:
                break
            out.append(incoming)
        return out

    async def messages(self, timeout: Optional[float] = None) -> AsyncIterator[Incoming]:
        """Yields what arrives until the connection closes, or until nothing
        arrived for ``timeout`` seconds; a stream cut in the middle of a
        frame raises :class:`ConnectionClosedError`, as
        :meth:`Client.messages` does."""
        while True:
            try:
                incoming = await self.receive(timeout)
            except ConnectionClosedError as closed:
                if closed.truncated:
                    raise
                return
            if incoming is None:
                return
            yield incoming

    def __aiter__(self) -> AsyncIterator[Incoming]:
        return self.messages()

    # ----- lifetime -----

    async def close(self) -> None:
        """Closes the connection; safe to call more than once."""
        if self._connection is not None:
            await self._connection.close()

    async def __aenter__(self) -> "AsyncClient":
        if self._connection is None:
            await self._open()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        if self._connection is not None:
            return repr(self._connection)
        host, port = self._target
        return f"AsyncClient(address='{host}:{port}', not connected)"
