"""The tutorial's server in callback style, as Node's `net` module is used.

Each event kind gets its own function; they run on a background thread
while the main thread just waits. Stop it with Ctrl-C.
"""

import argparse

import tcphub

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--port", type=int, default=9000)
args = parser.parse_args()

hub = tcphub.Server("127.0.0.1", args.port)
print(f"listening on {hub.host}:{hub.port}", flush=True)


@hub.on(tcphub.Connected)
def connected(event: tcphub.Connected) -> None:
    print("[客户端已接入]:", event.session_id, flush=True)


@hub.on(tcphub.Synced)
def synced(event: tcphub.Synced) -> None:
    print(f"{event.session_id} is now {event.alias}", flush=True)
    hub.send(event.alias, f"welcome, {event.alias}")


@hub.on(tcphub.Message)
def message(event: tcphub.Message) -> None:
    print(f"服务端接收到来自客户端 {event.alias} 的数据: {event.message}", flush=True)
    hub.broadcast(f"{event.alias} said {event.message}")


@hub.on(tcphub.Disconnected)
def disconnected(event: tcphub.Disconnected) -> None:
    print(event.alias or event.session_id, "下线了", f"({event.reason})", flush=True)


try:
    hub.wait()
except KeyboardInterrupt:
    print("stopping", flush=True)
finally:
    hub.stop()
