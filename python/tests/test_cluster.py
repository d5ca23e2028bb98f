"""Two embedded servers acting as one hub over a redis-server of the
test's own (``cluster=``); skipped where redis-server is not installed
(tests/suites/native.sh installs it)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from typing import Iterator

import pytest

import tcphub

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server is not installed"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_url() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(7) == b"+PONG\r\n":
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "redis-server never answered PING"
            time.sleep(0.01)
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


def test_two_servers_act_as_one_hub(redis_url: str) -> None:
    with tcphub.Server("127.0.0.1", 0, cluster=redis_url, node_id="py-a") as a, tcphub.Server(
        "127.0.0.1", 0, cluster=redis_url, node_id="py-b"
    ) as b:
        with tcphub.Client("127.0.0.1", a.port, name="Client-1") as one, tcphub.Client(
            "127.0.0.1", b.port, name="Client-2"
        ) as two:
            assert one.session_id.startswith("py-a/")
            assert two.session_id.startswith("py-b/")
            # The host of b sends to Client-1 on a once b's replica knows
            # it (a moment after the sync, through the directory stream).
            deadline = time.monotonic() + 20
            while True:
                try:
                    b.send("Client-1", "hello from b")
                    break
                except tcphub.UnknownAliasError:
                    assert time.monotonic() < deadline, "b never learned of Client-1"
                    time.sleep(0.02)
            message = one.receive(timeout=20)
            assert isinstance(message, tcphub.Received) and message.message == "hello from b"
            a.broadcast("to everyone")
            for client in (one, two):
                got = client.receive(timeout=20)
                assert isinstance(got, tcphub.Received) and got.message == "to everyone"
            # Each server lists the whole cluster, each row naming its node.
            expected = sorted(
                [
                    tcphub.Session(one.session_id, "Client-1", "py-a"),
                    tcphub.Session(two.session_id, "Client-2", "py-b"),
                ],
                key=lambda row: row.session_id,
            )
            for server in (a, b):
                deadline = time.monotonic() + 20
                while sorted(server.sessions(), key=lambda row: row.session_id) != expected:
                    assert time.monotonic() < deadline, f"{server.sessions()} is not {expected}"
                    time.sleep(0.02)
            row = next(s for s in a.sessions() if s.node == "py-b")
            assert repr(row) == f"Session(session_id={two.session_id!r}, alias='Client-2', node='py-b')"


def test_redis_down_at_start_is_a_cluster_error_naming_the_url() -> None:
    url = f"redis://127.0.0.1:{free_port()}"
    with pytest.raises(tcphub.ClusterError) as caught:
        tcphub.Server("127.0.0.1", 0, cluster=url)
    assert url in str(caught.value)
    assert isinstance(caught.value, ConnectionError)


def test_cluster_options_are_checked() -> None:
    with pytest.raises(tcphub.ConfigError, match="node id"):
        tcphub.Server("127.0.0.1", 0, cluster="redis://127.0.0.1:1", node_id="a/b")
    with pytest.raises(tcphub.ConfigError, match="cluster"):
        tcphub.Server("127.0.0.1", 0, node_id="n1")
    with pytest.raises(tcphub.ConfigError, match="lease"):
        tcphub.Server("127.0.0.1", 0, cluster="redis://127.0.0.1:1", cluster_lease=0.01)
    with pytest.raises(tcphub.ConfigError, match="cluster.name"):
        tcphub.Server("127.0.0.1", 0, cluster="redis://127.0.0.1:1", cluster_name="a:b")


def test_the_cli_joins_a_cluster_or_exits_1_naming_the_url() -> None:
    url = f"redis://127.0.0.1:{free_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "tcphub", "serve", "--listen", "127.0.0.1:0", "--cluster", url],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert url in done.stderr
