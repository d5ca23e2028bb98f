"""Rooms, presence, last wills, a clean bye and observation, through the
embedded server with real sockets (``tcphub.Server`` and ``tcphub.Client``)."""

from __future__ import annotations

import json
import socket
import time
import typing
from typing import Any, List, Optional

import pytest

import tcphub

from conftest import wait_for

QUIET = 0.3  # seconds a client waits to be sure nothing more arrives


def received(client: tcphub.Client, timeout: float = 5.0) -> Any:
    got = client.receive(timeout)
    assert got is not None, "nothing arrived"
    return got


def nothing_more(client: tcphub.Client) -> None:
    assert client.receive(QUIET) is None


def joined(server: tcphub.Server, room: str, *clients: tcphub.Client) -> None:
    """Each client joins ``room``, and the server has seen it."""
    for client in clients:
        client.join(room)
        wait_for(server, tcphub.Joined, lambda e: e.session_id == client.session_id and e.room == room)


@pytest.fixture
def observed() -> Any:
    with tcphub.Server("127.0.0.1", 0, observe=True) as hub:
        yield hub


# ----- membership and relay -----


def test_a_room_message_reaches_exactly_the_other_members(server):
    with tcphub.Client(*server.address, "A") as a, tcphub.Client(*server.address, "B") as b, tcphub.Client(
        *server.address, "C"
    ) as c, tcphub.Client(*server.address, "D") as d:
        assert a.join("lobby") == 1
        assert b.join("lobby") == 2
        assert a.rooms == b.rooms == ["lobby"] and c.rooms == []

        a.send_to_room("lobby", {"n": 1})
        got = received(b)
        assert (got.sender, got.message, got.room, got.last_will) == ("A", {"n": 1}, "lobby", False)
        assert repr(got) == "Received(sender='A', message={'n': 1}, room='lobby')"
        nothing_more(a)  # the sender is not echoed
        nothing_more(c)

        # A sender need not be a member; every member gets it.
        d.send_to_room("lobby", "from outside")
        assert [(x.sender, x.room) for x in (received(a), received(b))] == [("D", "lobby")] * 2

        # A message to an alias or to everyone has no room.
        c.send("B", "direct")
        assert received(b).room is None

        # The host reaches the members too, from #hub.
        assert server.send_to_room("lobby", "all hands") == 2
        for member in (a, b):
            host = received(member)
            assert (host.sender, host.from_host, host.room) == ("#hub", True, "lobby")
        nothing_more(c)
        nothing_more(d)


def test_members_and_rooms_as_the_host_and_the_clients_see_them(server):
    with tcphub.Client(*server.address, "A") as a, tcphub.Client(*server.address, "B") as b:
        joined(server, "lobby", a, b)
        joined(server, "kitchen", b)
        assert server.rooms() == {"kitchen": 1, "lobby": 2}
        assert [s.alias for s in server.room_members("lobby")] == ["A", "B"]
        assert [s.alias for s in a.room_members("lobby")] == ["A", "B"]
        assert server.room_members("nowhere") == []
        assert sorted(b.rooms) == ["kitchen", "lobby"]


def test_leave_and_disconnect_end_membership(server, raw_client):
    with tcphub.Client(*server.address, "A") as a, tcphub.Client(*server.address, "B") as b:
        joined(server, "lobby", a, b)
        raw = raw_client(server.address)
        raw.write({"type": "sync", "clientName": "R"})
        raw.write({"type": "join", "room": "lobby", "id": 1})
        assert raw.read_until("joined") == {"type": "joined", "room": "lobby", "members": 3, "id": 1}
        assert server.rooms() == {"lobby": 3}

        b.leave("lobby")
        left = wait_for(server, tcphub.Left)
        assert (left.room, left.alias, left.session_id) == ("lobby", "B", b.session_id)
        assert b.rooms == []
        assert [s.alias for s in server.room_members("lobby")] == ["A", "R"]

        raw.close()  # gone without a word: out of every room, with no Left
        seen: List[tcphub.Event] = []
        wait_for(server, tcphub.Disconnected, lambda e: e.alias == "R", seen=seen)
        assert not any(isinstance(e, tcphub.Left) for e in seen)
        assert [s.alias for s in server.room_members("lobby")] == ["A"]

        a.leave("lobby")
        assert server.rooms() == {}  # a room exists while someone is in it
        with pytest.raises(tcphub.UnknownRoomError):
            server.send_to_room("lobby", "anyone?")
        # A message for the empty room comes back to the client as an error.
        b.send_to_room("lobby", "anyone?")
        error = received(b)
        assert isinstance(error, tcphub.ErrorReply) and error.code == "unknown_room"


