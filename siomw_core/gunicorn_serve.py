"""``siomw serve`` for a sync ``socketio.Server`` (kinds ``threading`` and ``gevent``): gunicorn.

Why gunicorn, and which worker (python-socketio's and Flask-SocketIO's deployment docs):

- ``threading``: gunicorn's ``gthread`` worker. python-engineio's threading mode serves the
  WebSocket transport with simple-websocket, which takes over the connection gunicorn hands
  it (``environ["gunicorn.socket"]``); each WebSocket client holds one thread for as long as
  it stays connected, so ``--threads`` (default 100) bounds the clients one worker serves.
- ``gevent``: gunicorn's ``gevent`` worker (it monkey-patches the standard library before the
  application is imported). python-engineio's gevent mode uses gevent-websocket when it is
  installed and simple-websocket otherwise (what the ``gevent`` extra installs); one
  greenlet per client, up to gunicorn's ``worker_connections`` (1000) per worker.
- One worker (``--workers 1``, the default): gunicorn has no sticky sessions, so a
  long-polling client's requests may reach a worker that does not hold its session; more
  workers are refused unless the server is WebSocket-only
  (:func:`siomw_core.serve_command.check_workers`); polling clients need one ``siomw serve``
  per port behind a load balancer with sticky sessions (docs/production.md).

gunicorn runs programmatically (a ``gunicorn.app.base.BaseApplication``)
in a fresh interpreter: :func:`run_gunicorn` replaces this process (``os.execv``) with
``python -c`` :data:`_MASTER` ``SETTINGS`` (:func:`main`), whose workers each import APP
(:func:`create_wsgi_app`), after gevent's patching and again after a ``--reload``, as
``gunicorn module:app`` does. The arbiter prints ``siomw: listening on URL`` once bound
(``when_ready``). gunicorn's own forwarded-header handling is off (``forwarded_allow_ips``
empty): ``--proxy-headers`` / ``--forwarded-allow-ips`` set siomw's ``trusted_proxies``.
"""

from __future__ import annotations

import json
import os
import ssl
import sys
from typing import Any

import click

from . import uvicorn_logs
from .serve_command import listening_url
from .serving import APP_ENV, GRACEFUL_TIMEOUT, Served, ServeError, build, setup_logging

__all__ = ["GRACEFUL_TIMEOUT", "WORKER_BOOT_ERROR", "create_wsgi_app", "main", "run_gunicorn",
           "settings"]

#: gunicorn's exit status for a worker that cannot load the application (the arbiter stops)
WORKER_BOOT_ERROR = 3
#: the arbiter's program: for the gevent worker, the standard library is patched before
#: anything imports it (gunicorn's worker patches it again: a no-op), so neither siomw's
#: imports nor the application's see unpatched ``ssl``, ``socket`` or ``threading``
_MASTER = ("import json, sys\n"
           "if json.loads(sys.argv[1])['worker_class'] == 'gevent':\n"
           "    from gevent import monkey; monkey.patch_all()\n"
           "from siomw_core.gunicorn_serve import main; main(sys.argv[1:])\n")
#: the gunicorn worker of each kind
WORKERS = {"threading": "gthread", "gevent": "gevent"}


