"""A chat room, start to finish: a server that observes, a bot, two members.

The server (observe=True) logs everything said through its Relayed events.
A bot in the room answers `!time`. Alice and Bob join; Bob leaves a last
will with the hub, then his connection drops without a bye, and the hub
tells the room. Alice leaves cleanly with bye (no will for her). Runs on a
free port and exits on its own.
"""

import argparse
import threading
import time
from typing import Union

import tcphub

parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
args = parser.parse_args()

ROOM = "lobby"
printing = threading.Lock()  # callbacks print from their own thread


def say(line: str) -> None:
    with printing:
        print(line, flush=True)


def where(target: Union[tcphub.Alias, tcphub.Room, tcphub.Everyone]) -> str:
    if isinstance(target, tcphub.Room):
        return f"room {target.name}"
    if isinstance(target, tcphub.Alias):
        return target.name
    return "everyone"


hub = tcphub.Server("127.0.0.1", args.port, observe=True)
say(f"listening on {hub.host}:{hub.port}")


@hub.on(tcphub.Relayed)
def log(event: tcphub.Relayed) -> None:
    """Everything said, in the order it was delivered."""
    will = " (last will)" if event.last_will else ""
    say(f"log: {event.alias} -> {where(event.target)}: {event.message!r}{will}")


@hub.on(tcphub.Joined)
def joined(event: tcphub.Joined) -> None:
    say(f"log: {event.alias} joined {event.room}")


@hub.on(tcphub.Disconnected)
def gone(event: tcphub.Disconnected) -> None:
    say(f"log: {event.alias} disconnected ({event.reason})")


def run_bot(bot: tcphub.Client) -> None:
    """Answers `!time` in the room until the hub says bye."""
    for incoming in bot:
        if isinstance(incoming, tcphub.Received) and incoming.room == ROOM and incoming.message == "!time":
            bot.send_to_room(ROOM, "it is " + time.strftime("%H:%M:%S"))


def read(client: tcphub.Client) -> tcphub.Received:
    incoming = client.receive(timeout=10)
    assert isinstance(incoming, tcphub.Received), incoming
    what = "last will" if incoming.last_will else "message"
    say(f"{client.name} read {incoming.sender}'s {what} in {incoming.room}: {incoming.message}")
    return incoming


with hub:
    bot = tcphub.Client(hub.host, hub.port, "timebot")
    bot.join(ROOM)
    bot_thread = threading.Thread(target=run_bot, args=(bot,))
    bot_thread.start()

    alice = tcphub.Client(hub.host, hub.port, "alice")
    alice.join(ROOM)
    # Bob's will: sent to the room if his connection ends without a bye.
    bob = tcphub.Client(hub.host, hub.port, "bob", last_will=tcphub.LastWill("bob dropped out", room=ROOM))
    members = bob.join(ROOM)
    say(f"{ROOM} has {members} members: {[s.alias for s in bob.room_members(ROOM)]}")

    alice.send_to_room(ROOM, "hello room")
    read(bob)
    bob.send_to_room(ROOM, "!time")
    read(alice)  # bob's question
    read(alice)  # the bot's answer
    read(bob)  # the bot's answer, to bob too

    bob.close()  # the connection drops: no bye, so the hub sends his will
    read(alice)

    say(f"alice says bye: {alice.bye().reason}")
    say(f"rooms: {hub.rooms()}")

# The with block stopped the hub: the bot was told bye and its loop ended.
bot_thread.join()
say("done")
