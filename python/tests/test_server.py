"""Server lifetime, options and host commands."""

from __future__ import annotations

import json
import select
import socket
import threading
import time

import pytest

import tcphub

from conftest import wait_for


def test_port_zero_picks_a_free_port_and_reports_it():
    with tcphub.Server("127.0.0.1", 0) as hub:
        host, port = hub.address
        assert host == "127.0.0.1" and port > 0 and hub.port == port
        socket.create_connection(hub.address, timeout=5).close()
        assert "127.0.0.1:%d serving" % port in repr(hub)
    assert "stopped" in repr(hub)


def test_ipv6_loopback():
    try:
        hub = tcphub.Server("::1", 0)
    except tcphub.Error as e:
        pytest.skip(f"no IPv6 loopback here: {e}")
    with hub, tcphub.Client("::1", hub.port, name="six") as client:
        assert hub.address[0] == "::1"
        assert client.session_id.startswith("[::1]:")


def test_address_in_use_is_a_clear_error(server):
    with pytest.raises(tcphub.AddressInUseError) as caught:
        tcphub.Server("127.0.0.1", server.port)
    assert f"127.0.0.1:{server.port}" in str(caught.value)
    assert "in use" in str(caught.value)
    assert isinstance(caught.value, OSError)


@pytest.mark.parametrize(
    "options, needle",
    [
        ({"alias_policy": "steal"}, "alias_policy must be 'takeover', 'reject' or 'share', got \"steal\""),
        ({"max_frame_bytes": 10}, "max_frame_bytes must be at least 256, got 10"),
        ({"max_sessions": 0}, "max_sessions must be a positive integer, got 0"),
        ({"max_sessions": -5}, "max_sessions must be a positive integer, got -5"),
        ({"idle_timeout": 0}, "idle_timeout must be a number of seconds above zero, got 0"),
        ({"idle_timeout": float("nan")}, "idle_timeout must be a number of seconds above zero"),
        ({"max_queued_bytes": 0}, "max_queued_bytes must be a positive integer, got 0"),
        (
            {"max_queued_bytes": 65536},
            "max_queued_bytes must be at least high_watermark + max_frame_bytes (589824), got 65536",
        ),
        ({"low_watermark": 1 << 20}, "low_watermark must be below high_watermark (524288), got 1048576"),
        ({"high_watermark": 0}, "high_watermark must be a positive integer, got 0"),
        ({"write_deadline": 0}, "write_deadline must be a number of seconds above zero, got 0"),
        ({"frame_timeout": -1}, "frame_timeout must be a number of seconds above zero, got -1"),
        ({"max_list_rows": 0}, "max_list_rows must be a positive integer, got 0"),
        ({"shutdown_grace": -1}, "shutdown_grace must be a number of seconds above zero, got -1"),
    ],
)
def test_bad_options_name_the_option_and_value(options, needle):
    with pytest.raises(tcphub.ConfigError) as caught:
        tcphub.Server("127.0.0.1", 0, **options)
    assert needle in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "options",
    [
        {"idle_timeout": "30s"},
        {"max_sessions": "many"},
        {"relay": "no"},
        {"write_deadline": [10]},
        {"shutdown_grace": "5"},
        {"alias_policy": 3},
        {"rate_limit_messages": "10/s"},
        {"tls_cert": 5},
        {"cluster_lease": {}},
        {"authentication": "yes"},
        {"auth_timeout": b"1"},
        {"authenticate": "alice-secret"},
    ],
)
def test_wrong_typed_options_raise_config_error_naming_option_and_value(options):
    ((name, value),) = options.items()
    with pytest.raises(tcphub.ConfigError) as caught:
        tcphub.Server("127.0.0.1", 0, **options)
    assert name in str(caught.value)
    assert repr(value) in str(caught.value)


def test_wrong_typed_host_and_port_raise_config_error():
    with pytest.raises(tcphub.ConfigError, match="port.*'9000'"):
        tcphub.Server("127.0.0.1", "9000")  # type: ignore[arg-type]
    with pytest.raises(tcphub.ConfigError, match="host.*None"):
        tcphub.Server(None, 0)  # type: ignore[arg-type]


def test_bad_option_names():
    with pytest.raises(TypeError, match="polcy"):
        tcphub.Server("127.0.0.1", 0, polcy="share")  # type: ignore[call-arg]
    with pytest.raises(tcphub.ConfigError, match="port must be between 0 and 65535, got 70000"):
        tcphub.Server("127.0.0.1", 70000)
    with pytest.raises(tcphub.ConfigError, match="cannot resolve host"):
        tcphub.Server("no such host.invalid", 0)


