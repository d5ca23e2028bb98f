"""How fast Python can consume tcphub events and send messages through it.

Not a test: it prints figures. Run after `pip install .`:

    python python/bench/bench_events.py [--messages 1000000]

1. events consumed: client processes write `info` frames to an embedded
   tcphub.Server as fast as they can; Python counts the events with a plain
   `for event in hub.events()` loop.
   - buffered: all frames are in the hub's event queue before the loop
     starts, so the figure is the loop's own speed;
   - live: the loop runs while clients are still writing (producers, the
     hub's threads and the loop share the machine's cores).
2. messages sent: Python calls hub.send(alias, message) in a loop; a client
   process counts what arrives.

CPU time of the Python thread is reported beside wall-clock rates: it moves
little when other programs load the machine.
3. the sans-IO tcphub.Hub: frames fed with receive(), events read with poll().
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import sys
import time

import tcphub

FRAME = b'{"type":"info","message":"x"}\n'


def produce(port: int, count: int, start: "mp.Event") -> None:
    """One client: sync, then `count` info frames in large writes."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b'{"type":"sync","clientName":"p%d"}\n' % os.getpid())
    chunk = FRAME * 8192
    start.wait()
    left = count
    while left:
        n = min(left, 8192)
        sock.sendall(chunk if n == 8192 else FRAME * n)
        left -= n
    sock.shutdown(socket.SHUT_WR)
    while sock.recv(65536):  # let the hub finish before the socket goes
        pass
    sock.close()


def receive(port: int, count: int, ready: "mp.Event", result: "mp.Queue") -> None:
    """One client that counts `count` info frames and reports the time."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b'{"type":"sync","clientName":"sink"}\n')
    got = -1  # the `synced` line is not a message
    first = None
    ready.set()
    while got < count:
        data = sock.recv(1 << 20)
        if not data:
            break
        if first is None:
            first = time.perf_counter()
        got += data.count(b"\n")
    result.put((got, time.perf_counter()))
    sock.close()


def consume_events(messages: int, connections: int, live: bool) -> "tuple[float, int, float, float]":
    per_client = messages // connections
    expected = per_client * connections
    with tcphub.Server("127.0.0.1", 0, event_queue_len=expected + 10 * connections) as hub:
        start = mp.Event()
        procs = [mp.Process(target=produce, args=(hub.port, per_client, start)) for _ in range(connections)]
        for p in procs:
            p.start()
        # Wait until every producer has connected and synced.
        while sum(1 for s in hub.sessions() if s.alias) < connections:
            time.sleep(0.01)
        t0 = time.perf_counter()
        start.set()
        if not live:
            for p in procs:
                p.join()
            while hub.sessions():  # the hub has read every byte once all closed
                time.sleep(0.01)
            t0 = time.perf_counter()
        cpu0 = time.thread_time()
        count = 0
        for event in hub.events(timeout=2.0):
            if type(event) is tcphub.Message:
                count += 1
                if count == expected:
                    break
        elapsed = time.perf_counter() - t0
        cpu = time.thread_time() - cpu0
        for p in procs:
            p.join()
        return count / elapsed, expected - count, elapsed, count / cpu


def send_messages(messages: int) -> "tuple[float, float, int, float]":
    with tcphub.Server("127.0.0.1", 0) as hub:
        ready = mp.Event()
        result: "mp.Queue" = mp.Queue()
        sink = mp.Process(target=receive, args=(hub.port, messages, ready, result))
        sink.start()
        ready.wait()
        while not any(s.alias == "sink" for s in hub.sessions()):
            time.sleep(0.01)
        t0 = time.perf_counter()
        cpu0 = time.thread_time()
        for i in range(messages):
            hub.send("sink", "message")
        sent = time.perf_counter() - t0
        cpu = time.thread_time() - cpu0
        got, done = result.get(timeout=120)
        sink.join()
        return messages / sent, got / (done - t0), got, cpu / messages


def sans_io(messages: int) -> float:
    hub = tcphub.Hub()
    handle = hub.accept("10.0.0.1:1", now=0.0)
    hub.receive(handle, b'{"type":"sync","clientName":"a"}\n', now=0.0)
    hub.poll()
    block = FRAME * 4096
    rounds = max(1, messages // 4096)
    t0 = time.perf_counter()
    count = 0
    for _ in range(rounds):
        hub.receive(handle, block, now=0.0)
        for action in hub.poll():
            count += 1
    elapsed = time.perf_counter() - t0
    assert count == rounds * 4096, count
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description="tcphub Python figures")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--sends", type=int, default=200_000)
    args = parser.parse_args()
    print(f"tcphub {tcphub.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")

    for live in (False, True):
        rate, lost, elapsed, per_cpu = consume_events(args.messages, args.connections, live=live)
        print(f"events consumed, {'live:    ' if live else 'buffered:'} {rate:,.0f} events/s "
              f"({args.messages:,} in {elapsed:.2f} s, {lost} missing; "
              f"{per_cpu:,.0f} events per CPU second of the Python thread)")

    send_rate, delivered_rate, got, cpu_each = send_messages(args.sends)
    print(f"messages sent from Python: {send_rate:,.0f} msg/s by hub.send(); "
          f"{delivered_rate:,.0f} msg/s delivered ({got:,} of {args.sends:,}; "
          f"{cpu_each * 1e6:.1f} us of Python-thread CPU per send)")

    print(f"sans-IO Hub from Python:   {sans_io(args.messages):,.0f} events/s (receive + poll)")


if __name__ == "__main__":
    main()
