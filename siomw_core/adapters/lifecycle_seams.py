"""When a stack starts and stops, per server kind: where :class:`~siomw_core.lifecycle.Lifecycle`
is run.

- Every kind: the first engine request starts a stack not started yet (``sio.eio.handle_request``
  is wrapped on the instance, outside the engine chain, so that the chain's members find
  their pools open); concurrent first requests wait for that one start.
- ASGI: ``mw.asgi_app()`` runs the start and the stop in the ASGI lifespan (python-engineio's
  ``on_startup`` / ``on_shutdown``); a ``socketio.ASGIApp`` built by hand takes
  ``on_startup=mw.startup, on_shutdown=mw.shutdown``.
- aiohttp: ``sio.attach(app)`` after siomw appends the start to ``app.on_startup`` and the
  stop to ``app.on_cleanup`` (``sio.eio.attach`` is wrapped on the instance).
- An ``AsyncServer`` started by its first request (no lifespan, a mounted app, aiohttp
  attached before siomw) stops when its event loop ends: a task waits for the cancellation
  that ``asyncio.run`` (uvicorn, gunicorn's uvicorn workers) and ``aiohttp.web.run_app``
  give every remaining task, and runs the stop then.
- A sync ``socketio.Server`` started by its first request (or by ``mw.startup()``) stops at
  the process' exit (``atexit``: a gunicorn worker leaves through ``sys.exit``).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import weakref
from collections.abc import Callable
from typing import Any

from ..lifecycle import Lifecycle

__all__ = ["LifespanApp", "asgi_lifespan", "install_lifecycle", "on_loop_end", "stop_at_exit"]

log = logging.getLogger("siomw")


def install_lifecycle(sio: Any, lifecycle: Lifecycle, *, blocking: bool) -> None:
    """Start ``lifecycle`` at the first engine request of ``sio`` (and, for aiohttp, in the
    signals of the application ``sio.attach(app)`` names). Idempotent: attaching siomw
    again points the wrappers at the newest stack's lifecycle.

    Call after :func:`~siomw_core.adapters.engine_seam.install_engine` (the wrapper keeps
    the engine seam's ``_siomw_seam`` mark, so that attaching again finds the seam).
    """
    eio = sio.eio
    current = eio.handle_request
    holder: list[Lifecycle] | None = getattr(current, "_siomw_lifecycle", None)
    if holder is not None:
        holder[0] = lifecycle
        return
    holder = [lifecycle]
    inner = current
    handler: Any
    if blocking:
        def handler(*args: Any, **kwargs: Any) -> Any:
            life = holder[0]
            if not life.started:
                _start_sync(life)
            return inner(*args, **kwargs)
    elif eio.async_mode == "aiohttp":  # aiohttp routes only coroutine functions
        async def handler(*args: Any, **kwargs: Any) -> Any:
            life = holder[0]
            if not life.started:
                await _start_async(life)
            return await inner(*args, **kwargs)
    else:
        # a plain function returning the engine's own coroutine once started: no frame of
        # ours stays on a WebSocket's stack for its life (python-socketio awaits the result)
        def handler(*args: Any, **kwargs: Any) -> Any:
            life = holder[0]
            if not life.started:
                return _started_then(life, inner, args, kwargs)
            return inner(*args, **kwargs)

    handler._siomw_lifecycle = holder
    seam = getattr(current, "_siomw_seam", None)
    if seam is not None:
        handler._siomw_seam = seam
    eio.handle_request = handler
    if eio.async_mode == "aiohttp":
        _wrap_aiohttp_attach(eio, holder)


def _start_sync(life: Lifecycle) -> None:
    """A sync server's first request: start in this thread, stop at exit."""
    try:
        if life.start_blocking():
            stop_at_exit(life)
    except Exception:  # logged with the plugin's name by the lifecycle; serve on
        life.started = True  # one attempt: not one per request


async def _started_then(life: Lifecycle, inner: Callable[..., Any], args: tuple[Any, ...],
                        kwargs: dict[str, Any]) -> Any:
    """Start ``life`` (the first request), then await ``inner(*args, **kwargs)``."""
    if not life.started:
        await _start_async(life)
    return await inner(*args, **kwargs)


async def _start_async(life: Lifecycle) -> None:
    """An ``AsyncServer``'s first request: start on this loop, stop when it ends."""
    try:
        was = life.starts
        await life.ensure_started()
        if life.starts != was:
            on_loop_end(life)
    except Exception:  # logged with the plugin's name by the lifecycle; serve on
        life.started = True


def on_loop_end(life: Lifecycle) -> None:
    """Run ``life``'s stop when the running event loop ends: a task that waits until it is
    cancelled (``asyncio.run`` and ``aiohttp.web.run_app`` cancel every task left when
    the server's main coroutine returns) and stops the stack then, unless something else
    stopped it first."""
    starts = life.starts

    async def keeper() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            if life.started and life.starts == starts:
                await life.run_shutdown()
            raise

    task = asyncio.get_running_loop().create_task(keeper(), name="siomw-lifecycle")
    _KEEPERS.add(task)
    task.add_done_callback(_KEEPERS.discard)


_KEEPERS: set[asyncio.Task[None]] = set()  # the loop holds tasks weakly


def stop_at_exit(life: Lifecycle) -> None:
    """Stop ``life`` at the process' exit (``atexit``), unless stopped before. Registered
    once per lifecycle; the lifecycle is not kept alive by it."""
    if getattr(life, "_siomw_atexit", False):
        return
    life._siomw_atexit = True  # type: ignore[attr-defined]
    ref = weakref.ref(life)

    def at_exit() -> None:
        target = ref()
        if target is not None and target.started:
            try:
                target.stop_blocking()
            except Exception:
                log.exception("siomw: the stack's shutdown at exit failed")

    atexit.register(at_exit)


def _wrap_aiohttp_attach(eio: Any, holder: list[Lifecycle]) -> None:
    """``sio.attach(app)`` (python-engineio's ``attach``, wrapped on the instance) also
    appends the stack's start to ``app.on_startup`` and its stop to ``app.on_cleanup``."""
    original = eio.attach

    async def startup(app: Any) -> None:
        await holder[0].ensure_started()

    async def cleanup(app: Any) -> None:
        await holder[0].run_shutdown()

    def attach(app: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(app, *args, **kwargs)
        with contextlib.suppress(RuntimeError):  # a running app's signals are frozen
            app.on_startup.append(startup)
            app.on_cleanup.append(cleanup)
        return result

    eio.attach = attach


async def asgi_lifespan(app: Any, life: Lifecycle, scope: Any, receive: Any, send: Any) -> None:
    """Serve an ASGI ``lifespan`` scope to ``app`` (a ``socketio.ASGIApp``: its own
    ``on_startup`` / ``on_shutdown``, or the other ASGI app's lifespan) with the stack's
    start before ``app`` sees ``lifespan.startup`` and its stop after ``app`` completed
    its shutdown. A failed start turns ``app``'s ``lifespan.startup.complete`` into
    ``lifespan.startup.failed`` with the one-line error (uvicorn exits with it)."""
    failed: list[str] = []

    async def receive_first() -> Any:
        message = await receive()
        if message.get("type") == "lifespan.startup":
            try:
                was = life.starts
                await life.ensure_started()
                if life.starts != was:
                    on_loop_end(life)  # a lifespan without its shutdown still stops
            except Exception as exc:
                failed.append(str(exc))
        return message

    async def send_after(message: Any) -> None:
        kind = message.get("type")
        if kind == "lifespan.startup.complete" and failed:
            message = {"type": "lifespan.startup.failed", "message": failed[0]}
        elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            await life.run_shutdown()
        await send(message)

    await app(scope, receive_first, send_after)


class LifespanApp:
    """Any ASGI application whose lifespan also starts and stops siomw stacks (for an app
    that holds them where the lifespan does not reach: Starlette and FastAPI do not pass it
    to mounted apps). Requests go to ``app`` untouched.

    Args:
        app: the ASGI application served (its own lifespan still runs, inside).
        lifecycles: the stacks' lifecycles (``mw.lifecycle``), started in this order before
            ``app``'s startup, stopped after its shutdown.
    """

    def __init__(self, app: Any, lifecycles: list[Lifecycle]) -> None:
        self.app = app
        self.lifecycles = list(lifecycles)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan" or not self.lifecycles:
            await self.app(scope, receive, send)
            return
        app = self.app
        for life in reversed(self.lifecycles):  # the first one outermost: started first
            app = _bound(app, life)
        await app(scope, receive, send)


def _bound(app: Any, life: Lifecycle) -> Any:
    async def serve(scope: Any, receive: Any, send: Any) -> None:
        await asgi_lifespan(app, life, scope, receive, send)

    return serve
