"""Bring your own IO: the sans-IO tcphub.Hub driven by asyncio streams.

The hub never touches a socket: this script feeds it what arrives and does
what it says. The same core runs inside tcphub.Server. Stop with Ctrl-C.
"""

import argparse
import asyncio
from typing import Dict

import tcphub

hub = tcphub.Hub(alias_policy="takeover")
writers: Dict[int, asyncio.StreamWriter] = {}


def pump() -> None:
    """After every input, do everything the hub asks, in order (replies
    queued on the way are done on the next round)."""
    while actions := hub.poll():
        for action in actions:
            if isinstance(action, tcphub.Transmit):
                if action.handle in writers:
                    writers[action.handle].write(action.data)
            elif isinstance(action, tcphub.Close):
                writer = writers.pop(action.handle, None)
                if writer is not None:
                    writer.close()
            else:
                print(action, flush=True)
                if isinstance(action, tcphub.Message):
                    hub.send_to_session(action.handle, f"got {action.message}")


async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    host, port = writer.get_extra_info("peername")[:2]
    handle = hub.accept(f"{host}:{port}")
    writers[handle] = writer
    pump()
    try:
        while data := await reader.read(65536):
            if handle not in writers:
                break  # the hub closed this session
            hub.receive(handle, data)
            pump()
    except ConnectionError:
        pass
    finally:
        if writers.pop(handle, None) is not None:
            hub.connection_lost(handle)
            pump()
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(connection, "127.0.0.1", port)
    print(f"listening on 127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--port", type=int, default=9000)
try:
    asyncio.run(main(parser.parse_args().port))
except KeyboardInterrupt:
    print("stopped", flush=True)
