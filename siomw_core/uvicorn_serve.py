"""``siomw serve``: uvicorn with its usual options, where it listens, what ``--workers`` changes.

uvicorn's options keep uvicorn's spelling and meaning, with one exception decided here:
forwarded headers. siomw has one notion of trusted proxies (``trusted_proxies``, used by
every level and plugin), so ``--proxy-headers`` / ``--forwarded-allow-ips`` set
``trusted_proxies`` (through ``SIOMW_TRUSTED_PROXIES``, which wins over the file) and uvicorn
always runs with ``proxy_headers=False``: uvicorn never rewrites the client address behind
siomw's back, and the address a rate limit or a log sees is resolved once, by siomw's rules
(RFC 7239, read from the right).

uvicorn's own access log runs only with ``--access-log`` (the logging plugin's is siomw's), and
every line uvicorn's loggers write is redacted (``siomw_core.uvicorn_logs``): request targets
and headers carry credentials.

``--reload`` and ``--workers`` make uvicorn import the application in other processes: it is
then given the factory ``siomw_core.serving:create_app``, which rebuilds the stack from the
environment this command sets.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import uvicorn
from socketio.async_pubsub_manager import AsyncPubSubManager

from . import uvicorn_logs
from .config import Config
from .errors import ConfigError, OrderingError, PluginLoadError
from .serving import APP_ENV, Served, ServeError, build, setup_logging

if TYPE_CHECKING:
    from .cli import CliState

__all__ = ["build_or_fail", "run_serve", "workers_warnings"]

log = logging.getLogger("siomw")
FACTORY = "siomw_core.serving:create_app"


def build_or_fail(config: Config, app: str | None) -> Served:
    """:func:`siomw_core.serving.build` with click's errors: a usage error (status 2) for a
    bad APP argument, a one-line failure (status 1) otherwise."""
    try:
        return build(app, config)
    except ServeError as exc:
        if exc.usage:
            raise click.BadParameter(str(exc), param_hint="APP") from None
        raise click.ClickException(str(exc)) from None
    except (ConfigError, OrderingError, PluginLoadError) as exc:
        raise click.ClickException(str(exc)) from None


def _listening(sock: socket.socket, tls: bool) -> str:
    name = sock.getsockname()
    if sock.family == getattr(socket, "AF_UNIX", None):
        return f"unix:{name}"
    host = f"[{name[0]}]" if sock.family == socket.AF_INET6 else name[0]
    return f"{'https' if tls else 'http'}://{host}:{name[1]}"


class _Server(uvicorn.Server):
    """uvicorn's server, printing ``siomw: listening on URL`` (the real port) once bound."""

    announce = True

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.announce and self.servers and not self.should_exit:
            for sock in self.servers[0].sockets:
                click.echo(f"siomw: listening on {_listening(sock, self.config.is_ssl)}",
                           err=True)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)
        # here, not after run(): uvicorn re-raises SIGTERM once served, ending the process
        uds = self.config.uds
        if self.announce and uds and os.path.exists(uds):
            os.remove(uds)


def _trusted(proxy_headers: bool, forwarded_allow_ips: str | None) -> list[str] | None:
    """The ``trusted_proxies`` the forwarded-header options ask for (None: leave it)."""
    if forwarded_allow_ips is None:
        if not proxy_headers:
            return None
        forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")  # uvicorn's
    entries = [e.strip() for e in forwarded_allow_ips.split(",") if e.strip()]
    if "*" in entries:  # uvicorn's "any peer"
        entries = ["0.0.0.0/0", "::/0"]
    for entry in entries:  # the configuration checks them again, naming the variable
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise click.BadParameter(f"{entry!r} is not an IP address or CIDR network",
                                     param_hint="'--forwarded-allow-ips'") from None
    return entries


