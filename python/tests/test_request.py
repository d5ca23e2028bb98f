"""Request and reply: ``Client.request`` / ``request_host`` / ``reply``,
the ``Request`` event answered by a ``Server`` (a callback's return value,
or ``hub.reply``), the sans-IO ``Hub``'s request and reply, and the
request options."""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from typing import Any, Iterator, List, Optional, Tuple

import pytest

import tcphub

from conftest import wait_for


def answering(client: tcphub.Client, answer: Any = None, before: Any = None) -> threading.Thread:
    """Answers every request ``client`` receives, until its connection
    closes: with ``answer(message)``, or echoes the message. ``before(request)``
    runs first, to send something ahead of the reply."""

    def run() -> None:
        try:
            for incoming in client.messages():
                if isinstance(incoming, tcphub.ReceivedRequest):
                    if before is not None:
                        before(incoming)
                    reply = incoming.message if answer is None else answer(incoming.message)
                    client.reply(incoming, reply)
        except tcphub.ConnectionClosedError:
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def pair(server: tcphub.Server) -> Iterator[Tuple[tcphub.Client, tcphub.Client]]:
    with tcphub.Client(*server.address, name="a") as a, tcphub.Client(*server.address, name="b") as b:
        yield a, b


# ----- client to client -----


def test_a_client_asks_another_and_gets_its_reply(pair):
    a, b = pair
    answering(b, lambda m: {"answer": m["q"] * 2})
    assert a.request("b", {"q": 21}, timeout=5) == {"answer": 42}
    assert a.request("b", {"q": "ab"}) == {"answer": "abab"}  # the hub's default timeout
    assert a.receive(timeout=0.1) is None  # nothing left over for receive


def test_the_recipient_sees_who_asks_and_the_reply_to(pair):
    a, b = pair
    asking = threading.Thread(target=lambda: a.request("b", [1, "two"], timeout=5), daemon=True)
    asking.start()
    incoming = b.receive(5)
    assert isinstance(incoming, tcphub.ReceivedRequest)
    assert (incoming.sender, incoming.message) == ("a", [1, "two"])
    assert isinstance(incoming.reply_to, str) and incoming.reply_to  # opaque, such as "2.1"
    assert tcphub.ReceivedRequest.__match_args__ == ("sender", "message", "reply_to")
    assert repr(incoming) == f"ReceivedRequest(sender='a', message=[1, 'two'], reply_to='{incoming.reply_to}')"
    b.reply(incoming.reply_to, None)  # by its reply_to; a JSON null is an answer too
    asking.join(5)
    assert not asking.is_alive()


def test_unknown_alias_raises_unknown_alias_error(pair):
    a, _ = pair
    with pytest.raises(tcphub.UnknownAliasError, match='"ghost"'):
        a.request("ghost", "anyone?", timeout=5)
    assert a.receive(timeout=0.1) is None  # the error answered the request, not receive


def test_the_hubs_timeout_raises_request_timeout_and_a_late_reply_is_refused(pair):
    a, b = pair
    started = time.monotonic()
    with pytest.raises(tcphub.RequestTimeoutError) as raised:
        a.request("b", "slow", timeout=0.2)
    # The hub's answer, which names whom it asked and how long it waited,
    # not the client's own wait (0.2 + 0.02 + 0.5 s: "the hub did not
    # answer").
    assert time.monotonic() - started >= 0.2
    assert raised.value.code == "request_timeout" and '"b"' in raised.value.detail
    assert "200 ms" in raised.value.detail and "did not answer" not in raised.value.detail
    assert isinstance(raised.value, TimeoutError) and isinstance(raised.value, tcphub.RejectedError)
    late = b.receive(5)
    assert isinstance(late, tcphub.ReceivedRequest)
    b.reply(late, "too late")
    refused = b.receive(5)
    assert isinstance(refused, tcphub.ErrorReply) and refused.code == "unknown_request"
    assert isinstance(refused.exception(), tcphub.RejectedError)
    assert a.receive(timeout=0.2) is None  # the requester never sees the late reply


