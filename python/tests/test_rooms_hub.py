"""Rooms, presence, last wills, bye and observation through the sans-IO
``tcphub.Hub``: the same core rules as test_rooms.py, step by step, with no
network."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Tuple

import pytest

import tcphub


class Peers:
    """A hub and its pretend connections: what each one read, every
    Transmit reported written at once, events kept in order."""

    def __init__(self, **options: Any) -> None:
        self.hub = tcphub.Hub(**options)
        self.read: Dict[int, List[dict]] = {}
        self.events: List[tcphub.Event] = []
        self.closed: Dict[int, str] = {}
        self.order: List[Any] = []  # every output, in order

    def connect(self, alias: str, **sync: Any) -> int:
        handle = self.hub.accept(f"10.0.0.{len(self.read) + 1}:1000")
        self.read[handle] = []
        self.send(handle, {"type": "sync", "clientName": alias, **sync})
        return handle

    def send(self, handle: int, *frames: dict) -> None:
        self.hub.receive(handle, b"".join(json.dumps(f).encode() for f in frames))
        self.pump()

    def pump(self) -> List[Any]:
        actions = self.hub.poll()
        for action in actions:
            self.order.append(action)
            if isinstance(action, tcphub.Transmit):
                self.read[action.handle].append(json.loads(action.data))
                self.hub.handle_written(action.handle, len(action.data))
            elif isinstance(action, tcphub.Close):
                self.read[action.handle].append(json.loads(action.farewell))
                self.closed[action.handle] = action.reason
            elif isinstance(action, tcphub.Event):
                self.events.append(action)
        return actions

    def take(self, handle: int) -> List[dict]:
        frames, self.read[handle] = self.read[handle], []
        return frames

    def take_events(self) -> List[tcphub.Event]:
        events, self.events = self.events, []
        return events


def members(hub: tcphub.Hub, room: str) -> List[str]:
    return [s.alias or s.session_id for s in hub.room_members(room)]


def test_join_relay_leave_and_close():
    p = Peers()
    a, b, c = p.connect("A"), p.connect("B"), p.connect("C")
    p.take(c)
    p.send(a, {"type": "join", "room": "lobby", "id": 1})
    p.send(b, {"type": "join", "room": "lobby"})
    assert p.take(a)[-1] == {"type": "joined", "room": "lobby", "members": 1, "id": 1}
    assert p.take(b)[-1] == {"type": "joined", "room": "lobby", "members": 2}
    assert p.hub.rooms() == {"lobby": 2} and members(p.hub, "lobby") == ["A", "B"]
    events = [e for e in p.take_events() if isinstance(e, tcphub.Joined)]
    assert [(e.room, e.alias, e.handle) for e in events] == [("lobby", "A", a), ("lobby", "B", b)]

    # Relay: the other members, not the sender, not a non-member.
    p.send(a, {"type": "info", "room": "lobby", "message": "hi"})
    assert p.take(b) == [{"type": "info", "from": "A", "room": "lobby", "message": "hi"}]
    assert p.take(a) == [] and p.take(c) == []

    # The host's commands.
    assert p.hub.send_to_room("lobby", {"n": 1}) == 2
    p.pump()
    assert p.take(a) == p.take(b) == [{"type": "info", "from": "#hub", "room": "lobby", "message": {"n": 1}}]
    assert p.hub.join_room(c, "lobby") is True
    assert p.hub.join_room("10.0.0.3:1000", "lobby") is False  # by session id; a member already
    p.pump()
    assert p.take(c) == [{"type": "joined", "room": "lobby", "members": 3}] * 2
    assert p.hub.leave_room(c, "lobby") is True and p.hub.leave_room(c, "lobby") is False
    p.pump()
    assert p.take(c) == [{"type": "left", "room": "lobby"}]
    left = [e for e in p.take_events() if isinstance(e, tcphub.Left)]
    assert [(e.room, e.alias) for e in left] == [("lobby", "C")]

    # A client's leave; leaving again is an error frame.
    p.send(b, {"type": "leave", "room": "lobby", "id": "x"})
    p.send(b, {"type": "leave", "room": "lobby", "id": "y"})
    left, error = p.take(b)
    assert left == {"type": "left", "room": "lobby", "id": "x"}
    assert (error["code"], error["id"]) == ("not_in_room", "y")

    # A closed connection leaves every room, with no Left event.
    p.take_events()
    p.hub.connection_lost(a)
    p.pump()
    assert p.hub.rooms() == {} and p.hub.room_members("lobby") == []
    assert not any(isinstance(e, tcphub.Left) for e in p.take_events())
    p.send(b, {"type": "info", "room": "lobby", "message": "anyone?"})
    assert p.take(b)[0]["code"] == "unknown_room"
    with pytest.raises(tcphub.UnknownRoomError):
        p.hub.send_to_room("lobby", "anyone?")


def test_presence_in_order_and_never_about_oneself():
    p = Peers()
    w = p.connect("W")
    p.send(w, {"type": "join", "room": "lobby"}, {"type": "watch", "room": "lobby", "id": 1})
    assert p.take(w)[-1] == {"type": "watching", "id": 1}
    x = p.connect("X")
    p.send(x, {"type": "join", "room": "lobby"}, {"type": "leave", "room": "lobby"}, {"type": "join", "room": "lobby"})
    p.send(x, {"type": "bye"})
    y = p.connect("Y")
    p.send(y, {"type": "join", "room": "lobby"})
    p.hub.handle_eof(y)
    p.pump()
    z = p.connect("Z")
    p.send(z, {"type": "join", "room": "lobby"})
    p.hub.close_session(z)
    p.pump()
    seen = [(f["event"], f.get("alias"), f.get("room"), f.get("reason")) for f in p.take(w)]
    assert seen == [
        ("joined", "X", "lobby", None),
        ("left", "X", "lobby", None),
        ("joined", "X", "lobby", None),
        ("closed", "X", None, "client_bye"),
        ("joined", "Y", "lobby", None),
        ("closed", "Y", None, "peer_closed"),
        ("joined", "Z", "lobby", None),
        ("closed", "Z", None, "closed_by_host"),
    ]
    assert (p.closed[x], p.closed[y], p.closed[z]) == ("client_bye", "peer_closed", "closed_by_host")


def test_last_wills_go_on_a_drop_and_not_on_bye():
    p = Peers(observe=True)
    a = p.connect("A")
    p.send(a, {"type": "join", "room": "lobby"})
    will = {"room": "lobby", "message": "R is gone"}
    dropped = p.connect("R", lastWill=will)
    polite = p.connect("P", lastWill=will)
    host_closed = p.connect("H", lastWill={"to": "A", "message": "H is gone"})
    p.take(a)
    p.take_events()

    p.hub.connection_lost(dropped)
    p.pump()
    assert p.take(a) == [{"type": "info", "from": "R", "room": "lobby", "lastWill": True, "message": "R is gone"}]
    relayed = [e for e in p.take_events() if isinstance(e, tcphub.Relayed)]
    assert [(e.target, e.alias, e.last_will, e.recipients) for e in relayed] == [
        (tcphub.Room("lobby"), "R", True, 1)
    ]

    p.send(polite, {"type": "bye"})
    assert p.take(polite)[-1]["reason"] == "client_bye"
    assert p.take(a) == []

    p.hub.close_session(host_closed)
    p.pump()
    assert p.take(a) == [{"type": "info", "from": "H", "lastWill": True, "message": "H is gone"}]


def test_max_last_will_bytes_caps_a_will_at_sync():
    p = Peers(max_last_will_bytes=32)
    a = p.connect("A")
    p.take(a)
    # The message as sent: "x" * 30 with its quotes is 32 bytes.
    over = p.connect("B", lastWill={"to": "A", "message": "x" * 31}, id=1)
    (error,) = p.take(over)
    assert (error["type"], error["code"], error["id"]) == ("error", "last_will_too_large", 1)
    assert "32" in error["message"]
    # The refused sync was not carried out: B holds no alias.
    assert [s.alias for s in p.hub.sessions()] == ["A", None]
    p.send(over, {"type": "sync", "clientName": "B", "lastWill": {"to": "A", "message": "x" * 30}, "id": 2})
    assert p.take(over)[-1]["type"] == "synced"
    p.hub.connection_lost(over)
    p.pump()
    assert p.take(a) == [{"type": "info", "from": "B", "lastWill": True, "message": "x" * 30}]


def test_a_will_naming_too_many_aliases_is_a_bad_field():
    p = Peers()
    w = p.connect("W", lastWill={"to": [f"C{i}" for i in range(101)], "message": 1}, id=1)
    assert p.take(w)[-1]["code"] == "invalid_field"
    p.send(w, {"type": "sync", "clientName": "W", "lastWill": {"to": [f"C{i}" for i in range(100)], "message": 1}})
    assert p.take(w)[-1]["type"] == "synced"


def test_invalid_room_names_are_invalid_in_every_request():
    p = Peers()
    a = p.connect("A")
    for request in (
        {"type": "leave", "room": "#x"},
        {"type": "list", "room": "#x"},
        {"type": "watch", "room": "#x"},
        {"type": "unwatch", "room": "#x"},
    ):
        p.send(a, request)
        assert p.take(a)[-1]["code"] == "invalid_room", request
    for kind in ("watch", "unwatch"):
        p.send(a, {"type": kind, "aliases": []})
        assert p.take(a)[-1]["code"] == "invalid_field", kind
    with pytest.raises(tcphub.InvalidRoomError):
        p.hub.leave_room(a, "#x")
    with pytest.raises(tcphub.InvalidRoomError):
        p.hub.send_to_room("#x", "hi")


def test_observation_follows_the_deliveries():
    p = Peers(observe=True)
    a, b = p.connect("A"), p.connect("B")
    p.send(a, {"type": "join", "room": "lobby"})
    p.send(b, {"type": "join", "room": "lobby"})
    p.order.clear()
    p.send(
        a,
        {"type": "info", "to": "B", "message": 1},
        {"type": "info", "room": "lobby", "message": [2]},
        {"type": "info", "to": "*", "message": {"three": 3}},
        {"type": "info", "message": "for the host"},
    )
    kinds = [type(x).__name__ for x in p.order]
    # Each Relayed comes right after the Transmit it reports.
    assert kinds == ["Transmit", "Relayed", "Transmit", "Relayed", "Transmit", "Relayed", "Message"]
    relayed = [x for x in p.order if isinstance(x, tcphub.Relayed)]
    assert [(r.target, r.message, r.json) for r in relayed] == [
        (tcphub.Alias("B"), 1, "1"),
        (tcphub.Room("lobby"), [2], "[2]"),
        (tcphub.Everyone(), {"three": 3}, '{"three": 3}'),  # exactly as sent
    ]
    assert all(r.handle == a and r.alias == "A" and r.recipients == 1 for r in relayed)


def test_no_observation_by_default():
    p = Peers()
    a, b = p.connect("A"), p.connect("B")
    p.send(a, {"type": "info", "to": "B", "message": 1})
    assert p.take(b)[-1]["message"] == 1
    assert not any(isinstance(e, tcphub.Relayed) for e in p.events)


def test_alias_watches_and_their_cap():
    p = Peers(max_watched_aliases=2)
    w = p.connect("W")
    p.send(w, {"type": "watch", "aliases": ["A", "B", "C"], "id": 1})
    assert p.take(w)[-1]["code"] == "too_many_watches"
    p.send(w, {"type": "watch", "aliases": ["A"]})
    a = p.connect("A")
    p.connect("B")  # not watched
    p.hub.connection_lost(a)
    p.pump()
    frames = [f for f in p.take(w) if f["type"] == "presence"]
    assert [(f["event"], f["alias"]) for f in frames] == [("synced", "A"), ("closed", "A")]


def test_host_errors_are_typed():
    p = Peers(max_rooms_per_session=1)
    a = p.connect("A")
    with pytest.raises(tcphub.InvalidRoomError):
        p.hub.join_room(a, "*")
    p.hub.join_room(a, "one")
    with pytest.raises(tcphub.TooManyRoomsError):
        p.hub.join_room(a, "two")
    with pytest.raises(tcphub.UnknownSessionError):
        p.hub.join_room(99, "one")
    with pytest.raises(tcphub.UnknownSessionError):
        p.hub.leave_room("10.9.9.9:9", "one")
    with pytest.raises(tcphub.UnknownRoomError):
        p.hub.send_to_room("two", "x")
    p.send(a, {"type": "join", "room": "two", "id": 5})
    assert p.take(a)[-1]["code"] == "too_many_rooms"
    errors = [e for e in p.take_events() if isinstance(e, tcphub.ProtocolError)]
    assert [e.code for e in errors] == ["too_many_rooms"]


def test_new_codes_and_reasons_are_listed():
    for code in ("invalid_room", "too_many_rooms", "not_in_room", "unknown_room", "too_many_watches", "last_will_too_large"):
        assert code in tcphub.ERROR_CODES
    assert "client_bye" in tcphub.CLOSE_REASONS
    hub = tcphub.Hub()
    h = hub.accept("10.0.0.1:1")
    hub.close_session(h, "client_bye")  # a reason the host may give too
    (close,) = [x for x in hub.poll() if isinstance(x, tcphub.Close)]
    assert close.reason == "client_bye"
