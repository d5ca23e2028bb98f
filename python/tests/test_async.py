"""The asyncio API: tcphub.AsyncServer and tcphub.AsyncClient, with real
hubs and sockets, each test a coroutine run by asyncio.run."""

from __future__ import annotations

import asyncio
import logging
import pathlib
import shutil
import socket
import threading
import time
from typing import Any, Awaitable, Callable, List, Tuple, TypeVar

import pytest

import tcphub

T = TypeVar("T")
E = TypeVar("E", bound=tcphub.Event)


def run(main: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(main(), 50))


async def next_of(hub: tcphub.AsyncServer, kind: "type[E]", timeout: float = 5.0) -> E:
    """The first event of class ``kind``; fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        event = await hub.next_event(timeout=max(0.0, deadline - time.monotonic()))
        assert event is not None, f"no {kind.__name__} within {timeout} s"
        if isinstance(event, kind):
            return event


class LagProbe:
    """A task that sleeps ``tick`` seconds again and again and records how
    late each wake-up was: how long the loop was kept from running it."""

    def __init__(self, tick: float = 0.005) -> None:
        self.tick = tick
        self.lags: List[float] = []
        self.task: "asyncio.Task[None] | None" = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.tick)
            self.lags.append(loop.time() - start - self.tick)

    def __enter__(self) -> "LagProbe":
        self.task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self.task is not None
        self.task.cancel()


# ----- AsyncServer -----


def test_commands_return_what_the_blocking_server_returns() -> None:
    async def main() -> None:
        async with tcphub.AsyncServer("127.0.0.1", 0) as hub:
            host, port = hub.address
            async with tcphub.AsyncClient(host, port, "Client-1") as one, tcphub.AsyncClient(
                host, port, "Client-2"
            ) as two:
                assert await hub.broadcast("all") == 2
                assert await hub.send("Client-1", {"n": 1}) == 1
                sessions = await hub.sessions()
                assert [s.alias for s in sessions] == ["Client-1", "Client-2"]
                assert await hub.send_to_session(sessions[1].session_id, "you") == 1
                assert await hub.join_room(sessions[0].session_id, "lobby") is True
                assert await hub.join_room(sessions[0].session_id, "lobby") is False
                assert await hub.rooms() == {"lobby": 1}
                assert [m.alias for m in await hub.room_members("lobby")] == ["Client-1"]
                assert await hub.send_to_room("lobby", "room") == 1
                assert await hub.leave_room(sessions[0].session_id, "lobby") is True
                assert (await hub.stats())["sessions_open"] == 2

                got_one = [await one.receive(5) for _ in range(3)]
                got_two = [await two.receive(5) for _ in range(2)]
                assert [r.message for r in got_one if isinstance(r, tcphub.Received)] == ["all", {"n": 1}, "room"]
                assert [r.message for r in got_two if isinstance(r, tcphub.Received)] == ["all", "you"]

                with pytest.raises(tcphub.UnknownAliasError):
                    await hub.send("nobody", "x")
                with pytest.raises(tcphub.UnknownSessionError):
                    await hub.send_to_session("10.0.0.1:1", "x")
                with pytest.raises(tcphub.UnknownRoomError):
                    await hub.send_to_room("empty", "x")
                with pytest.raises(tcphub.InvalidRoomError):
                    await hub.join_room(sessions[0].session_id, "")

                await hub.close_session(sessions[1].session_id)
                bye = await two.receive(5)
                assert isinstance(bye, tcphub.Bye) and bye.reason == "closed_by_host"
        assert hub.stopped
        with pytest.raises(tcphub.ServerStoppedError):
            await hub.broadcast("after")

    run(main)


def test_async_for_yields_events_in_order_and_ends_at_stop() -> None:
    async def main() -> None:
        hub = tcphub.AsyncServer("127.0.0.1", 0)
        seen: List[tcphub.Event] = []

        async def read() -> None:
            async for event in hub:
                seen.append(event)

        reader = asyncio.get_running_loop().create_task(read())
        client = await tcphub.AsyncClient.connect(*hub.address, "Client-1")
        await client.send_to_host("1111")
        await client.bye()
        while not any(isinstance(e, tcphub.Disconnected) for e in seen):
            await asyncio.sleep(0.01)
        await hub.stop()
        await asyncio.wait_for(reader, 5)  # the iteration ends by itself
        kinds = [type(e) for e in seen]
        assert kinds == [tcphub.Connected, tcphub.Synced, tcphub.Message, tcphub.Released, tcphub.Disconnected]
        message = seen[2]
        assert isinstance(message, tcphub.Message) and message.message == "1111"
        with pytest.raises(tcphub.Error, match="one way only"):
            hub.on(tcphub.Event, print)

    run(main)


def test_a_cancelled_wait_for_events_loses_none() -> None:
    async def main() -> None:
        async with tcphub.AsyncServer("127.0.0.1", 0) as hub:
            async with tcphub.AsyncClient(*hub.address, "Client-1") as client:
                assert (await next_of(hub, tcphub.Synced)).alias == "Client-1"
                for i in range(20):
                    waiting = asyncio.get_running_loop().create_task(hub.next_event())
                    await asyncio.sleep(0)  # it waits: no event yet
                    waiting.cancel()
                    await client.send_to_host(i)
                    with pytest.raises(asyncio.CancelledError):
                        await waiting
                    message = await next_of(hub, tcphub.Message)
                    assert message.message == i

    run(main)


def test_callbacks_run_on_the_loop_in_registration_order() -> None:
    async def main() -> None:
        calls: List[Tuple[str, str]] = []
        loop = asyncio.get_running_loop()
        async with tcphub.AsyncServer("127.0.0.1", 0) as hub:

            @hub.on(tcphub.Event)
            def first(event: tcphub.Event) -> None:
                assert asyncio.get_running_loop() is loop
                calls.append(("first", type(event).__name__))

            @hub.on(tcphub.Message)
            async def second(event: tcphub.Message) -> None:
                await asyncio.sleep(0.01)  # awaited before the next callback
                calls.append(("second", type(event).__name__))
                await hub.send(event.alias or "", "thanks")

            @hub.on(tcphub.Message)
            def broken(event: tcphub.Message) -> None:
                raise RuntimeError("a callback failing")

            @hub.on(tcphub.Event)
            def last(event: tcphub.Event) -> None:
                calls.append(("last", type(event).__name__))

            async with tcphub.AsyncClient(*hub.address, "Client-1") as client:
                await client.send_to_host("hi")
                reply = await client.receive(5)
                assert isinstance(reply, tcphub.Received) and reply.message == "thanks"
        assert calls[:3] == [("first", "Connected"), ("last", "Connected"), ("first", "Synced")]
        at = calls.index(("first", "Message"))
        assert calls[at : at + 3] == [("first", "Message"), ("second", "Message"), ("last", "Message")]
        # Stopping waits for the callbacks to see every event.
        assert calls[-1] == ("last", "Disconnected")

    run(main)


def test_authentication_works_as_on_the_blocking_server() -> None:
    async def main() -> None:
        async with tcphub.AsyncServer("127.0.0.1", 0, authentication=True) as hub:

            @hub.authenticate
            async def check(session_id: str, alias: str, token: str) -> bool:
                await asyncio.sleep(0)
                return token == "secret"

            with pytest.raises(tcphub.ConfigError, match="registered already"):
                hub.authenticate(check)
            async with tcphub.AsyncClient(*hub.address, "Client-1", token="secret") as client:
                assert client.session_id
            with pytest.raises(tcphub.UnauthorizedError):
                await tcphub.AsyncClient.connect(*hub.address, "Client-2", token="wrong")

    run(main)


def test_options_are_the_servers_and_checked_by_it() -> None:
    with pytest.raises(tcphub.ConfigError, match="idle_timeout"):
        tcphub.AsyncServer("127.0.0.1", 0, idle_timeout="30s")  # type: ignore[arg-type]
    with pytest.raises(tcphub.ConfigError, match="max_frame_bytes"):
        tcphub.AsyncServer("127.0.0.1", 0, max_frame_bytes=0)
    with pytest.raises(TypeError):
        tcphub.AsyncServer("127.0.0.1", 0, no_such_option=1)  # type: ignore[call-arg]
    import inspect

    assert inspect.signature(tcphub.AsyncServer) == inspect.signature(tcphub.Server)


def test_a_slow_stop_does_not_block_the_loop() -> None:
    """`await hub.stop()` flushes to a client that does not read, for up to
    shutdown_grace: the loop keeps running meanwhile."""

    async def main() -> None:
        hub = tcphub.AsyncServer("127.0.0.1", 0, shutdown_grace=0.6)
        lazy = socket.socket()
        lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        lazy.connect(hub.address)
        lazy.sendall(b'{"type":"sync","clientName":"lazy"}')
        assert isinstance(await next_of(hub, tcphub.Synced), tcphub.Synced)
        chunk = "x" * 60_000
        for _ in range(20):  # more than the socket buffers hold
            await hub.send("lazy", chunk)
        with LagProbe() as probe:
            start = time.monotonic()
            await hub.stop()
            took = time.monotonic() - start
        lazy.close()
        assert took >= 0.3, took  # it did wait for the flush
        assert len(probe.lags) >= 20, probe.lags  # and the probe ran meanwhile
        assert max(probe.lags) < 0.1, max(probe.lags)

    run(main)


# ----- AsyncClient -----


def slow_hub(decided: threading.Event, delay: float = 0.5) -> tcphub.AsyncServer:
    """A hub whose authenticate callback (on a thread) takes ``delay``
    seconds for the alias ``slow``."""

    def check(session_id: str, alias: str, token: str) -> bool:
        if alias == "slow":
            time.sleep(delay)
            decided.set()
        return True

    return tcphub.AsyncServer("127.0.0.1", 0, authenticate=check)


def test_a_request_waiting_on_a_slow_hub_does_not_block_the_loop() -> None:
    async def main() -> None:
        decided = threading.Event()
        async with slow_hub(decided) as hub:
            with LagProbe() as probe:
                start = time.monotonic()
                client = await tcphub.AsyncClient.connect(*hub.address, "slow", token="t")
                took = time.monotonic() - start
            assert decided.is_set() and took >= 0.45, took
            assert len(probe.lags) >= 40, len(probe.lags)
            assert max(probe.lags) < 0.1, max(probe.lags)
            await client.close()

    run(main)


def test_a_cancelled_request_leaves_the_client_usable() -> None:
    async def main() -> None:
        decided = threading.Event()
        async with slow_hub(decided) as hub:
            client = await tcphub.AsyncClient.connect(*hub.address)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(client.sync("slow", token="t"), 0.1)
            # Other requests are answered meanwhile, and the late answer to
            # the cancelled one is nobody's: dropped, never received.
            assert await client.ping() < 5
            await asyncio.get_running_loop().run_in_executor(None, decided.wait, 5)
            assert await client.sync("other", token="t")
            assert client.name == "other"
            await client.send("other", "to myself")
            got = await client.receive(5)
            assert isinstance(got, tcphub.Received) and got.message == "to myself"
            assert await client.receive(0) is None
            await client.close()

    run(main)


def test_a_cancelled_receive_loses_nothing() -> None:
    async def main() -> None:
        async with tcphub.AsyncServer("127.0.0.1", 0) as hub:
            async with tcphub.AsyncClient(*hub.address, "Client-1") as client:
                received: List[Any] = []
                for i in range(20):
                    waiting = asyncio.get_running_loop().create_task(client.receive())
                    await asyncio.sleep(0)  # it waits: nothing was sent yet
                    waiting.cancel()
                    await hub.send("Client-1", i)
                    with pytest.raises(asyncio.CancelledError):
                        await waiting
                    received.append(await client.receive(5))
                assert [r.message for r in received] == list(range(20))
                assert await client.receive(0) is None

    run(main)


def test_a_send_cancelled_while_writing_still_writes_its_whole_frame() -> None:
    async def main() -> None:
        big = "x" * 900_000  # more than the socket buffers take at once
        async with tcphub.AsyncServer("127.0.0.1", 0, max_frame_bytes=1 << 20) as hub:
            async with tcphub.AsyncClient(*hub.address, "Client-1") as client:
                for _ in range(3):
                    sending = asyncio.get_running_loop().create_task(client.send_to_host(big))
                    await asyncio.sleep(0)  # send_to_host was called
                    sending.cancel()
                    await client.send_to_host("after")
                    first = await next_of(hub, tcphub.Message)
                    second = await next_of(hub, tcphub.Message)
                    assert (first.message, second.message) == (big, "after")

    run(main)


def test_a_full_inbox_holds_back_senders_but_never_an_answer() -> None:
    """More messages than the inbox holds, not received: the client stops
    reading, yet a request still gets its answer, and nothing is lost."""
    count = 5000  # past the 4096 items the inbox holds

    async def main() -> None:
        async with tcphub.AsyncServer("127.0.0.1", 0) as hub:
            async with tcphub.AsyncClient(*hub.address, "Client-1") as client:
                for i in range(count):
                    await hub.send("Client-1", i)
                assert await client.ping(timeout=5) < 5
                assert [s.alias for s in await client.sessions(timeout=5)] == ["Client-1"]
                got = [await client.receive(5) for _ in range(count)]
                assert [g.message for g in got if isinstance(g, tcphub.Received)] == list(range(count))

    run(main)


def test_errors_are_typed_as_in_the_blocking_client() -> None:
    async def main() -> None:
        async with tcphub.AsyncServer("127.0.0.1", 0, alias_policy="reject") as hub:
            host, port = hub.address
            async with tcphub.AsyncClient(host, port, "Client-1") as one:
                with pytest.raises(tcphub.RejectedError) as refused:
                    await tcphub.AsyncClient.connect(host, port, "Client-1")
                assert refused.value.code == "alias_taken"
                with pytest.raises(tcphub.RejectedError) as invalid:
                    await one.join("")
                assert invalid.value.code == "invalid_room"
                with pytest.raises(tcphub.ConfigError, match="not both"):
                    await one.watch("a", room="b")
                await one.send("nobody", "x")
                reply = await one.receive(5)
                assert isinstance(reply, tcphub.ErrorReply) and reply.code == "unknown_alias"
            with pytest.raises(tcphub.ConnectionClosedError, match="closed"):
                await one.ping()
            with pytest.raises(tcphub.ConnectionClosedError):
                await one.receive(0)
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            closed_port = unused.getsockname()[1]
        with pytest.raises(tcphub.ConnectionClosedError, match="cannot connect"):
            await tcphub.AsyncClient.connect("127.0.0.1", closed_port)
        with pytest.raises(tcphub.ConfigError, match="port"):
            await tcphub.AsyncClient.connect("127.0.0.1", 70000)
        with pytest.raises(tcphub.ConfigError, match="name"):
            tcphub.AsyncClient(last_will=tcphub.LastWill("bye", room="lobby"))
        with pytest.raises(tcphub.Error, match="not connected"):
            await tcphub.AsyncClient("127.0.0.1", closed_port).ping()

    run(main)


def test_a_stream_cut_inside_a_frame_raises_with_truncated() -> None:
    async def main() -> None:
        async def half_frame(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b'{"type":"info","from":"#hub","message":"whole"}\n{"type":"in')
            await writer.drain()
            writer.close()

        fake = await asyncio.start_server(half_frame, "127.0.0.1", 0)
        async with fake:
            port = fake.sockets[0].getsockname()[1]
            client = await tcphub.AsyncClient.connect("127.0.0.1", port)
            seen = []
            with pytest.raises(tcphub.ConnectionClosedError) as cut:
                async for incoming in client:
                    seen.append(incoming)
            assert cut.value.truncated == len(b'{"type":"in')
            assert [getattr(i, "message", None) for i in seen] == ["whole"]
            await client.close()

    run(main)


def test_a_request_cut_short_raises_what_the_blocking_clients_raises() -> None:
    """The hub's stream ends in the middle of a frame while a request waits:
    the async client raises the blocking client's ConnectionClosedError,
    same message, with ``truncated`` counting the bytes of the cut frame."""
    partial = b'{"type":"reply","id":"py-1","mess'

    def cut_hub() -> Tuple[socket.socket, threading.Thread]:
        """A listener whose one connection, once a whole request arrived,
        gets the start of a frame and is closed."""
        listener = socket.create_server(("127.0.0.1", 0))

        def serve() -> None:
            peer, _ = listener.accept()
            with peer:
                got = b""
                while b"\n" not in got:
                    chunk = peer.recv(4096)
                    if not chunk:
                        return
                    got += chunk
                peer.sendall(partial)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        return listener, thread

    listener, thread = cut_hub()
    with listener, tcphub.Client(*listener.getsockname()[:2], timeout=5) as blocking:
        with pytest.raises(tcphub.ConnectionClosedError) as raised:
            blocking.request("b", 1, timeout=5)
    thread.join(5)
    expected = (str(raised.value), raised.value.truncated)
    assert expected[1] == len(partial) and "middle of a frame" in expected[0]

    async def main() -> None:
        listener, thread = cut_hub()
        with listener:
            client = await tcphub.AsyncClient.connect(*listener.getsockname()[:2], timeout=5)
            with pytest.raises(tcphub.ConnectionClosedError) as cut:
                await client.request("b", 1, timeout=5)
            assert (str(cut.value), cut.value.truncated) == expected
            await client.close()
        thread.join(5)

    run(main)


def test_the_clients_own_wait_on_a_silent_hub_raises_request_timeout() -> None:
    """A hub that never answers: the client's own wait ends in the
    RequestTimeoutError the blocking client raises, naming whom it asked."""

    async def main() -> None:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()  # until the client closes
            writer.close()

        hub = await asyncio.start_server(silent, "127.0.0.1", 0)
        async with hub:
            port = hub.sockets[0].getsockname()[1]
            client = await tcphub.AsyncClient.connect("127.0.0.1", port, timeout=0.3)
            with pytest.raises(tcphub.RequestTimeoutError, match='did not answer the request to "x" within'):
                await client.request("x", 1, timeout=0.1)
            with pytest.raises(tcphub.RequestTimeoutError, match="the host within 300"):
                await client.request_host(1)  # no timeout of its own: the client's
            await client.close()

    run(main)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command makes the test certificates")
def test_tls_clients_relay_and_an_untrusted_hub_is_a_tls_error(tmp_path: pathlib.Path) -> None:
    from test_tls import make_cert

    cert, key = make_cert(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    other_cert, _ = make_cert(other)

    async def main() -> None:
        async with tcphub.AsyncServer("127.0.0.1", 0, tls_cert=cert, tls_key=key) as hub:
            host, port = hub.address
            async with tcphub.AsyncClient(host, port, "Client-1", ca=cert) as one, tcphub.AsyncClient(
                "localhost", port, "Client-2", tls=True, ca=str(cert)
            ) as two:
                await one.send("Client-2", "over tls")
                got = await two.receive(5)
                assert isinstance(got, tcphub.Received) and got.message == "over tls"
            with pytest.raises(tcphub.TlsError, match="certificate"):
                await tcphub.AsyncClient.connect(host, port, tls=True, ca=other_cert)
        with pytest.raises(tcphub.ConfigError, match="ca"):
            await tcphub.AsyncClient.connect("127.0.0.1", 1, ca=tmp_path / "missing.pem")

    run(main)


def test_async_with_closes_everything() -> None:
    async def main() -> None:
        async with tcphub.AsyncServer("127.0.0.1", 0) as hub:
            async with tcphub.AsyncClient(*hub.address, "Client-1") as client:
                assert (await next_of(hub, tcphub.Synced)).alias == "Client-1"
            gone = await next_of(hub, tcphub.Disconnected)
            assert gone.alias == "Client-1"
            with pytest.raises(tcphub.ConnectionClosedError):
                await client.send_to_host("after close")
            assert await hub.sessions() == []
            assert not hub.stopped
        assert hub.stopped
        assert await hub.wait(0)

    run(main)


def test_bye_and_presence_arrive_as_in_the_blocking_client() -> None:
    async def main() -> None:
        async with tcphub.AsyncServer("127.0.0.1", 0) as hub:
            host, port = hub.address
            async with tcphub.AsyncClient(host, port, "watcher") as watcher:
                assert await watcher.join("lobby") == 1
                assert watcher.rooms == ["lobby"]
                await watcher.watch(room="lobby")
                other = await tcphub.AsyncClient.connect(
                    host, port, "other", last_will=tcphub.LastWill("gone", room="lobby")
                )
                assert await other.join("lobby") == 2
                joined = await watcher.receive(5)
                assert isinstance(joined, tcphub.Presence) and joined.event == "joined"
                assert [m.alias for m in await watcher.room_members("lobby")] == ["watcher", "other"]
                bye = await other.bye()
                assert bye.reason == "client_bye"
                closed = await watcher.receive(5)
                assert isinstance(closed, tcphub.Presence) and closed.alias == "other"
                await watcher.leave("lobby")
                assert watcher.rooms == []

    run(main)


def test_many_concurrent_clients_send_and_receive() -> None:
    """200 clients on one loop, each sending to the next: every message
    arrives, and so do the host's broadcast and the events."""
    count = 200

    async def main() -> None:
        async with tcphub.AsyncServer("127.0.0.1", 0) as hub:
            host, port = hub.address
            clients = await asyncio.gather(
                *(tcphub.AsyncClient.connect(host, port, f"c{i}") for i in range(count))
            )
            await asyncio.gather(*(c.send(f"c{(i + 1) % count}", i) for i, c in enumerate(clients)))
            got = await asyncio.gather(*(c.receive(10) for c in clients))
            for i, incoming in enumerate(got):
                assert isinstance(incoming, tcphub.Received), incoming
                assert incoming.message == (i - 1) % count and incoming.sender == f"c{(i - 1) % count}"
            assert await hub.broadcast("all") == count
            got = await asyncio.gather(*(c.receive(10) for c in clients))
            assert all(isinstance(g, tcphub.Received) and g.message == "all" for g in got)
            pings = await asyncio.gather(*(c.ping() for c in clients))
            assert all(p < 10 for p in pings)
            await asyncio.gather(*(c.close() for c in clients))
            synced = 0
            while synced < count:
                event = await hub.next_event(5)
                assert event is not None
                synced += isinstance(event, tcphub.Synced)

    run(main)


