"""Request and reply: ask a client or the host a question and wait for the answer.

The host answers requests sent to it by returning the answer from a
callback; a client named "calc" answers the ones sent to it from a thread
of its own. Asking an alias nobody holds raises UnknownAliasError, and a
request nobody answers in time raises RequestTimeoutError. Runs on a free
port and exits on its own.
"""

import argparse
import threading
from typing import Any

import tcphub

parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
args = parser.parse_args()


def answer_calc(calc: tcphub.Client) -> None:
    """Answers every request calc is sent, until its connection closes."""
    try:
        for incoming in calc.messages():
            if isinstance(incoming, tcphub.ReceivedRequest):
                numbers = incoming.message
                calc.reply(incoming, {"sum": sum(numbers)})
    except tcphub.ConnectionClosedError:
        pass


with tcphub.Server("127.0.0.1", args.port, request_timeout=2.0) as hub:
    print(f"listening on {hub.host}:{hub.port}")

    @hub.on(tcphub.Request)
    def answer(request: tcphub.Request) -> Any:
        # What the callback returns is the reply; None would send nothing,
        # leaving the answer to hub.reply(request.reply_to, ...) later.
        if request.message == "who is online?":
            return sorted(s.alias for s in hub.sessions() if s.alias is not None)
        return None  # not a question this host answers: it times out

    calc = tcphub.Client(hub.host, hub.port, "calc")
    threading.Thread(target=answer_calc, args=(calc,), daemon=True).start()

    with tcphub.Client(hub.host, hub.port, "alice") as alice:
        print("calc says:", alice.request("calc", [1, 2, 3], timeout=5))
        print("the host says:", alice.request_host("who is online?"))
        try:
            alice.request("nobody", "hello?")
        except tcphub.UnknownAliasError as e:
            print("nobody:", e)
        try:
            alice.request_host("what is the meaning of life?", timeout=0.5)
        except tcphub.RequestTimeoutError as e:
            print("no answer:", e.code)
    calc.close()
print("done")
