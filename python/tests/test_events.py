"""Events: typed objects, the blocking iterator, callbacks and asyncio."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from pathlib import Path

import pytest

import tcphub

from conftest import wait_for


def test_events_are_typed_with_readable_reprs(server, raw_client):
    raw = raw_client(server.address)
    raw.write({"type": "sync", "clientName": "Client-1"})
    raw.write({"type": "info", "message": {"n": 1}})
    raw.write({"type": "jump"})
    raw.read_until("error")
    raw.close()
    seen = []
    wait_for(server, tcphub.Disconnected, seen=seen)
    kinds = [type(e) for e in seen]
    assert kinds == [
        tcphub.Connected,
        tcphub.Synced,
        tcphub.Message,
        tcphub.ProtocolError,
        tcphub.Released,
        tcphub.Disconnected,
    ]
    assert all(isinstance(e, tcphub.Event) for e in seen)
    sid = seen[0].session_id
    assert len({e.session_id for e in seen}) == 1 and len({e.handle for e in seen}) == 1
    assert [repr(e) for e in seen] == [
        f"Connected(session_id={sid!r})",
        f"Synced(session_id={sid!r}, alias='Client-1')",
        f"Message(session_id={sid!r}, alias='Client-1', message={{'n': 1}})",
        f"ProtocolError(session_id={sid!r}, code='unknown_type', detail={seen[3].detail!r})",
        f"Released(session_id={sid!r}, alias='Client-1')",
        f"Disconnected(session_id={sid!r}, alias='Client-1', reason='peer_closed')",
    ]
    assert seen[2].json == '{"n": 1}'  # exactly as the client wrote it
    assert '"jump"' in seen[3].detail


def test_events_support_pattern_matching(server):
    with tcphub.Client(*server.address, name="pm") as client:
        client.send_to_host("hi")
        event = wait_for(server, tcphub.Message)
    namespace = {"tcphub": tcphub, "event": event}
    exec(
        "match event:\n"
        "    case tcphub.Message('pm', text, raw, sid):\n"
        "        result = (text, raw, sid)\n",
        namespace,
    )
    assert namespace["result"] == ("hi", '"hi"', event.session_id)


def test_events_match_their_fields_in_the_order_the_docs_list_them():
    """docs/python.md writes ``Message(alias, message, json)``: positional
    patterns bind those, in that order, and the session id comes last, so
    ``case Message(alias, text)`` means what it reads as."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "python.md").read_text(encoding="utf-8")
    listing = doc[doc.index("Event classes (all subclasses"):]
    listing = listing[: listing.index("\n\n")]
    documented = dict(re.findall(r"`(\w+)\(([^)]*)\)`", listing.replace("\n", " ")))
    assert {"Synced", "Released", "Message", "ProtocolError", "Disconnected", "Joined", "Left", "Relayed"} <= set(
        documented
    )
    for name, fields in documented.items():
        expected = tuple(f.strip() for f in fields.split(",")) + ("session_id",)
        assert getattr(tcphub, name).__match_args__ == expected, name
    assert tcphub.Connected.__match_args__ == ("session_id",)


def test_iterator_timeout_ends_the_loop(server):
    start = time.monotonic()
    assert list(server.events(timeout=0.3)) == []
    assert 0.25 < time.monotonic() - start < 3
    assert server.next_event(timeout=0.05) is None


def test_iterator_ends_when_the_server_stops(server):
    threading.Timer(0.3, server.stop).start()
    assert list(server.events()) == []


def test_waiting_for_events_releases_the_gil(server):
    """A second Python thread keeps running while the main thread waits."""
    counter = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal counter
        while not stop.is_set():
            counter += 1

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        time.sleep(0.05)
        before = counter
        assert server.next_event(timeout=1.0) is None
        during = counter - before
    finally:
        stop.set()
        spinner.join()
    # With the GIL held for that second, the spinner would barely move (a
    # few switch-interval slices); released, it counts freely.
    assert during > 100_000, during


def test_client_receive_releases_the_gil(server):
    with tcphub.Client(*server.address, name="waiter") as client:
        ticks = []
        ticker = threading.Thread(target=lambda: [ticks.append(time.sleep(0.01)) for _ in range(30)])
        ticker.start()
        assert client.receive(timeout=0.5) is None
        ticker.join()
        assert len(ticks) == 30


def test_callbacks_per_event_kind(server):
    got = {"synced": [], "message": [], "all": []}
    done = threading.Event()
    server.on(tcphub.Synced, lambda e: got["synced"].append(e.alias))

    @server.on(tcphub.Message)
    def on_message(event: tcphub.Message) -> None:
        got["message"].append(event.message)
        if event.message == "last":
            done.set()

    server.on(tcphub.Event, lambda e: got["all"].append(type(e).__name__))
    with tcphub.Client(*server.address, name="cb") as client:
        client.send_to_host("first")
        client.send_to_host("last")
        assert done.wait(5)
    assert got["synced"] == ["cb"]
    assert got["message"] == ["first", "last"]
    assert got["all"][:4] == ["Connected", "Synced", "Message", "Message"]


