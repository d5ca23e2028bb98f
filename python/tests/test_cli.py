"""``python -m tcphub serve``: the binary's options, the same server."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

import tcphub


class Serve:
    """``python -m tcphub serve`` in a subprocess, its output read by threads."""

    def __init__(self, *args: str, env: Optional[Dict[str, str]] = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tcphub", "serve", "--listen", "127.0.0.1:0", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env={**os.environ, **(env or {})},
        )
        self.stdout: "queue.Queue[str]" = queue.Queue()
        self.stderr: List[str] = []
        self.threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout.put), daemon=True)
        ]
        ready: "queue.Queue[str]" = queue.Queue()

        def err(line: str) -> None:
            self.stderr.append(line)
            ready.put(line)

        self.threads.append(threading.Thread(target=self._pump, args=(self.proc.stderr, err), daemon=True))
        for thread in self.threads:
            thread.start()
        while True:
            line = ready.get(timeout=20)
            found = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if found:
                self.port = int(found.group(1))
                return

    @staticmethod
    def _pump(stream, put) -> None:
        for line in stream:
            put(line.rstrip("\n"))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=20)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=20)
        for thread in self.threads:
            thread.join(timeout=20)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()


@pytest.fixture
def serve() -> Iterator:
    started: List[Serve] = []

    def start(*args: str, env: Optional[Dict[str, str]] = None) -> Serve:
        s = Serve(*args, env=env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.close()


def test_serve_prints_host_messages_and_stops_cleanly_on_sigint(serve):
    hub = serve()
    with tcphub.Client("127.0.0.1", hub.port, name="Client-1") as client:
        client.send_to_host("1111")
        client.send_to_host({"k": [1, 2]})
        # A string that reads as JSON is quoted, as the binary shows it.
        assert hub.stdout.get(timeout=10) == '[Client-1] "1111"'
        assert hub.stdout.get(timeout=10) == '[Client-1] {"k":[1,2]}'
        assert hub.stop() == 0
        bye = client.receive(5)
        assert isinstance(bye, tcphub.Bye) and bye.reason == "shutdown"
    logs = "\n".join(hub.stderr)
    assert "synced" in logs and "Client-1" in logs


def test_serve_sigterm_stops_it_too(serve):
    hub = serve()
    hub.proc.send_signal(signal.SIGTERM)
    assert hub.proc.wait(timeout=20) == 0


def test_serve_options_reach_the_server(serve):
    hub = serve("--alias-policy", "reject", "--max-frame-bytes", "1KiB")
    with tcphub.Client("127.0.0.1", hub.port, name="dup"):
        with pytest.raises(tcphub.RejectedError, match="alias_taken"):
            tcphub.Client("127.0.0.1", hub.port, name="dup")
        with tcphub.Client("127.0.0.1", hub.port) as big:
            big.send_to_host("x" * 2000)
            reply = big.receive(5)
            assert isinstance(reply, tcphub.ErrorReply) and reply.code == "frame_too_large"
    assert hub.stop() == 0


def test_serve_options_from_the_environment(serve):
    hub = serve(env={"TCPHUB_RELAY": "off"})
    with tcphub.Client("127.0.0.1", hub.port, name="a") as a, tcphub.Client("127.0.0.1", hub.port, name="b"):
        a.send("b", "hi")
        reply = a.receive(5)
        assert isinstance(reply, tcphub.ErrorReply) and reply.code == "relay_disabled"
    assert hub.stop() == 0


def test_serve_console_commands(serve):
    hub = serve("--console")
    with tcphub.Client("127.0.0.1", hub.port, name="c1") as c1:
        hub.proc.stdin.write("@c1 just you\n* everyone\nplain text\n/list\n@ghost boo\n")
        hub.proc.stdin.flush()
        assert [c1.receive(5).message for _ in range(3)] == ["just you", "everyone", "plain text"]
        assert hub.stdout.get(timeout=10) == f"{c1.session_id}\tc1"
        deadline = time.monotonic() + 10
        while not any('no session holds alias "ghost"' in line for line in hub.stderr):
            assert time.monotonic() < deadline, hub.stderr
            time.sleep(0.02)
    assert hub.stop() == 0


def test_serve_console_refuses_unknown_commands_rather_than_broadcasting_them(serve):
    hub = serve("--console")
    with tcphub.Client("127.0.0.1", hub.port, name="c1") as c1:
        hub.proc.stdin.write("/stats\n//stats is a word\n")
        hub.proc.stdin.flush()
        # The only thing broadcast is the `//` line, as `/stats ...`.
        assert c1.receive(5).message == "/stats is a word"
        deadline = time.monotonic() + 10
        while not any("unknown command `/stats`; the commands are `/list [ROOM]`" in line for line in hub.stderr):
            assert time.monotonic() < deadline, hub.stderr
            time.sleep(0.02)
        assert c1.receive(0.2) is None
    assert hub.stop() == 0


def test_serve_console_gives_a_known_commands_usage_when_its_arguments_are_wrong(serve):
    hub = serve("--console")
    with tcphub.Client("127.0.0.1", hub.port, name="c1") as c1:
        hub.proc.stdin.write("/reply 2.1\n/close\n")
        hub.proc.stdin.flush()
        deadline = time.monotonic() + 10
        wanted = ["usage: `/reply REPLYTO MESSAGE`", "usage: `/close SESSION_ID`"]
        while not all(any(w in line for line in hub.stderr) for w in wanted):
            assert time.monotonic() < deadline, hub.stderr
            time.sleep(0.02)
        assert not any("unknown command" in line for line in hub.stderr), hub.stderr
        assert c1.receive(0.2) is None
    assert hub.stop() == 0


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--alias-policy", "steal"], "invalid choice: 'steal'"),
        (["--max-frame-bytes", "3 parsecs"], "unknown size unit"),
        (["--idle-timeout", "soon"], "not a duration"),
        (["--relay", "maybe"], "not on or off"),
        (["--listen", "nowhere"], "not an address"),
    ],
)
def test_serve_bad_options_exit_2_with_the_reason(args, needle):
    done = subprocess.run(
        [sys.executable, "-m", "tcphub", "serve", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert needle in done.stderr


def test_serve_address_in_use_exits_1(serve):
    hub = serve()
    done = subprocess.run(
        [sys.executable, "-m", "tcphub", "serve", "--listen", f"127.0.0.1:{hub.port}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert "already in use" in done.stderr
    assert hub.stop() == 0


def test_serve_help_lists_every_binary_option():
    done = subprocess.run(
        [sys.executable, "-m", "tcphub", "serve", "--help"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0
    ours = set(re.findall(r"--[a-z][a-z-]+", done.stdout))
    binary = _tcphub_binary()
    if binary is not None:
        theirs = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True, timeout=30)
        assert set(re.findall(r"--[a-z][a-z-]+", theirs.stdout)) - {"--version"} <= ours
    for flag in (
        "--listen",
        "--alias-policy",
        "--max-frame-bytes",
        "--max-sessions",
        "--idle-timeout",
        "--relay",
        "--max-queued-bytes",
        "--write-deadline",
        "--frame-timeout",
        "--max-list-rows",
        "--shutdown-grace",
        "--console",
        "--log-format",
    ):
        assert flag in done.stdout


def _binary_options(help_text: str) -> Dict[str, Dict[str, str]]:
    """Each long option of `tcphub serve --help` with its `env` and `default`."""
    options: Dict[str, Dict[str, str]] = {}
    current: Optional[Dict[str, str]] = None
    for line in help_text.splitlines():
        flag = re.match(r"\s*(?:-\w, )?(--[a-z][a-z-]+)", line)
        if flag:
            current = options.setdefault(flag.group(1), {})
            continue
        for key in ("env", "default"):
            found = re.search(rf"\[{key}: ([^\]=]*)=?\]", line)
            if found and current is not None:
                current[key] = found.group(1)
    return options


def test_serve_defaults_and_environment_match_the_binary():
    binary = _tcphub_binary()
    if binary is None:
        pytest.skip("no tcphub binary built in this checkout")
    theirs = _binary_options(
        subprocess.run([binary, "serve", "--help"], capture_output=True, text=True, timeout=30).stdout
    )
    from tcphub.__main__ import build_parser

    serve = build_parser()._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr]
    ours = {flag: action for action in serve._actions for flag in action.option_strings}
    saved = {k: v for k, v in os.environ.items() if k.startswith("TCPHUB_")}
    assert not saved, f"run without TCPHUB_* set: {saved}"
    for flag, facts in theirs.items():
        if flag in ("--help", "--version"):
            continue
        action = ours[flag]
        if "default" in facts:
            assert str(action.default) == facts["default"], flag
        if "env" in facts:
            assert f"[env: {facts['env']}]" in (action.help or ""), flag


def test_serve_flow_control_and_limit_flags_reach_the_server(serve):
    hub = serve("--write-deadline", "off", "--frame-timeout", "300ms", "--max-list-rows", "1")
    with socket.create_connection(("127.0.0.1", hub.port), timeout=10) as raw:
        raw.sendall(b'{"type":"list"}{"type":"pi')
        lines = raw.makefile("rb").read().splitlines()  # until the hub closes it
    frames = [json.loads(line) for line in lines]
    assert frames[0]["type"] == "sessions" and len(frames[0]["sessions"]) == 1
    assert (frames[1]["type"], frames[1]["code"]) == ("error", "frame_timeout")
    assert hub.stop() == 0


@pytest.mark.parametrize("args, env", [(["--max-last-will-bytes", "1KiB"], None), ([], {"TCPHUB_MAX_LAST_WILL_BYTES": "1k"})])
def test_serve_max_last_will_bytes_reaches_the_server(serve, args, env):
    hub = serve(*args, env=env)
    with tcphub.Client("127.0.0.1", hub.port, name="a") as a:
        with pytest.raises(tcphub.RejectedError) as raised:
            a.sync("a", last_will=tcphub.LastWill("x" * 1023, to="b"))
        assert raised.value.code == "last_will_too_large"
        a.sync("a", last_will=tcphub.LastWill("x" * 1022, to="b"))  # 1024 bytes with its quotes
    assert hub.stop() == 0


def test_serve_refuses_a_last_will_cap_out_of_range():
    for size in ("0", "17MiB"):
        done = subprocess.run(
            [sys.executable, "-m", "tcphub", "serve", "--listen", "127.0.0.1:0", "--max-last-will-bytes", size],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 1, done.stderr
        assert "max_last_will_bytes" in done.stderr


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--write-deadline", "soon"], "not a duration"),
        (["--frame-timeout", "5 fortnights"], "unknown duration unit"),
        (["--max-list-rows", "1e3"], "not a count"),
        (["--max-list-rows", "-4"], "is negative"),
    ],
)
def test_serve_new_flags_refuse_what_the_binary_refuses(args, needle):
    done = subprocess.run(
        [sys.executable, "-m", "tcphub", "serve", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert needle in done.stderr


@pytest.mark.parametrize("text", ["off", "none", "never", "0", "0s", "0ms"])
def test_zero_and_off_turn_a_timeout_off_as_for_the_binary(text):
    from tcphub._units import parse_optional_duration

    assert parse_optional_duration(text) is None


def _tcphub_binary() -> Optional[str]:
    """The `tcphub` binary, if one was built in this checkout."""
    root = Path(__file__).resolve().parents[2]
    for build in ("release", "debug"):
        candidate = root / "target" / build / "tcphub"
        if candidate.exists():
            return str(candidate)
    return None


def test_serve_observe_prints_relays_joins_and_wills(serve):
    hub = serve("--observe", "--max-rooms-per-session", "1")
    with tcphub.Client("127.0.0.1", hub.port, name="a") as a, tcphub.Client("127.0.0.1", hub.port, name="b") as b:
        a.join("lobby")
        assert hub.stdout.get(timeout=10) == "a joined #lobby"
        with pytest.raises(tcphub.RejectedError, match="too_many_rooms"):
            a.join("kitchen")
        b.send("a", "psst")
        b.send_to_room("lobby", {"n": 1})
        b.broadcast("all")
        assert [a.receive(5).message for _ in range(3)] == ["psst", {"n": 1}, "all"]  # then c: one order
        c = tcphub.Client("127.0.0.1", hub.port, name="c", last_will=tcphub.LastWill("gone", to="a"))
        c.close()
        assert [hub.stdout.get(timeout=10) for _ in range(4)] == [
            "[b -> a] psst",
            '[b -> #lobby] {"n":1}',
            "[b -> *] all",
            "[c -> a] (last will) gone",
        ]
        a.leave("lobby")
        assert hub.stdout.get(timeout=10) == "a left #lobby"
    assert hub.stop() == 0


def test_serve_console_room_commands(serve):
    hub = serve("--console")
    with tcphub.Client("127.0.0.1", hub.port, name="m") as m:
        hub.proc.stdin.write(f"/join {m.session_id} lobby\n")
        hub.proc.stdin.flush()
        assert hub.stdout.get(timeout=10) == "m joined #lobby"
        hub.proc.stdin.write("#lobby to the room\n/rooms\n/list lobby\n")
        hub.proc.stdin.write(f"/leave {m.session_id} lobby\n")
        hub.proc.stdin.flush()
        got = m.receive(5)
        assert (got.message, got.room) == ("to the room", "lobby")
        assert [hub.stdout.get(timeout=10) for _ in range(3)] == ["#lobby\t1", f"{m.session_id}\tm", "m left #lobby"]
    assert hub.stop() == 0


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test certificate")
def test_serve_tls_flags_reach_the_server(serve, tmp_path):
    from test_tls import make_cert

    cert, key = make_cert(tmp_path)
    hub = serve("--tls-cert", str(cert), "--tls-handshake-timeout", "5s", env={"TCPHUB_TLS_KEY": str(key)})
    with tcphub.Client("127.0.0.1", hub.port, "Client-1", ca=cert) as client:
        assert client.ping(timeout=10) >= 0.0
    assert hub.stop() == 0


@pytest.mark.parametrize(
    "args, needle",
    [(["--tls-cert", "cert.pem"], "--tls-cert needs --tls-key"), (["--tls-key", "key.pem"], "--tls-key needs --tls-cert")],
)
def test_serve_half_a_tls_configuration_exits_2(args, needle):
    done = subprocess.run(
        [sys.executable, "-m", "tcphub", "serve", *args], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert needle in done.stderr


def test_serve_an_unreadable_tls_file_exits_1_naming_it(tmp_path):
    missing = tmp_path / "missing.pem"
    done = subprocess.run(
        [sys.executable, "-m", "tcphub", "serve", "--listen", "127.0.0.1:0",
         "--tls-cert", str(missing), "--tls-key", str(missing)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert "tls_cert" in done.stderr and str(missing) in done.stderr
    assert "listening" not in done.stderr


def test_serve_rate_limit_flags_reach_the_server(serve):
    hub = serve("--rate-limit-messages", "1", "--rate-limit-message-burst", "1")
    with socket.create_connection(("127.0.0.1", hub.port), timeout=10) as raw:
        raw.sendall(b'{"type":"ping","id":1}{"type":"ping","id":2}')
        reader = raw.makefile("rb")
        assert json.loads(reader.readline())["type"] == "pong"
        refused = json.loads(reader.readline())
        assert (refused["code"], refused["id"]) == ("rate_limited", 2)
    assert hub.stop() == 0


def test_serve_auth_file_flag_reaches_the_server(serve, tmp_path):
    path = tmp_path / "auth.toml"
    path.write_text(f'[aliases.alice]\nsecret = "{tcphub.hash_secret("open sesame")}"\n', encoding="utf-8")
    hub = serve("--auth", str(path), "--auth-timeout", "5s")
    with tcphub.Client("127.0.0.1", hub.port, "alice", token="open sesame") as alice:
        assert alice.name == "alice"
    with pytest.raises(tcphub.UnauthorizedError):
        tcphub.Client("127.0.0.1", hub.port, "alice", token="guess")
    assert hub.stop() == 0


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--auth", "a.toml", "--auth-jwt-key", "k", "--auth-jwt-algorithm", "hs256"], "give one"),
        (["--auth-jwt-key", "k"], "--auth-jwt-key needs --auth-jwt-algorithm"),
        (["--auth-jwt-algorithm", "hs256"], "--auth-jwt-algorithm needs --auth-jwt-key"),
        (["--auth-jwt-audience", "chat"], "--auth-jwt-audience needs --auth-jwt-key"),
        (["--auth-timeout", "soon"], "not a duration"),
    ],
)
def test_serve_auth_flags_that_do_not_go_together_exit_2(args, needle):
    done = subprocess.run(
        [sys.executable, "-m", "tcphub", "serve", *args], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert needle in done.stderr


def test_serve_an_unusable_auth_file_exits_1_naming_it(tmp_path):
    path = tmp_path / "auth.toml"
    path.write_text('[aliases.alice]\nsecret = "in clear"\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "tcphub", "serve", "--listen", "127.0.0.1:0", "--auth", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert f"auth_file {path}" in done.stderr and "alice" in done.stderr
    assert "listening" not in done.stderr


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_serve_reads_the_auth_file_again_on_sighup(serve, tmp_path):
    path = tmp_path / "auth.toml"
    path.write_text(f'[aliases.alice]\nsecret = "{tcphub.hash_secret("a")}"\n', encoding="utf-8")
    hub = serve("--auth", str(path))

    def hang_up_and_read(needle: str) -> None:
        seen = len(hub.stderr)
        hub.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while not any(needle in line for line in hub.stderr[seen:]):
            assert time.monotonic() < deadline and hub.proc.poll() is None, hub.stderr
            time.sleep(0.02)  # polling the output the pump thread collects

    path.write_text(f'[aliases.bob]\nsecret = "{tcphub.hash_secret("b")}"\n', encoding="utf-8")
    hang_up_and_read("auth file reloaded: 1 aliases")
    with tcphub.Client("127.0.0.1", hub.port, "bob", token="b") as bob:
        assert bob.name == "bob"
    path.write_text("not toml [", encoding="utf-8")
    hang_up_and_read("auth file not reloaded, the previous one stays")
    with tcphub.Client("127.0.0.1", hub.port, "bob", token="b") as bob:
        assert bob.name == "bob"
    assert hub.stop() == 0


@pytest.mark.parametrize(
    "args, env, needle",
    [
        (["--auth-timeout", "5s"], {}, "--auth-timeout needs --auth or --auth-jwt-key"),
        ([], {"TCPHUB_AUTH_TIMEOUT": "5s"}, "--auth-timeout needs --auth or --auth-jwt-key"),
        (["--auth-jwt-leeway", "1s"], {}, "--auth-jwt-leeway needs --auth-jwt-key"),
        (["--auth", "a.toml", "--auth-jwt-leeway", "1s"], {}, "--auth-jwt-leeway needs --auth-jwt-key"),
    ],
)
def test_serve_auth_settings_without_authentication_exit_2(args, env, needle):
    done = subprocess.run(
        [sys.executable, "-m", "tcphub", "serve", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **env},
    )
    assert done.returncode == 2
    assert needle in done.stderr


def test_serve_warns_when_listening_beyond_loopback_without_authentication():
    run = subprocess.Popen(
        [sys.executable, "-m", "tcphub", "serve", "--listen", "0.0.0.0:0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert run.stderr is not None
    lines: List[str] = []
    try:
        # The warning comes before the ready line, so the ready line means
        # it was written if it ever will be.
        for line in run.stderr:
            lines.append(line)
            if "listening on" in line:
                break
    finally:
        run.send_signal(signal.SIGINT)
        run.wait(timeout=20)
        run.stderr.close()
    assert any("warning: listening beyond loopback without authentication" in line for line in lines), lines


def test_messages_are_shown_as_the_binary_shows_them():
    from tcphub.__main__ import message_text

    # The cases of native/src/cli/display.rs's test, same answers.
    assert message_text("hello there") == "hello there"
    assert message_text("*bold*") == "*bold*"
    assert message_text(None) == "null"
    assert message_text("null") == '"null"'
    assert message_text(42) == "42"
    assert message_text("42") == '"42"'
    assert message_text(" true ") == '" true "'
    assert message_text("{}") == '"{}"'
    assert message_text('"quoted"') == '"\\"quoted\\""'
    assert message_text("") == '""'
    assert message_text("two\nlines") == '"two\\nlines"'
    assert message_text({"a": [1]}) == '{"a":[1]}'
    assert message_text("NaN") == "NaN", "not JSON for the binary either"
