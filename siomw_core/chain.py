"""The onion runner: runs a composed chain of middlewares around an endpoint.

A chain is a tuple of :class:`~siomw_core.middleware.Middleware`, composed once (see
``ordering.py``) and run per connection. The runner adds the guarantees Node lacks
(``reference/node-socketio-semantics.md`` §1.4-1.6):

- ``call_next`` runs the rest of the chain at most once; a second call raises RuntimeError
  inside the middleware that made it;
- a middleware that returns without calling ``call_next`` and without raising refuses, with a
  warning that names it (Node leaves the client hanging);
- ``ConnectionRefusedError`` (python-socketio's or the built-in) is read as the refusal it
  stands for (``errors.as_refusal``), as python-socketio reads it from a connect handler;
- any other exception becomes the ``internal_error`` refusal at the boundary
  of the member that raised it, logged with that member's name and traceback, so members
  further out (a logger, say) see a Refusal like any other;
- a chain that passes its deadline is cancelled and refuses with ``middleware_timeout``;
  the log names the member that was running; a ``call_next`` after the deadline (by a
  member that swallowed the cancel) refuses the same way and runs nothing further;
- whatever a member does with ``call_next`` (``asyncio.gather``, ``create_task``), the rest
  of the chain never outlives it: when a member exits while its ``call_next`` still runs
  in another task, that task is cancelled and awaited and the member refuses; a
  ``call_next`` started after its member exited, or after the run ended, runs nothing and
  returns None, with a warning naming the member (it does not raise: it typically runs in a
  task nobody awaits, where an exception would only be asyncio's "never retrieved" report);
- a member that answered its subject itself ends the run without ``call_next`` and is not
  refused: a subject says so with a true ``answered`` attribute (``Event.reply()`` at the
  event level sets it); the endpoint then does not run;
- a refusal is never undone: a member that catches the refusal its ``call_next`` raised
  (to log it, say) and returns normally refuses with that same refusal, with a warning that
  names it (the rest of the chain, the application included, did not pass).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .deadlines import Deadlines
from .errors import Refusal, as_refusal, internal_error, middleware_timeout
from .middleware import Middleware

__all__ = ["ENDPOINT", "Deadlines", "run_chain"]

log = logging.getLogger("siomw")

#: the name logs give the application's handler at the end of a chain (``run_chain``'s
#: ``endpoint_name``: ``"event handler"`` at the event level)
ENDPOINT = "connect handler"

# what a member's call_next has done so far
_NOT_CALLED, _RUNNING, _DONE = 0, 1, 2


class _Run:
    """Per-run state: the deadline's flag and clock, and whether the run is over."""

    __slots__ = ("chain", "deferred", "endpoint", "endpoint_name", "endpoint_since",
                 "endpoint_time", "handle", "loop", "over", "seconds", "started", "subject",
                 "task", "timed_out", "untimed")

    def __init__(self, chain: Sequence[Middleware], subject: Any, endpoint_name: str,
                 task: asyncio.Task[Any] | None) -> None:
        self.chain = chain
        self.subject = subject
        self.endpoint_name = endpoint_name
        self.task = task  # the task the deadline cancels (None: a sync server)
        self.timed_out = False
        self.over = False  # decided: nothing may start the endpoint any more
        # the deadline's clock when it stops while the endpoint runs (``untimed``)
        self.untimed = False
        self.endpoint_time = 0.0
        self.endpoint_since: float | None = None
        self.deferred = False  # the timer fired while the endpoint ran: re-armed after it
        self.handle: asyncio.TimerHandle | None = None  # a timer of this run's own, if any
        self.endpoint: Callable[[], Awaitable[Any]]  # set when the run starts (_start)
        # set by run_chain when the run has a deadline
        self.loop: asyncio.AbstractEventLoop
        self.seconds: float
        self.started: float

    def _members_time(self) -> float:
        """Seconds the members have run so far (the endpoint's own time left out); only
        while the endpoint is not running."""
        return self.loop.time() - self.started - self.endpoint_time

    def resume(self) -> None:
        """The endpoint returned: a deadline that fell due while it ran is set again for
        what is left of the members' time (at once when nothing is)."""
        if self.deferred and not self.over:
            self.deferred = False
            left = max(self.seconds - self._members_time(), 0.0)
            self.handle = self.loop.call_later(left, self.expire)

    def expire(self) -> None:
        """The deadline's timer fired: cancel the run, or, when the endpoint's own time is
        not counted, give it back and wait for the rest of the members' time."""
        if self.over:
            return
        if self.untimed:
            if self.endpoint_since is not None:
                # the endpoint runs and its time is not counted: wait for it to return
                # instead of waking up again and again while it runs (:meth:`resume`)
                self.deferred = True
                return
            left = self.seconds - self._members_time()
            if left > 0:
                self.handle = self.loop.call_later(left, self.expire)
                return
        self.timed_out = True
        assert self.task is not None
        self.task.cancel()