def test_a_raising_callback_is_reported_and_the_hub_carries_on(server, caplog):
    calls = []
    done = threading.Event()

    def broken(event: tcphub.Message) -> None:
        calls.append(event.message)
        if event.message == "boom":
            raise RuntimeError("callback bug")
        if event.message == "after":
            done.set()

    server.on(tcphub.Message, broken)
    with caplog.at_level(logging.ERROR, logger="tcphub"):
        with tcphub.Client(*server.address, name="x") as client:
            client.send_to_host("boom")
            client.send_to_host("after")
            assert done.wait(5)
            # The hub itself kept serving: a round trip still works.
            assert client.ping() >= 0
    assert calls == ["boom", "after"]
    failures = [r for r in caplog.records if r.name == "tcphub"]
    assert len(failures) == 1
    assert "callback" in failures[0].getMessage()
    assert failures[0].exc_info[0] is RuntimeError


def test_events_go_one_way_only(server):
    server.on(tcphub.Message, lambda e: None)
    with pytest.raises(tcphub.Error, match="one way only"):
        server.next_event(timeout=0)
    with pytest.raises(TypeError, match="subclasses"):
        server.on(str, print)  # type: ignore[arg-type]


def test_stop_from_a_callback(server):
    stopped = threading.Event()

    def stop_now(event: tcphub.Message) -> None:
        server.stop()
        stopped.set()

    server.on(tcphub.Message, stop_now)
    with tcphub.Client(*server.address, name="s") as client:
        client.send_to_host("please stop")
        assert stopped.wait(5)
    assert server.wait(timeout=5)


def test_async_for():
    async def main() -> list:
        with tcphub.Server("127.0.0.1", 0) as hub:
            loop = asyncio.get_running_loop()
            # The client runs in a thread; the loop stays free meanwhile.
            client_done = loop.run_in_executor(None, _client_says_hello, hub.address)
            heartbeat = 0
            alive = asyncio.ensure_future(_beat())
            seen = []
            async for event in hub:
                seen.append(event)
                if isinstance(event, tcphub.Message):
                    break
            await client_done
            heartbeat = await _stop(alive)
            assert heartbeat > 0
            return seen

    seen = asyncio.run(main())
    assert [type(e) for e in seen] == [tcphub.Connected, tcphub.Synced, tcphub.Message]
    assert seen[-1].message == "hello from asyncio"


def test_async_iteration_with_timeout_and_cancellation(server):
    async def main() -> None:
        start = asyncio.get_running_loop().time()
        assert [e async for e in server.aevents(timeout=0.3)] == []
        assert asyncio.get_running_loop().time() - start >= 0.25

        async def consume() -> None:
            async for _ in server.aevents():
                pass

        task = asyncio.ensure_future(consume())
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    # Nothing was lost to the cancelled wait: events still arrive in order.
    with tcphub.Client(*server.address, name="later"):
        assert isinstance(wait_for(server, tcphub.Connected), tcphub.Connected)


def _client_says_hello(address: "tuple[str, int]") -> None:
    time.sleep(0.1)  # long enough for the loop to show it is not blocked
    with tcphub.Client(*address, name="async") as client:
        client.send_to_host("hello from asyncio")
        client.ping()


async def _beat() -> int:
    beats = 0
    try:
        while True:
            await asyncio.sleep(0.01)
            beats += 1
    except asyncio.CancelledError:
        return beats


async def _stop(task: "asyncio.Future[int]") -> int:
    task.cancel()
    return await task


def test_choosing_the_iterator_is_immediate(server):
    events = server.events(timeout=0)  # not yet iterated
    with pytest.raises(tcphub.Error, match="one way only"):
        server.on(tcphub.Message, print)
    assert list(events) == []


def test_a_server_never_stopped_warns_like_an_open_file():
    import gc

    hub = tcphub.Server("127.0.0.1", 0)
    with pytest.warns(ResourceWarning, match="never stopped"):
        del hub
        gc.collect()


def test_callbacks_run_in_the_order_they_were_registered_whatever_their_kind(server):
    """The docs say callbacks run in order: a `tcphub.Event` callback
    registered first runs before a `Message` one registered after it."""
    calls = []
    done = threading.Event()
    server.on(tcphub.Event, lambda e: calls.append(("all", type(e).__name__)))

    @server.on(tcphub.Message)
    def on_message(event: tcphub.Message) -> None:
        calls.append(("message", event.message))

    def last(event: tcphub.Event) -> None:
        calls.append(("all again", type(event).__name__))
        if isinstance(event, tcphub.Message):
            done.set()

    server.on(tcphub.Event, last)
    with tcphub.Client(*server.address, name="order") as client:
        client.send_to_host("hi")
        assert done.wait(5)
    around = [c for c in calls if c[1] in ("Message", "hi")]
    assert around == [("all", "Message"), ("message", "hi"), ("all again", "Message")], calls
