"""The sans-IO tcphub.Hub by hand, with no network: what a driver does with
each thing the hub returns. Needs Python 3.10+ (it uses match).

Two pretend connections are fed bytes; what the hub hands out is "sent" on
pretend sockets and reported written at once, as a driver calling
sock.sendall(data) would. Prints what happened and what each peer read.
"""

import argparse
from typing import Dict, List, Set

import tcphub

argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0]).parse_args()

hub = tcphub.Hub(write_deadline=10.0)
now = 0.0  # seconds on the driver's clock
sent: Dict[int, List[bytes]] = {}  # what each peer has read from its socket
paused: Set[int] = set()  # connections the driver does not read from


def pump() -> None:
    """After every input: do what the hub says, in order."""
    while actions := hub.poll():
        for action in actions:
            match action:
                case tcphub.Transmit(handle, data):
                    sent[handle].append(data)  # sock.sendall(data)
                    hub.handle_written(handle, len(data), now=now)
                case tcphub.PauseReading(handle):
                    paused.add(handle)  # stop reading: TCP pushes back on the peer
                case tcphub.ResumeReading(handle):
                    paused.discard(handle)
                case tcphub.Close(handle, reason, farewell, unsent):
                    # Nothing waits unsent here (every send completed), so
                    # unsent ("send" or "discard") has nothing to act on.
                    sent[handle].append(farewell)  # the last frame, then close (FIN)
                    print(f"close {handle}: {reason} (unsent: {unsent})")
                case tcphub.Event() as event:
                    print(event)


one = hub.accept("10.0.0.1:50001", now=now)
two = hub.accept("10.0.0.2:50002", now=now)
sent[one], sent[two] = [], []
pump()

# Frames arrive cut anywhere and joined without delimiters.
hub.receive(one, b'{"type":"sync","clientName":"Client-1"}{"type":"in', now=now)
hub.receive(one, b'fo","message":"1111"}', now=now)
hub.receive(two, b'{"type":"sync","clientName":"Client-2"}\n', now=now)
pump()

hub.broadcast("大家来领物资了")
pump()

# Client-2 relays a message, pings, and half-closes: it is answered, then closed.
now = 1.0
hub.receive(two, b'{"type":"info","to":"Client-1","message":"hi"}{"type":"ping","id":7}', now=now)
hub.handle_eof(two, now=now)
pump()

# Time passes: nothing is due, since every byte was reported written.
now = 60.0
hub.handle_timeout(now=now)
pump()

hub.shutdown()
pump()

for handle, frames in sent.items():
    print(f"peer {handle} read:")
    for frame in frames:
        print("   ", frame.decode().rstrip())
