"""What a plugin may ask of the server it runs on, whatever its kind: :class:`Runtime`.

The plugin contract knows nothing of ASGI, WSGI or aiohttp. A plugin that needs time or a
background job (a token's expiry timer, a storage probe) asks the stack's runtime, which the
hook ``siomw_middlewares(config, settings, runtime)`` receives:

- :class:`AsyncRuntime`: ``socketio.AsyncServer`` (under ASGI or aiohttp): timers on the
  running event loop, background work as tasks, awaits that really suspend;
- :class:`SyncRuntime`: ``socketio.Server`` (WSGI threading, gevent, eventlet,
  Flask-SocketIO): siomw's coroutines are driven in the request's own thread
  (:func:`~siomw_core.drive.drive`), so ``blocking`` is True and a plugin uses the
  blocking API of its libraries; timers run on one background task of the server's async
  mode (python-socketio's ``start_background_task``: a thread, or a greenlet).
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import itertools
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from .drive import drive

__all__ = ["AsyncRuntime", "Runtime", "SyncRuntime", "TimerHandle"]

log = logging.getLogger("siomw")

Callback = Callable[..., "Awaitable[Any] | None"]


class TimerHandle(Protocol):
    """What :meth:`Runtime.call_later` returns: ``cancel()`` stops a timer not yet fired."""

    def cancel(self) -> None: ...


class Runtime:
    """The server-kind services siomw and its plugins use (base class; see the subclasses).

    Attributes:
        kind: python-socketio's ``async_mode`` (``"asgi"``, ``"aiohttp"``, ``"threading"``,
            ``"gevent"``, ``"eventlet"``, ...).
        blocking: True on sync servers: middlewares run in the request's thread, and a
            plugin must call blocking APIs there (an awaited asyncio future cannot
            complete: :class:`~siomw_core.drive.SuspendedError`).
    """

    kind: str = "asgi"
    blocking: bool = False

    def now(self) -> float:
        """A monotonic clock, in seconds."""
        return time.monotonic()

    def call_later(self, delay: float, callback: Callback, *args: Any) -> TimerHandle:
        """Call ``callback(*args)`` in ``delay`` seconds (a coroutine function's coroutine
        is run as background work); returns a handle whose ``cancel()`` stops it."""
        raise NotImplementedError

    def spawn(self, fn: Callback, *args: Any) -> None:
        """Run ``fn(*args)`` (plain or coroutine function) in the background; an exception
        is logged with ``fn``'s name, never lost."""
        raise NotImplementedError

    async def disconnect(self, sid: str, namespace: str) -> None:
        """Disconnect ``sid`` from ``namespace`` (python-socketio's ``disconnect``: the
        client gets a DISCONNECT packet, the disconnect handler runs)."""
        raise NotImplementedError

    async def emit(self, event: str, data: Any, *, to: str, namespace: str) -> None:
        """Emit ``event`` with ``data`` to the sid ``to`` on this process only (python-
        socketio's ``emit(..., ignore_queue=True)``)."""
        raise NotImplementedError


class AsyncRuntime(Runtime):
    """:class:`Runtime` of a ``socketio.AsyncServer``: the running event loop.

    Args:
        kind: the server's ``async_mode``.
    """

    def __init__(self, server: Any = None, kind: str | None = None) -> None:
        self.server = server
        self.kind = kind or str(getattr(server, "async_mode", None) or "asgi")
        self._tasks: set[asyncio.Task[Any]] = set()  # referenced until done (the loop
        # keeps only weak references to tasks)

    def now(self) -> float:
        """The event loop's clock (seconds), monotonic."""
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:
            return time.monotonic()

    def call_later(self, delay: float, callback: Callback, *args: Any) -> TimerHandle:
        """``loop.call_later`` on the running loop (``RuntimeError`` without one)."""
        return asyncio.get_running_loop().call_later(delay, self.spawn, callback, *args)

    def spawn(self, fn: Callback, *args: Any) -> None:
        """A plain function is called now; a coroutine function's coroutine becomes a task
        on the running loop."""
        try:
            result = fn(*args)
        except Exception:
            log.exception("siomw: background call %r raised", fn)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._finished)

    async def disconnect(self, sid: str, namespace: str) -> None:
        """``await server.disconnect(sid, namespace=namespace)``."""
        await self.server.disconnect(sid, namespace=namespace)

    async def emit(self, event: str, data: Any, *, to: str, namespace: str) -> None:
        """``await server.emit(event, data, to=to, namespace=namespace, ignore_queue=True)``."""
        await self.server.emit(event, data, to=to, namespace=namespace, ignore_queue=True)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("siomw: background task %r raised", task, exc_info=task.exception())


class _SyncTimer:
    __slots__ = ("args", "callback", "cancelled")

    def __init__(self, callback: Callback, args: tuple[Any, ...]) -> None:
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class SyncRuntime(Runtime):
    """:class:`Runtime` of a ``socketio.Server``: coroutines driven in the caller's thread.

    Timers share one background task started, on first use, with the server's
    ``start_background_task`` (a thread in ``threading`` mode, a greenlet under gevent or
    eventlet) and woken by an event of the same async mode (``eio.create_event()``); due
    callbacks run there in deadline order, so each must be short (a refusal, a disconnect).

    Args:
        server: the ``socketio.Server``.
    """

    blocking = True

    def __init__(self, server: Any) -> None:
        self.server = server
        self.kind = str(getattr(server, "async_mode", "threading"))
        self._heap: list[tuple[float, int, _SyncTimer]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._wake: Any = None  # created with the timer task

    def call_later(self, delay: float, callback: Callback, *args: Any) -> TimerHandle:
        """Schedule ``callback(*args)`` on the runtime's timer task."""
        timer = _SyncTimer(callback, args)
        with self._lock:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._order), timer))
            first = self._wake is None
            if first:
                self._wake = self.server.eio.create_event()
        if first:
            self.server.start_background_task(self._timers)
        self._wake.set()
        return timer

    def spawn(self, fn: Callback, *args: Any) -> None:
        """Run ``fn(*args)`` in a background task of the server's async mode, a coroutine
        function's coroutine driven to completion there."""
        self.server.start_background_task(self._run, fn, args)

    async def disconnect(self, sid: str, namespace: str) -> None:
        """``server.disconnect(sid, namespace=namespace)``, in the calling thread."""
        self.server.disconnect(sid, namespace=namespace)

    async def emit(self, event: str, data: Any, *, to: str, namespace: str) -> None:
        """``server.emit(event, data, to=to, namespace=namespace, ignore_queue=True)``."""
        self.server.emit(event, data, to=to, namespace=namespace, ignore_queue=True)

    def _run(self, fn: Callback, args: tuple[Any, ...]) -> None:
        try:
            result = fn(*args)
            if inspect.iscoroutine(result):
                drive(result)
        except Exception:
            log.exception("siomw: background call %r raised", fn)

    def _timers(self) -> None:
        wake = self._wake
        heap = self._heap
        while True:
            with self._lock:
                now = time.monotonic()
                due: list[_SyncTimer] = []
                while heap and heap[0][0] <= now:
                    due.append(heapq.heappop(heap)[2])
                timeout = heap[0][0] - now if heap else None
            for timer in due:
                if not timer.cancelled:
                    self._run(timer.callback, timer.args)
            if due:
                continue
            wake.wait(timeout)
            wake.clear()
