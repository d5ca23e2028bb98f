"""The native executor of each asyncio event loop.

Each loop gets one ``_tcphub.Completions``: the native futures behind
awaited commands are queued there when woken, with a byte written to a
socket this loop watches, and the loop polls them and sets the results of
those done in one go (see python/src/aio.rs for why). The native side
finds it here, by the running loop.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Tuple

from . import _tcphub
from ._errors import Error

__all__ = ["completions"]

# Weak: a loop that is gone takes its Completions (and its sockets) along.
_PER_LOOP: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _tcphub.Completions]" = weakref.WeakKeyDictionary()


def completions() -> Tuple[asyncio.AbstractEventLoop, _tcphub.Completions]:
    """The running loop and its Completions, made and watched on first use.
    ``RuntimeError`` when no loop runs (a command called outside a
    coroutine), :class:`tcphub.Error` for a loop that cannot watch a socket
    (Windows' ProactorEventLoop)."""
    loop = asyncio.get_running_loop()
    found = _PER_LOOP.get(loop)
    if found is None:
        found = _tcphub.Completions()
        try:
            loop.add_reader(found.fileno(), found.drain)
        except NotImplementedError:
            raise Error(
                f"{type(loop).__name__} cannot watch a socket (loop.add_reader), which tcphub's "
                "async API needs: use a selector event loop (asyncio.SelectorEventLoop) or uvloop"
            ) from None
        _PER_LOOP[loop] = found
    return loop, found
