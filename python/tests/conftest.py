"""Shared fixtures: a server on an OS-chosen loopback port, raw sockets."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Iterator, List, Optional, Type, TypeVar

import pytest

import tcphub

E = TypeVar("E", bound=tcphub.Event)


@pytest.fixture
def server() -> Iterator[tcphub.Server]:
    with tcphub.Server("127.0.0.1", 0) as hub:
        yield hub


def wait_for(
    hub: tcphub.Server,
    kind: Type[E],
    where: Callable[[E], bool] = lambda e: True,
    timeout: float = 5.0,
    seen: Optional[List[tcphub.Event]] = None,
) -> E:
    """The first event of class ``kind`` matching ``where``; fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {kind.__name__} within {timeout} s; saw {seen}")
        event = hub.next_event(timeout=left)
        if event is None:
            continue
        if seen is not None:
            seen.append(event)
        if isinstance(event, kind) and where(event):
            return event


class RawClient:
    """A client written like the tutorial's: a plain socket, JSON objects
    written back to back with no delimiter, lines read back by hand."""

    def __init__(self, address: "tuple[str, int]") -> None:
        self.sock = socket.create_connection(address, timeout=5)
        self.buf = b""

    def write(self, obj: Any) -> None:
        self.sock.sendall(json.dumps(obj, ensure_ascii=False).encode())

    def read(self, timeout: float = 5.0) -> Optional[dict]:
        """The next frame from the hub, or None if the hub closed."""
        self.sock.settimeout(timeout)
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def read_until(self, kind: str, timeout: float = 5.0) -> dict:
        while True:
            frame = self.read(timeout)
            assert frame is not None, f"connection closed before a {kind!r} frame"
            if frame["type"] == kind:
                return frame

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw_client() -> Iterator[Callable[["tuple[str, int]"], RawClient]]:
    made: List[RawClient] = []

    def make(address: "tuple[str, int]") -> RawClient:
        client = RawClient(address)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


class Script:
    """A Python script in a subprocess; its output lines collected by threads."""

    def __init__(self, path: "str | os.PathLike[str]", *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(path), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.out: List[str] = []
        self.err: List[str] = []
        self.threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, True), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, False), daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def _pump(self, stream: Any, is_stdout: bool) -> None:
        for line in stream:
            line = line.rstrip("\n")
            (self.out if is_stdout else self.err).append(line)
            if is_stdout:
                self.lines.put(line)

    def expect(self, needle: str, timeout: float = 20.0) -> str:
        """The next stdout line containing ``needle``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(left, 0.001))
            except queue.Empty:
                raise AssertionError(
                    f"{needle!r} not printed within {timeout} s; stdout {self.out}, stderr {self.err}"
                ) from None
            if needle in line:
                return line

    def interrupt(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.wait()

    def wait(self, timeout: float = 20.0) -> int:
        code = self.proc.wait(timeout=timeout)
        for thread in self.threads:
            thread.join(timeout=timeout)
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()


@pytest.fixture
def script() -> Iterator[Callable[..., Script]]:
    started: List[Script] = []

    def start(path: "str | os.PathLike[str]", *args: str) -> Script:
        s = Script(path, *args)
        started.append(s)
        return s

    yield start
    for s in started:
        s.close()