def test_stop_is_idempotent_and_commands_after_stop_fail_clearly():
    hub = tcphub.Server("127.0.0.1", 0)
    hub.stop()
    hub.stop()
    assert hub.stopped
    assert hub.wait(timeout=0)
    with pytest.raises(tcphub.ServerStoppedError):
        hub.broadcast("late")
    assert hub.sessions() == []
    assert list(hub.events(timeout=0.1)) == []
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(hub.address, timeout=5)


def test_stop_with_clients_connected_says_bye_and_delivers_what_was_queued(raw_client):
    hub = tcphub.Server("127.0.0.1", 0)
    clients = [raw_client(hub.address) for _ in range(3)]
    for i, client in enumerate(clients):
        client.write({"type": "sync", "clientName": f"c{i}"})
        client.read_until("synced")
    for n in range(100):
        hub.broadcast(n)
    hub.stop()
    for client in clients:
        infos = [client.read_until("info")["message"] for _ in range(100)]
        assert infos == list(range(100))
        assert client.read_until("bye")["reason"] == "shutdown"
        assert client.read() is None  # then the hub closed the socket
    kinds = [type(e).__name__ for e in hub.events(timeout=1)]
    assert kinds.count("Disconnected") == 3


def test_two_servers_in_one_process_are_independent():
    with tcphub.Server("127.0.0.1", 0) as a, tcphub.Server("127.0.0.1", 0) as b:
        assert a.port != b.port
        ca = tcphub.Client(*a.address, name="same-name")
        cb = tcphub.Client(*b.address, name="same-name")
        a.send("same-name", "for a")
        b.send("same-name", "for b")
        assert ca.receive(5).message == "for a"
        assert cb.receive(5).message == "for b"
        assert len(a.sessions()) == len(b.sessions()) == 1
        a.stop()
        # b keeps serving after a stopped.
        b.broadcast("still here")
        assert cb.receive(5).message == "still here"
        ca.close()
        cb.close()


def test_send_to_unknown_alias_raises(server):
    with pytest.raises(tcphub.UnknownAliasError, match='no session holds alias "ghost"'):
        server.send("ghost", "boo")
    assert issubclass(tcphub.UnknownAliasError, LookupError)


def test_messages_are_str_or_any_json_value(server):
    with tcphub.Client(*server.address, name="x") as client:
        values = ["text", 42, 2.5, True, None, [1, "two"], {"nested": {"k": [1, 2]}}, 2**70, "引号\"\n"]
        for value in values:
            server.send("x", value)
        got = [client.receive(5).message for _ in values]
        assert got[:6] == values[:6]
        assert got[6] == values[6]
        assert got[8] == values[8]
        # Beyond 64 bits a JSON number reaches the client as a float.
        assert got[7] == pytest.approx(2**70)


def test_non_json_messages_are_refused_before_sending(server):
    with pytest.raises(tcphub.InvalidMessageError, match="JSON-serialisable"):
        server.broadcast(object())
    with pytest.raises(tcphub.InvalidMessageError):
        server.broadcast(float("nan"))
    with pytest.raises(tcphub.InvalidMessageError):
        server.broadcast(b"bytes are not JSON")
    with pytest.raises(tcphub.InvalidMessageError, match="Unicode"):
        server.broadcast("\ud800")


def test_send_to_session_and_close_session(server, raw_client):
    raw = raw_client(server.address)
    raw.write({"type": "ping"})
    raw.read_until("pong")
    (session,) = server.sessions()
    assert session.alias is None and session.session_id.startswith("127.0.0.1:")
    assert server.send_to_session(session.session_id, {"hello": "you"}) == 1
    assert raw.read_until("info")["message"] == {"hello": "you"}
    server.close_session(session.session_id)
    assert raw.read_until("bye")["reason"] == "closed_by_host"
    assert raw.read() is None
    gone = wait_for(server, tcphub.Disconnected)
    assert (gone.session_id, gone.reason) == (session.session_id, "closed_by_host")
    with pytest.raises(tcphub.UnknownSessionError):
        server.send_to_session(session.session_id, "too late")
    with pytest.raises(tcphub.UnknownSessionError):
        server.close_session("10.0.0.1:1")


