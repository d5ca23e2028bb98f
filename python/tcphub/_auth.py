"""Host-decided authentication: the program's callback answers each
credential a client sends with ``sync``.

The native server puts every question in a queue and waits for its answer
(at most ``auth_timeout``, after which the client is told ``unauthorized``
and the answer is ignored). Here one thread fetches the questions and
hands each to the callback so that a slow decision holds up only the
client asking:

- a plain function runs on a pool of :data:`AUTH_THREADS` threads;
- an ``async def`` runs as a task on the asyncio event loop that was
  running where it was registered (``Server(...)`` or
  ``@hub.authenticate`` inside a coroutine), else on an event loop of the
  server's own, on a thread of its own.

A decision is ``True``, ``False`` or a :class:`tcphub.Grant`. An exception,
or anything else returned, denies and is logged on the ``tcphub`` logger;
the server carries on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import threading
from typing import Any, Awaitable, Callable, List, Optional, Union

from . import _tcphub
from ._errors import ConfigError

__all__ = ["AuthCallback", "Decision", "HostAuth", "AUTH_THREADS"]

logger = logging.getLogger("tcphub")

#: What a callback answers.
Decision = Union[bool, _tcphub.Grant]
#: ``callback(session_id, alias, token)``: a function or an ``async def``.
AuthCallback = Callable[[str, str, str], Union[Decision, Awaitable[Decision]]]

#: Plain-function decisions running at once; more wait for a free thread,
#: within their ``auth_timeout``.
AUTH_THREADS = 16
#: Longest wait of one fetch, so the fetching thread sees a stop quickly.
_POLL = 0.25


def _is_async(callback: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(
        getattr(callback, "__call__", None)
    )


class HostAuth:
    """Fetches a server's authentication questions and has them decided."""

    def __init__(self, native: _tcphub.Server) -> None:
        self._native = native
        self._lock = threading.Lock()
        self._callback: Optional[AuthCallback] = None
        self._is_async = False
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        # The loop of our own (and its thread) when no loop was running at
        # registration; stopped with the server.
        self._own_loop: Optional[asyncio.AbstractEventLoop] = None
        self._own_loop_thread: Optional[threading.Thread] = None
        # Questions asked before a callback was registered.
        self._waiting: List[_tcphub.AuthQuestion] = []
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=AUTH_THREADS, thread_name_prefix="tcphub-auth"
        )
        self._fetcher = threading.Thread(target=self._fetch, name="tcphub-auth-questions", daemon=True)
        self._fetcher.start()

    @property
    def registered(self) -> bool:
        return self._callback is not None

    def register(self, callback: AuthCallback) -> None:
        if not callable(callback):
            raise TypeError(f"authenticate takes a callable, got {callback!r}")
        is_async = _is_async(callback)
        with self._lock:
            if self._callback is not None:
                raise ConfigError(
                    f"an authenticate callback is registered already ({self._callback!r}); a server has one"
                )
            if is_async:
                self._loop = self._running_loop_or_own()
            self._is_async = is_async
            self._callback = callback
            waiting, self._waiting = self._waiting, []
        for question in waiting:
            self._submit(question)

    def _running_loop_or_own(self) -> asyncio.AbstractEventLoop:
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            pass
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="tcphub-auth-loop", daemon=True)
        thread.start()
        self._own_loop, self._own_loop_thread = loop, thread
        return loop

    # ----- the questions -----

    def _fetch(self) -> None:
        while True:
            batch = self._native.next_auth_questions(_POLL)
            if batch is None:
                return
            with self._lock:
                if self._callback is None:
                    # Kept until a callback comes; those whose deadline
                    # passed meanwhile are let go.
                    self._waiting = [q for q in self._waiting if q.open] + batch
                    continue
            for question in batch:
                try:
                    self._submit(question)
                except Exception:
                    # Never let this thread die: every later client would
                    # wait out its deadline. The question, dropped, is denied.
                    logger.exception("tcphub could not hand %r to the authenticate callback", question)

    def _submit(self, question: _tcphub.AuthQuestion) -> None:
        if not self._is_async:
            try:
                self._pool.submit(self._decide, question)
            except RuntimeError:
                pass  # the server stopped: the question is dropped, so denied
            return
        callback, loop = self._callback, self._loop
        assert callback is not None and loop is not None
        coroutine: Any = None
        try:
            coroutine = callback(question.session_id, question.alias, question.token)
            future: "concurrent.futures.Future[Decision]" = asyncio.run_coroutine_threadsafe(coroutine, loop)
        except Exception:
            if inspect.iscoroutine(coroutine):
                coroutine.close()  # its loop is gone (closed, say): it will never run
            logger.exception(
                "tcphub authenticate callback %r could not start for alias %r (session %s); denied",
                callback,
                question.alias,
                question.session_id,
            )
            question.answer(False)
            return
        future.add_done_callback(lambda done: self._settle(question, done))

    def _decide(self, question: _tcphub.AuthQuestion) -> None:
        if not question.open:
            return  # its deadline passed while it waited for a thread
        callback = self._callback
        assert callback is not None
        try:
            result = callback(question.session_id, question.alias, question.token)
        except Exception:
            logger.exception(
                "tcphub authenticate callback %r failed for alias %r (session %s); denied",
                callback,
                question.alias,
                question.session_id,
            )
            result = False
        self._answer(question, result)

    def _settle(self, question: _tcphub.AuthQuestion, done: "concurrent.futures.Future[Any]") -> None:
        """An async decision finished (or was cancelled as the server stopped)."""
        if done.cancelled():
            question.answer(False)
            return
        error = done.exception()
        if error is not None:
            logger.error(
                "tcphub authenticate callback %r failed for alias %r (session %s); denied",
                self._callback,
                question.alias,
                question.session_id,
                exc_info=error,
            )
            question.answer(False)
            return
        self._answer(question, done.result())

    def _answer(self, question: _tcphub.AuthQuestion, result: Any) -> None:
        if not isinstance(result, (bool, _tcphub.Grant)):
            hint = ""
            if inspect.iscoroutine(result):
                result.close()  # never awaited: say why rather than warn
                hint = " (a coroutine: register an async def itself, not a function returning one)"
            logger.error(
                "tcphub authenticate callback %r returned %r for alias %r (session %s)%s; "
                "a decision is True, False or tcphub.Grant: denied",
                self._callback,
                result,
                question.alias,
                question.session_id,
                hint,
            )
            result = False
        question.answer(result)

    # ----- lifetime -----

    def close(self) -> None:
        """After the server stopped: lets the threads go. Questions still
        undecided are dropped, which denies them."""
        if self._fetcher is not threading.current_thread():
            self._fetcher.join()
        self._pool.shutdown(wait=False, cancel_futures=True)
        loop, thread = self._own_loop, self._own_loop_thread
        if loop is None or thread is None or not thread.is_alive():
            return

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(cancel_all(), loop).result(timeout=5)
        except Exception:
            logger.exception("tcphub could not cancel the authenticate tasks still running")
        loop.call_soon_threadsafe(loop.stop)
        if thread is not threading.current_thread():
            thread.join()
            loop.close()
