"""The tutorial's client, with tcphub.Client.

Connects to the hub, syncs its name, three seconds later sends a message to
the server, and prints everything it receives until the hub closes.

    python client.py Client-1
"""

import argparse
import time

import tcphub

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("name", nargs="?", default="Client-1")
parser.add_argument("--port", type=int, default=9000)
parser.add_argument("--delay", type=float, default=3.0, help="seconds before the message")
parser.add_argument("--message", default="1111")
args = parser.parse_args()

with tcphub.Client("127.0.0.1", args.port, name=args.name) as client:
    print(f"{args.name} connected as {client.session_id}", flush=True)
    time.sleep(args.delay)
    client.send_to_host(args.message)
    print(f"{args.name} sent {args.message!r} to the server", flush=True)
    for incoming in client:  # until the hub closes the connection
        if isinstance(incoming, tcphub.Received):
            who = "server" if incoming.from_host else incoming.sender
            print(f"{args.name} received from {who}: {incoming.message}", flush=True)
        else:
            print(f"{args.name}: {incoming}", flush=True)
