"""The tutorial's server, with tcphub.

Listens on 127.0.0.1:9000, prints who connects and what they say, and once
Client-1 and Client-2 are both there, sends the tutorial's notices: one to
everybody, one to each client by name. Stop it with Ctrl-C.

    python server.py            # then, in two other terminals:
    python client.py Client-1
    python client.py Client-2
"""

import argparse

import tcphub

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--port", type=int, default=9000, help="0 picks a free port")
args = parser.parse_args()

with tcphub.Server("127.0.0.1", args.port) as hub:
    print(f"listening on {hub.host}:{hub.port}", flush=True)
    # The aliases of the Synced events read so far. Not hub.sessions(): the
    # live table runs ahead of the events, so it can show both clients on
    # the first Synced, and the notices would go out twice.
    synced: set[str] = set()
    try:
        for event in hub.events():
            print(event, flush=True)
            if isinstance(event, tcphub.Synced) and event.alias not in synced:
                synced.add(event.alias)
                if {"Client-1", "Client-2"} <= synced:
                    print("通知所有人: 来领物资了", flush=True)
                    hub.broadcast("大家来领物资了")
                    hub.send("Client-1", "赶紧来做核酸了, 就差你了")
                    hub.send("Client-2", "一会儿上门做核酸")
    except KeyboardInterrupt:
        print("stopping: every client is told bye", flush=True)
