"""The tutorial's scenario, scripted with tcphub: two clients sync their
names, the host broadcasts and sends to each alias, each message reaches
exactly the right clients."""

from __future__ import annotations

import tcphub

from conftest import wait_for


def test_tutorial_with_raw_sockets_writing_json_without_delimiters(server, raw_client):
    one = raw_client(server.address)
    two = raw_client(server.address)
    # As the tutorial's clients do: sync, then info, no newline anywhere,
    # and the two objects in one write for the first client.
    one.sock.sendall(
        '{"type":"sync","clientName":"Client-1","message":"同步基础信息"}'
        '{"type":"info","clientName":"Client-1","message":"1111"}'.encode()
    )
    two.write({"type": "sync", "clientName": "Client-2", "message": "同步基础信息"})

    message = wait_for(server, tcphub.Message)
    assert (message.alias, message.message) == ("Client-1", "1111")
    assert one.read_until("synced")["clientName"] == "Client-1"
    assert two.read_until("synced")["clientName"] == "Client-2"
    assert {s.alias for s in server.sessions()} == {"Client-1", "Client-2"}

    assert server.broadcast("大家来领物资了") == 2
    assert server.send("Client-1", "赶紧来做核酸了, 就差你了") == 1
    assert server.send("Client-2", "一会儿上门做核酸") == 1

    got_one = [one.read_until("info") for _ in range(2)]
    got_two = [two.read_until("info") for _ in range(2)]
    assert [f["message"] for f in got_one] == ["大家来领物资了", "赶紧来做核酸了, 就差你了"]
    assert [f["message"] for f in got_two] == ["大家来领物资了", "一会儿上门做核酸"]
    assert all(f["from"] == tcphub.HUB_NAME for f in got_one + got_two)

    # Nothing else was queued for either: a ping is answered next.
    for client in (one, two):
        client.write({"type": "ping"})
        assert client.read()["type"] == "pong"


def test_tutorial_with_tcphub_client(server):
    with tcphub.Client(*server.address, name="Client-1") as one, tcphub.Client(
        *server.address, name="Client-2"
    ) as two:
        assert one.name == "Client-1" and one.session_id
        one.send_to_host("1111")
        two.send_to_host("2222")
        messages = {
            wait_for(server, tcphub.Message).alias,
            wait_for(server, tcphub.Message).alias,
        }
        assert messages == {"Client-1", "Client-2"}

        server.broadcast("大家来领物资了")
        server.send("Client-1", "赶紧来做核酸了, 就差你了")
        server.send("Client-2", "一会儿上门做核酸")

        assert [m.message for m in (one.receive(5), one.receive(5))] == [
            "大家来领物资了",
            "赶紧来做核酸了, 就差你了",
        ]
        assert [m.message for m in (two.receive(5), two.receive(5))] == [
            "大家来领物资了",
            "一会儿上门做核酸",
        ]
        assert one.receive(timeout=0.2) is None
        assert two.receive(timeout=0.2) is None


def test_issue_sketch_runs_as_written(server):
    """The ten-line server from the issue, with two clients joining."""
    clients = [tcphub.Client(*server.address, name=f"Client-{i}") for i in (1, 2)]
    log = []
    for event in server.events(timeout=5):
        log.append(repr(event))
        if isinstance(event, tcphub.Synced) and len(server.sessions()) == 2:
            server.broadcast("大家来领物资了")
            server.send("Client-1", "赶紧来做核酸了")
            break
    assert any(line.startswith("Synced(") for line in log)
    assert clients[0].receive(5).message == "大家来领物资了"
    assert clients[0].receive(5).message == "赶紧来做核酸了"
    assert clients[1].receive(5).message == "大家来领物资了"
    for client in clients:
        client.close()