def test_the_host_moves_sessions_between_rooms(server):
    with tcphub.Client(*server.address, "A") as a:
        assert server.join_room(a.session_id, "lobby") is True
        assert server.join_room(a.session_id, "lobby") is False  # a member already
        event = wait_for(server, tcphub.Joined)
        assert (event.room, event.alias, event.session_id) == ("lobby", "A", a.session_id)
        assert a.ping() >= 0  # any wait reads the joined frames the host caused
        assert a.rooms == ["lobby"]
        assert server.leave_room(a.session_id, "lobby") is True
        assert server.leave_room(a.session_id, "lobby") is False
        assert wait_for(server, tcphub.Left).room == "lobby"
        a.ping()
        assert a.rooms == []


# ----- presence -----


def presence(client: tcphub.Client) -> tcphub.Presence:
    got = received(client)
    assert isinstance(got, tcphub.Presence), got
    return got


def test_room_watchers_get_presence_in_order_with_reasons(server, raw_client):
    with tcphub.Client(*server.address, "W") as w:
        w.join("lobby")
        w.watch(room="lobby")
        with tcphub.Client(*server.address, "X") as x:
            x.join("lobby")
            x.sync("X2")  # a member re-syncing: its old alias released, the new one synced
            x.leave("lobby")
            x.join("lobby")
            x.bye()
        raw = raw_client(server.address)
        raw.write({"type": "sync", "clientName": "Y"})
        raw.write({"type": "join", "room": "lobby"})
        raw.read_until("joined")
        raw.close()

        seen = [(p.event, p.alias, p.room, p.reason) for p in (presence(w) for _ in range(8))]
        assert seen == [
            ("joined", "X", "lobby", None),
            ("released", "X", None, None),
            ("synced", "X2", None, None),
            ("left", "X2", "lobby", None),
            ("joined", "X2", "lobby", None),
            ("closed", "X2", None, "client_bye"),
            ("joined", "Y", "lobby", None),
            ("closed", "Y", None, "peer_closed"),
        ]
        nothing_more(w)  # never about itself

        w.unwatch(room="lobby")
        with tcphub.Client(*server.address, "Z") as z:
            z.join("lobby")
        nothing_more(w)


def test_alias_watchers_get_presence_for_held_and_unheld_aliases(server):
    with tcphub.Client(*server.address, "W") as w:
        w.watch(["late", "gone"])
        with tcphub.Client(*server.address, "gone"):
            pass
        first = presence(w)
        assert (first.event, first.alias) == ("synced", "gone")
        closed = presence(w)
        assert (closed.event, closed.alias, closed.reason) == ("closed", "gone", "peer_closed")
        assert closed.session_id == first.session_id
        assert repr(closed).startswith("Presence(event='closed', alias='gone', session_id=")

        # Takeover: the watchers of the alias are told it was taken over
        # (the old holder, closing, no longer holds it) and who holds it now.
        old = tcphub.Client(*server.address, "late")
        first = presence(w)
        new = tcphub.Client(*server.address, "late")
        taken, synced = presence(w), presence(w)
        assert (taken.event, taken.session_id) == ("taken_over", first.session_id)
        assert (synced.event, synced.session_id) == ("synced", new.session_id)
        old.close()
        new.close()
        last = presence(w)
        assert (last.event, last.session_id, last.reason) == ("closed", new.session_id, "peer_closed")

        # Watching everything includes aliases never named.
        w.unwatch()
        w.watch()
        with tcphub.Client(*server.address, "anyone"):
            pass
        assert [presence(w).event for _ in range(2)] == ["synced", "closed"]


def test_presence_names_match_the_core():
    assert typing.get_args(tcphub.PresenceChange) == tcphub.PRESENCE_CHANGES
    assert tcphub.Presence.__match_args__[:2] == ("event", "alias")


# ----- last wills and bye -----


