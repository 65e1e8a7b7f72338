"""Testing siomw plugins and middlewares against real servers and real clients.

The pytest plugin (:mod:`siomw_core.pytest_plugin`, registered under ``pytest11``) gives
the fixtures ``siomw_server`` and ``js_client``; this package holds what they are made of,
by concern:

- :mod:`.servers`: a real server of each kind in a process of its own (``siomw serve``);
- :mod:`.apps`: the default application of each kind the servers run;
- :mod:`.clients`: python-socketio's sync client and an HTTP request, in the test's thread;
- :mod:`.js`: the JS ``socket.io-client`` driven by Node;
- :mod:`.outcomes`: :class:`Outcome`, :func:`assert_refused`, :func:`assert_accepted`;
- :mod:`.aio`: ``serve``, ``connect_result``, ``close_client`` for asyncio tests that run
  an ASGI app in their own event loop.

Documented in ``docs/plugins/testing.md``.
"""

from .aio import close_client, connect_result, serve
from .outcomes import Outcome, assert_accepted, assert_refused, outcome_of

__all__ = ["Outcome", "assert_accepted", "assert_refused", "close_client", "connect_result",
           "outcome_of", "serve"]
