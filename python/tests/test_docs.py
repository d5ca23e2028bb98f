"""Every program docs/python.md shows runs as written.

Each ```python block in the page is marked by the HTML comment before it:
``<!-- example: python/examples/NAME.py -->`` when it is that file whole
(test_examples.py runs the files), or ``<!-- run: TEST NAME -->`` when the
test file TEST runs it, finding it by NAME (``python/tests/test_docs.py
tutorial-server``: a test here). test_doc_inventory.py holds every block
of every page, this one included, to that convention (a block with
neither fails, an example must be its file byte for byte); this file runs
the snippets marked as its own.
"""

from __future__ import annotations

import ast
import inspect
import re
import socket
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

import tcphub

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "python.md"
STUB = Path(tcphub.__file__).with_name("_tcphub.pyi")
FENCE = re.compile(r"(?:<!-- (example|run): (?:(\S+) )?(\S+) -->\n)?```python\n(.*?)```", re.S)
HERE = "python/tests/test_docs.py"
SNIPPETS = {"tutorial-server", "tutorial-client"}


def blocks() -> List[Tuple[str, str, str, str]]:
    """(kind, test, name, code) of each block: for an example, name is its file."""
    return FENCE.findall(DOC.read_text(encoding="utf-8"))


def snippet(name: str) -> str:
    (code,) = [code for kind, test, n, code in blocks() if kind == "run" and test == HERE and n == name]
    return code


def test_the_snippets_the_page_says_run_here_are_the_ones_that_do():
    """The inventory checks that this file names each block it is said to
    run; this checks the other way: every snippet run here is on the page."""
    mine = {name for kind, test, name, _ in blocks() if kind == "run" and test == HERE}
    assert mine == SNIPPETS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def on_port(code: str, port: int) -> str:
    """The snippet as shown, on a free port rather than 9000 (other programs
    on this machine may hold 9000)."""
    assert code.count("9000") == 1
    return code.replace("9000", str(port))


def test_the_tutorial_snippets_run(script, tmp_path):
    port = free_port()
    server_py = tmp_path / "server.py"
    server_py.write_text(on_port(snippet("tutorial-server"), port), encoding="utf-8")
    client_py = tmp_path / "client.py"
    client_py.write_text(on_port(snippet("tutorial-client"), port), encoding="utf-8")

    server = script(server_py)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, server.err
            time.sleep(0.05)
    with tcphub.Client("127.0.0.1", port, name="Client-1") as one:
        two = script(client_py)
        two.expect("Received(sender='#hub', message='大家来领物资了')")
        assert [one.receive(10).message for _ in range(2)] == ["大家来领物资了", "赶紧来做核酸了"]
        server.expect("Message(session_id=")
        server.interrupt()  # Ctrl-C: the `with` block stops the hub, which says bye
        assert two.wait() == 0
        assert any("Bye(reason='shutdown'" in line for line in two.out)


def doc_defaults() -> Dict[str, object]:
    """The Server options table: option -> default, read as Python."""
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("### `tcphub.Server("):text.index("- `port=0` picks")]
    rows = re.findall(r"^\| `(\w+)` \| `([^`]+)`", table, re.M)
    return {name: ast.literal_eval(value) for name, value in rows}


