"""What an event-level middleware sees: one incoming event of a connected socket.

Node's ``socket.use(([event, ...args], next) => ...)`` gives the packet as an array; siomw
gives an :class:`Event` with the same parts and the handler that will run, so that plugins
can enforce what the handler's decorators require (``requirements.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import Refusal
from .requirements import Requirement, requirements_of

if TYPE_CHECKING:
    from .context import Socket

__all__ = ["NO_REPLY", "Event", "send_refusal"]

#: ``Event.reply_value`` when no member answered the event itself
NO_REPLY: Any = object()


def _clip(value: Any, size: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= size else text[:size] + "..."


class Event:
    """One incoming event, as the event chain sees it.

    Attributes:
        name: the event name, e.g. ``"chat message"``.
        args: the arguments (a list; binary arguments are ``bytes``). A middleware may
            change it in place or assign a new list (a tuple is made a list; anything
            else raises TypeError): the handler gets what is here once the chain passed.
        ack: the client asked for an acknowledgement (the handler's return value answers
            it; a refusal answers ``{"error": {"message", "data"}}``).
        socket: the same :class:`~siomw_core.Socket` the connect chain saw (``sid``,
            ``namespace``, ``handshake``, ``data``, ``identity``).
        handler: the application's handler python-socketio will call (a decorated
            function, the catch-all ``"*"`` handler, an ``AsyncNamespace``'s bound
            ``on_<event>`` method); None when nothing handles the event.
        route: ``(namespace, event)`` the handler is registered for in python-socketio:
            ``("/", "*")`` for ``@sio.on("*")``, ``("*", "chat")`` for ``@sio.on("chat",
            namespace="*")`` or an ``AsyncNamespace`` registered for ``"*"``; None when
            nothing handles the event. Unlike ``name`` and ``namespace``, the client
            cannot choose it: a budget or cache per handler is keyed on it.
    """

    __slots__ = ("_args", "_handled", "_requirements", "ack", "handler", "name", "reply_value",
                 "route", "socket")

    def __init__(self, name: str, args: list[Any], ack: bool, socket: Socket,
                 handler: Callable[..., Any] | None,
                 route: tuple[str, str] | None = None,
                 requirements: tuple[Requirement, ...] | None = None) -> None:
        self.name = name
        self.route = route
        # read once per event (the event level passes what it read for its own check)
        self._requirements = (requirements if requirements is not None
                              else requirements_of(handler))
        self._args = args
        self.ack = ack
        self.socket = socket
        self.handler = handler
        self.reply_value: Any = NO_REPLY
        self._handled = False  # the chain reached the handler (set by the event level)

    @property
    def args(self) -> list[Any]:
        """The arguments the handler will get (a list; binary arguments are ``bytes``)."""
        return self._args

    @args.setter
    def args(self, value: list[Any] | tuple[Any, ...]) -> None:
        """Replace the arguments: a list (kept as it is) or a tuple (made a list).

        Raises:
            TypeError: anything else (a string would reach the handler as its characters,
                None as no argument list at all); raised in the member that assigns it,
                so the chain logs that member's name and refuses with ``internal_error``.
        """
        if type(value) is list:
            self._args = value
        elif isinstance(value, list | tuple):
            self._args = list(value)
        else:
            raise TypeError(f"event.args must be a list (or a tuple) of the handler's "
                            f"arguments; got {type(value).__name__} {_clip(value)}")

    def reply(self, value: Any = None) -> None:
        """Answer the event from a member, without the handler: the member then returns
        without calling ``call_next``, and the client's ack gets ``value`` as a handler's
        return value would (None: no argument, a tuple: its items); nothing is sent when
        the client asked for no ack. (The jwt plugin answers its re-authentication event
        this way.)

        Rules (each break is the member's failure: logged with its name, the client gets
        ``internal_error``, the socket stays connected):

        - once per event: a second ``reply()`` raises RuntimeError;
        - after the handler ran (a member's code after its ``call_next()`` returned) the
          handler's value has answered: ``reply()`` raises RuntimeError;
        - ``reply()`` then ``call_next()``: the handler is not run and the event is
          refused with ``internal_error`` (logged with the event and the chain's member
          names).

        Raises:
            RuntimeError: the event was answered already (a reply, or its handler ran).
        """
        if self.reply_value is not NO_REPLY:
            raise RuntimeError(f"event.reply() called twice for {self!r}: an event is "
                               f"answered once (the first reply was "
                               f"{_clip(self.reply_value)})")
        if self._handled:
            raise RuntimeError(f"event.reply() called for {self!r} after its handler ran: "
                               f"the handler's return value answers it")
        self.reply_value = value

    @property
    def answered(self) -> bool:
        """A member answered the event with :meth:`reply`: it may return without calling
        ``call_next`` (the chain does not refuse it as it would another such member)."""
        return self.reply_value is not NO_REPLY

    @property
    def sid(self) -> str:
        """The socket's sid."""
        return self.socket.sid

    @property
    def namespace(self) -> str:
        """The socket's namespace, e.g. ``"/"``."""
        return self.socket.namespace

    @property
    def requirements(self) -> tuple[Requirement, ...]:
        """What the handler's decorators declared (``siomw_core.require``); ``()``.
        Read once when the event is dispatched."""
        return self._requirements

    def __repr__(self) -> str:
        return f"<Event {self.name!r} sid={self.socket.sid!r} namespace={self.socket.namespace!r}>"


async def send_refusal(socket: Socket, refusal: Refusal, event: str | None = None) -> None:
    """Tell the client of ``socket`` about ``refusal`` outside an acknowledged event.

    Emits the event named by the core key ``event_error_event`` (default
    ``"siomw:error"``; nothing when it is ``false``) to that socket only, with
    ``{"event": event, "message": refusal.message, "data": refusal.data}`` (``data`` left
    out when None). For code paths that are not an event's own (jwt's
    ``disconnect_on_expiry``: ``event=None``).

    Raises:
        RuntimeError: siomw is not attached to the socket's server.
    """
    level = getattr(socket.server, "_siomw_event", None)
    if level is None:
        raise RuntimeError("siomw is not attached to this socket's server")
    await level.send_error_event(socket, refusal, event)
