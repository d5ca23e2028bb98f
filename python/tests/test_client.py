"""tcphub.Client against the embedded server."""

from __future__ import annotations

import socket

import pytest

import tcphub

from conftest import wait_for


def test_relay_to_alias_and_broadcast(server):
    with tcphub.Client(*server.address, name="a") as a, tcphub.Client(
        *server.address, name="b"
    ) as b, tcphub.Client(*server.address, name="c") as c:
        a.send("b", "just b")
        a.broadcast({"to": "all"})
        assert b.receive(5).message == "just b"
        everyone = b.receive(5)
        assert (everyone.sender, everyone.message, everyone.from_host) == ("a", {"to": "all"}, False)
        assert c.receive(5).message == {"to": "all"}
        assert a.receive(timeout=0.2) is None  # a sender does not hear its own broadcast
        server.broadcast("host says")
        assert a.receive(5).from_host


def test_unknown_alias_comes_back_as_an_error_reply(server):
    with tcphub.Client(*server.address, name="a") as a:
        a.send("ghost", "anyone?")
        reply = a.receive(5)
        assert isinstance(reply, tcphub.ErrorReply)
        assert reply.code == "unknown_alias" and "ghost" in reply.detail
        assert repr(reply).startswith("ErrorReply(code='unknown_alias'")


def test_invalid_alias_is_rejected(server):
    with pytest.raises(tcphub.RejectedError) as caught:
        tcphub.Client(*server.address, name="#hub")
    assert caught.value.code == "invalid_alias"


def test_sessions_ping_and_resync(server):
    with tcphub.Client(*server.address, name="first") as client:
        assert client.ping() < 5
        client.sync("second")
        assert client.name == "second"
        assert [s.alias for s in client.sessions()] == ["second"]
        assert [e.alias for e in (wait_for(server, tcphub.Released),)] == ["first"]


def test_iteration_ends_when_the_hub_closes_the_connection(server):
    client = tcphub.Client(*server.address, name="it")
    server.send("it", 1)
    server.send("it", 2)
    server.stop()
    got = list(client)
    assert [m.message for m in got[:2]] == [1, 2]
    assert isinstance(got[-1], tcphub.Bye) and got[-1].reason == "shutdown"
    with pytest.raises(tcphub.ConnectionClosedError):
        client.receive(1)
    with pytest.raises(tcphub.ConnectionClosedError):
        client.sync("again")
    client.close()
    client.close()


def test_messages_iterator_stops_after_quiet_timeout(server):
    with tcphub.Client(*server.address, name="q") as client:
        server.send("q", "one")
        assert [m.message for m in client.messages(timeout=0.3)] == ["one"]


def test_messages_arriving_during_a_request_are_kept(server):
    with tcphub.Client(*server.address, name="k") as client:
        for n in range(50):
            server.send("k", n)
        client.sessions()  # reads past the 50 infos to find its answer
        assert [m.message for m in client.drain()] == list(range(50))


def test_connect_failures_are_clear():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        with pytest.raises(tcphub.ConnectionClosedError, match=f"cannot connect to 127.0.0.1:{port}"):
            tcphub.Client("127.0.0.1", port)


def test_send_raw_speaks_the_protocol_by_hand(server):
    with tcphub.Client(*server.address) as client:
        client.send_raw(b'{"type":"sync","clientName":"by-hand"}')
        assert wait_for(server, tcphub.Synced).alias == "by-hand"
        assert repr(client).startswith("Client(address='127.0.0.1:")


def test_one_thread_receives_while_another_asks(server):
    """A receive() in progress must not swallow another thread's answer."""
    import threading

    with tcphub.Client(*server.address, name="shared") as client:
        got = []
        receiver = threading.Thread(target=lambda: got.append(client.receive(5)))
        receiver.start()
        for _ in range(5):
            assert client.ping(timeout=5) < 5
            assert [s.alias for s in client.sessions(timeout=5)] == ["shared"]
        server.send("shared", "for the receiver")
        receiver.join()
        assert got[0].message == "for the receiver"


