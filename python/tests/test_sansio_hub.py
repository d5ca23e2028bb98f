"""The sans-IO ``tcphub.Hub`` driven by a small asyncio server written here,
with tcphub.Client and raw sockets as its clients."""

from __future__ import annotations

import asyncio
import threading
from typing import Dict, List

import pytest

import tcphub


class AsyncioHub:
    """About forty lines of driver: the whole run loop of the core."""

    def __init__(self, **options) -> None:
        self.hub = tcphub.Hub(**options)
        self.writers: Dict[int, asyncio.StreamWriter] = {}
        self.events: List[tcphub.Event] = []
        self.changed = asyncio.Event()

    def pump(self) -> None:
        """After every input: act on everything the hub returns."""
        for action in self.hub.poll():
            if isinstance(action, tcphub.Transmit):
                writer = self.writers.get(action.handle)
                if writer is not None:
                    writer.write(action.data)
            elif isinstance(action, tcphub.Close):
                writer = self.writers.pop(action.handle, None)
                if writer is not None:
                    writer.close()
            else:
                self.events.append(action)
                self.changed.set()

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        handle = self.hub.accept(f"{host}:{port}")
        self.writers[handle] = writer
        self.pump()
        try:
            while data := await reader.read(65536):
                try:
                    self.hub.receive(handle, data)
                except tcphub.UnknownSessionError:
                    break  # the hub closed it while we were reading
                self.pump()
        finally:
            if self.writers.pop(handle, None) is not None:
                self.hub.connection_lost(handle)
                self.pump()
            writer.close()

    async def wait_for(self, kind: type, count: int = 1) -> List[tcphub.Event]:
        while len([e for e in self.events if isinstance(e, kind)]) < count:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 5)
        return [e for e in self.events if isinstance(e, kind)]


def test_hub_driven_by_asyncio_streams():
    async def main() -> None:
        driver = AsyncioHub(alias_policy="takeover")
        server = await asyncio.start_server(driver.connection, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()

        # A raw client writing two objects with no delimiter, as the tutorial does.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write('{"type":"sync","clientName":"Client-1"}{"type":"info","message":"1111"}'.encode())
        await writer.drain()
        synced = await reader.readline()
        assert b'"synced"' in synced

        # tcphub.Client in a thread: it blocks, the loop must not.
        two = await loop.run_in_executor(None, lambda: tcphub.Client("127.0.0.1", port, "Client-2"))
        (message,) = await driver.wait_for(tcphub.Message)
        assert (message.alias, message.message) == ("Client-1", "1111")

        assert driver.hub.broadcast("大家来领物资了") == 2
        assert driver.hub.send("Client-2", "一会儿上门做核酸") == 1
        driver.pump()
        line = await reader.readline()
        assert "大家来领物资了" in line.decode()
        got = await loop.run_in_executor(None, lambda: [two.receive(5).message for _ in range(2)])
        assert got == ["大家来领物资了", "一会儿上门做核酸"]

        # Client-to-client relay goes through the same hub.
        await loop.run_in_executor(None, two.send, "Client-1", {"from": "two"})
        relayed = await reader.readline()
        assert b'"from":"Client-2"' in relayed and b'{"from":"two"}' in relayed

        assert [s.alias for s in driver.hub.sessions()] == ["Client-1", "Client-2"]
        with pytest.raises(tcphub.UnknownAliasError):
            driver.hub.send("nobody", "x")

        # Shutdown: every session is told and closed.
        driver.hub.shutdown()
        driver.pump()
        assert b'"bye"' in await reader.readline()
        assert await reader.read() == b""
        await driver.wait_for(tcphub.Disconnected, 2)
        two.close()
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())


def test_poll_shares_one_bytes_object_per_broadcast():
    hub = tcphub.Hub()
    handles = [hub.accept(f"10.0.0.{i}:1", now=0.0) for i in range(3)]
    hub.poll()
    hub.broadcast({"n": 1})
    sends = hub.poll()
    assert [s.handle for s in sends] == handles
    assert sends[0].data is sends[1].data is sends[2].data
    assert sends[0].data == b'{"type":"info","from":"#hub","message":{"n":1}}\n'


def test_idle_timeout_with_explicit_time():
    hub = tcphub.Hub(idle_timeout=10)
    a = hub.accept("10.0.0.1:1", now=0.0)
    b = hub.accept("10.0.0.2:1", now=5.0)
    assert hub.poll_timeout() == pytest.approx(10.0)
    hub.handle_timeout(now=10.5)
    actions = hub.poll()
    closes = [x for x in actions if isinstance(x, tcphub.Close)]
    assert [(c.handle, c.reason) for c in closes] == [(a, "idle_timeout")]
    assert hub.poll_timeout() == pytest.approx(15.0)
    assert len(hub) == 1 and hub.sessions()[0].session_id == "10.0.0.2:1"
    with pytest.raises(tcphub.Error, match="time went backwards"):
        hub.receive(b, b"{}", now=1.0)


def test_hub_errors_are_the_python_exceptions():
    hub = tcphub.Hub()
    with pytest.raises(tcphub.UnknownSessionError):
        hub.receive(99, b"{}")
    with pytest.raises(tcphub.UnknownSessionError):
        hub.send_to_session("1.2.3.4:5", "x")
    with pytest.raises(tcphub.ConfigError, match="alias_policy"):
        tcphub.Hub(alias_policy="first-come")
    h = hub.accept("1.2.3.4:5")
    with pytest.raises(tcphub.ConfigError, match="unknown close reason"):
        hub.close_session(h, reason="because")
    hub.close_session("1.2.3.4:5", reason="slow_consumer")
    assert [type(x).__name__ for x in hub.poll()] == [
        "Connected",
        "Transmit",
        "Close",
        "Disconnected",
    ]
    assert repr(hub) == "Hub(sessions=0)"


def test_hub_bad_input_is_an_event_not_an_exception():
    hub = tcphub.Hub()
    h = hub.accept("1.2.3.4:5")
    hub.receive(h, b"\xff\xfe garbage\n{\"type\":\"ping\"}")
    actions = hub.poll()
    errors = [a for a in actions if isinstance(a, tcphub.ProtocolError)]
    assert errors and errors[0].code == "bad_json"
    assert actions[-1].data == b'{"type":"pong"}\n'


def test_one_hub_per_thread_is_fine():
    """Hubs are plain objects: several threads can each own one."""
    results = []

    def work(i: int) -> None:
        hub = tcphub.Hub()
        h = hub.accept(f"10.0.0.{i}:1")
        hub.receive(h, b'{"type":"sync","clientName":"t"}')
        results.append(sum(isinstance(x, tcphub.Synced) for x in hub.poll()))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [1, 1, 1, 1]
