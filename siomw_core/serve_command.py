"""``siomw serve``: APP built, what was found said, the server for its kind picked and run.

The kind (:attr:`siomw_core.serving.Served.kind`) picks the server:

============  ==========================================  =================================
kind          APP                                         server
============  ==========================================  =================================
asgi          AsyncServer (asgi), ASGIApp, ASGI apps      uvicorn (:mod:`.uvicorn_serve`)
aiohttp       aiohttp ``web.Application``, AsyncServer    aiohttp's runner (:mod:`.aiohttp_serve`)
threading     WSGIApp / Server / Flask-SocketIO           gunicorn, gthread worker
gevent        the same, ``async_mode="gevent"``           gunicorn, gevent worker
============  ==========================================  =================================

Options keep one meaning on every server; one a server cannot honour is a one-line error
(:class:`OptionError`, status 2) naming the option and the server, never ignored.
``--proxy-headers`` / ``--forwarded-allow-ips`` set siomw's ``trusted_proxies`` (through
``SIOMW_TRUSTED_PROXIES``) on every server, none of which rewrites the client address itself.
"""

from __future__ import annotations

import importlib
import ipaddress
import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .config import Config
from .errors import ConfigError, OrderingError, PluginLoadError
from .serve_tuning import ENV as TUNING_ENV
from .serve_tuning import TuningError, tuning
from .serving import Served, ServeError, build, setup_logging

if TYPE_CHECKING:
    from .cli import CliState

__all__ = ["RECIPE", "SERVERS", "OptionError", "build_or_fail", "check_tuning",
           "check_workers", "listening_url", "polling_servers", "run_serve", "workers_warnings"]

log = logging.getLogger("siomw")

#: the server each kind runs under, as messages name it
SERVERS = {"asgi": "uvicorn", "aiohttp": "aiohttp's runner", "threading": "gunicorn (gthread)",
           "gevent": "gunicorn (gevent)"}
#: the packages each kind's server needs, and the pip extra installing them
_NEEDS = {"aiohttp": (("aiohttp",), "aiohttp"), "threading": (("gunicorn",), "wsgi"),
          "gevent": (("gunicorn", "gevent"), "gevent")}


class OptionError(click.ClickException):
    """An option the chosen server cannot honour: ``Error: --OPTION: ...`` and status 2."""

    exit_code = 2


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


def listening_url(sock: socket.socket, tls: bool) -> str:
    """Where ``sock`` listens: ``http(s)://host:port`` (``[v6]``), or ``unix:PATH``."""
    name = sock.getsockname()
    if sock.family == getattr(socket, "AF_UNIX", None):
        return f"unix:{name}"
    host = f"[{name[0]}]" if sock.family == socket.AF_INET6 else name[0]
    return f"{'https' if tls else 'http'}://{host}:{name[1]}"


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


#: where the multi-process recipe is documented, as messages name it
RECIPE = "'Running in production' (docs/production.md)"


def polling_servers(served: Served) -> list[Any]:
    """The Socket.IO servers of ``served`` that accept the long-polling transport."""
    servers = {id(sio): sio for sio in [*(s.sio for s in served.stacks), *served.sio]}
    return [sio for sio in servers.values()
            if "polling" in getattr(sio.eio, "transports", ("polling",))]


def check_workers(served: Served, workers: int) -> None:
    """Refuse ``--workers N`` (N > 1) for an APP whose servers accept long-polling.

    uvicorn and gunicorn hand each HTTP request to any of their worker processes, on one
    shared port, and a long-polling session lives in one process: its next request reaches
    another one about half the time and fails (python-engineio's 400 ``Invalid session``).
    One port cannot give sticky sessions, so ``--workers`` runs only WebSocket-only servers
    (``transports=["websocket"]``: one connection for the whole session, no stickiness needed,
    as Socket.IO's "Using multiple nodes" says); polling clients need one ``siomw serve`` per
    port behind a load balancer hashing the client (:data:`RECIPE`).

    Raises:
        OptionError: a server of ``served`` accepts polling (status 2, one line).
    """
    if workers > 1 and polling_servers(served):
        server = SERVERS[served.kind].partition(" ")[0]
        raise OptionError(
            f"--workers {workers}: {server} hands each request to any worker and a "
            "long-polling session lives in one, so polling clients would fail (400 Invalid "
            "session); serve WebSocket only (transports=['websocket'] on the server and its "
            "clients), or run one siomw serve per port behind a load balancer with sticky "
            f"sessions: see {RECIPE}")


def workers_warnings(served: Served, workers: int) -> list[str]:
    """What changes with ``workers`` processes, for the stacks of ``served`` (one line each):
    per-process ``memory://`` storage of any plugin, and rooms and emits without a shared
    client manager (polling is refused before: :func:`check_workers`)."""
    from socketio import PubSubManager
    from socketio.async_pubsub_manager import AsyncPubSubManager

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
                        f"counts in each of the {workers} processes, so every limit allows "
                        f"up to {workers} times its count; use a storage they share "
                        f"(redis://...): see {RECIPE}")
    servers = {id(sio): sio for sio in [*(s.sio for s in served.stacks), *served.sio]}
    sync = served.kind in ("threading", "gevent")
    for sio in servers.values():
        if not isinstance(sio.manager, PubSubManager if sync else AsyncPubSubManager):
            manager = "socketio.RedisManager" if sync else "socketio.AsyncRedisManager"
            lines.append(
                f"--workers {workers}: rooms and emits are per process (no client_manager "
                f"such as {manager}): a broadcast reaches only the clients of the worker "
                "that sends it")
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


