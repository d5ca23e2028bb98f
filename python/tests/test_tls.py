"""TLS: tcphub.Server(tls_cert=..., tls_key=...) and tcphub.Client(tls=True, ca=...).

Certificates are made at test time with the openssl command line, into a
temporary directory; no private key is committed.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import socket
import subprocess
from typing import Iterator, Tuple

import pytest

import tcphub
from conftest import wait_for

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="the openssl command makes the test certificates"
)


def make_cert(directory: pathlib.Path) -> Tuple[pathlib.Path, pathlib.Path]:
    """A self-signed certificate for localhost and 127.0.0.1, and its key."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=localhost",
            "-addext", "basicConstraints=critical,CA:FALSE",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def certs(tmp_path: pathlib.Path) -> Tuple[pathlib.Path, pathlib.Path]:
    return make_cert(tmp_path)


@pytest.fixture
def tls_server(certs: Tuple[pathlib.Path, pathlib.Path]) -> Iterator[tcphub.Server]:
    cert, key = certs
    # One as a Path, one as a str: both are file names.
    with tcphub.Server("127.0.0.1", 0, tls_cert=cert, tls_key=str(key)) as hub:
        yield hub


def test_clients_relay_through_a_tls_hub(
    tls_server: tcphub.Server, certs: Tuple[pathlib.Path, pathlib.Path]
) -> None:
    cert, _ = certs
    host, port = tls_server.address
    with tcphub.Client(host, port, "Client-1", tls=True, ca=cert) as c1, tcphub.Client(
        host, port, "Client-2", ca=str(cert)
    ) as c2:
        c1.send("Client-2", {"n": 1})
        received = c2.receive(timeout=5)
        assert isinstance(received, tcphub.Received)
        assert (received.sender, received.message) == ("Client-1", {"n": 1})
        # Larger than a TLS record: arrives whole.
        big = "z" * 50_000
        c2.send("Client-1", big)
        received = c1.receive(timeout=5)
        assert isinstance(received, tcphub.Received) and received.message == big
        c2.send_to_host("for the host")
        message = wait_for(tls_server, tcphub.Message, lambda m: m.message == "for the host")
        assert message.alias == "Client-2"
        assert tls_server.broadcast("from the host") == 2
        for client in (c1, c2):
            received = client.receive(timeout=5)
            assert isinstance(received, tcphub.Received) and received.from_host
        assert sorted(s.alias for s in c1.sessions() if s.alias) == ["Client-1", "Client-2"]
        assert len(tls_server.sessions()) == 2


def test_a_client_connects_by_host_name(
    tls_server: tcphub.Server, certs: Tuple[pathlib.Path, pathlib.Path]
) -> None:
    cert, _ = certs
    _, port = tls_server.address
    with tcphub.Client("127.0.0.1", port, "by-name", ca=cert, server_name="localhost") as c:
        assert c.ping(timeout=5) >= 0.0


def test_a_client_that_does_not_trust_the_hub_gets_tls_error(
    tls_server: tcphub.Server, tmp_path: pathlib.Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    other_cert, _ = make_cert(other)
    host, port = tls_server.address
    with pytest.raises(tcphub.TlsError, match="certificate"):
        tcphub.Client(host, port, tls=True, ca=other_cert)
    # No public CA signed the test certificate either.
    with pytest.raises(tcphub.TlsError):
        tcphub.Client(host, port, tls=True)
    assert tls_server.sessions() == []


def test_a_plain_client_is_closed_by_a_tls_hub(tls_server: tcphub.Server) -> None:
    host, port = tls_server.address
    with pytest.raises(tcphub.ConnectionClosedError):
        tcphub.Client(host, port, "plain", timeout=5)
    assert tls_server.sessions() == []


def test_a_tls_client_gets_tls_error_from_a_plain_hub(
    server: tcphub.Server, certs: Tuple[pathlib.Path, pathlib.Path]
) -> None:
    cert, _ = certs
    host, port = server.address
    with pytest.raises(tcphub.TlsError):
        tcphub.Client(host, port, tls=True, ca=cert, timeout=5)


def test_a_stalled_handshake_is_closed_at_the_deadline(
    certs: Tuple[pathlib.Path, pathlib.Path]
) -> None:
    cert, key = certs
    with tcphub.Server(
        "127.0.0.1", 0, tls_cert=cert, tls_key=key, tls_handshake_timeout=0.2
    ) as hub:
        with socket.create_connection(hub.address, timeout=10) as stalled:
            stalled.sendall(b"\x16\x03\x01")
            # The hub closes it; it never answers.
            assert stalled.recv(64) == b""
        assert hub.sessions() == []


def test_bad_tls_files_raise_config_error_naming_the_option(
    certs: Tuple[pathlib.Path, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    cert, key = certs
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    cases = [
        ({"tls_cert": tmp_path / "missing.pem", "tls_key": key}, "tls_cert"),
        ({"tls_cert": not_pem, "tls_key": key}, "tls_cert"),
        ({"tls_cert": cert, "tls_key": not_pem}, "tls_key"),
        ({"tls_cert": cert}, "tls_key"),
        ({"tls_key": key}, "tls_cert"),
    ]
    for options, named in cases:
        with pytest.raises(tcphub.ConfigError, match=named):
            tcphub.Server("127.0.0.1", 0, **options)  # type: ignore[arg-type]
    with pytest.raises(tcphub.ConfigError, match="tls_handshake_timeout"):
        tcphub.Server("127.0.0.1", 0, tls_cert=cert, tls_key=key, tls_handshake_timeout=0)
    with pytest.raises(tcphub.ConfigError, match="missing.pem"):
        tcphub.Client("127.0.0.1", 9, tls=True, ca=tmp_path / "missing.pem")


def test_the_python_example_of_docs_security_runs(
    certs: Tuple[pathlib.Path, pathlib.Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/security.md's Python block, as written but for the port, in a
    directory holding its cert.pem and key.pem."""
    doc = pathlib.Path(__file__).resolve().parents[2] / "docs" / "security.md"
    (code,) = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.chdir(certs[0].parent)
    exec(compile(code.replace("9443", str(port)), "docs/security.md", "exec"), {})