def test_an_earlier_error_is_not_taken_for_the_answer_to_a_request(server):
    """Each request carries an id, and only the reply or error with that id
    answers it: errors caused by earlier frames go to receive()."""
    with tcphub.Client(*server.address) as client:
        client.send_raw(b'{"type":"sync","clientName":"*"}')  # invalid_alias, no id
        assert client.sync("good", timeout=5) == client.session_id
        assert client.name == "good"
        client.send_raw(b'{"type":"teleport"}')  # unknown_type
        assert client.ping(timeout=5) < 5
        client.send_raw(b'{"type":"info","to":"ghost","message":1,"id":"mine"}')
        assert [s.alias for s in client.sessions(timeout=5)] == ["good"]
        errors = [client.receive(5) for _ in range(3)]
        assert [(e.code, e.id) for e in errors] == [
            ("invalid_alias", None),
            ("unknown_type", None),
            ("unknown_alias", "mine"),
        ]
        assert client.receive(0.2) is None


def test_a_refused_sync_is_still_refused(server):
    with tcphub.Client(*server.address) as client:
        with pytest.raises(tcphub.RejectedError) as caught:
            client.sync("*", timeout=5)
        assert caught.value.code == "invalid_alias"
        assert client.receive(0.2) is None, "the error answered sync and is not delivered twice"
        assert client.sync("fine", timeout=5)


def test_requests_on_many_threads_each_get_their_own_answer(server):
    import threading

    with tcphub.Client(*server.address, name="busy") as client:
        failures = []

        def ask() -> None:
            try:
                for _ in range(20):
                    assert client.ping(timeout=5) < 5
                    assert [s.alias for s in client.sessions(timeout=5)] == ["busy"]
            except Exception as e:  # pragma: no cover - reported below
                failures.append(e)

        threads = [threading.Thread(target=ask) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        assert client.drain() == []


def _fake_hub(*chunks: bytes) -> "tuple[socket.socket, tcphub.Client]":
    """A listening socket playing the hub: the client connects, then reads
    `chunks` (written one by one) and the end of the stream."""
    listener = socket.create_server(("127.0.0.1", 0))
    client = tcphub.Client(*listener.getsockname()[:2], timeout=5)
    peer, _ = listener.accept()
    for chunk in chunks:
        peer.sendall(chunk)
    peer.close()
    return listener, client


def test_frames_cut_anywhere_arrive_whole():
    stream = b'{"type":"info","from":"#hub","message":"\xe5\xae\xa2"}\n{"type":"bye","reason":"shutdown","message":"x"}\n'
    for cut in range(1, len(stream)):
        listener, client = _fake_hub(stream[:cut], stream[cut:])
        with listener, client:
            got = list(client.messages(timeout=5))
        assert [type(g) for g in got] == [tcphub.Received, tcphub.Bye], cut
        assert got[0].message == "客"


def test_a_stream_ending_mid_frame_is_an_error_not_a_silent_drop():
    listener, client = _fake_hub(b'{"type":"info","from":"#hub","message":1}\n{"type":"info","from":"#hu')
    with listener, client:
        assert client.receive(5).message == 1
        with pytest.raises(tcphub.ConnectionClosedError, match="middle of a frame: .*26 bytes") as caught:
            client.receive(5)
        assert caught.value.truncated == 26
        # Iteration does not end as if everything had arrived.
        with pytest.raises(tcphub.ConnectionClosedError) as again:
            list(client)
        assert again.value.truncated == 26


def test_a_stream_ending_between_frames_ends_iteration_quietly():
    listener, client = _fake_hub(b'{"type":"info","from":"#hub","message":1}\n')
    with listener, client:
        assert [m.message for m in client] == [1]
        with pytest.raises(tcphub.ConnectionClosedError, match="the hub closed the connection") as caught:
            client.receive(5)
        assert caught.value.truncated == 0


def test_a_line_that_is_not_a_hub_frame_is_reported():
    listener, client = _fake_hub(b"hello\n", b'{"type":"info","from":"#hub","message":2}\n')
    with listener, client:
        with pytest.raises(tcphub.Error, match="cannot read: not a hub frame .*hello"):
            client.receive(5)
        assert client.receive(5).message == 2  # the bad line alone is skipped
