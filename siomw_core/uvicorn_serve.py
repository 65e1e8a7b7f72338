"""``siomw serve`` under uvicorn (kind ``asgi``): its usual options, where it listens.

uvicorn's options keep uvicorn's spelling and meaning, with one exception decided here:
forwarded headers. siomw has one notion of trusted proxies (``trusted_proxies``, used by
every level and plugin), so ``--proxy-headers`` / ``--forwarded-allow-ips`` set
``trusted_proxies`` (through ``SIOMW_TRUSTED_PROXIES``, which wins over the file) and uvicorn
always runs with ``proxy_headers=False``: uvicorn never rewrites the client address behind
siomw's back, and the address a rate limit or a log sees is resolved once, by siomw's rules
(RFC 7239, read from the right).

For speed, ``siomw serve`` sets what :mod:`siomw_core.serve_tuning` lists (the GC's threshold
and ``gc.freeze()`` once started, WebSocket per-message deflate off), each switchable by its
environment variable.

uvicorn's own access log runs only with ``--access-log`` (the logging plugin's is siomw's), and
every line uvicorn's loggers write is redacted (``siomw_core.uvicorn_logs``): request targets
and headers carry credentials.

``--reload`` and ``--workers`` make uvicorn import the application in other processes: it is
then given the factory ``siomw_core.serving:create_app``, which rebuilds the stack from the
environment this command sets.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from typing import Any

import click
import uvicorn

from . import uvicorn_logs
from .serve_command import listening_url
from .serve_tuning import Tuning, TuningError, tuning
from .serving import APP_ENV, GRACEFUL_TIMEOUT, Served

__all__ = ["FACTORY", "run_uvicorn"]

log = logging.getLogger("siomw")
FACTORY = "siomw_core.serving:create_app"


class _Server(uvicorn.Server):
    """uvicorn's server, printing ``siomw: listening on URL`` (the real port) once bound."""

    announce = True
    #: applied once the server started (:meth:`Tuning.after_startup`)
    tuning: Tuning | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.tuning is not None and not self.should_exit:
            self.tuning.after_startup()
        if self.announce and self.servers and not self.should_exit:
            for sock in self.servers[0].sockets:
                click.echo(f"siomw: listening on {listening_url(sock, self.config.is_ssl)}",
                           err=True)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)
        # here, not after run(): uvicorn re-raises SIGTERM once served, ending the process
        uds = self.config.uds
        if self.announce and uds and os.path.exists(uds):
            os.remove(uds)


def run_uvicorn(
    served: Served,
    app: str | None,
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
    """Run uvicorn for ``served`` (kind ``asgi``) until interrupted, saying where it listens;
    ``--reload`` / ``--workers`` run :data:`FACTORY` in each process (see the module)."""
    # uvicorn's lines carry request targets and, at debug/trace, headers: redact them here
    # (and in each worker, by create_app), before uvicorn logs anything
    uvicorn_logs.install(stack.registry.secrets for stack in served.stacks)
    try:
        tuned = tuning()
    except TuningError as exc:
        raise click.ClickException(str(exc)) from None
    tuned.at_start()
    common: dict[str, Any] = {
        "host": host, "port": port, "uds": uds, "log_level": log_level or "warning",
        "access_log": access_log, "ws_per_message_deflate": tuned.ws_per_message_deflate,
        "root_path": root_path, "proxy_headers": False, "ssl_keyfile": ssl_keyfile,
        "timeout_graceful_shutdown": GRACEFUL_TIMEOUT,
        "ssl_certfile": ssl_certfile, "ssl_keyfile_password": ssl_keyfile_password,
    }
    try:
        if reload or workers > 1:
            _run_processes(app, reload, workers, common)
        else:
            server = _Server(uvicorn.Config(served.app, **common))
            server.tuning = tuned
            server.run()
            if not server.started:
                sys.exit(1)
    finally:
        if uds and os.path.exists(uds):
            os.remove(uds)


def _run_processes(app: str | None, reload: bool, workers: int, common: dict[str, Any]) -> None:
    """uvicorn's reloader or process manager, each process calling the factory."""
    from uvicorn.supervisors import ChangeReload, Multiprocess

    os.environ[APP_ENV] = app or ""
    config = uvicorn.Config(FACTORY, factory=True, reload=reload, workers=workers, **common)
    server = _Server(config)
    server.announce = False  # said once, here, not by each process
    sock = config.bind_socket()
    click.echo(f"siomw: listening on {listening_url(sock, config.is_ssl)}", err=True)
    try:
        if reload:
            ChangeReload(config, target=server.run, sockets=[sock]).run()
        else:
            Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:  # pragma: no cover - the supervisors handle signals
        pass