def test_a_callback_may_stop_the_server(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        hub = tcphub.AsyncServer("127.0.0.1", 0)

        @hub.on(tcphub.Message)
        async def on_message(event: tcphub.Message) -> None:
            if event.message == "stop":
                await hub.stop()

        async with hub:
            async with tcphub.AsyncClient(*hub.address, "Client-1") as client:
                await client.send_to_host("stop")
                assert await hub.wait(5)
                bye = await client.receive(5)
                assert isinstance(bye, tcphub.Bye) and bye.reason == "shutdown"

    with caplog.at_level(logging.ERROR, logger="tcphub"):
        run(main)
    assert not caplog.records


def test_the_example_runs_to_completion(script: Any) -> None:
    """python/examples/async_hub.py, shown whole in docs/python.md."""
    example = pathlib.Path(__file__).resolve().parents[1] / "examples" / "async_hub.py"
    run = script(example)
    assert run.wait() == 0, run.err
    out = run.out
    assert out[0].startswith("listening on 127.0.0.1:") and out[-1] == "stopped: True"
    assert "Client-1 read: Received(sender='#hub', message=\"the host got '1111'\")" in out
    assert "Client-1 read: Received(sender='Client-2', message='hello, room', room='lobby')" in out
    assert "the broadcast reached 2 clients" in out
    assert "Client-2 read: Received(sender='#hub', message='大家来领物资了')" in out
    assert "sessions open: 52" in out
    assert "refused: invalid_room" in out
    assert any(line.startswith("Client-2 says bye: Bye(reason='client_bye'") for line in out)
    shown = script(example, "--help")
    assert shown.wait() == 0 and "usage:" in "\n".join(shown.out)


def test_a_loop_that_cannot_watch_a_socket_is_told_so() -> None:
    class NoReaders(asyncio.SelectorEventLoop):
        def add_reader(self, fd: Any, callback: Any, *args: Any) -> None:
            raise NotImplementedError

    async def main() -> None:
        with pytest.raises(tcphub.Error, match="cannot watch a socket"):
            await tcphub.AsyncClient.connect("127.0.0.1", 1)

    loop = NoReaders()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()


def test_async_request_and_reply_between_clients_and_with_the_host() -> None:
    async def main() -> None:
        async with tcphub.AsyncServer("127.0.0.1", 0) as hub:

            @hub.on(tcphub.Request)
            async def answer(request: tcphub.Request) -> Any:
                await asyncio.sleep(0)  # an async answer, awaited first
                return {"sum": sum(request.message)}

            async with tcphub.AsyncClient("127.0.0.1", hub.port, "asker") as asker, tcphub.AsyncClient(
                "127.0.0.1", hub.port, "calc"
            ) as calc:

                async def serve_once() -> None:
                    incoming = await calc.receive(5)
                    assert isinstance(incoming, tcphub.ReceivedRequest), incoming
                    assert incoming.sender == "asker"
                    await calc.reply(incoming, incoming.message * 2)

                server = asyncio.create_task(serve_once())
                assert await asker.request("calc", 21, timeout=5) == 42
                await server
                assert await asker.request_host([1, 2, 3], timeout=5) == {"sum": 6}
                with pytest.raises(tcphub.UnknownAliasError):
                    await asker.request("nobody", 1, timeout=5)
                with pytest.raises(tcphub.RequestTimeoutError):
                    await asker.request("calc", "unanswered", timeout=0.2)
                # The unanswered request still reached calc; a reply to it
                # now is refused by the hub, through receive.
                late = await calc.receive(5)
                assert isinstance(late, tcphub.ReceivedRequest)
                await calc.reply(late, "too late")
                refused = await calc.receive(5)
                assert isinstance(refused, tcphub.ErrorReply) and refused.code == "unknown_request"
                with pytest.raises(tcphub.UnknownRequestError):
                    await hub.reply("9.9", "nobody asked")

    run(main)