def _current_task() -> asyncio.Task[Any] | None:
    """The running task; None when no event loop runs (a sync server's ``drive``)."""
    return _tasks_of(_running_loop())


def _slow_current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


# asyncio.current_task() is Python code on 3.11 (a call, get_running_loop, a dict lookup):
# it ran at every call_next. Its dict read directly is two C calls (the same answer: None
# without a running loop). 3.12 made current_task C code; 3.14 keeps the running task per
# thread and no longer fills the dict: the plain call there.
_running_loop = asyncio.events._get_running_loop
_tasks_of: Callable[[asyncio.AbstractEventLoop | None], asyncio.Task[Any] | None]
if sys.version_info < (3, 14):
    _tasks_of = asyncio.tasks._current_tasks.get  # type: ignore[attr-defined]
else:  # pragma: no cover - newer interpreters
    _tasks_of = lambda loop: _slow_current_task()  # noqa: E731


class _SyncRun(_Run):
    """A run driven without an event loop (a sync server): nothing can cancel a thread, so
    the deadline is read at each checkpoint the async runner checks for a swallowed
    cancel: when a member calls ``call_next``, when it returns, when the endpoint returns.
    What ran past the deadline is discarded and the run refuses ``middleware_timeout``; the
    connect level also answers the client at the deadline itself (its overdue timer)."""

    __slots__ = ("_state",)

    def __init__(self, chain: Sequence[Middleware], subject: Any, endpoint_name: str) -> None:
        self._state: bool | None = False  # True: passed; None: converted (or no deadline)
        super().__init__(chain, subject, endpoint_name, None)
        self.loop = _MONOTONIC  # type: ignore[assignment]

    @property
    def timed_out(self) -> bool:
        state = self._state
        if state is not False:
            return bool(state)
        if self.endpoint_since is not None:  # an untimed endpoint runs: its time is its own
            return False
        if time.monotonic() - self.started - self.endpoint_time >= self.seconds:
            self._state = True
            return True
        return False

    @timed_out.setter
    def timed_out(self, value: bool) -> None:
        if value:
            self._state = True
        elif self._state:  # converted into the refusal once: later checkpoints pass
            self._state = None

    def resume(self) -> None:
        """Nothing to re-arm: the clock is read at the next checkpoint."""


class _Monotonic:
    """``loop.time()`` for a run without a loop."""

    time = staticmethod(time.monotonic)


_MONOTONIC = _Monotonic()


def _fail(run: _Run, name: str, exc: BaseException) -> Refusal:
    """Turn an exception raised by ``name`` into the refusal outer members will see."""
    if isinstance(exc, GeneratorExit):  # the coroutine is being closed (drive() gave up on
        raise exc  # a chain that kept suspending): nothing may answer from inside it
    if isinstance(exc, asyncio.CancelledError):
        task = _current_task()
        if run.timed_out and task is run.task:
            run.timed_out = False  # converted once, at the innermost member of the run's task
            if task is not None and task.cancelling():
                task.uncancel()
            log.error("siomw: chain deadline passed while %r was running for %r", name,
                      run.subject)
            return middleware_timeout()
        if run.timed_out or (task is not None and task.cancelling()):
            # a real cancellation from outside; or the deadline reaching a task a member
            # started, which ends cancelled and is converted in the run's own task
            raise exc
        # raised by the middleware's own code: a failure like any other
        log.error("siomw: middleware %r raised CancelledError for %r; refusing with "
                  "internal_error", name, run.subject)
        return internal_error()
    refusal = as_refusal(exc)
    if refusal is not None:
        return refusal
    if name != run.endpoint_name:
        what = f"middleware {name!r}"
    else:  # "the connect handler", but "python-engineio" (a name, not a role)
        what = name if name == "python-engineio" else f"the {name}"
    if getattr(run.subject, "started", False) is True:  # an engine response went out
        log.error("siomw: %s raised for %r after its response started (status %s): "
                  "nothing can be refused any more; outer members see internal_error",
                  what, run.subject, getattr(run.subject, "status", None), exc_info=exc)
    else:
        log.error("siomw: %s raised for %r; refusing with internal_error", what,
                  run.subject, exc_info=exc)
    return internal_error()


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a settled task's outcome as seen: _fail logged what mattered already."""
    if not task.cancelled():
        task.exception()