def test_a_takeover_names_the_session_it_took_from_by_its_session_id(server):
    with tcphub.Client(*server.address, name="dup") as first:
        seen: list = []
        first_synced = wait_for(server, tcphub.Synced, seen=seen)
        assert (first_synced.took_over_from, first_synced.took_over_from_handle) == (None, None)
        with tcphub.Client(*server.address, name="dup") as second:
            synced = wait_for(server, tcphub.Synced, seen=seen)
            assert synced.session_id == second.session_id
            # The name Server commands take, not the core's handle.
            assert synced.took_over_from == first.session_id == first_synced.session_id
            assert synced.took_over_from_handle == first_synced.handle
            assert repr(synced) == (
                f"Synced(session_id={second.session_id!r}, alias='dup', took_over_from={first.session_id!r})"
            )
            gone = wait_for(server, tcphub.Disconnected, seen=seen)
            assert (gone.session_id, gone.reason) == (synced.took_over_from, "taken_over")
            # Closed in the same step as the takeover: nothing left to command.
            with pytest.raises(tcphub.UnknownSessionError):
                server.close_session(synced.took_over_from)
            with pytest.raises(tcphub.UnknownSessionError):
                server.send_to_session(synced.took_over_from, "too late")


def test_sessions_lists_ids_and_aliases(server):
    with tcphub.Client(*server.address, name="a") as a, tcphub.Client(*server.address) as anon:
        anon.ping()
        rows = server.sessions()
        assert [r.alias for r in rows] == ["a", None]
        assert rows[0] == tcphub.Session(a.session_id, "a")
        assert repr(rows[0]) == f"Session(session_id={a.session_id!r}, alias='a')"


@pytest.mark.parametrize("policy", ["takeover", "reject", "share"])
def test_alias_policies(policy):
    with tcphub.Server("127.0.0.1", 0, alias_policy=policy) as hub:
        first = tcphub.Client(*hub.address, name="dup")
        if policy == "reject":
            with pytest.raises(tcphub.RejectedError) as caught:
                tcphub.Client(*hub.address, name="dup")
            assert caught.value.code == "alias_taken"
            return
        second = tcphub.Client(*hub.address, name="dup")
        sent = hub.send("dup", "hi")
        if policy == "takeover":
            assert sent == 1
            bye = first.receive(5)
            assert isinstance(bye, tcphub.Bye) and bye.reason == "taken_over"
            assert second.receive(5).message == "hi"
        else:
            assert sent == 2
            assert first.receive(5).message == second.receive(5).message == "hi"


def test_relay_off_refuses_client_to_client_messages():
    with tcphub.Server("127.0.0.1", 0, relay=False) as hub:
        a = tcphub.Client(*hub.address, name="a")
        tcphub.Client(*hub.address, name="b")
        a.send("b", "psst")
        reply = a.receive(5)
        assert isinstance(reply, tcphub.ErrorReply) and reply.code == "relay_disabled"


def test_idle_timeout_closes_quiet_sessions(raw_client):
    with tcphub.Server("127.0.0.1", 0, idle_timeout=0.3) as hub:
        quiet = raw_client(hub.address)
        bye = quiet.read_until("bye", timeout=5)
        assert bye["reason"] == "idle_timeout"
        assert wait_for(hub, tcphub.Disconnected).reason == "idle_timeout"


def test_max_sessions_refuses_the_one_too_many(raw_client):
    with tcphub.Server("127.0.0.1", 0, max_sessions=1) as hub:
        first = raw_client(hub.address)
        first.write({"type": "ping"})
        first.read_until("pong")
        extra = raw_client(hub.address)
        extra.write({"type": "ping"})
        try:
            frame = extra.read(timeout=0.5)
        except socket.timeout:
            frame = "waiting"  # held back until a session closes
        assert frame == "waiting" or frame is None or frame["type"] in ("error", "bye")
        first.write({"type": "ping"})
        assert first.read_until("pong")
        assert [s.session_id for s in hub.sessions()] == [
            f"127.0.0.1:{first.sock.getsockname()[1]}"
        ]


def test_frame_over_the_limit_closes_only_that_session(raw_client):
    with tcphub.Server("127.0.0.1", 0, max_frame_bytes=1024) as hub:
        good = raw_client(hub.address)
        bad = raw_client(hub.address)
        bad.sock.sendall(b'{"type":"info","message":"' + b"x" * 5000)
        assert bad.read_until("error")["code"] == "frame_too_large"
        error = wait_for(hub, tcphub.ProtocolError)
        assert error.code == "frame_too_large" and "1024" in error.detail
        good.write({"type": "ping"})
        assert good.read_until("pong")


