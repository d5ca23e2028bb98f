"""Async: one asyncio program hosts the hub and talks to it.

AsyncServer runs the hub with every command awaitable, and a callback on
the event loop answers what clients send the host. AsyncClients on the same
loop talk through it: to the host, to a room, and fifty at once. Nothing
here blocks the loop. Runs on a free port and exits on its own.
"""

import argparse
import asyncio

import tcphub

parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
args = parser.parse_args()


async def main() -> None:
    async with tcphub.AsyncServer("127.0.0.1", args.port) as hub:
        print(f"listening on {hub.host}:{hub.port}")

        @hub.on(tcphub.Message)
        async def answer(event: tcphub.Message) -> None:
            # Runs on this loop, so it may await the hub like any coroutine.
            await hub.send_to_session(event.session_id, f"the host got {event.message!r}")

        async with tcphub.AsyncClient(hub.host, hub.port, "Client-1") as one, tcphub.AsyncClient(
            hub.host, hub.port, "Client-2"
        ) as two:
            await one.send_to_host("1111")
            print("Client-1 read:", await one.receive(timeout=5))

            await one.join("lobby")
            await two.join("lobby")
            await two.send_to_room("lobby", "hello, room")
            print("Client-1 read:", await one.receive(timeout=5))

            reached = await hub.broadcast("大家来领物资了")
            print(f"the broadcast reached {reached} clients")
            for client in (one, two):
                print(f"{client.name} read:", await client.receive(timeout=5))

            # Fifty more clients, connected and synced concurrently.
            crowd = await asyncio.gather(
                *(tcphub.AsyncClient.connect(hub.host, hub.port, f"bot-{i}") for i in range(50))
            )
            print("sessions open:", len(await hub.sessions()))
            await asyncio.gather(*(bot.close() for bot in crowd))

            try:
                await one.join("")
            except tcphub.RejectedError as refused:
                print("refused:", refused.code)
            print("Client-2 says bye:", await two.bye())
    print("stopped:", hub.stopped)


asyncio.run(main())
