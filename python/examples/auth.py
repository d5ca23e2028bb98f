"""Authentication: the host program decides who may have which alias.

The server's authenticate callback looks the alias up in a table, checks
the token in constant time and grants an identity with permissions: alice
may do anything, the sensor may only relay to alice. A wrong token is
refused with UnauthorizedError; a relay the identity may not make comes back
as a forbidden error. Runs on a free port and exits on its own.
"""

import argparse
import hmac
from typing import Dict, Tuple, Union

import tcphub

parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
args = parser.parse_args()

# alias -> (token, what it grants). A real program would ask a database or
# an identity service: the callback runs on a thread pool, so a slow answer
# holds up only the client asking (an `async def` works too).
USERS: Dict[str, Tuple[str, tcphub.Grant]] = {
    "alice": ("alice-token", tcphub.Grant()),
    "sensor-1": ("sensor-token", tcphub.Grant(identity="sensors", relay=["alice"], broadcast=False, list=False)),
}


def check(session_id: str, alias: str, token: str) -> Union[bool, tcphub.Grant]:
    user = USERS.get(alias)
    if user is None or not hmac.compare_digest(user[0].encode(), token.encode()):
        return False  # the client is told `unauthorized`, with no hint why
    return user[1]


with tcphub.Server("127.0.0.1", args.port, authenticate=check, auth_timeout=5.0) as hub:
    print(f"listening on {hub.host}:{hub.port}")
    alice = tcphub.Client(hub.host, hub.port, "alice", token="alice-token")
    sensor = tcphub.Client(hub.host, hub.port, "sensor-1", token="sensor-token")
    print("connected:", [s.alias for s in alice.sessions()])

    try:
        tcphub.Client(hub.host, hub.port, "alice", token="a guess")
    except tcphub.UnauthorizedError as refused:
        print("a guess:", refused)  # and the real alice keeps her alias

    sensor.send("alice", {"temperature": 21.5})
    print("alice read:", alice.receive(timeout=10))

    sensor.broadcast("hello, everyone")  # not in the sensor's grant
    print("sensor told:", sensor.receive(timeout=10))

    alice.close()
    sensor.close()
print("done")