def stub_defaults(cls: str) -> Dict[str, object]:
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    (node,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls]
    (init,) = [n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
    args = init.args
    out = {a.arg: ast.literal_eval(d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None}
    return out


def test_option_defaults_agree_everywhere():
    """The page, tcphub.Server, the native Server's and Hub's stubs, and
    tcphub.Hub's signature give every option the same default."""
    documented = doc_defaults()
    server = {
        name: p.default
        for name, p in inspect.signature(tcphub.Server).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    assert documented == server
    # The callback stays with the Python wrapper: the native server hands
    # it questions instead.
    python_only = ("authenticate",)
    assert stub_defaults("Server") == {k: v for k, v in server.items() if k not in python_only}
    hub = {name: p.default for name, p in inspect.signature(tcphub.Hub).parameters.items()}
    # What only a server has: a shutdown, a host's event queue, a cluster
    # over Redis, TLS on its listener (the sans-IO Hub does no IO) and a
    # callback deciding credentials (the Hub's driver answers Authenticate),
    # a metrics listener (the Hub's counters are read with stats()).
    server_only = (
        "shutdown_grace", "event_queue_len", "cluster", "node_id", "cluster_lease", "cluster_name",
        "tls_cert", "tls_key", "tls_handshake_timeout", "authenticate", "auth_file", "auth_jwt_key",
        "auth_jwt_algorithm", "auth_jwt_audience", "auth_jwt_issuer", "auth_jwt_leeway", "metrics",
    )
    assert hub == {k: v for k, v in server.items() if k not in server_only}
    assert stub_defaults("Hub") == hub
    assert server["max_queued_bytes"] == 67108864


def test_the_default_options_are_the_cores():
    """What the defaults do: a Hub built with them all spelled out behaves as one built with none."""
    hub = tcphub.Hub(**{name: p.default for name, p in inspect.signature(tcphub.Hub).parameters.items()})
    bare = tcphub.Hub()
    for h in (hub, bare):
        handle = h.accept("10.0.0.1:1", now=0.0)
        h.receive(handle, b'{"type":"ping"}{"type":"pi', now=0.0)
        h.poll()
    assert hub.poll_timeout() == bare.poll_timeout() == pytest.approx(2.5)  # a quarter of the write deadline


README = ROOT / "README.md"


def test_the_readme_shows_the_tutorial_server_snippet_as_the_page_does():
    readme = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert snippet("tutorial-server") in readme


@pytest.mark.parametrize("order", [("Client-1", "Client-2"), ("Client-2", "Client-1")])
def test_the_tutorial_server_snippet_sends_each_message_once_whoever_syncs_first(
    order, raw_client, monkeypatch
):
    """The worst case for the snippet: both clients have synced before it
    reads its first event, so the live session table already shows both on
    the first ``Synced``. Each client must still get each notice once."""
    import threading

    real_server = tcphub.Server
    started: List[tcphub.Server] = []
    made, ready, done = threading.Event(), threading.Event(), threading.Event()

    class HeldBack(real_server):  # type: ignore[misc, valid-type]
        """The real server, whose events the snippet reads only once the
        test has synced both clients, and which ends when the test is done."""

        def events(self, timeout=None):
            started.append(self)
            made.set()
            assert ready.wait(10)
            while not done.is_set():
                event = self.next_event(timeout=0.05)
                if event is not None:
                    yield event

    monkeypatch.setattr(tcphub, "Server", HeldBack)
    code = snippet("tutorial-server").replace("9000", "0")
    failure: List[BaseException] = []

    def run() -> None:
        try:
            exec(compile(code, "tutorial-server", "exec"), {"__name__": "snippet"})
        except BaseException as e:  # reported by the test thread
            failure.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert made.wait(10), failure
    (server,) = started
    clients = {}
    for alias in order:
        clients[alias] = raw_client(server.address)
        clients[alias].write({"type": "sync", "clientName": alias})
        clients[alias].read_until("synced")
    ready.set()
    try:
        for alias, client in clients.items():
            got = [client.read_until("info")["message"] for _ in range(2)]
            # Whatever else was queued for it comes before the pong.
            client.write({"type": "ping"})
            while (frame := client.read()) is not None and frame["type"] != "pong":
                got.append(frame.get("message"))
            assert len(got) == 2, (alias, got)
            assert got[0] == "大家来领物资了"
    finally:
        done.set()
        thread.join(10)
    assert not failure, failure


def test_the_request_reply_example_prints_what_the_page_says(script):
    """python/examples/request_reply.py (shown whole in the page, as the
    block check above holds) runs to its end and prints the lines the page
    says it prints."""
    text = DOC.read_text(encoding="utf-8")
    after = text[text.index("<!-- example: python/examples/request_reply.py -->"):]
    shown = re.search(r"It prints:\n\n```text\n(.*?)```", after, re.S)
    assert shown is not None
    run = script(ROOT / "python" / "examples" / "request_reply.py")
    assert run.wait() == 0, run.err
    assert run.out[0].startswith("listening on 127.0.0.1:") and run.out[-1] == "done"
    assert run.out[1:-1] == shown.group(1).splitlines()