def test_a_client_that_never_reads_is_closed_as_a_slow_consumer(raw_client):
    """A reader that stops reading holds its sender back (TCP pushes back,
    nothing is lost) for the write deadline, then is cut as a slow consumer
    and the sender goes on. Everyone else is served all along."""
    with tcphub.Server("127.0.0.1", 0, write_deadline=1.0) as hub:
        stuck = raw_client(hub.address)
        stuck.write({"type": "sync", "clientName": "stuck"})
        wait_for(hub, tcphub.Synced, lambda e: e.alias == "stuck")
        sender = raw_client(hub.address)
        sender.write({"type": "sync", "clientName": "sender"})
        sender.read_until("synced")
        with tcphub.Client(*hub.address, name="reader") as reader:
            # 10 MB for "stuck", far past the socket buffers (the kernel
            # alone may take 3 MB) and the high watermark, then a ping.
            frame = json.dumps({"type": "info", "to": "stuck", "message": "x" * 10_000}).encode()
            start = time.monotonic()

            def publish() -> None:
                for _ in range(1000):
                    sender.sock.sendall(frame)
                sender.sock.sendall(b'{"type":"ping","id":"after"}')

            sender.sock.settimeout(30)  # for the publisher's sends, held back meanwhile
            publisher = threading.Thread(target=publish, daemon=True)
            publisher.start()

            # Held back: its ping is not answered while "stuck" stalls ...
            readable, _, _ = select.select([sender.sock], [], [], 0.3)
            assert readable == []
            # ... while the others are served.
            assert reader.ping(timeout=5) < 5
            hub.send("reader", "still fine")
            assert reader.receive(5).message == "still fine"
            assert "stuck" in [s.alias for s in hub.sessions()]

            gone = wait_for(hub, tcphub.Disconnected, lambda e: e.alias == "stuck", timeout=20)
            assert gone.reason == "slow_consumer"
            assert time.monotonic() - start >= 1.0  # no sooner than the write deadline

            # Read again: what it sent after the cut found nobody, then the pong.
            publisher.join(timeout=20)
            assert not publisher.is_alive()
            replies = []
            while not replies or replies[-1]["type"] != "pong":
                replies.append(sender.read(timeout=10))
            assert replies[-1] == {"type": "pong", "id": "after"}
            assert {r.get("code") for r in replies[:-1]} == {"unknown_alias"}

            # The stalled reader's stream: whole frames, then its bye, then EOF.
            frames = []
            while (got := stuck.read(timeout=10)) is not None:
                frames.append(got)
            assert frames[0]["type"] == "synced"
            assert all(f["type"] == "info" for f in frames[1:-1])
            assert (frames[-1]["type"], frames[-1]["reason"]) == ("bye", "slow_consumer")
            assert stuck.buf == b"", "the stream ended on a whole frame"

            hub.send("reader", "and after")
            assert reader.receive(5).message == "and after"


def test_half_close_gets_every_reply_then_a_bye(server, raw_client):
    """`printf '{"type":"ping"}\\n' | nc -N`: the ping is answered, then the hub
    says bye and closes."""
    raw = raw_client(server.address)
    raw.sock.sendall(b'{"type":"ping"}\n')
    raw.sock.shutdown(socket.SHUT_WR)
    assert raw.read() == {"type": "pong"}
    bye = raw.read()
    assert (bye["type"], bye["reason"]) == ("bye", "peer_closed")
    assert raw.read() is None
    assert wait_for(server, tcphub.Disconnected).reason == "peer_closed"


def test_frame_timeout_closes_a_client_that_trickles_a_frame(raw_client):
    with tcphub.Server("127.0.0.1", 0, frame_timeout=0.3) as hub:
        slow = raw_client(hub.address)
        slow.sock.sendall(b'{"type":"ping"}{"type":"pi')
        assert slow.read() == {"type": "pong"}
        error = slow.read()
        assert (error["type"], error["code"]) == ("error", "frame_timeout")
        assert slow.read() is None
        assert wait_for(hub, tcphub.Disconnected).reason == "frame_timeout"


def test_sessions_walks_every_page(raw_client):
    with tcphub.Server("127.0.0.1", 0, max_list_rows=2) as hub:
        with tcphub.Client(*hub.address, name="asker") as asker:
            others = [tcphub.Client(*hub.address, name=f"c{i}") for i in range(4)]
            try:
                assert [s.alias for s in asker.sessions(timeout=5)] == ["asker", "c0", "c1", "c2", "c3"]
                raw = raw_client(hub.address)
                raw.write({"type": "list"})
                page = raw.read_until("sessions")
                assert (len(page["sessions"]), page["total"], "next" in page) == (2, 6, True)
            finally:
                for other in others:
                    other.close()


def test_a_host_that_reads_no_events_never_stalls_clients():
    with tcphub.Server("127.0.0.1", 0, event_queue_len=8) as hub:
        with tcphub.Client(*hub.address, name="chatty") as client:
            for n in range(200):
                client.send_to_host(n)
            assert client.ping(timeout=5) < 5  # answered although nobody reads events
            kept = list(hub.events(timeout=0.2))
        assert 0 < len(kept) <= 8
