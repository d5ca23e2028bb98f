"""What authentication through a Python callback costs, and how slow
decisions overlap.

Not a test: it prints figures. Run after `pip install .`:

    python python/bench/bench_auth.py [--clients 300] [--at-once 64]

1. connect + sync, one client after another: without authentication, with
   a plain-function callback answering True, with an `async def` one. The
   difference is the round trip through the callback.
2. `--at-once` clients syncing together while every decision takes 50 ms
   (a slow identity service): plain functions share a pool of
   tcphub._auth.AUTH_THREADS threads, async ones overlap on one loop.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Optional

import tcphub
from tcphub._auth import AUTH_THREADS

SLOW = 0.05


def allow(session_id: str, alias: str, token: str) -> bool:
    return True


async def allow_async(session_id: str, alias: str, token: str) -> bool:
    return True


def allow_slowly(session_id: str, alias: str, token: str) -> bool:
    time.sleep(SLOW)
    return True


async def allow_slowly_async(session_id: str, alias: str, token: str) -> bool:
    await asyncio.sleep(SLOW)
    return True


def connect(hub: tcphub.Server, name: str, token: Optional[str]) -> None:
    tcphub.Client(hub.host, hub.port, name, token=token, timeout=30).close()


def sequential(clients: int, **options: Any) -> float:
    """Seconds per connect + sync, one client after another."""
    token = "t" if options else None
    with tcphub.Server("127.0.0.1", 0, **options) as hub:
        start = time.perf_counter()
        for i in range(clients):
            connect(hub, f"c{i}", token)
        return (time.perf_counter() - start) / clients


def at_once(clients: int, callback: Any) -> float:
    """Seconds until `clients` syncing together all got in."""
    with tcphub.Server("127.0.0.1", 0, authenticate=callback, auth_timeout=60) as hub:
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(lambda i: connect(hub, f"c{i}", "t"), range(clients)))
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=300, help="clients connected one after another")
    parser.add_argument("--at-once", type=int, default=64, help="clients syncing together")
    args = parser.parse_args()

    cases: Dict[str, Dict[str, Any]] = {
        "no authentication": {},
        "plain-function callback": {"authenticate": allow},
        "async def callback": {"authenticate": allow_async},
    }
    for label, options in cases.items():
        print(f"connect + sync, {label}: {sequential(args.clients, **options) * 1e6:.0f} us")
    rounds = -(-args.at_once // AUTH_THREADS)
    print(
        f"{args.at_once} clients at once, {SLOW * 1000:.0f} ms decisions, plain function: "
        f"{at_once(args.at_once, allow_slowly):.2f} s ({rounds} rounds of {AUTH_THREADS} threads)"
    )
    print(
        f"{args.at_once} clients at once, {SLOW * 1000:.0f} ms decisions, async def: "
        f"{at_once(args.at_once, allow_slowly_async):.2f} s"
    )


if __name__ == "__main__":
    main()