def test_a_dropped_connection_sends_its_last_will_to_the_room(server, raw_client):
    with tcphub.Client(*server.address, "A") as a:
        a.join("lobby")
        raw = raw_client(server.address)
        raw.write({"type": "sync", "clientName": "R", "lastWill": {"room": "lobby", "message": {"bye": "R"}}})
        raw.write({"type": "join", "room": "lobby"})
        raw.read_until("joined")
        # Closed without a bye: the raw socket just goes.
        raw.sock.close()
        will = received(a)
        assert (will.sender, will.message, will.room, will.last_will) == ("R", {"bye": "R"}, "lobby", True)
        assert "last_will=True" in repr(will)


def test_a_client_that_closes_without_bye_sends_its_will_to_aliases(server):
    with tcphub.Client(*server.address, "A") as a, tcphub.Client(*server.address, "B") as b:
        will = tcphub.LastWill("gone", to=["A", "B"])
        assert (will.room, will.to) == (None, ("A", "B"))
        c = tcphub.Client(*server.address, "C", last_will=will)
        c.close()
        for peer in (a, b):
            got = received(peer)
            assert (got.sender, got.message, got.room, got.last_will) == ("C", "gone", None, True)


def test_a_clean_bye_sends_no_will(server):
    with tcphub.Client(*server.address, "A") as a:
        a.join("lobby")
        c = tcphub.Client(*server.address, "C", last_will=tcphub.LastWill("gone", room="lobby"))
        c.join("lobby")
        c.send_to_room("lobby", "see you")
        bye = c.bye()
        assert (bye.reason, type(bye)) == ("client_bye", tcphub.Bye)
        assert received(a).message == "see you"
        nothing_more(a)
        gone = wait_for(server, tcphub.Disconnected, lambda e: e.alias == "C")
        assert gone.reason == "client_bye" and "client_bye" in tcphub.CLOSE_REASONS
        with pytest.raises(tcphub.ConnectionClosedError):
            c.receive(1)


def test_each_sync_replaces_the_will(server):
    with tcphub.Client(*server.address, "A") as a:
        c = tcphub.Client(*server.address, "C", last_will=tcphub.LastWill("first", to="A"))
        c.sync("C", last_will=tcphub.LastWill("second", to="A"))
        c.close()
        assert received(a).message == "second"
        d = tcphub.Client(*server.address, "D", last_will=tcphub.LastWill("never", to="A"))
        d.sync("D")  # no will: cleared
        d.close()
        wait_for(server, tcphub.Disconnected, lambda e: e.alias == "D")
        nothing_more(a)


# ----- observation -----


def test_observation_reports_every_relayed_message_in_order(observed):
    hub = observed
    with tcphub.Client(*hub.address, "A") as a, tcphub.Client(*hub.address, "B") as b:
        a.join("lobby")
        b.join("lobby")
        a.send("B", 1)
        a.send_to_room("lobby", 2)
        assert [received(b).message for _ in range(2)] == [1, 2]  # before B speaks: one order
        b.broadcast(3)
        assert received(a).message == 3
        a.send_to_host("not relayed")
        c = tcphub.Client(*hub.address, "C", last_will=tcphub.LastWill(4, room="lobby"))
        c.close()
        assert received(a).last_will and received(b).last_will
        seen: List[tcphub.Event] = []
        wait_for(hub, tcphub.Disconnected, lambda e: e.alias == "C", seen=seen)
        relayed = [e for e in seen if isinstance(e, tcphub.Relayed)]
        assert [(e.target, e.message, e.alias, e.recipients, e.last_will) for e in relayed] == [
            (tcphub.Alias("B"), 1, "A", 1, False),
            (tcphub.Room("lobby"), 2, "A", 1, False),
            (tcphub.Everyone(), 3, "B", 1, False),
            (tcphub.Room("lobby"), 4, "C", 2, True),
        ]
        assert relayed[0].json == "1" and relayed[0].session_id == a.session_id
        assert repr(relayed[1]) == (
            f"Relayed(target=Room('lobby'), message=2, alias='A', session_id='{a.session_id}', recipients=1)"
        )
        # The will is relayed before its sender's Disconnected.
        assert seen.index(relayed[-1]) < len(seen) - 1


def test_without_observe_nothing_relayed_is_reported(server):
    with tcphub.Client(*server.address, "A") as a, tcphub.Client(*server.address, "B") as b:
        a.send("B", "x")
        received(b)
        a.send_to_host("marker")
        seen: List[tcphub.Event] = []
        wait_for(server, tcphub.Message, seen=seen)
        assert not any(isinstance(e, tcphub.Relayed) for e in seen)


