"""The tutorial's client as it was written: a plain socket, no tcphub.

It writes its JSON objects back to back with no delimiter, exactly as the
Node.js original does; the hub copes. Prints each line the hub sends back.

    python raw_client.py Client-2
"""

import argparse
import json
import socket
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("name", nargs="?", default="Client-2")
parser.add_argument("--port", type=int, default=9000)
parser.add_argument("--delay", type=float, default=3.0)
args = parser.parse_args()

sock = socket.create_connection(("127.0.0.1", args.port))
print("connect success", flush=True)
sock.sendall(json.dumps({"type": "sync", "clientName": args.name, "message": "同步基础信息"}).encode())
time.sleep(args.delay)
sock.sendall(json.dumps({"type": "info", "clientName": args.name, "message": "2222"}).encode())
with sock, sock.makefile("r", encoding="utf-8") as lines:
    for line in lines:  # the hub's frames are one JSON object per line
        print(f"{args.name} received: {line.strip()}", flush=True)
print("socket close", flush=True)
