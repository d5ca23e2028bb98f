"""The blocking client: the native socket code plus iteration and ``with``."""

from __future__ import annotations

from typing import Any, Iterator, Optional, Union

from . import _tcphub
from ._errors import ConnectionClosedError

__all__ = ["Client"]

Incoming = Union[
    "_tcphub.Received", "_tcphub.ReceivedRequest", "_tcphub.ErrorReply", "_tcphub.Bye", "_tcphub.Presence"
]


class Client(_tcphub.Client):
    """A blocking tcphub client for scripts and tests.

    ``Client(host, port, name)`` connects and, when ``name`` is given, syncs
    that alias (raising :class:`RejectedError` if the hub refuses it)::

        with tcphub.Client("127.0.0.1", 9000, "Client-1") as c:
            c.send_to_host("1111")           # reaches the host program
            c.send("Client-2", {"n": 1})     # relayed to another client
            c.broadcast("hello")             # relayed to every other client
            c.join("lobby")                  # rooms: join, leave, send_to_room
            c.send_to_room("lobby", "hi all")
            print(c.request("Client-2", "time?", timeout=2))  # its reply
            for incoming in c.messages(timeout=5):
                print(incoming)              # Received, ReceivedRequest, ErrorReply, Bye or Presence

    A :class:`ReceivedRequest` (another client's ``request``) is answered
    with :meth:`reply`; :meth:`request_host` asks the host program.

    ``last_will=tcphub.LastWill(message, room=...)`` (or ``to=alias``) leaves
    a message with the hub, sent for this client if its connection ends
    without :meth:`bye`.

    ``tls=True`` (or ``ca=``, ``server_name=``) speaks TLS to a hub started
    with ``tls_cert``/``tls_key``: ``ca`` is a PEM file of the
    certificates to trust (the hub's own will do; None trusts the public
    CAs), ``server_name`` the name the certificate must carry (default:
    ``host``). A handshake that fails raises :class:`TlsError`, a ``ca``
    that cannot be read :class:`ConfigError`.

    ``token="..."`` is the credential every ``sync`` carries, for a hub
    with authentication: one it does not accept raises
    :class:`UnauthorizedError`, and what the credential does not allow
    raises :class:`ForbiddenError` (a ``send`` it may not make comes back
    from :meth:`receive` as an ``ErrorReply`` with code ``forbidden``).

    Every wait releases the GIL. ``timeout`` (seconds) bounds ``connect``,
    ``sync``, ``sessions``, ``ping`` and a ``request`` without a timeout of
    its own; ``None`` or ``inf`` waits forever,
    zero, negative or NaN does not wait.
    """

    def messages(self, timeout: Optional[float] = None) -> Iterator[Incoming]:
        """Yields what arrives until the connection closes, or until nothing
        arrived for ``timeout`` seconds (``None`` or ``inf``: no limit).

        A stream that ends in the middle of a frame raises
        :class:`ConnectionClosedError` (its ``truncated`` says how many bytes
        were cut short) rather than ending the loop as if all had arrived."""
        while True:
            try:
                incoming = self.receive(timeout)
            except ConnectionClosedError as closed:
                if closed.truncated:
                    raise
                return
            if incoming is None:
                return
            yield incoming

    def __iter__(self) -> Iterator[Incoming]:
        return self.messages()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