def test_targets_are_values():
    assert tcphub.Room("a") == tcphub.Room("a") != tcphub.Room("b")
    assert tcphub.Room("a") != tcphub.Alias("a")
    assert tcphub.Everyone() == tcphub.Everyone()
    assert len({tcphub.Room("a"), tcphub.Room("a"), tcphub.Alias("a"), tcphub.Everyone()}) == 3
    assert [repr(t) for t in (tcphub.Alias("x"), tcphub.Room("y"), tcphub.Everyone())] == [
        "Alias('x')",
        "Room('y')",
        "Everyone()",
    ]
    assert tcphub.Relayed.__match_args__[:2] == ("target", "message")
    assert tcphub.Joined.__match_args__[0] == tcphub.Left.__match_args__[0] == "room"
    assert tcphub.Room.__match_args__ == tcphub.Alias.__match_args__ == ("name",)


# ----- bad input -----


def test_host_commands_raise_typed_errors():
    with tcphub.Server("127.0.0.1", 0, max_rooms_per_session=2) as hub:
        with tcphub.Client(*hub.address, "A") as a:
            with pytest.raises(tcphub.InvalidRoomError, match="invalid room"):
                hub.join_room(a.session_id, "#ops")
            with pytest.raises(tcphub.InvalidRoomError):
                hub.join_room(a.session_id, "")
            hub.join_room(a.session_id, "one")
            hub.join_room(a.session_id, "two")
            with pytest.raises(tcphub.TooManyRoomsError):
                hub.join_room(a.session_id, "three")
            with pytest.raises(tcphub.UnknownSessionError):
                hub.join_room("10.9.9.9:1", "one")
            with pytest.raises(tcphub.UnknownSessionError):
                hub.leave_room("10.9.9.9:1", "one")
            # A name no room could have is invalid, not merely left or empty.
            with pytest.raises(tcphub.InvalidRoomError):
                hub.leave_room(a.session_id, "#ops")
            with pytest.raises(tcphub.UnknownRoomError) as raised:
                hub.send_to_room("three", "x")
            assert isinstance(raised.value, LookupError)
            with pytest.raises(tcphub.InvalidRoomError) as invalid:
                hub.send_to_room("#ops", "x")
            assert isinstance(invalid.value, ValueError)
            with pytest.raises(tcphub.InvalidMessageError):
                hub.send_to_room("one", object())


def test_client_requests_refused_raise_rejected_error():
    with tcphub.Server("127.0.0.1", 0, max_rooms_per_session=1, max_watched_aliases=2) as hub:
        with tcphub.Client(*hub.address, "A") as a:
            for call, code in [
                (lambda: a.join("*"), "invalid_room"),
                (lambda: a.leave("lobby"), "not_in_room"),
                (lambda: a.room_members("lobby"), "not_in_room"),
                (lambda: a.watch(room="lobby"), "not_in_room"),
                (lambda: a.unwatch(room="lobby"), "not_in_room"),
                # Every request naming an impossible room says so.
                (lambda: a.leave("#no"), "invalid_room"),
                (lambda: a.room_members("#no"), "invalid_room"),
                (lambda: a.watch(room="#no"), "invalid_room"),
                (lambda: a.unwatch(room="#no"), "invalid_room"),
                (lambda: a.watch(["x", "y", "z"]), "too_many_watches"),
                (lambda: a.watch(["#no"]), "invalid_alias"),
                # An empty list watches nothing: refused, not silently done.
                (lambda: a.watch([]), "invalid_field"),
                (lambda: a.unwatch([]), "invalid_field"),
            ]:
                with pytest.raises(tcphub.RejectedError) as raised:
                    call()
                assert raised.value.code == code
            a.join("lobby")
            with pytest.raises(tcphub.RejectedError, match="too_many_rooms"):
                a.join("kitchen")
            with pytest.raises(tcphub.ConfigError):
                a.watch(["x"], room="lobby")
            # Refused requests left the client in a good state.
            assert a.rooms == ["lobby"] and a.ping() >= 0
            with pytest.raises(tcphub.RejectedError) as raised:
                a.sync("A", last_will=tcphub.LastWill("x", room="#bad"))
            assert raised.value.code == "invalid_room"
            # Over the 4 KiB default cap, though well within the frame limit.
            with pytest.raises(tcphub.RejectedError) as raised:
                a.sync("A", last_will=tcphub.LastWill("x" * 4096, to="B"))
            assert raised.value.code == "last_will_too_large"
            # More than 100 aliases is a bad field of the will, not a watch.
            with pytest.raises(tcphub.RejectedError) as raised:
                a.sync("A", last_will=tcphub.LastWill("x", to=[f"C{i}" for i in range(101)]))
            assert raised.value.code == "invalid_field"
            assert a.ping() >= 0


