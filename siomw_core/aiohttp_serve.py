"""``siomw serve`` for an aiohttp application (kind ``aiohttp``): aiohttp's own runner.

``aiohttp.web.run_app`` serves the application, with its signal handling and graceful
shutdown, in this one process; siomw binds the socket first (``--port 0`` then has a real
port to print) and hands it over (``run_app(sock=...)``). aiohttp has no reloader and no
process manager, so ``--reload`` and ``--workers N`` are refused before this runs
(:func:`siomw_core.serve_command.check_options`).

``--log-level`` sets aiohttp's loggers (default ``warning``); ``--access-log`` turns on
aiohttp's access log (``aiohttp.access``, on stdout as uvicorn's and gunicorn's are), whose
request lines are redacted as uvicorn's are
(:data:`siomw_core.uvicorn_logs.AIOHTTP_LOGGERS`).
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import sys

import click

from . import uvicorn_logs
from .serve_command import listening_url
from .serve_tuning import TuningError, tuning
from .serving import GRACEFUL_TIMEOUT, Served

__all__ = ["bind", "run_aiohttp", "ssl_context"]


def bind(host: str, port: int, uds: str | None) -> socket.socket:
    """A listening socket on ``host:port`` (IPv4 or IPv6 as ``host`` reads), or on the UNIX
    socket ``uds`` (an old socket file there is replaced).

    Raises:
        click.ClickException: the address cannot be bound (one line, the OS's reason).
    """
    try:
        if uds:
            if os.path.exists(uds):
                os.remove(uds)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(uds)
        else:
            family, kind, proto, _, address = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
            sock = socket.socket(family, kind, proto)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {uds or f'{host}:{port}'}: "
                                   f"{exc.strerror or exc}") from None
    return sock


def ssl_context(certfile: str | None, keyfile: str | None,
                password: str | None) -> ssl.SSLContext | None:
    """A server TLS context for ``--ssl-certfile`` / ``--ssl-keyfile`` (None without them)."""
    if not certfile:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile, password)
    return context


def run_aiohttp(
    served: Served,
    *,
    host: str,
    port: int,
    uds: str | None,
    reload: bool,
    workers: int,
    log_level: str | None,
    access_log: bool,
    root_path: str,
    ssl_keyfile: str | None,
    ssl_certfile: str | None,
    ssl_keyfile_password: str | None,
) -> None:
    """Serve ``served.app`` (an ``aiohttp.web.Application``) with ``web.run_app`` until
    interrupted, after printing ``siomw: listening on URL``. ``reload``, ``workers`` and
    ``root_path`` were checked by the caller (refused unless off)."""
    from aiohttp import web

    del reload, workers, root_path  # refused before (serve_command.check_options)
    level = logging.DEBUG if log_level in ("debug", "trace") else getattr(
        logging, (log_level or "warning").upper())
    logging.getLogger("aiohttp").setLevel(level)
    if access_log:  # on stdout, as uvicorn's and gunicorn's access logs
        access = logging.getLogger("aiohttp.access")
        access.setLevel(min(level, logging.INFO))
        access.addHandler(logging.StreamHandler(sys.stdout))
        access.propagate = False
    uvicorn_logs.install((stack.registry.secrets for stack in served.stacks),
                         uvicorn_logs.AIOHTTP_LOGGERS)
    try:
        tuned = tuning()  # the GC's (its per-message deflate: serve_command.check_tuning)
    except TuningError as exc:
        raise click.ClickException(str(exc)) from None
    tuned.at_start()

    async def frozen(_app: web.Application) -> None:
        tuned.after_startup()

    served.app.on_startup.append(frozen)
    context = ssl_context(ssl_certfile, ssl_keyfile, ssl_keyfile_password)
    sock = bind(host, port, uds)
    click.echo(f"siomw: listening on {listening_url(sock, context is not None)}", err=True)
    try:
        web.run_app(served.app, sock=sock, ssl_context=context, print=None,
                    # aiohttp waits shutdown_timeout for the connections, then once more for a
                    # python-engineio long-poll (measured: 2 x shutdown_timeout, bare too)
                    shutdown_timeout=GRACEFUL_TIMEOUT / 2,
                    access_log=logging.getLogger("aiohttp.access") if access_log else None)
    finally:
        if uds and os.path.exists(uds):
            os.remove(uds)
