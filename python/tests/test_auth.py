"""Authentication from Python: the host's ``authenticate`` callback on a real
server (grants, denials, slow and failing decisions, identities,
permissions, the deadline), the sans-IO ``Hub``'s ``Authenticate`` step by
step, and the options' checks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import math
import shutil
import subprocess
import threading
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

import tcphub

from conftest import wait_for

TOKENS = {"alice": "alice-secret", "bob": "bob-secret", "Client-2": "c2-secret"}


def by_table(session_id: str, alias: str, token: str) -> bool:
    return TOKENS.get(alias) == token


@pytest.fixture
def auth_server() -> Iterator[tcphub.Server]:
    with tcphub.Server("127.0.0.1", 0, authenticate=by_table) as hub:
        yield hub


def client(hub: tcphub.Server, name: Optional[str] = None, token: Optional[str] = None, **kw: Any) -> tcphub.Client:
    return tcphub.Client(hub.host, hub.port, name, token=token, **kw)


# ----- the host decides -----


def test_the_callback_grants_and_denies_with_what_the_client_sent():
    asked: List[Tuple[str, str, str]] = []

    def check(session_id: str, alias: str, token: str) -> bool:
        asked.append((session_id, alias, token))
        return by_table(session_id, alias, token)

    with tcphub.Server("127.0.0.1", 0, authenticate=check) as hub:
        with client(hub, "alice", "alice-secret") as alice:
            assert alice.name == "alice"
            assert asked == [(alice.session_id, "alice", "alice-secret")]
            wait_for(hub, tcphub.Synced, lambda e: e.alias == "alice")
            with client(hub) as intruder:
                with pytest.raises(tcphub.UnauthorizedError) as refused:
                    intruder.sync("bob", token="alice-secret")
                assert refused.value.code == "unauthorized"
                assert "alice-secret" not in str(refused.value)  # the secret is never echoed
                # The connection stays open: the right credential gets in.
                assert intruder.sync("bob", token="bob-secret") == intruder.session_id
            assert [a for _, a, _ in asked] == ["alice", "bob", "bob"]


def test_a_missing_token_is_unauthorized_and_nothing_else_is_served_before_sync(auth_server):
    with pytest.raises(tcphub.UnauthorizedError, match="token"):
        client(auth_server, "alice")
    with client(auth_server) as anonymous:
        assert anonymous.ping() >= 0  # ping is allowed before authenticating
        anonymous.send_to_host("hello?")
        reply = anonymous.receive(5)
        assert isinstance(reply, tcphub.ErrorReply) and reply.code == "unauthorized"
        assert isinstance(reply.exception(), tcphub.UnauthorizedError)
        with pytest.raises(tcphub.UnauthorizedError):
            anonymous.sessions()
    # A denial is a RejectedError too, for code that catches those.
    with pytest.raises(tcphub.RejectedError):
        client(auth_server, "alice", "wrong")


@pytest.mark.parametrize("kind", ["function", "async def"])
def test_a_slow_decision_holds_up_only_its_own_client(kind):
    release = threading.Event()
    slow_asked = threading.Event()

    def check(session_id: str, alias: str, token: str) -> bool:
        if alias == "slow":
            slow_asked.set()
            release.wait(30)
        return True

    async def acheck(session_id: str, alias: str, token: str) -> bool:
        if alias == "slow":
            slow_asked.set()
            while not release.is_set():  # a slow service, awaited: the loop decides others meanwhile
                await asyncio.sleep(0.01)
        return True

    with tcphub.Server("127.0.0.1", 0, authenticate=check if kind == "function" else acheck) as hub:
        outcome: Dict[str, Any] = {}

        def connect_slow() -> None:
            outcome["slow"] = client(hub, "slow", "any", timeout=30)

        slow = threading.Thread(target=connect_slow)
        slow.start()
        try:
            assert slow_asked.wait(10)
            # Meanwhile: others authenticate, talk, and the host hears them.
            with client(hub, "alice", "a") as alice, client(hub, "bob", "b") as bob:
                alice.send("bob", "while slow waits")
                got = bob.receive(5)
                assert isinstance(got, tcphub.Received) and got.message == "while slow waits"
                bob.send_to_host("to the host")
                event = wait_for(hub, tcphub.Message, lambda e: e.message == "to the host")
                assert event.alias == "bob"
                assert slow.is_alive() and "slow" not in outcome  # still undecided
        finally:
            release.set()
            slow.join(30)
        slow_client = outcome["slow"]
        assert slow_client.name == "slow"
        slow_client.close()


def test_an_async_callback_runs_on_a_loop_of_the_servers_own():
    async def check(session_id: str, alias: str, token: str) -> tcphub.Grant:
        await asyncio.sleep(0)
        if token != "open sesame":
            raise PermissionError("no")
        return tcphub.Grant(identity="async-" + alias)

    with tcphub.Server("127.0.0.1", 0, authenticate=check) as hub:
        with client(hub, "alice", "open sesame") as alice:
            assert alice.name == "alice"
        with pytest.raises(tcphub.UnauthorizedError):
            client(hub, "bob", "wrong")


def test_an_async_callback_registered_in_a_coroutine_runs_on_that_loop():
    loop_threads: List[int] = []

    async def check(session_id: str, alias: str, token: str) -> bool:
        loop_threads.append(threading.get_ident())
        await asyncio.sleep(0.01)
        return token == "t"

    async def main() -> str:
        loop = asyncio.get_running_loop()
        with tcphub.Server("127.0.0.1", 0, authenticate=check) as hub:
            # The blocking client runs on a thread; the loop stays free to decide.
            alice = await loop.run_in_executor(None, lambda: client(hub, "alice", "t"))
            name = alice.name
            alice.close()
        assert name is not None
        return name

    assert asyncio.run(main()) == "alice"
    assert loop_threads == [threading.main_thread().ident]


def test_an_async_callback_whose_loop_has_closed_denies_and_says_so(caplog):
    async def check(session_id: str, alias: str, token: str) -> bool:
        return True

    async def start() -> tcphub.Server:
        return tcphub.Server("127.0.0.1", 0, authenticate=check)

    hub = asyncio.run(start())  # registered on that loop, which closes here
    with hub, caplog.at_level(logging.ERROR, logger="tcphub"):
        with pytest.raises(tcphub.UnauthorizedError):
            client(hub, "alice", "t")
    assert any("could not start" in r.getMessage() for r in caplog.records), caplog.records


def test_a_failing_callback_denies_is_logged_and_the_server_lives(caplog):
    def check(session_id: str, alias: str, token: str) -> Any:
        if alias == "boom":
            raise RuntimeError("the database is down")
        if alias == "none":
            return None  # forgot to return: no decision, so no
        if alias == "truthy":
            return "yes"
        if alias == "coro":
            return asyncio.sleep(0)  # a coroutine from a plain function: never awaited
        return True

    with caplog.at_level(logging.ERROR, logger="tcphub"):
        with tcphub.Server("127.0.0.1", 0, authenticate=check) as hub:
            for alias in ("boom", "none", "truthy", "coro"):
                with pytest.raises(tcphub.UnauthorizedError):
                    client(hub, alias, "s3cret-token")
            # Failures from one address slow its later attempts down (the
            # core's spacing); a good one still gets in.
            with client(hub, "fine", "s3cret-token") as fine:
                assert fine.name == "fine"
    logged = [r for r in caplog.records if r.name == "tcphub"]
    assert len(logged) == 4, [r.getMessage() for r in logged]
    assert logged[0].exc_info is not None and "the database is down" in str(logged[0].exc_info[1])
    assert "'boom'" in logged[0].getMessage()
    assert "returned None" in logged[1].getMessage()
    assert "returned 'yes'" in logged[2].getMessage()
    assert "register an async def" in logged[3].getMessage()
    assert all("s3cret" not in r.getMessage() for r in logged)


def test_the_deadline_denies_and_a_late_answer_is_ignored():
    release = threading.Event()
    answered = threading.Event()

    def check(session_id: str, alias: str, token: str) -> bool:
        release.wait(30)
        answered.set()
        return True

    with tcphub.Server("127.0.0.1", 0, authenticate=check, auth_timeout=0.3) as hub:
        with client(hub) as late:
            with pytest.raises(tcphub.UnauthorizedError, match="within"):
                late.sync("late", token="t")
            # Not granted an alias within auth_timeout of connecting
            # either: the hub closes the connection.
            bye = late.receive(5)
            assert isinstance(bye, tcphub.Bye) and bye.reason == "auth_timeout"
            release.set()
            assert answered.wait(10)
            # The answer came after the deadline: nobody got the alias.
            assert hub.sessions() == []
            wait_for(hub, tcphub.Disconnected, lambda e: e.reason == "auth_timeout")


def test_the_decorator_registers_on_a_server_started_with_authentication():
    with tcphub.Server("127.0.0.1", 0, authentication=True) as hub:

        @hub.authenticate
        def check(session_id: str, alias: str, token: str) -> bool:
            return token == "t"

        with client(hub, "alice", "t") as alice:
            assert alice.name == "alice"
        with pytest.raises(tcphub.ConfigError, match="registered already"):
            hub.authenticate(check)


def test_questions_asked_before_the_callback_wait_for_it(raw_client):
    with tcphub.Server("127.0.0.1", 0, authentication=True) as hub:
        raw = raw_client(hub.address)
        raw.write({"type": "sync", "clientName": "early", "token": "t"})
        wait_for(hub, tcphub.Connected)
        hub.authenticate(lambda session_id, alias, token: True)
        assert raw.read_until("synced")["clientName"] == "early"


def test_authentication_cannot_be_turned_on_after_start(server):
    with pytest.raises(tcphub.ConfigError, match="authenticate=callback"):
        server.authenticate(by_table)
    with pytest.raises(tcphub.ConfigError, match="callable"):
        tcphub.Server("127.0.0.1", 0, authenticate="alice-secret")  # type: ignore[arg-type]


# ----- identities and permissions -----


def test_an_alias_passes_only_between_sessions_of_one_identity():
    def check(session_id: str, alias: str, token: str) -> tcphub.Grant:
        # The token names who you are; any alias will do.
        return tcphub.Grant(identity=token)

    with tcphub.Server("127.0.0.1", 0, authenticate=check, alias_policy="takeover") as hub:
        with client(hub, "desk", "alice") as first:
            with client(hub) as mallory:
                with pytest.raises(tcphub.RejectedError, match="another identity") as taken:
                    mallory.sync("desk", token="mallory")
                assert taken.value.code == "alias_taken"
            assert first.ping() >= 0  # not taken over
            # The same identity from a new connection takes over, as a
            # reconnecting client must be able to.
            with client(hub, "desk", "alice") as second:
                bye = first.receive(5)
                assert isinstance(bye, tcphub.Bye) and bye.reason == "taken_over"
                assert second.name == "desk"


def test_what_an_identity_may_not_do_is_forbidden_by_name():
    def check(session_id: str, alias: str, token: str) -> tcphub.Grant:
        if alias == "alice":
            return tcphub.Grant(identity="alice", relay=["Client-*"], broadcast=False, list=False)
        return tcphub.Grant()

    with tcphub.Server("127.0.0.1", 0, authenticate=check) as hub:
        with client(hub, "alice", "t") as alice, client(hub, "Client-2", "t") as two, client(hub, "ops", "t"):
            alice.send("Client-2", "allowed")
            got = two.receive(5)
            assert isinstance(got, tcphub.Received) and got.message == "allowed"

            alice.send("ops", "not allowed")
            reply = alice.receive(5)
            assert isinstance(reply, tcphub.ErrorReply) and reply.code == "forbidden"
            with pytest.raises(tcphub.ForbiddenError, match='"ops"'):
                raise reply.exception()

            alice.broadcast("everyone?")
            reply = alice.receive(5)
            assert isinstance(reply, tcphub.ErrorReply) and reply.code == "forbidden"
            assert '"*"' in reply.detail

            with pytest.raises(tcphub.ForbiddenError, match="alice"):
                alice.sessions()
            with pytest.raises(tcphub.ForbiddenError):
                alice.watch()
            alice.join("lobby")  # rooms are no listing: allowed
            with pytest.raises(tcphub.ForbiddenError):
                alice.room_members("lobby")

            # A last will is a relay sent later: checked at sync.
            will = tcphub.LastWill("gone", to="ops")
            with pytest.raises(tcphub.ForbiddenError, match='"ops"') as refused:
                alice.sync("alice", last_will=will)
            assert refused.value.code == "forbidden"
            assert two.drain() == []


def test_grant_values():
    grant = tcphub.Grant("alice", relay="Client-*", broadcast=False)
    assert (grant.identity, grant.relay, grant.broadcast, grant.list) == ("alice", ("Client-*",), False, True)
    assert grant == tcphub.Grant("alice", relay=["Client-*"], broadcast=False)
    assert repr(grant) == "Grant(identity='alice', relay=('Client-*',), broadcast=False, list=True)"
    assert tcphub.Grant().relay == ("*",)
    assert tcphub.Grant(relay=[]).relay == ()
    # (No `match` statement here: the suite runs on Python 3.9 too.)
    assert tcphub.Grant.__match_args__ == ("identity", "relay", "broadcast", "list")


# ----- checked by the hub: a file of hashed secrets, signed tokens -----


def test_an_auth_file_grants_by_secret_with_its_permissions(tmp_path):
    alice_hash, c2_hash = tcphub.hash_secret("alice's secret"), tcphub.hash_secret(b"c2 secret")
    path = tmp_path / "auth.toml"
    path.write_text(
        "[aliases.alice]\n"
        f'secret = "{alice_hash}"\n'
        'relay = ["Client-*"]\n'
        "broadcast = false\n"
        "\n"
        "[aliases.Client-2]\n"
        f'secret = "{c2_hash}"\n',
        encoding="utf-8",
    )
    with tcphub.Server("127.0.0.1", 0, auth_file=path) as hub:
        with client(hub, "alice", "alice's secret") as alice, client(hub, "Client-2", "c2 secret") as two:
            alice.send("Client-2", "hi")
            got = two.receive(5)
            assert isinstance(got, tcphub.Received) and got.message == "hi"
            alice.broadcast("everyone?")
            reply = alice.receive(5)
            assert isinstance(reply, tcphub.ErrorReply) and reply.code == "forbidden"
            with pytest.raises(tcphub.UnauthorizedError):
                client(hub, "alice", "c2 secret")  # another alias's secret
            with pytest.raises(tcphub.UnauthorizedError):
                client(hub, "nobody", "c2 secret")  # not in the file
        with pytest.raises(tcphub.ConfigError, match="auth_file="):
            hub.authenticate(by_table)


def test_an_auth_file_read_again_takes_effect_and_a_broken_one_is_refused(tmp_path):
    path = tmp_path / "auth.toml"

    def write(alias: str, secret: str) -> None:
        path.write_text(f'[aliases.{alias}]\nsecret = "{tcphub.hash_secret(secret)}"\n', encoding="utf-8")

    write("alice", "a")
    with tcphub.Server("127.0.0.1", 0, auth_file=path) as hub:
        with client(hub, "alice", "a") as alice:
            write("bob", "b")
            assert hub.reload_auth_file() == 1
            with client(hub, "bob", "b") as bob:
                assert bob.name == "bob"
            with pytest.raises(tcphub.UnauthorizedError):
                client(hub, "alice", "a")  # no longer listed
            assert alice.ping() >= 0  # who signed in keeps what was granted

            path.write_text("[aliases.bob]\nsecret = 'in clear'\n", encoding="utf-8")
            with pytest.raises(tcphub.ConfigError, match=f"auth_file {path}: .*bob"):
                hub.reload_auth_file()
            with client(hub, "bob", "b") as bob:  # the file loaded before stays
                assert bob.name == "bob"
    with tcphub.Server("127.0.0.1", 0) as plain:
        with pytest.raises(tcphub.ConfigError, match="no file to reload"):
            plain.reload_auth_file()


def test_hash_secret_makes_argon2id_lines_and_refuses_nothing_to_hash():
    line = tcphub.hash_secret("s")
    assert line.startswith("$argon2id$") and line != tcphub.hash_secret("s")  # salted
    with pytest.raises(tcphub.ConfigError, match="empty"):
        tcphub.hash_secret(b"")


@pytest.mark.parametrize(
    "text, needle",
    [
        ("", "lists no aliases"),
        ("this is not [toml", "TOML"),
        ('[aliases.alice]\nsecret = "in clear"\n', "alice"),
        ('[aliases."bad alias\\n"]\nsecret = "$argon2id$"\n', "alias"),
        ('[users.alice]\nsecret = "x"\n', "unknown key"),
    ],
)
def test_a_bad_auth_file_is_refused_naming_the_option_and_the_file(tmp_path, text, needle):
    path = tmp_path / "auth.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(tcphub.ConfigError) as refused:
        tcphub.Server("127.0.0.1", 0, auth_file=path)
    message = str(refused.value)
    assert message.startswith(f"auth_file {path}: ") and needle in message, message


def test_a_missing_auth_file_is_refused_naming_it(tmp_path):
    missing = tmp_path / "missing.toml"
    with pytest.raises(tcphub.ConfigError, match=f"auth_file {missing}"):
        tcphub.Server("127.0.0.1", 0, auth_file=missing)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(alg: str, claims: Dict[str, Any], sign: Any) -> str:
    """A JWT made here, by hand, as any backend would make one."""
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    return f"{head}.{body}.{b64url(sign(f'{head}.{body}'.encode()))}"


def hs256(secret: bytes) -> Any:
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


def test_hs256_tokens_from_a_backend_are_checked_by_the_hub(tmp_path):
    secret = b"a shared secret of at least 32 bytes"
    key = tmp_path / "jwt.key"
    key.write_bytes(secret)
    now = int(time.time())
    claims = {"sub": "alice", "exp": now + 300, "aud": "chat", "tcphub": {"broadcast": False}}
    with tcphub.Server(
        "127.0.0.1", 0, auth_jwt_key=key, auth_jwt_algorithm="hs256", auth_jwt_audience="chat"
    ) as hub:
        with client(hub, "alice", jwt("HS256", claims, hs256(secret))) as alice:
            alice.broadcast("everyone?")
            reply = alice.receive(5)
            assert isinstance(reply, tcphub.ErrorReply) and reply.code == "forbidden"
        for alias, token in [
            ("bob", jwt("HS256", claims, hs256(secret))),  # sub is alice
            ("alice", jwt("HS256", {**claims, "exp": now - 3600}, hs256(secret))),  # expired
            ("alice", jwt("HS256", claims, hs256(b"another secret, also 32 bytes long"))),
        ]:
            with pytest.raises(tcphub.UnauthorizedError):
                client(hub, alias, token)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_eddsa_tokens_signed_by_openssl_are_checked_with_the_public_key(tmp_path):
    private, public = tmp_path / "ed25519.pem", tmp_path / "ed25519.pub"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(private)], check=True)
    subprocess.run(["openssl", "pkey", "-in", str(private), "-pubout", "-out", str(public)], check=True)

    def ed25519(data: bytes) -> bytes:
        signing_input = tmp_path / "signing-input"
        signing_input.write_bytes(data)  # Ed25519 signs the whole message: from a file, not a pipe
        signed = subprocess.run(
            ["openssl", "pkeyutl", "-sign", "-inkey", str(private), "-rawin", "-in", str(signing_input)],
            capture_output=True,
            check=True,
        )
        return signed.stdout

    token = jwt("EdDSA", {"sub": "sensor", "exp": int(time.time()) + 300}, ed25519)
    with tcphub.Server("127.0.0.1", 0, auth_jwt_key=public, auth_jwt_algorithm="eddsa") as hub:
        with client(hub, "sensor", token) as sensor:
            assert sensor.name == "sensor"
        # Only the configured algorithm: an HS256 token is refused, even
        # one "signed" with the public key as its secret.
        forged = jwt("HS256", {"sub": "sensor", "exp": int(time.time()) + 300}, hs256(public.read_bytes()))
        with pytest.raises(tcphub.UnauthorizedError):
            client(hub, "sensor", forged)
    with pytest.raises(tcphub.ConfigError, match=f"auth_jwt_key {private}: "):
        tcphub.Server("127.0.0.1", 0, auth_jwt_key=private, auth_jwt_algorithm="rs256")


@pytest.mark.parametrize(
    "options, needle",
    [
        ({"auth_jwt_key": "KEY"}, "auth_jwt_key needs auth_jwt_algorithm"),
        ({"auth_jwt_key": "KEY", "auth_jwt_algorithm": "none"}, "auth_jwt_algorithm must be"),
        ({"auth_jwt_algorithm": "hs256"}, "auth_jwt_algorithm needs auth_jwt_key"),
        ({"auth_jwt_leeway": 1.0}, "auth_jwt_leeway needs auth_jwt_key"),
        ({"auth_jwt_key": "SHORT", "auth_jwt_algorithm": "hs256"}, "auth_jwt_key SHORT"),
        ({"auth_jwt_key": "KEY", "auth_jwt_algorithm": "eddsa"}, "auth_jwt_key KEY"),
        ({"auth_jwt_key": "KEY", "auth_jwt_algorithm": "hs256", "auth_jwt_leeway": -1}, "auth_jwt_leeway must be"),
        ({"auth_jwt_key": "KEY", "auth_jwt_algorithm": "hs256", "auth_jwt_leeway": math.nan}, "auth_jwt_leeway must be"),
        ({"auth_jwt_key": "KEY", "auth_jwt_algorithm": "hs256", "auth_jwt_leeway": 601}, "auth_jwt_leeway: "),
        ({"auth_jwt_key": "KEY", "auth_jwt_algorithm": "hs256", "auth_jwt_audience": ""}, "auth_jwt_audience: "),
        ({"auth_jwt_key": "KEY", "auth_jwt_algorithm": "hs256", "auth_file": "KEY"}, "one way"),
        ({"authenticate": by_table, "auth_file": "KEY"}, "one way"),
        ({"authentication": True, "auth_jwt_key": "KEY", "auth_jwt_algorithm": "hs256"}, "one way"),
    ],
)
def test_authenticator_options_that_do_not_fit_are_refused_by_name(tmp_path, options, needle):
    (tmp_path / "KEY").write_bytes(b"k" * 40)
    (tmp_path / "SHORT").write_bytes(b"short")
    paths = {"KEY": str(tmp_path / "KEY"), "SHORT": str(tmp_path / "SHORT")}
    options = {k: paths.get(v, v) if isinstance(v, str) else v for k, v in options.items()}
    needle = needle.replace("KEY", paths["KEY"]).replace("SHORT", paths["SHORT"])
    with pytest.raises(tcphub.ConfigError) as refused:
        tcphub.Server("127.0.0.1", 0, **options)
    assert needle in str(refused.value), str(refused.value)


# ----- the sans-IO Hub -----


def sync_with(hub: tcphub.Hub, handle: int, alias: str, token: Optional[str], now: float, request_id: int = 1) -> None:
    frame: Dict[str, Any] = {"type": "sync", "clientName": alias, "id": request_id}
    if token is not None:
        frame["token"] = token
    hub.receive(handle, json.dumps(frame).encode(), now=now)


def sent(actions: List[Any], handle: int) -> List[dict]:
    return [json.loads(a.data) for a in actions if isinstance(a, tcphub.Transmit) and a.handle == handle]


def test_the_sans_io_hub_asks_and_takes_the_answer():
    hub = tcphub.Hub(authentication=True, auth_timeout=5.0)
    one = hub.accept("10.0.0.1:1", now=0.0)
    hub.poll()
    sync_with(hub, one, "alice", "secret", now=0.0)
    actions = hub.poll()
    asks = [a for a in actions if isinstance(a, tcphub.Authenticate)]
    assert len(asks) == 1
    ask = asks[0]
    assert (ask.handle, ask.session_id, ask.alias, ask.token) == (one, "10.0.0.1:1", "alice", "secret")
    assert "secret" not in repr(ask)
    assert sent(actions, one) == []  # the session waits for the answer

    assert hub.handle_auth_decision(ask.id, tcphub.Grant(identity="alice", list=False), now=1.0) is True
    actions = hub.poll()
    assert sent(actions, one)[0]["type"] == "synced"
    assert [e.alias for e in actions if isinstance(e, tcphub.Synced)] == ["alice"]
    assert hub.handle_auth_decision(ask.id, False, now=1.0) is False  # answered already

    hub.receive(one, b'{"type":"list","id":2}', now=1.0)
    (error,) = sent(hub.poll(), one)
    assert (error["type"], error["code"]) == ("error", "forbidden")


def test_the_sans_io_hub_denies_times_out_and_refuses_what_is_no_decision():
    hub = tcphub.Hub(authentication=True, auth_timeout=2.0)
    one = hub.accept("10.0.0.1:1", now=0.0)
    two = hub.accept("10.0.0.2:2", now=0.0)
    three = hub.accept("10.0.0.3:3", now=0.0)
    hub.poll()

    sync_with(hub, one, "alice", None, now=0.0)  # no token: refused at once
    hub.receive(three, b'{"type":"info","message":"hi"}', now=0.0)  # nothing before sync
    actions = hub.poll()
    assert not [a for a in actions if isinstance(a, tcphub.Authenticate)]
    assert [f["code"] for f in sent(actions, one)] == ["unauthorized"]
    assert [f["code"] for f in sent(actions, three)] == ["unauthorized"]

    sync_with(hub, one, "alice", "wrong", now=0.0)
    sync_with(hub, two, "bob", "slow", now=0.0)
    asks = {a.alias: a for a in hub.poll() if isinstance(a, tcphub.Authenticate)}
    with pytest.raises(TypeError, match="True, False or a tcphub.Grant"):
        hub.handle_auth_decision(asks["alice"].id, None, now=0.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        hub.handle_auth_decision(asks["alice"].id, 1, now=0.5)  # type: ignore[arg-type]
    assert hub.handle_auth_decision(asks["alice"].id, False, now=0.5) is True
    (denied,) = sent(hub.poll(), one)
    assert (denied["code"], denied["id"]) == ("unauthorized", 1)

    # At auth_timeout: bob's question is closed unanswered, and no session
    # was granted an alias within auth_timeout of connecting, so all three
    # are closed (timers firing at once may take more than one call).
    assert hub.poll_timeout() == pytest.approx(2.0)
    actions: List[Any] = []
    for _ in range(2):  # bob's sign-in deadline is re-armed as his question closes
        hub.handle_timeout(now=2.0)
        actions += hub.poll()
    (late,) = sent(actions, two)
    assert late["code"] == "unauthorized" and "within" in late["message"]
    closed = {a.handle: a.reason for a in actions if isinstance(a, tcphub.Close)}
    assert closed == {one: "auth_timeout", two: "auth_timeout", three: "auth_timeout"}
    assert hub.handle_auth_decision(asks["bob"].id, True, now=2.5) is False
    assert hub.sessions() == []


def test_a_session_closed_for_auth_timeout_leaves_no_deadline_behind():
    """A deadline left due after its session closed would keep poll_timeout
    in the past: a driver waiting on it would spin (it did, until 6b843dd)."""
    hub = tcphub.Hub(authentication=True, auth_timeout=2.0)
    hub.accept("10.0.0.1:1", now=0.0)
    gone = hub.accept("10.0.0.2:2", now=0.0)
    hub.connection_lost(gone, now=1.0)  # closed with its sign-in deadline armed
    hub.handle_timeout(now=2.0)
    assert [a.reason for a in hub.poll() if isinstance(a, tcphub.Close)] == ["auth_timeout"]
    assert hub.poll_timeout() is None


# ----- options -----


@pytest.mark.parametrize("value", [0, -1, 0.0009, math.nan, math.inf, 3600.5, 1e300, 2**70])
def test_a_bad_auth_timeout_is_refused_by_name(value):
    for make in (
        lambda: tcphub.Hub(authentication=True, auth_timeout=value),
        lambda: tcphub.Server("127.0.0.1", 0, authentication=True, auth_timeout=value),
    ):
        with pytest.raises(tcphub.ConfigError, match="auth_timeout must be 0.001 to 3600 seconds, got "):
            make()
    for edge in (0.001, 3600):
        tcphub.Hub(authentication=True, auth_timeout=edge)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"identity": ""}, "empty"),
        ({"identity": "x" * 257}, "256"),
        ({"identity": "a\nb"}, "control"),
        ({"relay": [""]}, "empty"),
        ({"relay": ["ok", "bad\x00"]}, "control"),
        ({"relay": ["Client-*"] * 257}, "256"),
    ],
)
def test_a_bad_grant_is_refused_by_name(kwargs, needle):
    with pytest.raises(tcphub.ConfigError, match=needle):
        tcphub.Grant(**kwargs)
