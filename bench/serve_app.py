"""The application of ``bench/suite.py``'s ``siomw serve`` target, and bare python-socketio
served the way ``siomw serve`` serves.

- ``app`` (``serve_app:app``): ``socketio.ASGIApp`` of a bare ``socketio.AsyncServer`` with
  an accepting connect handler. ``uvicorn serve_app:app`` serves it with uvicorn's defaults;
  ``siomw --config serve_full.toml serve serve_app:app`` attaches siomw (the full chain) and
  serves it with siomw serve's defaults.
- ``python bench/serve_app.py PORT``: the same bare app (no siomw attached) through siomw
  serve's own uvicorn runner (``siomw_core.uvicorn_serve.run_uvicorn``) with the options the
  command gives it by default: bare against bare under the same settings, so that nobody
  takes the settings' gain for siomw's.
"""

from __future__ import annotations

import sys

import socketio

sio = socketio.AsyncServer(async_mode="asgi")


@sio.event
async def connect(sid: str, environ: dict[str, object], auth: object) -> None:
    return None


app = socketio.ASGIApp(sio)


def serve_bare(port: int) -> None:
    """Serve ``app`` on ``127.0.0.1:port`` through ``siomw serve``'s uvicorn runner, with
    the command's default options; never returns."""
    from siomw_core.serving import Served
    from siomw_core.uvicorn_serve import run_uvicorn

    run_uvicorn(Served(app=app, kind="asgi", sio=[sio]), None, host="127.0.0.1", port=port,
                uds=None, reload=False, workers=1, log_level=None, access_log=False,
                root_path="", ssl_keyfile=None, ssl_certfile=None, ssl_keyfile_password=None)


if __name__ == "__main__":
    serve_bare(int(sys.argv[1]))