async def _settle(inner: asyncio.Task[Any]) -> None:
    """Cancel work a member left running in another task and wait for it to end."""
    inner.add_done_callback(_retrieve)
    inner.cancel()
    await asyncio.wait({inner})


def _returned(run: _Run, name: str, call_next: _Next, error: BaseException | None,
              left_running: bool) -> None:
    """Judge how member ``name`` ended (``error``: what it raised; ``left_running``: its
    ``call_next`` still ran in another task, now settled): return when it passed, else
    raise the refusal its outer members see (see the module's rules)."""
    if error is not None:
        if run.timed_out and not isinstance(error, asyncio.CancelledError):
            error = asyncio.CancelledError()  # it swallowed the deadline's cancel, then ended
        if isinstance(error, Refusal):
            raise error
        raise _fail(run, name, error) from None
    if run.timed_out:  # the member swallowed the deadline's cancel
        raise _fail(run, name, asyncio.CancelledError())
    seen = call_next.seen
    if seen is not None:  # it caught the refusal and returned: a refusal is never undone
        log.warning(
            "siomw: middleware %r caught the refusal of its call_next() (%s) and returned; "
            "the refusal stands for %r",
            name,
            seen.code or seen.message,
            run.subject,
        )
        raise seen
    if left_running:
        log.warning(
            "siomw: middleware %r returned while its call_next() still ran in another "
            "task (cancelled); refusing %r",
            name,
            run.subject,
        )
        raise internal_error()
    if call_next.state == _NOT_CALLED:
        if getattr(run.subject, "answered", False):  # the member answered: it may stop
            return
        log.warning(
            "siomw: middleware %r returned without calling call_next() or raising; "
            "refusing %r",
            name,
            run.subject,
        )
        raise internal_error()


class _Next:
    """The ``call_next`` of one member of one run (``index``; -1: the run's start, which
    calls the first member). A slotted object rather than a closure (a closure over this
    state would allocate a cell per variable at every member of every run). Calling it runs
    the rest of the chain at most once (see the module): the next member, judged in this
    same coroutine when it returns (two coroutines per member, its own and this one), or
    the endpoint after the last member."""

    __slots__ = ("exited", "here", "index", "inner", "run", "seen", "state")

    def __init__(self, run: _Run, index: int, here: asyncio.Task[Any] | None) -> None:
        self.run = run
        self.index = index
        self.here = here  # the task the member runs in
        self.state = _NOT_CALLED
        self.inner: asyncio.Task[Any] | None = None  # the other task it runs in, if any
        self.exited = False  # the member returned
        self.seen: Refusal | None = None  # what it raised into the member

    def name(self) -> str:
        """The member's name, for messages (the run's start has none)."""
        return self.run.chain[self.index].name if self.index >= 0 else ""

    async def __call__(self) -> None:
        run = self.run
        if self.exited or run.over:
            # typically a task the member started and left: raising there would only end
            # in asyncio's "Task exception was never retrieved"; the run is decided anyway
            log.warning("siomw: middleware %r called call_next() after %s; nothing ran "
                        "for %r", self.name(),
                        "it returned" if self.exited else "its chain's run ended",
                        run.subject)
            if not self.exited:
                self.state = _DONE  # its return then refuses nothing more: the run is over
            return
        if self.state != _NOT_CALLED:
            raise RuntimeError(f"middleware {self.name()!r} called call_next() twice")
        self.state = _RUNNING
        task = _tasks_of(_running_loop())  # _current_task(), inlined: it runs per member
        if task is not self.here:
            self.inner = task
        try:
            if run.timed_out:  # the member swallowed the deadline's cancel: decided
                raise _fail(run, self.name(), asyncio.CancelledError())
            index = self.index + 1
            chain = run.chain
            if index == len(chain):  # the endpoint; no run.over check: done above, no await
                untimed = run.untimed
                since = 0.0
                if untimed:  # the deadline's clock stops while the endpoint runs
                    since = run.endpoint_since = run.loop.time()
                try:
                    await run.endpoint()
                except BaseException as exc:
                    raise _fail(run, run.endpoint_name, exc) from None
                finally:
                    if untimed:
                        run.endpoint_time += run.loop.time() - since
                        run.endpoint_since = None
                        run.resume()
                if run.timed_out:  # the cancel was swallowed (python-socketio's handlers do)
                    raise _fail(run, run.endpoint_name, asyncio.CancelledError())
                return
            member = chain[index]
            call_next = _Next(run, index, task)
            error: BaseException | None = None
            try:
                await member.call(run.subject, call_next)
            except BaseException as exc:
                error = exc
            call_next.exited = True
            inner = call_next.inner
            left_running = call_next.state == _RUNNING and inner is not None
            if left_running:
                assert inner is not None
                try:
                    await _settle(inner)
                except asyncio.CancelledError as exc:  # the deadline, or a cancel from outside
                    error = exc
            if (error is not None or left_running or call_next.seen is not None
                    or call_next.state == _NOT_CALLED or run.timed_out):
                _returned(run, member.name, call_next, error, left_running)
        except Refusal as refusal:
            self.seen = refusal
            raise
        finally:
            self.state = _DONE


