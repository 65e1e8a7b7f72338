"""Startup and shutdown of one stack: the plugins' ``siomw_startup`` / ``siomw_shutdown``
hooks, run once per start and once per stop, written once for every server kind.

:class:`Lifecycle` runs the hooks as one coroutine: awaited on an ``AsyncServer``'s event
loop, driven in the calling thread on a sync ``socketio.Server``
(:func:`~siomw_core.drive.drive`). *When* it runs is the server kind's business
(:mod:`siomw_core.adapters.lifecycle_seams`): the ASGI lifespan, aiohttp's signals, the first
engine request, the end of the event loop, the process' exit.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any

from .drive import drive
from .errors import PluginLoadError
from .registry import Registry

__all__ = ["Lifecycle"]

log = logging.getLogger("siomw")


class Lifecycle:
    """The start/stop state of one stack's plugins.

    Args:
        registry: the stack's registry (its enabled plugins, their options, the runtime).

    Attributes:
        started: the startup hooks ran (and no shutdown since).
        starts, stops: how many starts and stops completed (a stack may be started again
            on a new event loop after a stop).
    """

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.started = False
        self.starts = 0
        self.stops = 0
        self._thread_lock = threading.Lock()  # sync servers: concurrent first requests
        self._starting: asyncio.Future[None] | None = None  # async: one start in flight

    def _hooks(self, hook: str) -> list[tuple[str, Callable[..., Any]]]:
        """``(plugin name, implementation)`` of every enabled plugin implementing ``hook``,
        in plugin-name order."""
        out = []
        for record in self.registry.plugins():
            if record.enabled:
                impl = self.registry._impl(hook, record.name)
                if impl is not None:
                    out.append((record.name, impl))
        return out

    def _arguments(self, name: str) -> dict[str, Any]:
        record = self.registry.records[name]
        return {"config": record.options, "settings": self.registry.config.core,
                "runtime": self.registry.runtime}

    async def run_startup(self) -> None:
        """Run every ``siomw_startup`` hook, in plugin-name order (nothing when started).

        Raises:
            PluginLoadError: a hook raised (its plugin named); the hooks that ran are
                shut down again, and the stack stays stopped.
        """
        if self.started:
            return
        done: list[str] = []
        for name, impl in self._hooks("siomw_startup"):
            try:
                result = impl(**self._arguments(name))
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                log.error("siomw: plugin %r failed to start: %s: %s", name,
                          type(exc).__name__, exc, exc_info=exc)
                await self._shutdown_hooks(done)
                raise PluginLoadError(
                    f"plugin {name!r} failed to start: {type(exc).__name__}: {exc}") from exc
            done.append(name)
        self.started = True
        self.starts += 1

    async def run_shutdown(self) -> None:
        """Run every ``siomw_shutdown`` hook, in reverse plugin-name order (nothing when not
        started); a hook that raises is logged with its plugin's name, the others run."""
        if not self.started:
            return
        self.started = False
        await self._shutdown_hooks(None)
        self.stops += 1

    async def _shutdown_hooks(self, only: list[str] | None) -> None:
        """Shut down the plugins named in ``only`` (None: every plugin with the hook)."""
        for name, impl in reversed(self._hooks("siomw_shutdown")):
            if only is not None and name not in only:
                continue
            try:
                result = impl(**self._arguments(name))
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                log.error("siomw: plugin %r failed to shut down: %s: %s", name,
                          type(exc).__name__, exc, exc_info=exc)

    # the ways a kind starts and stops ----------------------------------------------------
    async def ensure_started(self) -> None:
        """Start on the running loop unless started; concurrent callers wait for the one
        start in flight (an ``AsyncServer``'s first requests)."""
        if self.started:
            return
        loop = asyncio.get_running_loop()
        starting = self._starting
        if starting is None or starting.get_loop() is not loop or (
                starting.done() and not self.started):
            starting = self._starting = loop.create_future()
            try:
                await self.run_startup()
            except BaseException as exc:
                starting.set_exception(exc)
                starting.exception()  # retrieved: the waiters raise it, nobody must
                self._starting = None
                raise
            starting.set_result(None)
            return
        await asyncio.shield(starting)

    def start_blocking(self) -> bool:
        """Start in the calling thread unless started (a sync server's first requests wait
        for it under a lock). Returns True when this call started the stack.

        Raises:
            PluginLoadError: as :meth:`run_startup`.
        """
        if self.started:
            return False
        with self._thread_lock:
            if self.started:
                return False
            drive(self.run_startup())
            return True

    def stop_blocking(self) -> None:
        """Stop in the calling thread (a sync server's exit)."""
        with self._thread_lock:
            drive(self.run_shutdown())