def workers_warnings(served: Served, workers: int) -> list[str]:
    """What changes with ``workers`` processes, for the stacks of ``served`` (one line each):
    per-process ``memory://`` storage of any plugin, polling without sticky sessions, and
    rooms and emits without a shared client manager."""
    lines: list[str] = []
    for stack in served.stacks:
        for record in stack.registry.records.values():
            dump = getattr(record.options, "model_dump", None)
            if not record.enabled or dump is None:
                continue
            for key, value in dump().items():
                if isinstance(value, str) and value.startswith("memory://"):
                    lines.append(
                        f"--workers {workers}: [{record.name}] {key} = {value!r} keeps its "
                        f"counts in each worker process, so every limit allows up to {workers} "
                        f"times its count; use a storage the workers share (redis://...)")
        if "polling" in getattr(stack.sio.eio, "transports", ()):
            lines.append(
                f"--workers {workers}: uvicorn hands each HTTP request to any worker, and a "
                "long-polling session lives in one: polling clients need sticky sessions, "
                "which one shared port cannot give (their requests fail with 400); use "
                "WebSocket-only clients (transports=['websocket']), or one process per port "
                "behind a load balancer with sticky sessions")
        if not isinstance(stack.sio.manager, AsyncPubSubManager):
            lines.append(
                f"--workers {workers}: rooms and emits are per process (no client_manager "
                "such as socketio.AsyncRedisManager): a broadcast reaches only the clients of "
                "the worker that sends it")
    return list(dict.fromkeys(lines))


def shown_source(source: str, given: str | None) -> str:
    """The configuration file ``source`` as the startup line names it, one form however it
    was loaded (``--config`` as given, or ``$SIOMW_CONFIG`` made absolute for an APP that
    attaches itself and for workers): the ``--config`` path as given when it is that file,
    else the path relative to the working directory when under it, else absolute."""
    if source.startswith("<"):  # <embedded defaults>
        return source
    path = Path(source).resolve()
    if given is not None and Path(given).resolve() == path:
        return given
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _chains_line(served: Served, given: str | None) -> str:
    parts = []
    for stack in served.stacks:
        engine = " -> ".join(p.middleware.name for p in stack.placed("engine")) or "(empty)"
        connect = " -> ".join(p.middleware.name for p in stack.placed("connect", "/"))
        parts.append(f"config {shown_source(stack.config.source, given)}; engine chain: "
                     f"{engine}; connect chain of '/': {connect or '(empty)'}")
    return " | ".join(parts)


def run_serve(
    state: CliState,
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
    proxy_headers: bool,
    forwarded_allow_ips: str | None,
    ssl_keyfile: str | None,
    ssl_certfile: str | None,
    ssl_keyfile_password: str | None,
) -> None:
    """Build APP's stack (errors are one line), say what was found and where it listens,
    then run uvicorn until interrupted. The options are ``siomw serve``'s (uvicorn's)."""
    if reload and workers > 1:
        raise click.UsageError("--reload and --workers are exclusive (uvicorn reloads one "
                               "process)")
    if ssl_keyfile and not ssl_certfile:
        raise click.UsageError("--ssl-keyfile needs --ssl-certfile")
    trusted = _trusted(proxy_headers, forwarded_allow_ips)
    if trusted is not None:  # before the configuration is read, here and in every worker
        os.environ["SIOMW_TRUSTED_PROXIES"] = ",".join(trusted)
    if log_level:
        os.environ["SIOMW_LOG_LEVEL"] = log_level
    setup_logging(log_level)
    served = build_or_fail(state.config(), app)
    for line in served.found:
        click.echo(f"siomw: found {line}", err=True)
    click.echo(f"siomw: {_chains_line(served, state.config_path)}", err=True)
    for stack in served.stacks:
        if trusted is not None and list(stack.config.core.trusted_proxies) != trusted:
            log.warning("siomw: --forwarded-allow-ips %s is overridden: the application's "
                        "code sets trusted_proxies = %s", ",".join(trusted),
                        list(stack.config.core.trusted_proxies))
    if workers > 1:
        for line in workers_warnings(served, workers):
            log.warning("siomw: %s", line)
    # uvicorn's lines carry request targets and, at debug/trace, headers: redact them here
    # (and in each worker, by create_app), before uvicorn logs anything
    uvicorn_logs.install(stack.registry.secrets for stack in served.stacks)
    common: dict[str, Any] = {
        "host": host, "port": port, "uds": uds, "log_level": log_level or "warning",
        "access_log": access_log,
        "root_path": root_path, "proxy_headers": False, "ssl_keyfile": ssl_keyfile,
        "ssl_certfile": ssl_certfile, "ssl_keyfile_password": ssl_keyfile_password,
    }
    try:
        if reload or workers > 1:
            _run_processes(app, reload, workers, common)
        else:
            server = _Server(uvicorn.Config(served.app, **common))
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
    click.echo(f"siomw: listening on {_listening(sock, config.is_ssl)}", err=True)
    try:
        if reload:
            ChangeReload(config, target=server.run, sockets=[sock]).run()
        else:
            Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:  # pragma: no cover - the supervisors handle signals
        pass