def _start(run: _Run, here: asyncio.Task[Any] | None,
           endpoint: Callable[[], Awaitable[Any]]) -> Awaitable[None]:
    """The run's first step: the first member (or the endpoint of an empty chain)."""
    run.endpoint = endpoint
    return _Next(run, -1, here)()


async def run_chain(
    chain: Sequence[Middleware],
    subject: Any,
    endpoint: Callable[[], Awaitable[Any]],
    timeout: float | Deadlines | None = None,
    *,
    endpoint_name: str = ENDPOINT,
    endpoint_timed: bool = True,
) -> None:
    """Run ``chain`` around ``endpoint`` for ``subject`` (a socket, an event, a request).

    Args:
        chain: the composed members, outermost first.
        subject: what each member receives as its first argument.
        endpoint: awaited at most once, when every member called ``call_next``: the
            application. It never starts once the run is decided.
        timeout: deadline for the whole run in seconds (``None``: no deadline), or a
            level's shared :class:`Deadlines` (the same deadline, one timer for all runs).
        endpoint_name: what logs call the endpoint (``"connect handler"``,
            ``"event handler"``).
        endpoint_timed: False stops the deadline's clock while the endpoint runs (an event
            handler may take as long as it needs; the middlewares' own time is bounded),
            and restarts it with what was left when the endpoint returns.

    Returns:
        None when every member and the endpoint passed.

    Raises:
        Refusal: a member or the endpoint refused (a ``Refusal`` or a
            ``ConnectionRefusedError``), or failed (``internal_error``), or the deadline
            passed (``middleware_timeout``).
        asyncio.CancelledError: the run was cancelled from outside.
    """
    task = _current_task()
    if task is None and timeout is not None:  # a sync server: no timers
        sync = _SyncRun(chain, subject, endpoint_name)
        sync.seconds = timeout.timeout if isinstance(timeout, Deadlines) else timeout
        sync.started = time.monotonic()
        sync.untimed = not endpoint_timed
        try:
            await _start(sync, None, endpoint)
        finally:
            sync.over = True
        return
    run = _Run(chain, subject, endpoint_name, task)
    if timeout is None:
        try:
            await _start(run, run.task, endpoint)
        finally:
            run.over = True
        return
    loop = run.loop = asyncio.get_running_loop()
    if not endpoint_timed:
        run.untimed = True
        run.started = loop.time()
    shared: Deadlines | None = None
    if isinstance(timeout, Deadlines):
        shared = timeout
        run.seconds = shared.timeout
        shared.add(loop, run, run.expire)
    else:
        run.seconds = timeout
        run.handle = loop.call_later(timeout, run.expire)
    try:
        await _start(run, run.task, endpoint)
    finally:
        run.over = True
        if shared is not None:
            shared.discard(run)
        if run.handle is not None:
            run.handle.cancel()