def check_options(kind: str, options: dict[str, Any]) -> None:
    """Refuse an option the server of ``kind`` cannot honour (:class:`OptionError`)."""
    server = SERVERS[kind]
    refused: list[tuple[str, bool, str]] = [
        ("--threads", options.get("threads") is not None and kind != "threading",
         "only gunicorn's gthread worker (a sync socketio.Server in threading mode) has a "
         "thread pool" + ("; the gevent worker takes any number of clients, one greenlet "
                          "each" if kind == "gevent" else "")),
        ("--root-path", bool(options.get("root_path")) and kind != "asgi",
         "it is ASGI's root_path; mount the engine under the prefix (socketio_path) instead"),
        ("--reload", bool(options.get("reload")) and kind == "aiohttp",
         "it serves one process and has no reloader (aiohttp-devtools has one)"),
        ("--workers", options.get("workers", 1) > 1 and kind == "aiohttp",
         "it serves one process (run one process per port behind a load balancer with "
         f"sticky sessions: see {RECIPE})"),
    ]
    for option, refuse, why in refused:
        if refuse:
            raise OptionError(f"{option}: {server} cannot honour it: {why}")


#: why only uvicorn honours the per-message deflate setting (measured: the others take it)
_DEFLATE_WHY = ("its WebSocket (python-engineio's driver{}) always takes per-message deflate "
                "when the client offers it and cannot switch it off; only uvicorn's can")


def check_tuning(kind: str) -> list[str]:
    """Check the speed settings (:mod:`.serve_tuning`) for the server of ``kind``; the
    warnings to print (one line each).

    ``--ws-per-message-deflate`` is uvicorn's: given on the command line for another
    server it is refused (whatever its value: those servers always take the extension
    when offered). ``$SIOMW_WS_PER_MESSAGE_DEFLATE`` set for another server is a warning,
    not an error: an environment is often shared by deployments of several kinds.

    Raises:
        click.ClickException: a variable holds a value it cannot take (one line naming it).
        OptionError: ``--ws-per-message-deflate`` given for a server other than uvicorn.
    """
    try:
        tuning()
    except TuningError as exc:
        raise click.ClickException(str(exc)) from None
    if kind == "asgi":
        return []
    why = _DEFLATE_WHY.format(", simple-websocket" if kind in ("threading", "gevent") else "")
    context = click.get_current_context(silent=True)
    source = context.get_parameter_source("ws_per_message_deflate") if context else None
    if source in (click.core.ParameterSource.COMMANDLINE,
                  click.core.ParameterSource.DEFAULT_MAP):
        raise OptionError(f"--ws-per-message-deflate: {SERVERS[kind]} cannot honour it: "
                          f"{why}")
    variable = TUNING_ENV["ws_per_message_deflate"]
    if os.environ.get(variable, "").strip():
        return [f"{variable}={os.environ[variable].strip()} has no effect under "
                f"{SERVERS[kind]}: {why}"]
    return []


def check_installed(served: Served, flask: bool) -> None:
    """The server packages for ``served.kind`` import, else a one-line error naming the pip
    extra that installs them (``flask`` for a Flask app)."""
    modules, extra = _NEEDS.get(served.kind, ((), ""))
    if flask:
        extra = "flask" if served.kind == "threading" else extra
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            raise click.ClickException(
                f"serving a {served.kind} app needs {module}, which is not installed: "
                f"pip install {' '.join(modules)} (siomw-core's [{extra}] extra; in a clone "
                f"of siomw: pip install './[{extra}]')") from None


def run_serve(state: CliState, app: str | None, **options: Any) -> None:
    """Build APP's stack (errors are one line), say what was found, then run the server of
    its kind (see the module) until interrupted. ``options`` are ``siomw serve``'s."""
    if options["reload"] and options["workers"] > 1:
        raise click.UsageError("--reload and --workers are exclusive (uvicorn reloads one "
                               "process)")
    if options["ssl_keyfile"] and not options["ssl_certfile"]:
        raise click.UsageError("--ssl-keyfile needs --ssl-certfile")
    trusted = _trusted(options.pop("proxy_headers"), options.pop("forwarded_allow_ips"))
    if trusted is not None:  # before the configuration is read, here and in every worker
        os.environ["SIOMW_TRUSTED_PROXIES"] = ",".join(trusted)
    log_level = options["log_level"]
    if log_level:
        os.environ["SIOMW_LOG_LEVEL"] = log_level
    setup_logging(log_level)
    served = build_or_fail(state.config(), app)
    check_options(served.kind, options)
    tuning_warnings = check_tuning(served.kind)
    check_installed(served, flask=type(served.app).__module__.startswith("flask"))
    for line in served.found:
        click.echo(f"siomw: found {line}", err=True)
    if served.stacks:
        click.echo(f"siomw: {_chains_line(served, state.config_path)}", err=True)
    for line in tuning_warnings:
        log.warning("siomw: %s", line)
    for stack in served.stacks:
        if trusted is not None and list(stack.config.core.trusted_proxies) != trusted:
            log.warning("siomw: --forwarded-allow-ips %s is overridden: the application's "
                        "code sets trusted_proxies = %s", ",".join(trusted),
                        list(stack.config.core.trusted_proxies))
    check_workers(served, options["workers"])  # after what was found: the refusal names it
    if options["workers"] > 1:
        for line in workers_warnings(served, options["workers"]):
            log.warning("siomw: %s", line)
    threads = options.pop("threads")
    if served.kind == "asgi":
        from .uvicorn_serve import run_uvicorn

        run_uvicorn(served, app, **options)
    elif served.kind == "aiohttp":
        from .aiohttp_serve import run_aiohttp

        run_aiohttp(served, **options)
    else:
        from .gunicorn_serve import run_gunicorn

        run_gunicorn(served, app, threads=threads, **options)
