"""Every script in python/examples runs as it stands and does what it says."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import tcphub

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def start_server(script, name: str) -> "tuple[object, str]":
    server = script(EXAMPLES / name, "--port", "0")
    port = re.search(r"listening on 127\.0\.0\.1:(\d+)", server.expect("listening on")).group(1)
    return server, port


def test_examples_are_all_covered():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == [
        "async_hub.py",
        "auth.py",
        "chat_room.py",
        "client.py",
        "hub_by_hand.py",
        "own_loop.py",
        "raw_client.py",
        "request_reply.py",
        "server.py",
        "server_callbacks.py",
    ]


def test_tutorial_server_and_clients(script):
    server, port = start_server(script, "server.py")
    one = script(EXAMPLES / "client.py", "Client-1", "--port", port, "--delay", "0.2")
    two = script(EXAMPLES / "raw_client.py", "Client-2", "--port", port, "--delay", "0.2")

    one.expect("received from server: 大家来领物资了")
    one.expect("received from server: 赶紧来做核酸了, 就差你了")
    two.expect("大家来领物资了")
    two.expect("一会儿上门做核酸")
    server.expect("Message(session_id=")
    server.expect("Message(session_id=")

    assert server.interrupt() == 0
    assert "stopping: every client is told bye" in server.out
    # Each client sees the hub's bye and exits on its own.
    assert one.wait() == 0 and two.wait() == 0
    assert any("Bye(reason='shutdown'" in line for line in one.out)
    assert not any("赶紧来做核酸" in line for line in two.out)
    assert not any("一会儿上门做核酸" in line for line in one.out)
    messages = [line for line in server.out if line.startswith("Message(")]
    assert any("'1111'" in m and "Client-1" in m for m in messages)
    assert any("'2222'" in m and "Client-2" in m for m in messages)


def test_callback_server(script):
    server, port = start_server(script, "server_callbacks.py")
    client = script(EXAMPLES / "client.py", "Client-1", "--port", port, "--delay", "0.1")
    client.expect("received from server: welcome, Client-1")
    client.expect("received from server: Client-1 said 1111")
    server.expect("[客户端已接入]:")
    server.expect("服务端接收到来自客户端 Client-1 的数据: 1111")
    assert server.interrupt() == 0
    assert client.wait() == 0


def test_own_loop_with_the_sans_io_hub(script):
    server, port = start_server(script, "own_loop.py")
    with tcphub.Client("127.0.0.1", int(port), name="mine") as client:
        client.send_to_host("hello")
        reply = client.receive(10)
        assert reply is not None and reply.message == "got hello"
    server.expect("Message(session_id=")
    assert server.interrupt() == 0


def test_chat_room_runs_to_completion(script):
    """The room, the bot, the log of Relayed events, the last will of a
    dropped member, and a clean bye that sends none."""
    run = script(EXAMPLES / "chat_room.py")
    assert run.wait() == 0, run.err
    out = run.out
    assert out[0].startswith("listening on 127.0.0.1:") and out[-1] == "done"
    assert "lobby has 3 members: ['timebot', 'alice', 'bob']" in out
    assert "bob read alice's message in lobby: hello room" in out
    assert "alice read bob's message in lobby: !time" in out
    answers = [line for line in out if re.fullmatch(r"(alice|bob) read timebot's message in lobby: it is \d\d:\d\d:\d\d", line)]
    assert len(answers) == 2
    assert "alice read bob's last will in lobby: bob dropped out" in out
    assert "alice says bye: client_bye" in out
    assert "rooms: {'lobby': 1}" in out  # only the bot is left
    # The log: everything said, in delivery order, the will marked; no will for alice.
    log = [line for line in out if line.startswith("log: ") and " -> " in line]
    assert [re.sub(r"\d\d:\d\d:\d\d", "T", line) for line in log] == [
        "log: alice -> room lobby: 'hello room'",
        "log: bob -> room lobby: '!time'",
        "log: timebot -> room lobby: 'it is T'",
        "log: bob -> room lobby: 'bob dropped out' (last will)",
    ]
    for line in ("log: bob disconnected (peer_closed)", "log: alice disconnected (client_bye)", "log: timebot disconnected (shutdown)"):
        assert line in out, line


def test_auth_runs_to_completion(script):
    """The callback's grants and denial, and what the sensor may not do."""
    run = script(EXAMPLES / "auth.py")
    assert run.wait() == 0, run.err
    out = run.out
    assert out[0].startswith("listening on 127.0.0.1:") and out[-1] == "done"
    assert "connected: ['alice', 'sensor-1']" in out
    assert 'a guess: unauthorized: the credential does not grant alias "alice"' in out
    assert "alice read: Received(sender='sensor-1', message={'temperature': 21.5})" in out
    assert "sensor told: ErrorReply(code='forbidden', detail='identity \"sensors\" may not send to \"*\"')" in out


NEEDS_MATCH = pytest.mark.skipif(sys.version_info < (3, 10), reason="hub_by_hand.py uses match (3.10+)")


@NEEDS_MATCH
def test_hub_by_hand(script):
    """The docs show this one in full: every kind of output, no network."""
    run = script(EXAMPLES / "hub_by_hand.py")
    assert run.wait() == 0, run.err
    out = "\n".join(run.out)
    assert "Message(session_id='10.0.0.1:50001', alias='Client-1', message='1111')" in out
    assert "close 2: peer_closed (unsent: send)" in out
    assert "close 1: shutdown (unsent: send)" in out
    # Client-2 read its replies, then its bye; Client-1 the relay and its bye.
    two = out[out.index("peer 2 read:"):]
    for needle in ('"from":"#hub","message":"大家来领物资了"', '"pong","id":7', '"reason":"peer_closed"'):
        assert needle in two, needle
    one = out[out.index("peer 1 read:"):out.index("peer 2 read:")]
    assert '"from":"Client-2","message":"hi"' in one and '"reason":"shutdown"' in one
    assert '"from":"#hub","message":"大家来领物资了"' in one


@pytest.mark.parametrize(
    "name",
    ["server.py", "client.py", "raw_client.py", "server_callbacks.py", "own_loop.py", "chat_room.py", "auth.py", "request_reply.py", pytest.param("hub_by_hand.py", marks=NEEDS_MATCH)],
)
def test_examples_explain_themselves(script, name):
    shown = script(EXAMPLES / name, "--help")
    assert shown.wait() == 0
    assert "usage:" in "\n".join(shown.out)
