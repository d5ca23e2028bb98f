"""Bring your own IO: the sans-IO tcphub.Hub driven by asyncio streams.

The hub never touches a socket or reads a clock: this script feeds it what
arrives and when time passes, tells it what reached each socket, and does
what it says: write, stop and resume reading, close after a farewell. The
same core runs inside tcphub.Server. It answers every message sent to the
host with "got <message>". Stop with Ctrl-C.

    python own_loop.py --port 9000
"""

import argparse
import asyncio
from typing import Any, Callable, Dict, List, Optional

import tcphub

#: How long a closed connection may take to flush its last frames before it
#: is cut: a peer that never reads must not hold the socket forever.
CLOSE_GRACE = 5.0


class Connection:
    """One client's socket as the driver sees it."""

    def __init__(self, handle: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.handle = handle
        self.reader = reader
        self.writer = writer
        #: Frames the hub handed out that are not written yet.
        self.outbox: List[bytes] = []
        #: Set when the outbox has something.
        self.wake = asyncio.Event()
        #: Cleared while the hub says not to read (flow control).
        self.readable = asyncio.Event()
        self.readable.set()
        #: Set once the hub closed the session or the connection was lost.
        self.finished = asyncio.Event()
        self.abort_timer: Optional[asyncio.TimerHandle] = None
        # No buffering past the socket: drain() then returns only once all
        # that was written reached the socket, so each report is exact.
        writer.transport.set_write_buffer_limits(high=0)


class Driver:
    """The whole run loop of the core over asyncio streams."""

    def __init__(self, on_event: Callable[[tcphub.Event], None], **options: Any) -> None:
        self.hub = tcphub.Hub(**options)
        self.loop = asyncio.get_running_loop()
        self.conns: Dict[int, Connection] = {}
        self.on_event = on_event
        self.timer: Optional[asyncio.TimerHandle] = None
        self.timer_due: Optional[float] = None

    def now(self) -> float:
        """The time for every call: the loop's clock, which `poll_timeout`
        then answers on too."""
        return self.loop.time()

    def pump(self) -> None:
        """After every input: do what the hub says, in order. (The event
        handler may queue more; that is done on the next round.)"""
        while actions := self.hub.poll():
            for action in actions:
                if isinstance(action, tcphub.Transmit):
                    conn = self.conns.get(action.handle)
                    if conn is not None:
                        conn.outbox.append(action.data)
                        conn.wake.set()
                elif isinstance(action, tcphub.PauseReading):
                    self.conns[action.handle].readable.clear()
                elif isinstance(action, tcphub.ResumeReading):
                    self.conns[action.handle].readable.set()
                elif isinstance(action, tcphub.Close):
                    conn = self.conns.pop(action.handle, None)
                    if conn is not None:
                        self.close(conn, action)
                elif isinstance(action, tcphub.Event):
                    self.on_event(action)
                # (An Authenticate comes only from a hub made with
                # authentication=True, which this one is not.)
        self.arm_timer()

    def close(self, conn: Connection, close: tcphub.Close) -> None:
        """What is queued (or, for a slow consumer, only the frame already
        being written), then the farewell, then FIN."""
        if close.unsent == "discard":
            conn.outbox.clear()  # never started; the frame in progress is in the transport
        conn.writer.write(b"".join(conn.outbox) + close.farewell)
        conn.outbox.clear()
        if conn.writer.can_write_eof():
            conn.writer.write_eof()  # sent once everything before it is out
        conn.readable.set()  # read on, dropping the input, until the peer closes
        conn.finished.set()
        conn.abort_timer = self.loop.call_later(CLOSE_GRACE, conn.writer.transport.abort)

    def lost(self, conn: Connection) -> None:
        """The connection failed: the hub forgets the session, no Close follows."""
        if self.conns.pop(conn.handle, None) is not None:
            self.hub.connection_lost(conn.handle, now=self.now())
            conn.finished.set()
            self.pump()

    def arm_timer(self) -> None:
        """Wakes the hub when its next deadline comes (idle timeout, frame
        timeout, write deadline)."""
        due = self.hub.poll_timeout()
        if due == self.timer_due:
            return
        if self.timer is not None:
            self.timer.cancel()
        self.timer_due = due
        self.timer = None if due is None else self.loop.call_at(due, self.on_timer)

    def on_timer(self) -> None:
        self.timer = self.timer_due = None
        self.hub.handle_timeout(now=self.now())
        self.pump()

    async def write_loop(self, conn: Connection) -> None:
        """Writes what the hub handed out, and reports it once it reached
        the socket. A reader that stops reading stops the reports; the hub
        then pauses its senders and, past the write deadline, closes it."""
        try:
            while not conn.finished.is_set():
                await conn.wake.wait()
                conn.wake.clear()
                if conn.finished.is_set() or not conn.outbox:
                    continue
                data = b"".join(conn.outbox)
                conn.outbox.clear()
                conn.writer.write(data)
                await conn.writer.drain()
                self.hub.handle_written(conn.handle, len(data), now=self.now())
                self.pump()
        except ConnectionError:
            self.lost(conn)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection, from accept to close (asyncio.start_server's callback)."""
        host, port = writer.get_extra_info("peername")[:2]
        handle = self.hub.accept(f"{host}:{port}", now=self.now())
        conn = Connection(handle, reader, writer)
        self.conns[handle] = conn
        writing = asyncio.create_task(self.write_loop(conn))
        self.pump()
        try:
            while True:
                await conn.readable.wait()
                data = await reader.read(65536)
                if conn.finished.is_set():
                    if not data:
                        break  # the peer closed too
                    continue  # closed by the hub: what still comes is dropped
                if not data:
                    # Half-close: the hub still answers what came before,
                    # sends what is queued, then closes with peer_closed.
                    self.hub.handle_eof(handle, now=self.now())
                    self.pump()
                    await conn.finished.wait()
                    break
                self.hub.receive(handle, data, now=self.now())
                self.pump()
        except ConnectionError:
            self.lost(conn)
        except asyncio.CancelledError:
            pass  # the server is stopping: close below
        finally:
            writing.cancel()
            writer.close()  # after what is buffered; abort_timer cuts a peer that never reads
            if conn.abort_timer is None:
                writer.transport.abort()  # lost: nothing left to say


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=9000, help="0 picks a free port")
    parser.add_argument("--write-deadline", type=float, default=10.0, help="seconds; inf: off")
    args = parser.parse_args()

    async def run() -> None:
        def on_event(event: tcphub.Event) -> None:
            print(event, flush=True)
            if isinstance(event, tcphub.Message):
                driver.hub.send_to_session(event.handle, f"got {event.message}")

        driver = Driver(on_event, write_deadline=args.write_deadline)
        server = await asyncio.start_server(driver.serve, "127.0.0.1", args.port)
        print(f"listening on 127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        print("stopped", flush=True)


if __name__ == "__main__":
    main()