def test_max_last_will_bytes_caps_the_message_as_sent():
    # The cap counts the message's JSON as sent: a string's quotes too.
    with tcphub.Server("127.0.0.1", 0, max_last_will_bytes=64) as hub:
        with tcphub.Client(*hub.address, "A") as a:
            with pytest.raises(tcphub.RejectedError) as raised:
                tcphub.Client(*hub.address, "B", last_will=tcphub.LastWill("x" * 63, to="A"))
            assert raised.value.code == "last_will_too_large"
            assert "64" in str(raised.value)
            b = tcphub.Client(*hub.address, "B")
            with pytest.raises(tcphub.RejectedError) as raised:
                b.sync("B", last_will=tcphub.LastWill({"k": "x" * 57}, to="A"))  # 65 bytes
            assert raised.value.code == "last_will_too_large"
            # A refused sync changed nothing; one exactly at the cap is kept and sent.
            assert b.ping() >= 0
            b.sync("B", last_will=tcphub.LastWill("x" * 62, to="A"))
            b.close()
            got = a.receive(10)
            assert (got.sender, got.message, got.last_will) == ("B", "x" * 62, True)
            c = tcphub.Client(*hub.address, "C", last_will=tcphub.LastWill("y" * 62, to="A"))
            c.close()
            assert a.receive(10).message == "y" * 62


def test_a_small_frame_limit_still_takes_a_last_will():
    # The cap is max_last_will_bytes, not the frame limit less an allowance.
    with tcphub.Server("127.0.0.1", 0, max_frame_bytes=256) as hub:
        with tcphub.Client(*hub.address, "A") as a:
            b = tcphub.Client(*hub.address, "B", last_will=tcphub.LastWill("gone", to="A"))
            b.close()
            assert a.receive(10).message == "gone"


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"room": "a", "to": "b"}, {"to": []}, {"to": 5}],
)
def test_a_last_will_needs_one_target(kwargs):
    with pytest.raises((tcphub.ConfigError, TypeError)):
        tcphub.LastWill("x", **kwargs)


def test_a_last_will_needs_a_name_to_sync(server):
    with pytest.raises(tcphub.ConfigError, match="name"):
        tcphub.Client(*server.address, last_will=tcphub.LastWill("x", to="A"))


@pytest.mark.parametrize(
    "option, value",
    [
        ("max_rooms_per_session", 0),
        ("max_rooms_per_session", 100_001),
        ("max_rooms_per_session", 1.5),
        ("max_watched_aliases", -1),
        ("max_watched_aliases", 2**70),
        ("max_last_will_bytes", 0),
        ("max_last_will_bytes", 16 * 1024 * 1024 + 1),
        ("max_last_will_bytes", 64.0),
    ],
)
def test_room_options_are_checked_by_name(option, value):
    for make in (lambda **o: tcphub.Server("127.0.0.1", 0, **o), tcphub.Hub):
        with pytest.raises(tcphub.ConfigError, match=option):
            make(**{option: value})


def test_max_last_will_bytes_is_checked_by_name_and_value():
    for make in (lambda **o: tcphub.Server("127.0.0.1", 0, **o), tcphub.Hub):
        with pytest.raises(tcphub.ConfigError, match=r"max_last_will_bytes must be a positive integer, got 0"):
            make(max_last_will_bytes=0)
        with pytest.raises(tcphub.ConfigError, match=r"max_last_will_bytes must be at most 16777216, got 16777217"):
            make(max_last_will_bytes=16 * 1024 * 1024 + 1)
        with pytest.raises(tcphub.ConfigError, match=r"max_last_will_bytes must be a whole number, got 1.5"):
            make(max_last_will_bytes=1.5)
        for fine in (1, 16 * 1024 * 1024):
            made = make(max_last_will_bytes=fine)
            if isinstance(made, tcphub.Server):
                made.stop()