def test_request_errors_of_a_hand_written_request_reach_receive_with_their_exception(pair):
    a, _ = pair
    a.send_raw(b'{"type":"request","to":"b","message":1,"timeout":50,"id":7}\n')
    refused = a.receive(5)
    assert isinstance(refused, tcphub.ErrorReply)
    assert (refused.code, refused.id) == ("request_timeout", 7)
    assert isinstance(refused.exception(), tcphub.RequestTimeoutError)


@pytest.fixture
def silent_hub() -> Iterator[Tuple[str, int]]:
    """A listener that accepts and never answers: a hub that hangs."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: List[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    yield listener.getsockname()[:2]
    thread.join(5)
    for conn in accepted:
        conn.close()
    listener.close()


def test_the_clients_own_wait_raises_request_timeout_when_the_hub_never_answers(silent_hub):
    with tcphub.Client(*silent_hub, timeout=0.3) as c:
        started = time.monotonic()
        with pytest.raises(tcphub.RequestTimeoutError, match="did not answer the request to \"x\""):
            c.request("x", 1, timeout=0.1)
        assert 0.6 <= time.monotonic() - started < 3  # 0.1 s, then a little longer (0.51 s)
        started = time.monotonic()
        with pytest.raises(tcphub.RequestTimeoutError, match="the host"):
            c.request_host(1)  # no timeout of its own: the client's (0.3 s)
        assert 0.3 <= time.monotonic() - started < 3


@pytest.mark.parametrize("timeout", [0, -1, math.nan])
def test_a_request_timeout_must_be_above_zero(pair, timeout):
    a, _ = pair
    with pytest.raises(tcphub.ConfigError, match="timeout must be a number of seconds above zero"):
        a.request("b", 1, timeout=timeout)


def test_an_infinite_timeout_waits_as_long_as_the_hub_allows():
    with tcphub.Server("127.0.0.1", 0, request_timeout=0.1, max_request_timeout=0.2) as hub:
        with tcphub.Client(*hub.address, name="a") as a, tcphub.Client(*hub.address, name="b"):
            with pytest.raises(tcphub.RequestTimeoutError, match="200 ms|0.2"):
                a.request("b", 1, timeout=math.inf)


def test_concurrent_requests_from_threads_each_get_their_own_reply(pair):
    a, b = pair
    answering(b, lambda m: {"echo": m})
    results: List[Optional[str]] = [None] * 8

    def ask(n: int) -> None:
        for i in range(20):
            got = a.request("b", f"{n}-{i}", timeout=10)
            assert got == {"echo": f"{n}-{i}"}
        results[n] = "ok"

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == ["ok"] * 8


def test_frames_arriving_during_a_request_stay_for_receive(server, pair):
    a, b = pair

    def before(request: tcphub.ReceivedRequest) -> None:
        b.send("a", "sent before the reply")
        server.send("a", "from the host meanwhile")

    answering(b, lambda m: "the reply", before=before)
    with tcphub.Client(*server.address, name="c") as c:
        asked = threading.Thread(target=lambda: c.request("a", "c asks a", timeout=5), daemon=True)
        asked.start()
        wait_for(server, tcphub.Synced, lambda e: e.alias == "c")
        assert a.request("b", "q", timeout=5) == "the reply"
        got = [a.receive(5) for _ in range(3)]
        received = sorted(str(g.message) for g in got if isinstance(g, tcphub.Received))
        assert received == ["from the host meanwhile", "sent before the reply"]
        [request] = [g for g in got if isinstance(g, tcphub.ReceivedRequest)]
        assert (request.sender, request.message) == ("c", "c asks a")
        a.reply(request, "a answers")
        asked.join(5)
        assert not asked.is_alive()


def test_too_many_requests_waiting_raises_too_many_requests():
    with tcphub.Server("127.0.0.1", 0, max_pending_requests=1) as hub:
        with tcphub.Client(*hub.address, name="a") as a, tcphub.Client(*hub.address, name="b") as b:
            first = threading.Thread(target=lambda: a.request("b", 1, timeout=10), daemon=True)
            first.start()
            waiting = b.receive(5)  # the hub holds the first request now
            assert isinstance(waiting, tcphub.ReceivedRequest)
            with pytest.raises(tcphub.TooManyRequestsError) as raised:
                a.request("b", 2, timeout=5)
            assert raised.value.code == "too_many_requests"
            b.reply(waiting, "done")
            first.join(5)
            assert not first.is_alive()


def test_a_hub_without_relay_refuses_requests_to_clients_but_not_to_the_host():
    with tcphub.Server("127.0.0.1", 0, relay=False) as hub:
        hub.on(tcphub.Request, lambda request: "host answers")
        with tcphub.Client(*hub.address, name="a") as a, tcphub.Client(*hub.address, name="b"):
            with pytest.raises(tcphub.RejectedError) as raised:
                a.request("b", 1, timeout=5)
            assert raised.value.code == "relay_disabled"
            assert a.request_host("q", timeout=5) == "host answers"


def test_a_reply_to_that_the_hub_cannot_have_written_raises_at_once(server, pair):
    a, _ = pair
    for bad in ("", "x", "-1", "7/"):
        with pytest.raises(tcphub.UnknownRequestError):
            a.reply(bad, 1)
        with pytest.raises(tcphub.UnknownRequestError):
            server.reply(bad, 1)


# ----- the host answers -----


def test_the_host_answers_by_returning_from_a_request_callback():
    seen: List[tcphub.Request] = []
    with tcphub.Server("127.0.0.1", 0) as hub:

        @hub.on(tcphub.Request)
        def answer(request: tcphub.Request) -> Any:
            seen.append(request)
            return {"got": request.message, "from": request.alias}

        @hub.on(tcphub.Event)
        def everything(event: tcphub.Event) -> str:
            return "not a reply: registered for every event"

        with tcphub.Client(*hub.address, name="a") as a:
            assert a.request_host({"n": 1}, timeout=5) == {"got": {"n": 1}, "from": "a"}
            assert a.request_host("again") == {"got": "again", "from": "a"}
            assert a.receive(timeout=0.2) is None  # one reply each, nothing else
            request = seen[0]
            assert (request.alias, request.message, request.json) == ("a", {"n": 1}, '{"n":1}')
            assert request.session_id == a.session_id and isinstance(request.handle, int)
            assert tcphub.Request.__match_args__ == ("alias", "message", "reply_to", "session_id")
            assert repr(request).startswith(f"Request(session_id='{a.session_id}', alias='a', message={{'n': 1}}")


def test_a_callback_returning_none_leaves_the_answer_to_hub_reply():
    later: List[str] = []
    got = threading.Event()
    with tcphub.Server("127.0.0.1", 0) as hub:

        @hub.on(tcphub.Request)
        def defer(request: tcphub.Request) -> None:
            later.append(request.reply_to)
            got.set()

        with tcphub.Client(*hub.address, name="a") as a:
            result: List[Any] = []
            asking = threading.Thread(target=lambda: result.append(a.request_host("q", timeout=5)))
            asking.start()
            assert got.wait(5)
            hub.reply(later[0], None)  # answered from another thread, with a JSON null
            asking.join(5)
            assert result == [None]
            with pytest.raises(tcphub.UnknownRequestError):
                hub.reply(later[0], "twice")


def test_the_host_answers_with_hub_reply_from_the_event_iterator():
    with tcphub.Server("127.0.0.1", 0, request_timeout=0.3) as hub:
        with tcphub.Client(*hub.address, name="a") as a:
            result: List[Any] = []
            asking = threading.Thread(target=lambda: result.append(a.request_host([1, 2], timeout=5)))
            asking.start()
            request = wait_for(hub, tcphub.Request)
            assert (request.alias, request.message) == ("a", [1, 2])
            hub.reply(request.reply_to, sum(request.message))
            asking.join(5)
            assert result == [3]
            # Without a timeout of its own, the hub's request_timeout applies.
            with pytest.raises(tcphub.RequestTimeoutError, match="the host"):
                a.request_host("nobody answers")
            unanswered = wait_for(hub, tcphub.Request)
            with pytest.raises(tcphub.UnknownRequestError):
                hub.reply(unanswered.reply_to, "too late")


def test_a_late_callback_answer_is_logged_not_raised(caplog):
    release = threading.Event()
    with tcphub.Server("127.0.0.1", 0, request_timeout=0.1) as hub:

        @hub.on(tcphub.Request)
        def slow(request: tcphub.Request) -> str:
            release.wait(5)
            return "late"

        with tcphub.Client(*hub.address, name="a") as a:
            with pytest.raises(tcphub.RequestTimeoutError):
                a.request_host("q")
            with caplog.at_level("WARNING", logger="tcphub"):
                release.set()
                deadline = time.monotonic() + 5
                while "too late" not in caplog.text and time.monotonic() < deadline:
                    time.sleep(0.01)
            assert "too late" in caplog.text


# ----- the sans-IO hub -----


def _frames(actions: List[Any], handle: int) -> List[dict]:
    return [json.loads(x.data) for x in actions if isinstance(x, tcphub.Transmit) and x.handle == handle]


def _send(hub: tcphub.Hub, handle: int, frame: dict, now: float) -> List[Any]:
    hub.receive(handle, json.dumps(frame).encode(), now=now)
    return hub.poll()


def test_the_sansio_hub_routes_requests_and_replies():
    hub = tcphub.Hub(request_timeout=1.0)
    a = hub.accept("10.0.0.1:1", now=0.0)
    b = hub.accept("10.0.0.2:2", now=0.0)
    _send(hub, a, {"type": "sync", "clientName": "a"}, 0.0)
    _send(hub, b, {"type": "sync", "clientName": "b"}, 0.0)

    # Client to client.
    out = _send(hub, a, {"type": "request", "to": "b", "message": {"q": 1}, "id": "r1"}, 0.1)
    [asked] = _frames(out, b)
    assert (asked["type"], asked["from"], asked["message"]) == ("request", "a", {"q": 1})
    out = _send(hub, b, {"type": "reply", "replyTo": asked["replyTo"], "message": "yes"}, 0.2)
    assert _frames(out, a) == [{"type": "reply", "from": "b", "message": "yes", "id": "r1"}]

    # To the host.
    out = _send(hub, a, {"type": "request", "message": [1], "id": 2}, 0.3)
    [event] = [x for x in out if isinstance(x, tcphub.Request)]
    assert (event.alias, event.message, event.handle, event.session_id) == ("a", [1], a, "10.0.0.1:1")
    hub.reply(event.reply_to, {"sum": 1})
    assert _frames(hub.poll(), a) == [{"type": "reply", "from": "#hub", "message": {"sum": 1}, "id": 2}]
    with pytest.raises(tcphub.UnknownRequestError):
        hub.reply(event.reply_to, "again")

    # Unanswered: the hub's request_timeout (1 s) ends it on handle_timeout.
    out = _send(hub, a, {"type": "request", "message": "wait", "id": 3}, 1.0)
    [event] = [x for x in out if isinstance(x, tcphub.Request)]
    assert hub.poll_timeout() is not None and hub.poll_timeout() <= 2.0
    hub.handle_timeout(now=2.0)
    [timed_out] = _frames(hub.poll(), a)
    assert (timed_out["code"], timed_out["id"]) == ("request_timeout", 3)
    with pytest.raises(tcphub.UnknownRequestError):
        hub.reply(event.reply_to, "late")


# ----- options -----


@pytest.mark.parametrize("make", [tcphub.Hub, lambda **kw: tcphub.Server("127.0.0.1", 0, **kw)])
@pytest.mark.parametrize(
    "options, needle",
    [
        ({"request_timeout": 0}, "request_timeout must be a number of seconds above zero, got 0"),
        ({"request_timeout": -1.0}, "request_timeout must be"),
        ({"request_timeout": math.nan}, "request_timeout must be"),
        ({"request_timeout": 0.0001}, "request_timeout must be at least 1 ms"),
        ({"request_timeout": 61}, "must not be longer than max_request_timeout"),
        ({"max_request_timeout": 1}, "request_timeout 5000 ms must not be longer than max_request_timeout 1000 ms"),
        ({"max_pending_requests": 0}, "max_pending_requests must be a positive integer, got 0"),
        ({"max_pending_requests": 100_001}, "max_pending_requests must be at most 100000"),
        ({"max_pending_requests": 1.5}, "max_pending_requests must be a whole number"),
        ({"request_timeout": "5s"}, "request_timeout has the wrong type"),
        ({"max_pending_requests": "64"}, "max_pending_requests has the wrong type"),
    ],
)
def test_request_options_are_checked_by_name(make, options, needle):
    with pytest.raises(tcphub.ConfigError, match=needle.replace("(", r"\(")):
        make(**options)


def test_an_infinite_request_option_waits_practically_for_ever_as_for_the_binary():
    hub = tcphub.Hub(request_timeout=math.inf, max_request_timeout=math.inf)
    a = hub.accept("10.0.0.1:1", now=0.0)
    out = _send(hub, a, {"type": "request", "message": 1, "id": 1}, 0.0)
    [event] = [x for x in out if isinstance(x, tcphub.Request)]
    hub.handle_timeout(now=1e9)  # 30 years on, still waiting
    assert _frames(hub.poll(), a) == []
    hub.reply(event.reply_to, 2)
    assert _frames(hub.poll(), a)[0]["message"] == 2


def test_request_options_reach_the_hub():
    with tcphub.Server(
        "127.0.0.1", 0, request_timeout=0.05, max_request_timeout=0.1, max_pending_requests=2
    ) as hub:
        with tcphub.Client(*hub.address, name="a") as a:
            started = time.monotonic()
            with pytest.raises(tcphub.RequestTimeoutError):
                a.request_host(1)  # the hub's 50 ms
            with pytest.raises(tcphub.RequestTimeoutError):
                a.request_host(1, timeout=30)  # cut to 100 ms
            assert time.monotonic() - started < 2


def test_serve_request_flags_reach_the_server():
    from test_cli import Serve

    hub = Serve("--request-timeout", "50ms", "--max-pending-requests", "1", env={"TCPHUB_MAX_REQUEST_TIMEOUT": "100ms"})
    try:
        with tcphub.Client("127.0.0.1", hub.port, name="a") as a:
            started = time.monotonic()
            with pytest.raises(tcphub.RequestTimeoutError):
                a.request_host(1)
            with pytest.raises(tcphub.RequestTimeoutError, match="100 ms|0.1"):
                a.request_host(1, timeout=30)
            assert time.monotonic() - started < 2
        assert hub.stop() == 0
    finally:
        hub.close()


def test_serve_prints_a_request_to_the_host_and_its_console_answers_it():
    import re

    from test_cli import Serve

    hub = Serve("--console")
    try:
        assert hub.proc.stdin is not None
        with tcphub.Client("127.0.0.1", hub.port, name="a") as a:
            for typed, answer in (('{"a": [1, 2]}', {"a": [1, 2]}), ("half  past   nine", "half  past   nine")):
                result: List[Any] = []
                asking = threading.Thread(target=lambda: result.append(a.request_host({"q": 1}, timeout=10)))
                asking.start()
                shown = re.fullmatch(r'\[a\] \(request (\S+)\) \{"q":1\}', hub.stdout.get(timeout=10))
                assert shown is not None
                hub.proc.stdin.write(f"/reply {shown.group(1)} {typed}\n")
                hub.proc.stdin.flush()
                asking.join(10)
                assert result == [answer]  # JSON as its value, other text as text
            hub.proc.stdin.write(f"/reply {shown.group(1)} again\n")
            hub.proc.stdin.flush()
            deadline = time.monotonic() + 10
            while not any("is waiting for the host's reply" in line for line in hub.stderr):
                assert time.monotonic() < deadline, hub.stderr
                time.sleep(0.01)
        assert hub.stop() == 0
    finally:
        hub.close()