def settings(
    kind: str,
    *,
    threads: int | None,
    host: str,
    port: int,
    uds: str | None,
    reload: bool,
    workers: int,
    log_level: str | None,
    access_log: bool,
    ssl_keyfile: str | None,
    ssl_certfile: str | None,
) -> dict[str, Any]:
    """gunicorn's settings (its names) for ``siomw serve``'s options on a ``kind`` app."""
    bind = f"unix:{uds}" if uds else (f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    chosen: dict[str, Any] = {
        "bind": [bind], "worker_class": WORKERS[kind], "workers": workers, "reload": reload,
        "loglevel": "debug" if log_level == "trace" else (log_level or "warning"),
        "accesslog": "-" if access_log else None, "forwarded_allow_ips": "",
        "proc_name": "siomw", "certfile": ssl_certfile, "keyfile": ssl_keyfile,
        "graceful_timeout": GRACEFUL_TIMEOUT,
    }
    if kind == "threading":
        chosen["threads"] = threads or 100
    return chosen


def run_gunicorn(served: Served, app: str | None, *, threads: int | None, root_path: str,
                 ssl_keyfile_password: str | None, **options: Any) -> None:
    """Replace this process with gunicorn serving APP ``app`` (of ``served.kind``): see the
    module. ``root_path`` was refused before unless empty; the key's password reaches the
    TLS context through the environment (``SIOMW_SSL_KEYFILE_PASSWORD``), not the command
    line."""
    del root_path
    from .serve_tuning import TuningError, tuning

    try:  # here, in one line, rather than in the worker
        tuning()
    except TuningError as exc:
        raise click.ClickException(str(exc)) from None
    chosen = settings(served.kind, threads=threads, **options)
    os.environ[APP_ENV] = app or ""
    if ssl_keyfile_password is not None:
        os.environ["SIOMW_SSL_KEYFILE_PASSWORD"] = ssl_keyfile_password
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-c", _MASTER, json.dumps(chosen)])


def create_wsgi_app() -> Any:
    """The WSGI application of one gunicorn worker: what :func:`build` builds for
    ``$SIOMW_SERVE_APP`` with ``$SIOMW_CONFIG``, gunicorn's loggers redacted. A failure
    prints one line and ends the worker with :data:`WORKER_BOOT_ERROR` (gunicorn stops)."""
    from .config import load_config
    from .errors import ConfigError, OrderingError, PluginLoadError

    setup_logging(os.environ.get("SIOMW_LOG_LEVEL") or None)
    try:
        served = build(os.environ.get(APP_ENV) or None, load_config(None, check=False))
    except (ServeError, ConfigError, OrderingError, PluginLoadError) as exc:
        print(f"siomw: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(WORKER_BOOT_ERROR) from None
    uvicorn_logs.install((stack.registry.secrets for stack in served.stacks),
                         uvicorn_logs.GUNICORN_LOGGERS)
    from .serve_tuning import TuningError, tuning

    try:
        tuned = tuning()
    except TuningError as exc:
        print(f"siomw: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(WORKER_BOOT_ERROR) from None
    tuned.at_start()
    tuned.after_startup()  # the worker's app is built: freeze what it holds
    return served.app


def _when_ready(arbiter: Any) -> None:
    tls = bool(arbiter.cfg.certfile)
    for listener in arbiter.LISTENERS:
        click.echo(f"siomw: listening on {listening_url(listener.sock, tls)}", err=True)


def _ssl_context(config: Any, default_factory: Any) -> ssl.SSLContext:
    password = os.environ.get("SIOMW_SSL_KEYFILE_PASSWORD")
    if password is None:
        context: ssl.SSLContext = default_factory()
        return context
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.certfile, config.keyfile, password)
    return context


def _application_class() -> type:
    from gunicorn.app.base import BaseApplication

    class Application(BaseApplication):  # type: ignore[misc]
        """gunicorn with ``chosen`` settings, each worker loading :func:`create_wsgi_app`."""

        def __init__(self, chosen: dict[str, Any]) -> None:
            self.chosen = chosen
            super().__init__()

        def load_config(self) -> None:
            for key, value in self.chosen.items():
                self.cfg.set(key, value)
            self.cfg.set("when_ready", _when_ready)
            self.cfg.set("ssl_context", _ssl_context)

        def load(self) -> Any:
            return create_wsgi_app()

    return Application


def main(argv: list[str]) -> None:
    """Run gunicorn with the settings ``argv[0]`` (JSON, from :func:`settings`) until
    stopped (the program of :func:`run_gunicorn`)."""
    _application_class()(json.loads(argv[0])).run()


if __name__ == "__main__":
    main(sys.argv[1:])
